"""The template rendered for every exchange ccxt knows, in one process, and what it rendered run.

One project gets a broker for each ccxt exchange (all defaults), a second one the answers the
defaults do not reach (other market types, WebSocket, signed-REST brokers); each project is
generated as one batch, once per run (the xdist workers share them). For each project: ruff
once over all generated files, one fresh interpreter that imports and builds every broker the
way the bot does, and pytest on the generated tests, split by broker into a few runs that xdist
spreads over its workers.
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
from tests.conftest import built_once_per_run
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


def built_project(
    tmp_path_factory: pytest.TempPathFactory, name: str, brokers: dict[str, dict[str, object]]
) -> Path:
    """A throwaway project with ``brokers`` generated as one batch, built once per run (every
    xdist worker shares it: the tests here only read it)."""

    def build(path: Path) -> None:
        generate_many(brokers, make_project(path))

    return built_once_per_run(tmp_path_factory, name, build)


@pytest.fixture(scope="module")
def every_exchange(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_project(
        tmp_path_factory, "every-exchange", {exchange_id: {} for exchange_id in ccxt.exchanges}
    )


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_project(tmp_path_factory, "variants", VARIANTS)


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
    for command in (["format", "--check", "--no-cache"], ["check", "--no-cache"]):
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


#: The generated tests of a project run in this many pytest processes, so xdist spreads them.
SHARDS = {"every_exchange": 4, "variants": 1}


def shard_files(project: Path, shard: int, shards: int) -> list[str]:
    """The test files of every ``shards``-th generated broker, from the ``shard``-th on."""
    return [f"tests/brokers/test_{name}.py" for name in generated(project)[shard::shards]]


@pytest.mark.parametrize("name", sorted(SHARDS))
def test_the_shards_together_run_every_generated_test_file(
    request: pytest.FixtureRequest, name: str
) -> None:
    project = request.getfixturevalue(name)
    files = [f for shard in range(SHARDS[name]) for f in shard_files(project, shard, SHARDS[name])]
    on_disk = [p.relative_to(project).as_posix() for p in (project / "tests").rglob("*.py")]
    assert sorted(files) == sorted(on_disk)


@pytest.mark.parametrize(
    ("name", "shard"),
    [(name, shard) for name, shards in SHARDS.items() for shard in range(shards)],
    ids=[
        f"{name}-{shard + 1}of{shards}"
        for name, shards in SHARDS.items()
        for shard in range(shards)
    ],
)
def test_the_generated_tests_pass(request: pytest.FixtureRequest, name: str, shard: int) -> None:
    project = request.getfixturevalue(name)
    files = shard_files(project, shard, SHARDS[name])
    result = run_pytest(project, *files)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 4 * len(files), summary
