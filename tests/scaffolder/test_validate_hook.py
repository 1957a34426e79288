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


def test_checking_valid_files_imports_no_click(configs):
    code = (
        "import sys\n"
        "from scaffolder.validate_hook import main\n"
        f"code = main([{str(configs / 'good.json')!r}])\n"
        "print(code, 'click' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.splitlines()[-1] == "0 False", done.stdout + done.stderr
