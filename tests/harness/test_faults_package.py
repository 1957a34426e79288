"""The fault-injection package: the mechanism stands alone, the runs load when asked for."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

RUNS = ("matrix", "targets", "campaign")


def loaded_after(statement: str) -> list[str]:
    """The ``scaffolder.harness.faults`` modules a fresh interpreter holds after ``statement``."""
    code = textwrap.dedent(
        f"""
        import json, sys
        {statement}
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("scaffolder.harness.faults"))))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    loaded: list[str] = json.loads(result.stdout.splitlines()[-1])
    return loaded


def test_the_mechanism_imports_without_the_matrix_and_the_campaign():
    loaded = loaded_after("import scaffolder.harness.faults.mechanism")
    assert "scaffolder.harness.faults.mechanism" in loaded
    assert not [m for m in loaded if m.rsplit(".", 1)[-1] in RUNS], loaded


def test_the_package_imports_the_mechanism_only():
    loaded = loaded_after("from scaffolder.harness.faults import Fault, inject_faults")
    assert loaded == ["scaffolder.harness.faults", "scaffolder.harness.faults.mechanism"]


def test_the_package_still_exports_the_runs_names_loaded_on_first_use():
    loaded = loaded_after(
        "from scaffolder.harness.faults import run_matrix, run_no_duplicates, ORDER_TARGETS"
    )
    assert {f"scaffolder.harness.faults.{m}" for m in RUNS} <= set(loaded)


def test_an_unknown_name_is_an_attribute_error():
    import pytest

    import scaffolder.harness.faults as faults

    with pytest.raises(AttributeError, match="no_such_thing"):
        faults.no_such_thing  # noqa: B018
