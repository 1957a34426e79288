"""The named tuples ``scaffolder validate`` builds are made with ``collections.namedtuple`` at run
time (importing typing, and ``typing.NamedTuple``'s compile() of each annotation, cost the
pre-commit hook on 100 valid configs 24 M of 215 M instructions), and declared as ``typing.NamedTuple`` classes for mypy under
``if TYPE_CHECKING``. The two must say the same: same fields, in the same order, same defaults."""

from __future__ import annotations

import ast
import inspect
from types import ModuleType

import pytest

from brokers.config import problems
from scaffolder import ccxt_metadata


def declared(module: ModuleType, name: str) -> list[tuple[str, object]]:
    """(field, default or the ``inspect.Parameter.empty`` marker) of the class ``name`` declared
    under ``if TYPE_CHECKING:`` in ``module``'s source."""
    tree = ast.parse(inspect.getsource(module))
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for inner in node.body:
                if isinstance(inner, ast.ClassDef) and inner.name == name:
                    return [
                        (
                            item.target.id,
                            inspect.Parameter.empty
                            if item.value is None
                            else ast.literal_eval(item.value),
                        )
                        for item in inner.body
                        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
                    ]
    raise AssertionError(f"no class {name} under 'if TYPE_CHECKING:' in {module.__name__}")


def made(cls: type) -> list[tuple[str, object]]:
    defaults = getattr(cls, "_field_defaults", {})
    return [(field, defaults.get(field, inspect.Parameter.empty)) for field in cls._fields]


@pytest.mark.parametrize(
    ("module", "name"),
    [(problems, "Problem"), (ccxt_metadata, "ExchangeInfo")],
    ids=["Problem", "ExchangeInfo"],
)
def test_the_runtime_named_tuple_matches_its_typed_declaration(module, name):
    cls = getattr(module, name)
    assert issubclass(cls, tuple) and cls.__module__ == module.__name__
    assert made(cls) == declared(module, name)
    assert cls.__doc__ == ast.get_docstring(
        next(
            n
            for n in ast.walk(ast.parse(inspect.getsource(module)))
            if isinstance(n, ast.ClassDef) and n.name == name
        )
    )


def test_a_problem_is_still_a_tuple_with_names():
    problem = problems.Problem("/name", "wrong", "pattern")
    assert problem == ("/name", "wrong", "pattern", None, None)
    assert problem._asdict()["rule"] == "pattern"
    assert repr(problem).startswith("Problem(pointer='/name'")
