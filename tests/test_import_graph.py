"""The import graph, drawn from the code: no circles, packages as floors, tests and bench apart.

Every `.py` file of the project's packages is parsed (never imported); each `import` and
`from ... import` statement, at module level, inside a function or under `TYPE_CHECKING`, is an
edge from the module that holds it to the project module it names (`from pkg import name` names
`pkg.name` when that is a module, else `pkg`). Third-party and standard-library imports are not
edges. An import statement written in a string (a subprocess's `-c` code) counts too.

The floors, lowest first; a package imports its own floor and the floors below, never above:

    0  model                 the transformer, its hooks, tokenizers, checkpoints, GPT-2 loading
    1  interp, viz           pure functions on a model's activations; arrays to figures
    2  training              the loop, data, the experiment suite and its records
    3  analysis              what the app computes: capture, metrics, prompts, the record catalog
    4  curriculum            the Curriculum's findings, read from records and measured live
    5  views                 what the app shows: Explore's view registry, the Curriculum's sections
    6  ui                    Streamlit widgets shared by the pages
    7  pages, app            the Streamlit pages and the entry script

`tests` and `bench` stand beside the floors: they may import any package, never each other.
What both need (tiny checkpoints, suite records, servers, hostile inputs) lives in `fixtures/`,
which imports the floors and neither of them.

`PENDING` lists the edges that still break a rule, each with where its shared piece belongs. The
checks skip those edges and fail when one has gone, so the list only shrinks.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FLOORS: dict[str, int] = {
    "model": 0,
    "interp": 1,
    "viz": 1,
    "training": 2,
    "analysis": 3,
    "curriculum": 4,
    "views": 5,
    "ui": 6,
    "pages": 7,
    "app": 7,
}
BESIDE = ("tests", "bench", "fixtures")
PACKAGES = (*FLOORS, *BESIDE)

# edge -> where the piece both ends share belongs
PENDING: dict[tuple[str, str], str] = {
    ("training.snapshots", "analysis.capture"): "the capture imports only model: below training",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        single = ROOT / f"{package}.py"
        if single.is_file():
            found[package] = single
        folder = ROOT / package
        if folder.is_dir():
            for path in sorted(folder.rglob("*.py")):
                if ".venv" not in path.parts:
                    found[_module_name(path)] = path
    return found


def _named(node: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, str | None]]:
    """(module named, attribute named or None) for one import statement."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name, None
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            anchor = module.split(".") if is_package else module.split(".")[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:
            yield base, alias.name


def _resolve(name: str, attr: str | None, modules: set[str]) -> str | None:
    if attr is not None and f"{name}.{attr}" in modules:
        return f"{name}.{attr}"
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (module-level and function-level alike)."""
    sources = _sources()
    modules = set(sources)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in sources.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in [*ast.walk(tree), *_code_in_strings(tree)]:
            for name, attr in _named(node, module, is_package):
                target = _resolve(name, attr, modules)
                if target is not None and target != module:
                    graph[module].add(target)
    return graph


def _code_in_strings(tree: ast.AST) -> Iterator[ast.AST]:
    """Import statements written in string constants (a subprocess's `-c` code, a template with
    holes): each statement of a string that parses on its own, as far as it is an import."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        for statement in re.split(r"[;\n]", node.value):
            if "import " not in statement:
                continue
            try:
                parsed = ast.parse(statement.strip())
            except SyntaxError:  # prose, or a statement with a template's hole
                continue
            yield from (n for n in ast.walk(parsed) if isinstance(n, ast.Import | ast.ImportFrom))


def _package(module: str) -> str:
    return module.split(".", 1)[0]


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    """The project's import graph less the `PENDING` edges."""
    return {
        a: {b for b in targets if (a, b) not in PENDING} for a, targets in import_graph().items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)

    for root in sorted(graph):
        if root in index:
            continue
        visit(root)
        work = [(root, iter(sorted(graph[root])))]
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while not component or component[-1] != node:
                        component.append(stack.pop())
                        on_stack.discard(component[-1])
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                visit(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_the_graph_sees_the_project(graph) -> None:
    """A parser that found nothing would pass every check below."""
    assert {"model.transformer", "training.train", "views.registry", "app"} <= set(graph)
    assert "model.config" in graph["model.transformer"]
    assert "training.suite_record" in graph["training.experiments"]  # imported in a function
    assert "fixtures.hf_gpt2_folders" in graph["bench.bench_gpt2"]  # in a subprocess's code
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_in_a_circle(graph) -> None:
    lines = []
    for component in _cycles(graph):
        members = set(component)
        edges = [f"{a} -> {b}" for a in component for b in sorted(graph[a]) if b in members]
        lines.append("circle: " + ", ".join(component) + "\n    " + "\n    ".join(edges))
    assert not lines, "modules that import each other:\n" + "\n".join(lines)


def test_packages_import_only_their_floor_and_below(graph) -> None:
    upward = sorted(
        f"{a} -> {b}  ({_package(a)} on floor {FLOORS[_package(a)]} imports "
        f"{_package(b)}, {'on floor ' + str(FLOORS[_package(b)]) if _package(b) in FLOORS else 'beside the floors'})"
        for a, targets in graph.items()
        if _package(a) in FLOORS
        for b in targets
        if _package(b) not in FLOORS or FLOORS[_package(b)] > FLOORS[_package(a)]
    )
    assert not upward, "imports that go up a floor:\n" + "\n".join(upward)


def test_tests_and_bench_do_not_import_each_other(graph) -> None:
    crossing = sorted(
        f"{a} -> {b}"
        for a, targets in graph.items()
        for b in targets
        if {_package(a), _package(b)} == {"tests", "bench"}
        or (_package(a) == "fixtures" and _package(b) in ("tests", "bench"))
    )
    assert not crossing, "tests and bench importing each other:\n" + "\n".join(crossing)


def test_every_pending_edge_still_exists() -> None:
    """A pending edge that has been removed comes off the list."""
    full = import_graph()
    gone = [f"{a} -> {b}" for a, b in PENDING if b not in full.get(a, set())]
    assert not gone, "no longer imported, remove from PENDING:\n" + "\n".join(gone)
