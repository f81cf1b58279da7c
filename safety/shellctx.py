"""What the shell analyser and its checks share: the context, an invocation, the hits found.

The checks (`codechecks`, `progchecks`, `netchecks`) find commands inside commands (`sh -c '…'`,
`find -exec`, awk's `system()`, `ssh host cmd`) and hand them back to the analyser. They do that
through `run_nested` and `analyze_invocation` below, which call the entry points
`safety.shellcheck.analyze` puts in the `Context`: the checks never import the analyser that
imports them.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from safety.decision import Verdict
from safety.inventory import Inventory
from safety.paths import PathRules
from safety.policy import Policy
from safety.shellparse import Script, Stdin
from safety.shellwords import DYN, Word

SEVERITY = {Verdict.ALLOW: 0, Verdict.APPROVE: 1, Verdict.DENY: 2}


@dataclass(frozen=True)
class Hit:
    verdict: Verdict
    rule: str
    reason: str
    command: str = ""


NestedLine = Callable[[str, "Invocation", "Context", "Analysis", Stdin | None], None]
NestedInvocation = Callable[["Invocation", "Context", "Analysis"], None]


@dataclass
class Context:
    policy: Policy
    inventory: Inventory
    paths: PathRules
    remote: str | None = None  # inventory host the command runs on; None: the halops host
    # The analyser's entry points for nested commands; set by safety.shellcheck.analyze.
    nested: NestedLine | None = field(default=None, repr=False, compare=False)
    invocation: NestedInvocation | None = field(default=None, repr=False, compare=False)


@dataclass
class Invocation:
    words: list[Word]
    stdin: Stdin | None
    depth: int
    cwd: str | None
    unknown_args: bool = False

    @property
    def text(self) -> str:
        # Literal words re-quoted; globs and expansions as written (`*` is not `'*'`).
        shown = " ".join(
            shlex.quote(w.value) if w.literal else (w.source or w.value.replace(DYN, "…")) for w in self.words
        )
        return shown + (" …" if self.unknown_args else "")


@dataclass
class Analysis:
    hits: list[Hit] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)  # every analysed command, indented by depth
    script: Script | None = None

    def add(self, verdict: Verdict, rule: str, reason: str, command: str = "") -> Hit:
        hit = Hit(verdict, rule, reason, command)
        self.hits.append(hit)
        return hit

    def verdict(self) -> Hit:
        if not self.hits:
            return Hit(Verdict.ALLOW, "allow.no-program", "Only assignments; nothing runs.")
        return max(self.hits, key=lambda h: SEVERITY[h.verdict])  # first of the most severe


def run_nested(line: str, inv: Invocation, ctx: Context, out: Analysis, stdin: Stdin | None) -> None:
    """Analyse `line`, a command line found inside `inv`, one level deeper."""
    if ctx.nested is None:
        raise RuntimeError("Context has no analyser: build it through safety.shellcheck.analyze")
    ctx.nested(line, inv, ctx, out, stdin)


def analyze_invocation(inv: Invocation, ctx: Context, out: Analysis) -> None:
    """Analyse `inv`, a command found inside another one (`find -exec`)."""
    if ctx.invocation is None:
        raise RuntimeError("Context has no analyser: build it through safety.shellcheck.analyze")
    ctx.invocation(inv, ctx, out)
