"""Parse a bash command line with tree-sitter-bash into the simple commands it would run.

Every simple command counts wherever it sits: pipelines, lists, subshells, loops, functions,
command and process substitutions, heredoc bodies. For each one we keep its words (evaluated by
`shellwords`), prefix assignments, redirections and where its standard input comes from, because
"a shell reading its script from a pipe" is how downloaded or decoded code gets run.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from functools import lru_cache

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

from safety.shellwords import Word, brace_expand, decode_ansi_c, evaluate, node_str, set_source

_REDIRECTS = {"file_redirect", "heredoc_redirect", "herestring_redirect"}
_PIPES = {"|", "|&"}


@lru_cache(maxsize=1)
def _parser() -> Parser:
    return Parser(Language(tree_sitter_bash.language()))


@dataclass
class Redirect:
    """One redirection. kind: read | write | dup | heredoc | herestring."""

    kind: str
    op: str
    target: Word | None = None
    body: str | None = None  # heredoc body or here-string value
    static: bool = True  # body known without running anything


@dataclass
class Stdin:
    """Where a command's standard input comes from, when the command line decides it."""

    kind: str  # pipe | heredoc | herestring | file
    text: str | None = None  # the data, when known statically (echo/printf producer, heredoc...)


@dataclass
class SimpleCommand:
    words: list[Word]
    assignments: list[tuple[str, Word]] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)
    stdin: Stdin | None = None
    function: str | None = None  # name of the function whose body holds this command
    top_level: bool = True  # not nested in a pipeline, list, substitution, loop...
    same_shell: bool = True  # runs in the line's own shell (only `;`/`&&`/`||` above): `cd` sticks
    text: str = ""

    @property
    def argv(self) -> list[str]:
        return [w.value for w in self.words]


@dataclass
class Script:
    source: str
    commands: list[SimpleCommand] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)
    assignments: list[tuple[str, Word]] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    loop_words: list[Word] = field(default_factory=list)  # the words `for x in ...` walks
    error: str | None = None
    _replacements: list[tuple[int, int, str]] = field(default_factory=list, repr=False)

    def rebuild(self) -> str:
        """The command line with every literal word re-quoted (`r''m` -> `rm`, `\\rm` -> `rm`).

        Words that bash still expands (globs, `~`, `$X`, `$(...)`) keep their source text:
        quoting them would change what runs.
        """
        data = self.source.encode("utf-8")
        out: list[bytes] = []
        pos = 0
        for start, end, text in sorted(self._replacements):
            if start < pos:
                continue
            out.append(data[pos:start])
            out.append(text.encode("utf-8"))
            pos = end
        out.append(data[pos:])
        return b"".join(out).decode("utf-8").strip()

    def simple_argv(self) -> list[str] | None:
        """argv when the line is exactly one simple command without redirections or expansions."""
        if self.error or len(self.commands) != 1 or self.redirects or self.assignments or self.functions:
            return None
        cmd = self.commands[0]
        if not cmd.top_level or cmd.assignments or not cmd.words:
            return None
        if not all(w.literal for w in cmd.words):
            return None
        return cmd.argv


def _ascii(data: bytes) -> bytes:
    """The bytes tree-sitter gets: every non-ASCII byte as `x`.

    tree-sitter-bash 0.25's scanner can crash on some non-ASCII input (`{` then astral-plane
    characters). bash treats those bytes as ordinary word characters, so `x` splits words the
    same way, and byte offsets stay valid for reading the real text.
    """
    return data if data.isascii() else bytes(b if b < 0x80 else 0x78 for b in data)


def parse(source: str) -> Script:
    """Parse a command line. `Script.error` is set when bash's grammar does not accept it."""
    source = _join_continuations(source)
    data = source.encode("utf-8")
    tree = _parser().parse(_ascii(data))
    script = Script(source=source)
    root = tree.root_node
    if root.has_error:
        script.error = "the command line does not parse as bash"
        return script
    if _split_word(root):
        script.error = "a line break inside an unquoted word: bash and the parser disagree"
        return script
    set_source(data)
    try:
        _Walker(script).walk(root, None)
    finally:
        set_source(None)
    return script


# Node types whose text may legitimately hold a raw newline.
_MULTILINE = {
    "string",
    "string_content",
    "raw_string",
    "ansi_c_string",
    "heredoc_body",
    "heredoc_content",
    "comment",
    "translated_string",
    "program",
    "heredoc_redirect",
    "redirected_statement",
}


def _split_word(node: Node) -> bool:
    """tree-sitter-bash reads `ls<newline>\\rm -rf /` as `ls` with arguments; bash runs two commands.

    An unquoted word never holds a newline in bash, so any that does is a parser disagreement.
    """
    if node.type in ("word", "number", "extglob_pattern", "variable_name") and b"\n" in node.text:
        return True
    return any(_split_word(c) for c in node.children if c.type not in _MULTILINE or c.child_count)


