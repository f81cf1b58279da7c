"""The shape of the code (docs/architecture.md), read from the imports so it holds as the code grows.

Every import counts: module level, inside functions, under `if TYPE_CHECKING:`, and
`importlib.import_module("...")` with a literal name. A lazy import still ties two modules together;
a circle through one is still a circle.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("halops", "agent", "safety", "rag", "eval", "trainer")
FOUNDATION = "halops"
# Which of our packages each package may import (itself included). `agent` is the daemon plus the
# composition root, so it may import every package; see COMPOSITION_ROOT.
ALLOWED: dict[str, set[str]] = {
    "halops": {"halops"},
    "safety": {"halops", "safety"},
    "rag": {"halops", "rag"},
    "eval": {"halops", "eval", "safety"},
    "trainer": {"halops", "trainer", "safety", "eval"},
    "agent": set(PACKAGES),
}
# The only modules of `agent` that know the offline packages (trainer, eval): the console script's
# entry and what it composes (the root Settings, the config reference, the systemd units).
COMPOSITION_ROOT = ("agent.cli", "agent.config_reference", "agent.systemd_units", "agent.control")
OFFLINE = {"trainer", "eval"}
MAX_LINES = 600
LINE_LIMITED = (*PACKAGES, "tests", "bench")


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} (line {self.line})"


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _ours(name: str) -> str | None:
    """The longest module of ours that `name` names (a.b.C -> a.b), or None for third-party."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _imported_names(module: str, node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".")
            if MODULES[module].name != "__init__.py":
                base = base[:-1]  # a plain module's `.` is its package
            base = base[: len(base) - (node.level - 1)]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        # `from pkg import sub` imports the submodule; `from mod import name` the module.
        return [
            f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in MODULES else prefix
            for alias in node.names
        ]
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name in ("import_module", "__import__") and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                return [arg.value]
    return []


def _edges() -> list[Edge]:
    edges = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            for name in _imported_names(module, node):
                target = _ours(name)
                if target is not None and target != module:
                    edges.append(Edge(module, target, node.lineno))
    return sorted(set(edges), key=lambda e: (e.source, e.target, e.line))


EDGES = _edges()


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def _in_composition_root(module: str) -> bool:
    return any(module == root or module.startswith(root + ".") for root in COMPOSITION_ROOT)


def test_the_import_reader_sees_lazy_and_type_only_imports():
    # Known edges of each kind, so a broken reader cannot pass the rules below by seeing nothing.
    pairs = {(e.source, e.target) for e in EDGES}
    assert ("agent.cli.main", "agent.cli.settings") in pairs  # module level
    assert ("agent.wiring", "rag.retriever") in pairs  # inside a function
    assert ("rag.retriever", "halops.settings") in pairs  # under TYPE_CHECKING
    assert ("safety.shellcheck", "safety.codechecks") in pairs  # `from package import module`


def test_the_foundation_imports_no_other_package():
    bad = [str(e) for e in EDGES if _top(e.source) == FOUNDATION and _top(e.target) != FOUNDATION]
    assert not bad, "halops/ is the foundation: it may import only itself\n" + "\n".join(bad)


@pytest.mark.parametrize("package", [p for p in PACKAGES if p != "agent"])
def test_packages_import_only_what_the_architecture_allows(package):
    bad = [str(e) for e in EDGES if _top(e.source) == package and _top(e.target) not in ALLOWED[package]]
    allowed = ", ".join(sorted(ALLOWED[package]))
    assert not bad, f"{package}/ may import only {allowed}\n" + "\n".join(bad)


def test_only_the_composition_root_knows_the_offline_packages():
    bad = [
        str(e)
        for e in EDGES
        if _top(e.source) == "agent" and _top(e.target) in OFFLINE and not _in_composition_root(e.source)
    ]
    assert not bad, (
        "the daemon's modules must not import trainer/ or eval/; only the composition root "
        f"({', '.join(COMPOSITION_ROOT)}) does\n" + "\n".join(bad)
    )


def _cycles(edges: list[Edge]) -> list[list[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        graph[e.source].add(e.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    vertices = sorted(set(graph) | {e.target for e in edges})
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(vertices) + 100))
    try:
        for v in vertices:
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_no_import_circle_between_files():
    found = _cycles(EDGES)
    detail = [
        " <-> ".join(c) + ":\n  " + "\n  ".join(str(e) for e in EDGES if e.source in c and e.target in c)
        for c in found
    ]
    assert not found, "import circles (lazy and type-only imports count):\n" + "\n".join(detail)


def test_the_circle_finder_finds_a_circle():
    made_up = [Edge("a.x", "a.y", 1), Edge("a.y", "a.z", 1), Edge("a.z", "a.x", 9), Edge("a.x", "b", 2)]
    assert _cycles(made_up) == [["a.x", "a.y", "a.z"]]


def test_no_module_over_600_lines():
    long = []
    for top in LINE_LIMITED:
        for path in sorted((ROOT / top).rglob("*.py")):
            n = len(path.read_text().splitlines())
            if n > MAX_LINES:
                long.append(f"{path.relative_to(ROOT)}: {n} lines")
    assert not long, f"split these modules (at most {MAX_LINES} lines each):\n" + "\n".join(long)
