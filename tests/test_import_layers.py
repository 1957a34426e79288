"""The house runs one way (docs/architecture.md): a module imports from its own layer or one below.

Every ``import`` in ``scaffolder/`` and ``brokers/`` is read with :mod:`ast` (those inside
functions too, since they run as well) and its target is placed in a layer; an import that
reaches up a layer fails the test and names the file, the line and both layers.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Top of the house first. A module may import its own layer and any layer with a larger number.
LAYERS: dict[str, int] = {
    "cli": 1,
    "doctor/update": 2,
    "generate": 3,
    "validate/inventory": 4,
    "harness": 5,
    "helpers": 6,
    "standin": 7,
    "runtime": 7,
}

_BY_MODULE: dict[str, str] = {
    "scaffolder.cli": "cli",
    "scaffolder.commands": "cli",
    "scaffolder.validate_hook": "cli",
    "scaffolder.__main__": "cli",
    "scaffolder.doctor": "doctor/update",
    "scaffolder.update": "doctor/update",
    "scaffolder.smoke": "doctor/update",
    "scaffolder.generate": "generate",
    "scaffolder.jinja_cache": "generate",
    "scaffolder.formatting": "generate",
    "scaffolder.broker_names": "generate",
    "scaffolder.fresh_project": "generate",
    "scaffolder.validate": "validate/inventory",
    "scaffolder.config_checks": "validate/inventory",
    "scaffolder.inventory": "validate/inventory",
    "scaffolder.coverage": "validate/inventory",
    "scaffolder.harness": "harness",
    "scaffolder.errors": "helpers",
    "scaffolder.fs": "helpers",
    "scaffolder.answers": "helpers",
    "scaffolder.wiring": "helpers",
    "scaffolder.ccxt_metadata": "helpers",
    "scaffolder.exchange_profile": "helpers",
    "scaffolder.wire_check": "helpers",
    "scaffolder.testnet_guard": "helpers",
    "scaffolder.corpus": "helpers",
    "scaffolder.standin": "standin",
    "brokers": "runtime",
}


def layer_of(module: str) -> str | None:
    """The layer of a first-party dotted module name (its longest listed prefix), else None."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        found = _BY_MODULE.get(".".join(parts[:end]))
        if found is not None:
            return found
    if parts[0] == "scaffolder" and len(parts) == 1:
        return "cli"  # the package itself: nothing imports it for anything but the CLI
    return None


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _module_level(tree: ast.Module) -> list[ast.stmt]:
    """The statements that run on import (under ``if``/``try`` too, not ``if TYPE_CHECKING``)."""
    out: list[ast.stmt] = []
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        out.append(node)
        if isinstance(node, ast.If):  # an ``if TYPE_CHECKING:`` body never runs, its else does
            checking = "TYPE_CHECKING" in ast.unparse(node.test)
            todo.extend(node.orelse if checking else node.body + node.orelse)
        elif isinstance(node, ast.Try):
            todo.extend(node.body + node.orelse + node.finalbody)
            for handler in node.handlers:
                todo.extend(handler.body)
    return out


def imports_of(path: Path, *, on_import_only: bool = False) -> list[tuple[int, str]]:
    """(line, absolute dotted target) of every import in the file, relative ones resolved.

    With ``on_import_only``, only the imports that run when the module is imported.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    own = module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    nodes = _module_level(tree) if on_import_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # ``from pkg import sub`` may name a sub-module: count the most specific target.
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                known = (ROOT / Path(*candidate.split("."))).with_suffix(".py").exists() or (
                    ROOT / Path(*candidate.split("."))
                ).is_dir()
                found.append((node.lineno, candidate if known else target))
    return found


def _sources() -> list[Path]:
    return sorted(p for top in ("scaffolder", "brokers") for p in (ROOT / top).rglob("*.py"))


def upward_imports() -> list[str]:
    problems: list[str] = []
    for path in _sources():
        own_layer = layer_of(module_name(path))
        assert own_layer is not None, f"{path.relative_to(ROOT)} has no layer: add it to LAYERS"
        for line, target in imports_of(path):
            target_layer = layer_of(target)
            if target_layer is None:
                continue  # standard library or third party
            if own_layer in ("standin", "runtime") and target_layer != own_layer:
                problems.append(
                    f"{path.relative_to(ROOT)}:{line}: {own_layer} imports {target} "
                    f"({target_layer}); stand-ins and the runtime never import each other "
                    "or the tool"
                )
            elif LAYERS[target_layer] < LAYERS[own_layer]:
                problems.append(
                    f"{path.relative_to(ROOT)}:{line}: {own_layer} imports {target} "
                    f"({target_layer}), a layer above it"
                )
    return problems


def test_every_import_runs_down_the_layers() -> None:
    assert upward_imports() == []


def test_no_import_cycle_runs_on_import() -> None:
    """No circle among the imports a module runs when it is imported (so import order is free)."""
    modules = {module_name(path): path for path in _sources()}
    edges = {
        name: sorted(
            {target for _, target in imports_of(path, on_import_only=True) if target in modules}
            - {name}
        )
        for name, path in modules.items()
    }
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    cycles: list[str] = []

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for target in edges[name]:
            if state.get(target) == 1:
                cycles.append(" -> ".join([*trail[trail.index(target) :], target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[name] = 2

    for name in sorted(modules):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_standins_use_only_the_standard_library() -> None:
    foreign = [
        f"{path.relative_to(ROOT)}:{line}: {target}"
        for path in sorted((ROOT / "scaffolder" / "standin").rglob("*.py"))
        for line, target in imports_of(path)
        if not target.startswith("scaffolder.standin")
        and target.split(".")[0] not in sys.stdlib_module_names
        and target.split(".")[0] != "__future__"
    ]
    assert foreign == []


def test_the_check_sees_an_upward_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks are not blind: an upward import is reported by line, and a cycle is found."""
    fake_root = tmp_path
    harness = fake_root / "scaffolder" / "harness"
    harness.mkdir(parents=True)
    (fake_root / "scaffolder" / "__init__.py").write_text("")
    (harness / "__init__.py").write_text("")
    (harness / "bad.py").write_text("def f():\n    from scaffolder.cli import main\n")
    (harness / "one.py").write_text("from . import two\n")
    (harness / "two.py").write_text(
        "try:\n    from scaffolder.harness import one\nexcept E:\n    pass\n"
    )
    (fake_root / "scaffolder" / "cli.py").write_text("")
    (fake_root / "brokers").mkdir()
    (fake_root / "brokers" / "__init__.py").write_text("from . import x\nimport scaffolder.fs\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", fake_root)
    problems = upward_imports()
    assert any("scaffolder/harness/bad.py:2: harness imports scaffolder.cli" in p for p in problems)
    assert any("brokers/__init__.py:2: runtime imports scaffolder.fs" in p for p in problems)
    with pytest.raises(AssertionError, match=r"harness\.one -> scaffolder\.harness\.two -> "):
        test_no_import_cycle_runs_on_import()
