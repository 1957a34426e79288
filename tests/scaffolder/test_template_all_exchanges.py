"""The template rendered for every exchange ccxt knows, in one process, and what it rendered run.

One project gets a broker for each ccxt exchange (all defaults), a second one the answers the
defaults do not reach (other market types, WebSocket, signed-REST brokers); each project is
generated as one batch. For each project: ruff once over all generated files, one fresh
interpreter that imports and builds every broker the way the bot does, and one pytest run of
the generated tests.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import ccxt
import pytest
import yaml

from scaffolder import ccxt_metadata
from scaffolder.generate import generate_many
from scaffolder.validate import check_file
from tests.scaffolder.test_generate import ROOT, canary_env, make_project, run_pytest, run_python

RUFF = Path(sys.executable).with_name("ruff")
#: The project's ruff settings; brokers/ and scaffolder/ are first-party in any project.
RUFF_CONFIG = [
    "--config",
    str(ROOT / "pyproject.toml"),
    "--config",
    "lint.isort.known-first-party = ['brokers', 'scaffolder']",
]

#: Answers the defaults never give, each on an exchange where it makes sense.
VARIANTS: dict[str, dict[str, object]] = {
    "okx": {"market_type": "swap", "websocket": True},
    "bybit": {"market_type": "future", "testnet": False},
    "kraken": {"market_type": "margin", "supported_pairs": ["BTC/USD"]},
    "binanceus": {"credentials": ["api_key", "api_secret", "uid"]},
    "myquery": {"integration": "rest"},
    "my_header": {
        "integration": "rest",
        "signing_scheme": "hmac_sha512_header",
        "testnet": False,
        "websocket": True,
        "base_url": "https://api.example.invalid/v2/",
    },
}

#: Imports every generated broker through the registry and builds it from its config.
BUILD_EVERY_BROKER = """
import importlib, json, sys
from brokers import create_broker
from brokers.base import BaseBroker
from brokers.ccxt_broker import CcxtBroker
from brokers.config import CCXT_CREDENTIALS
from brokers.registered import BROKERS
from brokers.registry import broker_class
from brokers.rest_broker import RestBroker

expected = json.loads(sys.argv[1])
problems = []
if sorted(BROKERS) != sorted(expected):
    problems.append(f"registered {sorted(BROKERS)} != generated {sorted(expected)}")
for name, want in expected.items():
    try:
        package = importlib.import_module(f"brokers.{name}")
        [class_name] = package.__all__
        klass = getattr(package, class_name)
        assert klass.__module__ == f"brokers.{name}.broker", klass.__module__
        assert BROKERS[name] == f"brokers.{name}.broker:{class_name}", BROKERS[name]
        assert broker_class(name) is klass
        broker = create_broker(name, f"config/brokers/{name}.json")
        assert type(broker) is klass and isinstance(broker, BaseBroker)
        assert broker.config.settings.testnet is want["testnet"]
        if want["integration"] == "ccxt":
            assert issubclass(klass, CcxtBroker) and klass.exchange_id == name
            exchange = broker.exchange
            assert bool(exchange.isSandboxModeEnabled) is want["testnet"]
            assert sorted(broker.config.credentials) == sorted(want["credentials"])
            for ours, value in broker.config.credentials.items():
                assert getattr(exchange, CCXT_CREDENTIALS[ours]) == value, ours
            assert set(klass.timeframes) <= set(exchange.timeframes or {}), klass.timeframes
            profile = {k: v for k, v in want["profile"].items() if v != ""}
            assert klass.profile == profile, klass.profile
        else:
            assert issubclass(klass, RestBroker)
            assert broker.signer.api_key == broker.config.credentials["api_key"]
            assert broker.url.startswith("https://")
    except Exception as exc:
        problems.append(f"{name}: {type(exc).__name__}: {exc}")
print(json.dumps(problems))
"""


def build(project: Path, brokers: dict[str, dict[str, object]]) -> Path:
    generate_many(brokers, project)
    return project


@pytest.fixture(scope="module")
def every_exchange(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = make_project(tmp_path_factory.mktemp("every-exchange") / "project")
    return build(project, {exchange_id: {} for exchange_id in ccxt.exchanges})


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(make_project(tmp_path_factory.mktemp("variants") / "project"), VARIANTS)


@pytest.fixture(params=["every_exchange", "variants"])
def project(request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue(request.param)


def generated(project: Path) -> list[str]:
    return sorted(p.name for p in (project / "brokers").iterdir() if (p / "broker.py").exists())


def test_every_ccxt_exchange_gets_a_broker_whose_config_validates(every_exchange):
    assert generated(every_exchange) == sorted(ccxt.exchanges)
    for name in ccxt.exchanges:
        config = every_exchange / "config" / "brokers" / f"{name}.json"
        assert check_file(config).problems == [], name
        document = json.loads(config.read_text())
        info = ccxt_metadata.lookup(name)
        assert document["settings"]["testnet"] is info.sandbox, name
        assert set(info.credentials) <= set(document["api_credentials"]), name
        assert (every_exchange / "tests" / "brokers" / f"test_{name}.py").is_file()
        assert (every_exchange / "cassettes" / name).is_dir()


def test_the_generated_code_is_formatted_and_lint_clean(project):
    targets = [
        *(str(project / "brokers" / name) for name in generated(project)),
        str(project / "brokers" / "registered.py"),
        str(project / "tests" / "brokers"),
    ]
    for command in (["format", "--check"], ["check", "--no-cache"]):
        result = subprocess.run(
            [str(RUFF), *command, *RUFF_CONFIG, *targets],
            cwd=project,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, f"ruff {' '.join(command)}:\n{result.stdout}{result.stderr}"


def test_every_generated_broker_imports_registers_and_builds_from_its_config(project):
    expected = {}
    for name in generated(project):
        answers = yaml.safe_load((project / "brokers" / name / ".copier-answers.yml").read_text())
        expected[name] = {
            "integration": answers["integration"],
            "testnet": bool(answers.get("testnet", False)),
            "credentials": answers["credentials"],
            "profile": answers.get("ccxt_meta", {}).get("profile", {}),
        }
    problems = run_python(
        project, BUILD_EVERY_BROKER, json.dumps(expected), env=canary_env(project)
    )
    assert json.loads(problems) == []


def test_the_generated_tests_pass(project):
    result = run_pytest(project, "tests/brokers")
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 4 * len(generated(project)), summary
