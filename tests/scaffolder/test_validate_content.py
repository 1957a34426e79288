"""``scaffolder validate`` refuses what a config's shape allows but its content must not carry
(issue 16 item 14): each case is one problem line naming the JSON pointer, exit 1; the
committed configs and the allowed forms stay valid."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from brokers.config import _validator, fast_accepts
from scaffolder.cli import main

ROOT = Path(__file__).resolve().parents[2]
BASE = json.loads((ROOT / "config" / "brokers" / "binance.json").read_text(encoding="utf-8"))
BASE.pop("$schema", None)
LITERAL = "CANARY-LITERAL-SECRET-0000"


def with_(change) -> dict:
    document = copy.deepcopy(BASE)
    change(document)
    return document


def custom(**values):
    return lambda d: d["custom_settings"].update(values)


def credential(name: str, value: str):
    return lambda d: d["api_credentials"].update({name: value})


REFUSED = {
    "literal secret in ccxt_options": (
        custom(ccxt_options={"defaultType": "spot", "secret": LITERAL}),
        "/custom_settings/ccxt_options/secret",
        "literal secret",
    ),
    "literal api key in custom_settings": (
        custom(apiKey=LITERAL),
        "/custom_settings/apiKey",
        "literal secret",
    ),
    "${HOME} as the api key": (
        credential("api_key", "${HOME}"),
        "/api_credentials/api_key",
        "not a variable of this broker",
    ),
    "another program's secret": (
        credential("api_secret", "${AWS_SECRET_ACCESS_KEY}"),
        "/api_credentials/api_secret",
        "not a variable of this broker",
    ),
    "a lone surrogate in a value": (
        lambda d: d.update(description="Binance \ud800 spot"),
        "/description",
        "lone surrogate",
    ),
    "a control character in a value": (
        custom(note="bell\x07"),
        "/custom_settings/note",
        "control character",
    ),
    "a control character in a key": (
        custom(**{"no\x1bte": "x"}),
        "/custom_settings/no\x1bte",
        "control character",
    ),
    "a javascript: URL": (
        custom(base_url="javascript:alert(1)"),
        "/custom_settings/base_url",
        "active URL",
    ),
    "a javascript: URL in ccxt's urls": (
        custom(urls={"api": {"public": "javascript:fetch('//x')"}}),
        "/custom_settings/urls/api/public",
        "active URL",
    ),
    "a URL without a host": (
        custom(testnet_url="https://"),
        "/custom_settings/testnet_url",
        "with a host",
    ),
    "a URL whose IPv6 host is not closed": (
        custom(base_url="http://[::1"),
        "/custom_settings/base_url",
        "with a host",
    ),
}


def validate(tmp_path: Path, document: dict) -> tuple[int, str]:
    path = tmp_path / "binance.json"
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", "--no-ccxt-checks", str(path)])
    return result.exit_code, result.output


@pytest.mark.parametrize(("change", "pointer", "said"), REFUSED.values(), ids=list(REFUSED))
def test_each_is_refused_with_its_pointer(tmp_path, change, pointer, said):
    code, output = validate(tmp_path, with_(change))
    assert code == 1, output
    shown = pointer.encode("unicode_escape").decode("ascii")
    lines = [line for line in output.splitlines() if f" {shown}: " in line]
    assert lines, output
    assert said in lines[0]
    assert LITERAL not in output


ACCEPTED = {
    "the broker's own variables": lambda d: None,
    "a listed shared variable": lambda d: (
        d.update(allowed_env=["SHARED_KEY"]),
        d["api_credentials"].update(api_key="${SHARED_KEY}"),
    ),
    "references in custom_settings": custom(ccxt_options={"secret": "${BINANCE_EXTRA_SECRET}"}),
    "http and ws URLs": custom(
        base_url="https://api.example.com/v3",
        ws_url="wss://stream.example.com/ws",
        urls={"api": {"public": "http://127.0.0.1:8765/api/v3"}},
    ),
    "a newline in the description": lambda d: d.update(description="Binance\nspot"),
}


@pytest.mark.parametrize("change", ACCEPTED.values(), ids=list(ACCEPTED))
def test_allowed_forms_stay_valid(tmp_path, change):
    code, output = validate(tmp_path, with_(change))
    assert code == 0, output


def test_the_committed_configs_stay_valid():
    result = CliRunner().invoke(main, ["validate", str(ROOT / "config" / "brokers")])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "allowed_env",
    [["SHARED_KEY"], [], ["lower"], ["A", "A"], "SHARED_KEY", [1], ["${X}"]],
)
def test_the_fast_path_and_jsonschema_agree_on_allowed_env(allowed_env):
    document = with_(lambda d: d.update(allowed_env=allowed_env))
    reference = next(iter(_validator().iter_errors(document)), None)
    assert fast_accepts(document) == (reference is None)


@pytest.mark.parametrize("char", ["\x7f", "\x85", "\x9f"])
def test_a_control_character_written_unescaped_is_refused_too(tmp_path, char):
    """JSON lets U+007F to U+009F stand unescaped in a string (unlike those below U+0020)."""
    path = tmp_path / "binance.json"
    document = with_(custom(note=f"bell{char}"))
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    assert "\\" not in path.read_text(encoding="utf-8")  # no escape: the file holds it raw
    result = CliRunner().invoke(main, ["validate", "--no-ccxt-checks", str(path)])
    assert result.exit_code == 1, result.output
    assert "/custom_settings/note: the value holds a control character" in result.output


def test_a_valid_file_does_not_compile_the_control_character_patterns(tmp_path):
    """They are compiled on first use only (the surrogate range is 2% of a pre-commit run):
    a file with no escape and no character beyond ASCII never needs them."""
    path = tmp_path / "binance.json"
    path.write_text(json.dumps(BASE, indent=2), encoding="utf-8")
    code = (
        "import re, sys\n"
        "from scaffolder import config_checks\n"
        "from scaffolder.validate_hook import main\n"
        f"status = main([{str(path)!r}])\n"
        "caches = [getattr(re, n) for n in ('_cache', '_cache2') if hasattr(re, n)]\n"
        "patterns = {key[1] for cache in caches for key in cache}\n"
        "wanted = (config_checks._SUSPECT, config_checks._SUSPECT_UNESCAPED)\n"
        "print(status, [p in patterns for p in wanted])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.splitlines()[-1:] == ["0 [False, False]"], done.stdout + done.stderr


def test_the_control_character_patterns_are_compiled_when_a_file_needs_them(tmp_path):
    """The other side of the test above: the pattern cache it reads does see them."""
    from scaffolder import config_checks

    document = with_(custom(note="bell\x07"))
    problems = config_checks.content_problems(document, json.dumps(document))
    assert [p.rule for p in problems] == ["content-characters"]
    caches = [getattr(re, n) for n in ("_cache", "_cache2") if hasattr(re, n)]
    assert config_checks._SUSPECT in {key[1] for cache in caches for key in cache}
