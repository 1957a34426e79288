"""``python -m scaffolder.validate_hook``, the pre-commit entry: ``scaffolder validate`` itself,
as far as anyone can tell, without importing the click command line for the files it checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def configs(tmp_path: Path, config_doc) -> Path:
    """A directory with one valid config and one with a wrong type."""
    (tmp_path / "good.json").write_text(json.dumps(config_doc, indent=2))
    config_doc["type"] = "bonds"
    (tmp_path / "bad.json").write_text(json.dumps(config_doc, indent=2))
    return tmp_path


def both(*args: str) -> list[tuple[int, str, str]]:
    """(exit code, stdout, stderr) of the hook entry and of ``scaffolder validate``."""
    commands = [
        [sys.executable, "-m", "scaffolder.validate_hook", *args],
        [str(Path(sys.executable).parent / "scaffolder"), "validate", *args],
    ]
    results = []
    for command in commands:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
        results.append((done.returncode, done.stdout, done.stderr))
    return results


@pytest.mark.parametrize(
    ("args", "exit_code"),
    [
        (["good.json"], 0),
        (["bad.json", "good.json"], 1),
        (["--format", "json", "bad.json"], 1),
        (["--format=json", "--no-ccxt-checks", "good.json"], 0),
        (["--no-ccxt-checks", "missing.json"], 2),
        (["--format", "xml", "good.json"], 2),
        (["--bogus", "good.json"], 2),
        ([], 2),
    ],
)
def test_the_hook_answers_as_scaffolder_validate_does(configs, args, exit_code):
    args = [str(configs / a) if a.endswith(".json") else a for a in args]
    hook, command = both(*args)
    assert hook == command
    assert hook[0] == exit_code


def hook_in_process(config: Path, shown: str) -> tuple[str, str]:
    """The hook run on ``config`` in a fresh interpreter: its output, and a last line with its
    exit code and the value of the expression ``shown`` afterwards."""
    code = (
        "import sys\n"
        "from scaffolder.validate_hook import main\n"
        f"code = main([{str(config)!r}])\n"
        f"print(code, {shown})\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    lines = done.stdout.splitlines()
    return done.stdout + done.stderr, lines[-1] if lines else ""


def test_checking_valid_files_imports_no_click(configs):
    output, last = hook_in_process(configs / "good.json", "'click' in sys.modules")
    assert last == "0 False", output


#: What checking valid files never needs: the typed config and dataclasses, the runtime's error
#: tree and its redaction patterns, jsonschema (a refused file's wording), glob (patterns),
#: typing (annotations only; imported for type checkers), fastjsonschema and decimal (the cached
#: validator's imports are replaced by stand-ins).
NOT_FOR_VALID_FILES = (
    "brokers.config.build",
    "dataclasses",
    "brokers.errors",
    "brokers.redaction",
    "jsonschema",
    "glob",
    "typing",
    "fastjsonschema",
    "decimal",
)


def test_checking_valid_files_imports_only_what_a_valid_file_needs(configs):
    shown = f"[m for m in {NOT_FOR_VALID_FILES!r} if m in sys.modules]"
    # What the interpreter itself brings with the standard modules any check reads (Python
    # 3.13's pathlib imports glob) is not the hook's doing.
    baseline = subprocess.run(
        [sys.executable, "-c", f"import sys, json, os, pathlib\nprint(0, {shown})"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    output, last = hook_in_process(configs / "good.json", shown)
    assert last == baseline, output


def test_a_refused_file_still_gets_the_error_tree_and_its_words(configs):
    output, last = hook_in_process(configs / "bad.json", "'jsonschema' in sys.modules")
    assert last == "1 True", output
    assert "/type" in output
