"""The package's shape: no import cycles, layers only import downwards, deferred imports say why."""

import ast
from pathlib import Path

import pytest

import cnnlab
from cnnlab.errors import ConfigError
from cnnlab.training.trainer import EVENTS, Trainer, check_callback

SRC = Path(cnnlab.__file__).parent
# lower layers never import higher ones: data <- models <- config <- training <- deploy/learn <- cli
LAYER = {"errors": 0, "_version": 0, "files": 1, "device": 1, "progress": 1, "plots": 2, "data": 3, "models": 4,
         "config": 5, "config_checks": 5, "training": 6, "deploy": 7, "learn": 7, "prove": 8, "cli": 9, "studio": 9,
         "launch": 10, "__main__": 10, "__init__": 10}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(tree: ast.AST, module: str, is_package: bool, modules) -> set[str]:
    """The cnnlab modules an import statement needs, decided statement by statement.

    ``from pkg import sub`` needs pkg.sub when sub is a module, and pkg (its __init__) only for names
    that are not modules.
    """
    needed = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            needed |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                pkg = module.split(".") if is_package else module.split(".")[:-1]
                base = ".".join(pkg[:len(pkg) - node.level + 1] + ([base] if base else []))
            for a in node.names:
                full = f"{base}.{a.name}"
                needed.add(full if full in modules else base)
    return needed


def _graph():
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph = {m: set() for m in modules}
    for m, path in modules.items():
        tree = ast.parse(path.read_text())
        graph[m] = {n for n in _imports(tree, m, path.name == "__init__.py", modules) if n in modules and n != m}
    return modules, graph


def test_the_import_graph_has_no_cycle():
    _, graph = _graph()
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                cycle = stack[stack.index(n):] + [n]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYER["__init__"] if len(parts) == 1 else LAYER[parts[1]]


def test_lower_layers_never_import_higher_ones():
    _, graph = _graph()
    wrong = [f"{m} -> {n}" for m, ns in graph.items() for n in ns if _layer(n) > _layer(m)]
    assert wrong == []


def test_imports_inside_functions_only_defer_heavy_dependencies_and_say_so():
    problems = []
    for path in SRC.rglob("*.py"):
        lines = path.read_text().splitlines()
        tree = ast.parse("\n".join(lines))
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if not isinstance(node, (ast.Import, ast.ImportFrom)):
                    continue
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                where = f"{path.relative_to(SRC.parent)}:{node.lineno}"
                if any(n.startswith("cnnlab") for n in names):
                    problems.append(f"{where}: imports cnnlab inside a function")
                    continue
                said = "#" in lines[node.lineno - 1] or lines[node.lineno - 2].strip().startswith("#")
                if not said:
                    problems.append(f"{where}: deferred import of {names[0]} without a comment saying why")
    assert problems == []


def test_a_misspelt_callback_event_is_an_error_not_silence():
    class Typo:
        def after_epcoh(self, t):
            pass

    class Fine:
        def after_epoch(self, t):
            pass

        def helper(self):
            pass

    with pytest.raises(ConfigError, match="did you mean 'after_epoch'"):
        check_callback(Typo())
    check_callback(Fine())
    assert "after_epoch" in EVENTS and hasattr(Trainer, "add_callback")


def test_every_error_a_user_can_fix_shares_one_base():
    from cnnlab import errors

    classes = [getattr(errors, n) for n in errors.__all__ if n != "CnnlabError"]
    assert len(classes) >= 8
    assert all(issubclass(c, errors.CnnlabError) for c in classes)
