"""``scaffolder validate``: what a person and a machine read, and the exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from scaffolder.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_valid_configs_exit_zero(write_config, config_doc):
    result = run("validate", str(write_config(config_doc)))
    assert result.exit_code == 0, result.output
    assert "ok: 1 file(s) valid" in result.output


def test_each_problem_is_file_line_col_pointer_message(write_config, config_doc):
    config_doc["settings"]["timeout"] = 10
    path = write_config(config_doc)
    result = run("validate", str(path))
    assert result.exit_code == 1
    line = result.output.splitlines()[0]
    assert line.startswith(f"{path}:")
    location, pointer, message = line.split(" ", 2)
    _, row, col = location.rsplit(":", 2)
    assert int(row) > 1 and int(col) > 1
    assert pointer == "/settings/timeout:"
    assert "at least 1000" in message


def test_json_format_is_machine_readable(write_config, config_doc):
    config_doc["type"] = "bonds"
    result = run("validate", "--format", "json", str(write_config(config_doc)))
    report = json.loads(result.output)
    assert result.exit_code == 1
    assert report["status"] == "fail" and report["checked"] == 1 and report["invalid"] == 1
    [error] = report["errors"]
    assert error["pointer"] == "/type" and error["rule"] == "enum" and error["line"] == 4


def test_directories_and_globs_expand_to_json_files(tmp_path, config_doc):
    for name in ("a", "b"):
        (tmp_path / f"{name}.json").write_text(json.dumps(config_doc))
    (tmp_path / "notes.txt").write_text("not a config")
    assert "2 file(s) valid" in run("validate", str(tmp_path)).output
    assert "2 file(s) valid" in run("validate", str(tmp_path / "*.json")).output


def test_nothing_to_check_is_a_usage_error(tmp_path):
    assert run("validate", str(tmp_path / "missing.json")).exit_code == 2
    assert run("validate", str(tmp_path / "*.json")).exit_code == 2
    assert run("validate").exit_code == 2


def test_malformed_json_is_reported_with_its_position(write_config):
    result = run("validate", str(write_config('{"name": "x",\n "type": }')))
    assert result.exit_code == 1
    assert ":2:10 /: invalid JSON" in result.output


def test_unknown_exchange_suggests_close_ccxt_ids(write_config, config_doc):
    config_doc["name"] = "binanse"
    result = run("validate", str(write_config(config_doc)))
    assert result.exit_code == 1
    assert "ccxt has no exchange 'binanse'" in result.output and "binance" in result.output


def test_rest_brokers_may_use_names_ccxt_does_not_know(write_config, config_doc):
    config_doc.update(name="myexchange", integration="rest")
    assert run("validate", str(write_config(config_doc))).exit_code == 0


def test_testnet_on_an_exchange_without_sandbox_is_refused(write_config, config_doc):
    config_doc["name"] = "kraken"
    result = run("validate", str(write_config(config_doc)))
    assert "/settings/testnet: kraken has no sandbox" in result.output


def test_required_credential_missing_is_named(write_config, config_doc):
    config_doc["name"] = "okx"
    result = run("validate", str(write_config(config_doc)))
    assert "okx requires passphrase" in result.output
    assert "${OKX_PASSPHRASE}" in result.output


def test_no_ccxt_checks_skips_the_metadata(write_config, config_doc):
    config_doc["name"] = "okx"
    assert run("validate", "--no-ccxt-checks", str(write_config(config_doc))).exit_code == 0


def test_the_installed_command_runs_without_a_traceback(tmp_path):
    broken = tmp_path / "b.json"
    broken.write_text("[")
    proc = subprocess.run(
        [sys.executable, "-m", "scaffolder.cli", "validate", str(broken)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr


def test_shipped_configs_validate():
    assert run("validate", str(ROOT / "config" / "brokers")).exit_code == 0
