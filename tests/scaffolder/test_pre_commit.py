"""The repository's pre-commit hooks (``.pre-commit-config.yaml``), run by pre-commit itself.

A throwaway git repository gets this project's hook config, a broker config and a cassette; the
hooks are local ``language: system`` hooks, so nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    for relative in (
        ".pre-commit-config.yaml",
        "config/brokers/binance.json",
        "schemas/broker-config.schema.json",
        "cassettes/binance/create_order.yaml",
    ):
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, repo / relative)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    return repo


def pre_commit(repo: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
    }
    return subprocess.run(
        [str(BIN / "pre-commit"), "run", "--all-files"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_hooks_pass_on_a_valid_config_and_a_clean_cassette(repo: Path, tmp_path: Path):
    done = pre_commit(repo, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "validate broker configs" in done.stdout and "Passed" in done.stdout
    assert "audit cassettes for secrets" in done.stdout


def test_a_literal_secret_in_a_config_fails_the_commit(repo: Path, tmp_path: Path):
    config = repo / "config" / "brokers" / "binance.json"
    config.write_text(
        config.read_text().replace("${BINANCE_API_KEY}", "CANARYliteralkey0000"), encoding="utf-8"
    )
    git(repo, "add", ".")
    done = pre_commit(repo, tmp_path)
    assert done.returncode == 1
    assert "config/brokers/binance.json:" in done.stdout
    assert "/api_credentials/api_key" in done.stdout
    assert "CANARYliteralkey0000" not in done.stdout  # the secret is not echoed


def test_an_unscrubbed_key_in_a_cassette_fails_the_commit(repo: Path, tmp_path: Path):
    cassette = repo / "cassettes" / "binance" / "create_order.yaml"
    document = yaml.safe_load(cassette.read_text(encoding="utf-8"))
    document["interactions"][0]["request"]["headers"]["X-MBX-APIKEY"] = ["CANARY-API-KEY-0000"]
    cassette.write_text(yaml.safe_dump(document), encoding="utf-8")
    git(repo, "add", ".")
    done = pre_commit(repo, tmp_path)
    assert done.returncode == 1
    assert "cassettes/binance/create_order.yaml: interaction 0 header X-MBX-APIKEY" in done.stdout


def test_the_offered_hooks_match_the_ones_used_here():
    offered = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    (local,) = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"]
    used = {h["id"]: h for h in local["hooks"]}
    assert used.keys() == offered.keys()
    for hook_id, hook in used.items():
        assert (hook["entry"], hook["files"]) == (
            offered[hook_id]["entry"],
            offered[hook_id]["files"],
        )
