"""The house rules of the package: modules of about 500 lines at most, stage subpackages
that import only the stages before them, and no import cycle between modules."""

import ast
import importlib
from pathlib import Path

import pytest

import revmatch
from revmatch._lazy import EXPORTS

PACKAGE = Path(revmatch.__file__).parent
STAGES = ("corpus", "model", "conference", "matching", "calibration", "affinity")
#: stage -> the stages it may import (the DAG: matching builds on the model and the conference data)
ALLOWED = {"corpus": set(), "model": set(), "conference": set(), "matching": {"model", "conference"},
           "calibration": set(), "affinity": {"model", "matching"}}
MAX_LINES = 550


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The revmatch modules that ``path`` imports anywhere (function-level imports included);
    a name imported from a stage package counts as its home module."""
    for package in STAGES:
        importlib.import_module(f"revmatch.{package}")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in known:
            exports = EXPORTS.get(node.module, {})
            for alias in node.names:
                if f"{node.module}.{alias.name}" in known:
                    found.add(f"{node.module}.{alias.name}")
                elif alias.name in exports:
                    found.add(f"{node.module}.{exports[alias.name]}")
                elif not node.module.endswith("__init__") and node.module != "revmatch":
                    found.add(node.module)
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imported_modules(path, set(known)) - {name} for name, path in known.items()}


def test_no_module_is_much_longer_than_500_lines():
    lengths = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}


def test_every_stage_package_exports_only_names_its_modules_define():
    for stage in STAGES:
        package = importlib.import_module(f"revmatch.{stage}")
        assert package.__all__, stage
        for name in package.__all__:
            assert getattr(package, name) is not None, f"revmatch.{stage}.{name}"


def test_stages_import_only_the_stages_before_them():
    wrong = set()
    for name, imports in import_graph().items():
        parts = name.split(".")
        if len(parts) < 3 or parts[1] not in STAGES:
            continue
        for target in imports:
            stage = target.split(".")[1] if target.count(".") >= 1 else None
            if stage in STAGES and stage != parts[1] and stage not in ALLOWED[parts[1]]:
                wrong.add(f"{name} -> {target}")
    assert wrong == set()


def test_no_import_cycle():
    graph = import_graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, [*stack, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_package_imports_none_of_its_modules_until_asked(stage):
    source = (PACKAGE / stage / "__init__.py").read_text()
    tree = ast.parse(source)
    assert ast.get_docstring(tree), f"revmatch.{stage} says what it offers"
    assert all(not (isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(f"revmatch.{stage}"))
               for node in tree.body)


def test_config_readme_is_written_from_the_schema():
    """config/README.md lists every key of the schema with its description and default."""
    import yaml

    from tests.config_readme import REPO, SCHEMA, render

    schema = yaml.safe_load(SCHEMA.read_text())
    assert (REPO / "config" / "README.md").read_text() == render(schema), "run: python tests/config_readme.py > config/README.md"

    def undescribed(node: dict, path: str) -> list[str]:
        missing = []
        for key, child in (node.get("properties") or {}).items():
            missing += [f"{path}{key}"] * (not child.get("description")) + undescribed(child, f"{path}{key}.")
        return missing

    assert undescribed(schema, "") == []