def _join_continuations(source: str) -> str:
    """Remove backslash-newline outside single quotes, as bash does before splitting words.

    tree-sitter treats `r\\<newline>m` as two words; bash runs `rm`.
    """
    if "\\\n" not in source:
        return source
    tree = _parser().parse(_ascii(source.encode("utf-8")))
    protected: list[tuple[int, int]] = []

    def collect(node: Node) -> None:
        if node.type in ("raw_string", "comment", "heredoc_body", "ansi_c_string"):
            protected.append((node.start_byte, node.end_byte))
            return
        for child in node.children:
            collect(child)

    collect(tree.root_node)
    data = source.encode("utf-8")
    out = bytearray()
    i = 0
    while i < len(data):
        if data[i : i + 2] == b"\\\n" and not any(a <= i < b for a, b in protected):
            i += 2
            continue
        if data[i : i + 1] == b"\\" and i + 1 < len(data):
            out += data[i : i + 2]  # an escaped character, possibly an escaped backslash
            i += 2
            continue
        out += data[i : i + 1]
        i += 1
    return out.decode("utf-8")


class _Walker:
    def __init__(self, script: Script):
        self.script = script
        self.data = script.source.encode("utf-8")

    def walk(self, node: Node, function: str | None) -> None:
        t = node.type
        if t == "command":
            self._command(node, function)
        elif t == "function_definition":
            name = node.child_by_field_name("name")
            if name is not None:
                function = node_str(name)
                self.script.functions.append(function)
        elif t == "variable_assignment" and (node.parent is None or node.parent.type != "command"):
            self._assignment(node, self.script.assignments)
        elif t in _REDIRECTS:
            self.script.redirects.append(self._redirect(node))
        elif t == "for_statement":
            self.script.loop_words.extend(evaluate(v) for v in node.children_by_field_name("value"))
        for child in node.children:
            self.walk(child, function)

    def _command(self, node: Node, function: str | None) -> None:
        words: list[Word] = []
        cmd = SimpleCommand(words=words, function=function, text=_text(node))
        groups: list[list[Node]] = []
        last_end = -1
        for child in node.children:
            t = child.type
            if t == "variable_assignment":
                self._assignment(child, cmd.assignments)
            elif t in _REDIRECTS:
                cmd.redirects.append(self._redirect(child))
            elif t == "comment" or not child.is_named:
                continue  # `$"..."`: the unnamed `$` belongs to the string that follows
            else:
                word = child.children[0] if t == "command_name" and child.children else child
                start = self._start(word)
                # tree-sitter sometimes splits one bash word in two (`]\(x`): glue adjacent nodes.
                if groups and start == last_end:
                    groups[-1].append(word)
                else:
                    groups.append([word])
                last_end = word.end_byte
        for group in groups:
            self._add_word(group, words)
        self._attach_context(node, cmd)
        self.script.commands.append(cmd)

    def _start(self, node: Node) -> int:
        start = node.start_byte
        if node.type == "string" and start > 0 and self.data[start - 1 : start] == b"$":
            start -= 1  # `$"..."` (a translated string) is a `$` token plus a string node
        return start

    def _add_word(self, nodes: list[Node], words: list[Word]) -> None:
        parts = [evaluate(n) for n in nodes]
        word = Word(
            "".join(p.value for p in parts),
            "".join(p.active for p in parts),
            all(p.static for p in parts),
            "".join(p.source for p in parts),
        )
        if word.literal:
            self.script._replacements.append((self._start(nodes[0]), nodes[-1].end_byte, quote(word.value)))
        words.extend(brace_expand(word))

    def _requote(self, node: Node, value: str) -> None:
        self.script._replacements.append((self._start(node), node.end_byte, quote(value)))

    def _assignment(self, node: Node, into: list[tuple[str, Word]]) -> None:
        name = node.child_by_field_name("name")
        value = node.child_by_field_name("value")
        key = _text(name) if name is not None else ""
        word = evaluate(value) if value is not None else Word("", "", True)
        if value is not None and word.literal and value.type != "array":
            self._requote(value, word.value)
        into.append((key, word))

    def _redirect(self, node: Node) -> Redirect:
        t = node.type
        if t == "herestring_redirect":
            target = node.named_children[-1] if node.named_children else None
            word = evaluate(target) if target is not None else Word("", "", True)
            if target is not None and word.literal:
                self._requote(target, word.value)
            return Redirect("herestring", "<<<", body=word.value, static=word.static)
        if t == "heredoc_redirect":
            start = next((c for c in node.children if c.type == "heredoc_start"), None)
            body = next((c for c in node.children if c.type == "heredoc_body"), None)
            quoted = start is not None and any(q in _text(start) for q in "'\"\\")
            has_expansion = body is not None and any(c.type != "heredoc_content" for c in body.children)
            return Redirect(
                "heredoc",
                "<<",
                body=_text(body) if body is not None else "",
                static=quoted or not has_expansion,
            )
        op = ""
        dests: list[Node] = []
        for child in node.children:
            if not child.is_named:
                op = op or child.type
            elif child.type != "file_descriptor":
                dests.append(child)
        # tree-sitter-bash sometimes hangs the next redirect's fd on this one (`>& f 0>&1`):
        # the first destination is the real one, the rest are checked too, conservatively.
        reds = [self._file_redirect(op, d) for d in dests] or [Redirect("dup", op, None)]
        self.script.redirects.extend(reds[1:])
        return reds[0]

    def _file_redirect(self, op: str, dest: Node) -> Redirect:
        word = evaluate(dest)
        if word.literal:
            self._requote(dest, word.value)
        if op in (">&", "<&", ">&-", "<&-") and (word.value.isdigit() or word.value == "-"):
            return Redirect("dup", op, word)
        if op in ("<", "<&"):
            return Redirect("read", op, word)
        if word.value.isdigit() and dest.type == "number" and op not in (">", ">>", "&>", "&>>", ">|"):
            return Redirect("dup", op, word)
        return Redirect("write", op, word)

    def _attach_context(self, node: Node, cmd: SimpleCommand) -> None:
        """Stdin source, redirects of an enclosing redirected_statement, nesting."""
        child = node
        parent = node.parent
        while parent is not None and parent.type != "program":
            cmd.top_level = False if parent.type != "redirected_statement" else cmd.top_level
            if parent.type not in ("redirected_statement", "list"):
                cmd.same_shell = False
            if parent.type == "redirected_statement" and child == parent.named_children[0]:
                for r in parent.named_children[1:]:
                    if r.type in _REDIRECTS:
                        red = self._redirect(r)
                        cmd.redirects.append(red)
                        if red.kind in ("heredoc", "herestring") and cmd.stdin is None:
                            cmd.stdin = Stdin(red.kind, red.body if red.static else None)
                        elif red.kind == "read" and cmd.stdin is None:
                            cmd.stdin = Stdin("file", None)
            if parent.type == "pipeline" and cmd.stdin is None:
                producer = _pipe_producer(parent, child)
                if producer is not _NOT_PIPED:
                    cmd.stdin = Stdin("pipe", _static_output(producer))
            child, parent = parent, parent.parent
        for red in cmd.redirects:
            if cmd.stdin is None and red.kind in ("heredoc", "herestring"):
                cmd.stdin = Stdin(red.kind, red.body if red.static else None)


