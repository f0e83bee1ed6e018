"""The package's shape: its import graph has no cycle, and no catgan module is imported inside a
function (the way a cycle hides). Read from the source with ast, so nothing here imports catgan."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "catgan"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imported(node: ast.ImportFrom | ast.Import, module: str, is_package: bool) -> list[str]:
    """The catgan modules an import statement loads (a package's __init__ included)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = module if node.level == 0 else ".".join(
            (module.split(".") if is_package else module.split(".")[:-1])[: None if node.level == 1 else 1 - node.level])
        if node.level == 0:
            base = node.module or ""
        elif node.module:
            base = f"{base}.{node.module}"
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
    found = set()
    for name in names:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__, a/b/__init__ too
            if ".".join(parts[:i]) in MODULES:
                found.add(".".join(parts[:i]))
    return sorted(found)


def graph() -> tuple[dict[str, set[str]], list[str]]:
    edges, nested = {m: set() for m in MODULES}, []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        is_package = path.name == "__init__.py"
        top = set(map(id, tree.body))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            targets = [t for t in imported(node, module, is_package) if t != module]
            if id(node) not in top and targets:
                nested.append(f"{module}:{node.lineno} imports {', '.join(targets)}")
            edges[module].update(t for t in targets if not module.startswith(t + "."))  # a parent package
    return edges, nested


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(m: str) -> list[str] | None:
        state[m] = "open"
        stack.append(m)
        for n in sorted(edges[m]):
            if state.get(n) == "open":
                return stack[stack.index(n):] + [n]
            if n not in state and (cycle := visit(n)):
                return cycle
        state[m] = "done"
        stack.pop()
        return None

    for m in sorted(edges):
        if m not in state and (cycle := visit(m)):
            return cycle
    return None


def test_the_import_graph_has_no_cycle():
    edges, _ = graph()
    assert len(edges) > 30 and edges["catgan.train.trainer"] >= {"catgan.models", "catgan.train.config"}
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges))


def test_no_catgan_module_is_imported_inside_a_function():
    assert graph()[1] == []


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
