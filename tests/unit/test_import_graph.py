"""The package's import graph: no cycles between layers (lazy imports count; type-only ones do not)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "pytest_mrlcheck"


def _module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str], root: Path = PACKAGE) -> set[str]:
    """Package modules ``path`` imports anywhere (inside functions too), except under ``if TYPE_CHECKING``."""
    name = _module_name(path, root)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
                for alias in node.names:
                    submodule = f"{target}.{alias.name}"
                    found.add(submodule if submodule in modules else target)

    Visitor().visit(ast.parse(path.read_text(encoding="utf-8")))
    return {module for module in found if module in modules and module != name}


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: _imports(path, set(paths)) for name, path in paths.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def test_cycles_stay_inside_one_subpackage() -> None:
    """A subpackage may import its own ``__init__`` (providers share their protocol that way); layers may not
    import each other in a circle."""
    for component in _cycles(_graph()):
        packages = {name.rsplit(".", 1)[0] if name.count(".") > 1 else name for name in component}
        assert len(packages) == 1, f"import cycle between layers: {' → '.join(component)}"


def _in(module: str, *packages: str) -> bool:
    return any(module == package or module.startswith(f"{package}.") for package in packages)


def test_the_spec_layer_imports_no_data_loader_or_engine() -> None:
    """No module of the spec layer imports, even lazily, a data loader (the ``data`` package, ``data_hub``)
    or the engine; what both need (e.g. the kinds hub data serves) lives in ``datasets_known``."""
    graph = _graph()
    spec_modules = [name for name in graph if _in(name, "pytest_mrlcheck.spec")]
    assert {"pytest_mrlcheck.spec", "pytest_mrlcheck.spec.load", "pytest_mrlcheck.spec.task_data"} <= set(spec_modules)
    for name in spec_modules:
        banned = {target for target in graph[name] if _in(target, "pytest_mrlcheck.data", "pytest_mrlcheck.data_hub",
                                                          "pytest_mrlcheck.evaluation", "pytest_mrlcheck.embed",
                                                          "pytest_mrlcheck.engine")}
        assert not banned, f"{name} imports {sorted(banned)}"


def test_the_rule_sees_a_lazy_import_of_a_data_submodule(tmp_path: Path) -> None:
    module = tmp_path / "pytest_mrlcheck" / "spec" / "lazy.py"
    module.parent.mkdir(parents=True)
    module.write_text("def f():\n    from ..data.hub import load_hf\n", encoding="utf-8")
    found = _imports(module, {"pytest_mrlcheck.data", "pytest_mrlcheck.data.hub"}, root=tmp_path / "pytest_mrlcheck")
    assert {target for target in found if _in(target, "pytest_mrlcheck.data")} == {"pytest_mrlcheck.data.hub"}


def test_the_data_package_does_not_import_the_hub_front() -> None:
    """``data_hub`` only re-exports the ``data`` package's hub loaders: nothing inside ``data`` goes back to it."""
    graph = _graph()
    for name, targets in graph.items():
        if _in(name, "pytest_mrlcheck.data"):
            assert "pytest_mrlcheck.data_hub" not in targets, name


def _subpackage(graph: dict[str, set[str]], package: str) -> dict[str, set[str]]:
    """The modules of ``package`` (its ``__init__`` and every module under it) with their imports."""
    return {name: imports for name, imports in graph.items() if name == package or name.startswith(f"{package}.")}


def test_the_checks_read_results_not_reports_or_pytest() -> None:
    """Planning and judging (``checks/``) depend on the evaluated result: never on the report layer that
    shows verdicts, nor on the pytest adapter (``nodes``, ``plugin``, ``state``) that runs them."""
    graph = _graph()
    checks = _subpackage(graph, "pytest_mrlcheck.checks")
    assert {"pytest_mrlcheck.checks.plan", "pytest_mrlcheck.checks.reference"} <= set(checks)
    adapters = {"pytest_mrlcheck.nodes", "pytest_mrlcheck.plugin", "pytest_mrlcheck.state"}
    for name, imports in checks.items():
        reports = {module for module in imports if module.split(".")[:2] == ["pytest_mrlcheck", "report"]}
        assert not reports, f"{name} imports the report layer: {sorted(reports)}"
        assert not imports & adapters, f"{name} imports the pytest adapter: {sorted(imports & adapters)}"


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