_NOT_PIPED = object()


def _pipe_producer(pipeline: Node, stage: Node) -> object:
    """The pipeline stage feeding `stage`, None when unknown, _NOT_PIPED for the first stage."""
    children = pipeline.children
    if children and children[0].type in _PIPES:
        # tree-sitter-bash nests `cat <<EOF | sh` as a pipeline inside the heredoc redirect.
        holder = pipeline.parent.parent if pipeline.parent is not None else None
        if holder is not None and holder.type == "redirected_statement":
            return holder
        return None
    previous: Node | None = None
    for child in children:
        if child == stage:
            break
        if child.is_named:
            previous = child
    if previous is None:
        return _NOT_PIPED
    return previous


def _static_output(producer: object) -> str | None:
    """What a producer stage writes, when it is a plain echo/printf/cat-heredoc of literals."""
    if not isinstance(producer, Node):
        return None
    node = producer
    heredoc: Node | None = None
    if node.type == "redirected_statement":
        heredoc = next(
            (c for c in node.named_children if c.type in ("heredoc_redirect", "herestring_redirect")), None
        )
        node = node.named_children[0]
    if node.type != "command":
        return None
    words: list[Word] = []
    for child in node.named_children:
        if child.type == "command_name":
            words.append(evaluate(child.children[0]))
        elif child.type in _REDIRECTS:
            heredoc = heredoc or (child if child.type != "file_redirect" else None)
        elif child.type != "variable_assignment":
            words.append(evaluate(child))
    if not words or not all(w.literal for w in words):
        return None
    name, args = words[0].value, [w.value for w in words[1:]]
    if name == "cat" and not args and heredoc is not None:
        body = next(
            (c for c in heredoc.named_children if c.type in ("heredoc_body", "string", "raw_string", "word")),
            None,
        )
        if body is None:
            return None
        return evaluate(body).value if heredoc.type == "herestring_redirect" else _text(body)
    if name == "echo":
        interpret = False
        while args and args[0] in ("-n", "-e", "-E", "-ne", "-en"):
            interpret = interpret or "e" in args[0]
            args = args[1:]
        text = " ".join(args)
        return decode_ansi_c(text) if interpret else text
    if name == "printf" and args:
        return decode_ansi_c(args[0]) + " ".join(args[1:])
    return None


def quote(value: str) -> str:
    """shlex.quote, but a word holding `=` is always quoted (unquoted `c=` is an assignment) and
    control characters are written as `$'\\xNN'` so the command stays printable in logs."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        body = "".join(
            f"\\x{ord(c):02x}" if ord(c) < 0x20 or ord(c) == 0x7F else "\\" + c if c in "\\'" else c
            for c in value
        )
        return "$'" + body + "'"
    if "=" in value and value:
        return "'" + value.replace("'", "'\"'\"'") + "'"
    return shlex.quote(value)


def _text(node: Node | None) -> str:
    return "" if node is None else node_str(node)
