"""``BrokerContract``: the one contract every generated broker test inherits.

Each test calls one BaseBroker method with the arguments of the broker's scenario
(``cassettes/<name>/contract.json``, written by ``scaffolder record`` or by the ccxt importer)
and replays its cassette (``cassettes/<name>/<call>.yaml``) through pytest-recording; it checks
the return shape field by field. The error paths need no traffic: a refused call must fail
before any request, and the network is blocked, so a request would fail the test.

A method the exchange lacks (ccxt's ``has``) must raise NotSupportedError without a request.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from collections.abc import Iterator
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest

from brokers.base import BaseBroker
from brokers.errors import (
    InvalidOrderError,
    InvalidSymbolError,
    NotConnectedError,
    OrderNotFoundError,
)
from brokers.order_checks import PreTradeLimitError
from scaffolder.harness import shapes_check as check
from scaffolder.harness.contract_calls import ScenarioCalls
from scaffolder.harness.session import broker_for_replay, harness_vcr_config


def project_root_of(test_file: Path) -> Path:
    """The project a test file belongs to: the nearest parent with ``config/brokers``."""
    for parent in test_file.resolve().parents:
        if (parent / "config" / "brokers").is_dir():
            return parent
    raise FileNotFoundError(f"no config/brokers above {test_file}")


def load_scenario(root: Path, name: str) -> dict[str, Any] | None:
    """The broker's recorded scenario, or None when nothing was recorded yet (see
    :func:`scaffolder.harness.session.load_scenario`: a corrupt one names its file)."""
    from scaffolder.harness.session import load_scenario as read_scenario

    return read_scenario(root, name)


def cassettes_expected(root: Path, name: str) -> str | None:
    """Why broker ``name`` should have cassettes (None: it never had any, so it may skip).

    Its answers file says so (``scaffolder record`` and the ccxt importer note it), or git
    has its ``contract.json`` (in the index or in HEAD): then missing cassettes are lost ones.
    """
    import yaml

    from scaffolder.fs import load_yaml

    answers_path = root / "brokers" / name / ".copier-answers.yml"
    try:
        answers = load_yaml(answers_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        answers = None
    if isinstance(answers, dict) and answers.get("_cassettes"):
        return f"brokers/{name}/.copier-answers.yml says it has them ({answers['_cassettes']})"
    if not _maybe_in_git_repository(root):
        return None  # git would answer no to both questions below
    relpath = f"cassettes/{name}/contract.json"
    for args in (
        ["ls-files", "--error-unmatch", "--", relpath],
        ["cat-file", "-e", f"HEAD:{relpath}"],
    ):
        try:
            done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        if done.returncode == 0:
            return "git has them (committed)"
    return None


def _maybe_in_git_repository(root: Path) -> bool:
    """False when git cannot find a repository for ``root``: no ``.git`` in it or above it and
    no ``GIT_DIR``. A throwaway project's brokers without cassettes then start no git."""
    if os.environ.get("GIT_DIR"):
        return True
    found = root.resolve()
    return any((folder / ".git").exists() for folder in (found, *found.parents))


class Origin:
    """Where a cassette folder's traffic came from (:func:`provenance.describe`), read only
    when a skip or failure message shows it (``str``), not for every test that passes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __str__(self) -> str:
        from scaffolder.harness import provenance

        return provenance.describe(self.directory)


#: :func:`cassettes_expected` per (project root, broker), asked once per test process (it runs
#: git twice): a broker without cassettes skips every contract test with the same answer.
_EXPECTED: dict[tuple[Path, str], str | None] = {}


class BrokerContract(ScenarioCalls):
    """Inherit and set ``broker_name``; every test below then runs against that broker."""

    broker_name: ClassVar[str] = ""
    #: Contract tests this broker is known to fail -> why (a runtime defect, to be fixed in
    #: the broker). They run as strict xfails: the fix shows as an unexpected pass, which fails
    #: the run until the entry is removed.
    known_defects: ClassVar[dict[str, str]] = {}

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """One ``test_ccxt_recorded_case`` per imported ccxt case of the broker."""
        if "ccxt_case" not in metafunc.fixturenames:
            return
        index = (
            project_root_of(Path(metafunc.definition.path))
            / "cassettes"
            / self.broker_name
            / "ccxt"
            / "cases.json"
        )
        cases = json.loads(index.read_text(encoding="utf-8"))["cases"] if index.exists() else []
        metafunc.parametrize(
            "ccxt_case", cases, ids=[c["cassette"].removesuffix(".yaml") for c in cases]
        )

    @pytest.fixture(autouse=True)
    def _known_defect(self, request: pytest.FixtureRequest) -> None:
        reason = self.known_defects.get(request.function.__name__)
        if reason:
            request.applymarker(pytest.mark.xfail(reason=reason, strict=True))

    @pytest.fixture
    def project_root(self, request: pytest.FixtureRequest) -> Path:
        return project_root_of(Path(request.path))

    @pytest.fixture
    def scenario(self, project_root: Path) -> dict[str, Any]:
        scenario = load_scenario(project_root, self.broker_name)
        expected = None
        if scenario is None:
            key = (project_root, self.broker_name)
            if key not in _EXPECTED:
                _EXPECTED[key] = cassettes_expected(project_root, self.broker_name)
            expected = _EXPECTED[key]
        if expected:
            pytest.fail(
                f"cassettes/{self.broker_name}/contract.json is missing, but {expected}: restore "
                f"them (git checkout -- cassettes/{self.broker_name}) or re-record "
                f"(`scaffolder record {self.broker_name}`)",
                pytrace=False,
            )
        if scenario is None:
            pytest.skip(
                f"no cassettes for {self.broker_name} yet: run `scaffolder record {self.broker_name}` "
                f"(testnet) or `scaffolder cassettes import-ccxt {self.broker_name}`"
            )
        # named in the skip and failure messages: where the cassettes' traffic came from
        scenario["_origin"] = Origin(project_root / "cassettes" / self.broker_name)
        return scenario

    @pytest.fixture
    def vcr_cassette_dir(self, project_root: Path) -> str:
        return str(project_root / "cassettes" / self.broker_name)

    @pytest.fixture
    def vcr_config(self) -> dict[str, Any]:
        return harness_vcr_config(self.broker_name)

    @pytest.fixture
    def broker(self, project_root: Path, scenario: dict[str, Any]) -> Iterator[BaseBroker]:
        live = scenario.get("source") == "ccxt-static"
        broker = broker_for_replay(project_root, self.broker_name, testnet=False if live else None)
        if live:
            self._skip_unlisted_pairs(project_root, broker)
            self._use_import_credentials(project_root, broker)
        broker.connect()
        yield broker
        broker.disconnect()

    # -- the contract ----------------------------------------------------------------------
    @pytest.mark.vcr
    @pytest.mark.default_cassette("get_balance")
    def test_get_balance(self, broker: BaseBroker, scenario: dict[str, Any]) -> None:
        check.balance(self.call(broker, scenario, "get_balance"))

    @pytest.mark.vcr
    @pytest.mark.default_cassette("get_ticker")
    def test_get_ticker(self, broker: BaseBroker, scenario: dict[str, Any]) -> None:
        ticker = self.call(broker, scenario, "get_ticker")
        check.ticker(ticker)
        assert ticker["symbol"] == scenario["calls"]["get_ticker"]["kwargs"]["symbol"]

    @pytest.mark.vcr
    @pytest.mark.default_cassette("get_ohlcv")
    def test_get_ohlcv(self, broker: BaseBroker, scenario: dict[str, Any]) -> None:
        rows = self.call(broker, scenario, "get_ohlcv")
        check.ohlcv(rows)
        assert rows, "the exchange returned no candles"

    @pytest.mark.vcr
    @pytest.mark.default_cassette("create_order")
    def test_create_order(self, broker: BaseBroker, scenario: dict[str, Any]) -> None:
        order = self.call(broker, scenario, "create_order")
        check.order(order)
        kwargs = scenario["calls"]["create_order"]["kwargs"]
        assert order["symbol"] == kwargs["symbol"]
        assert order["side"] == kwargs["side"]

    @pytest.mark.vcr
    @pytest.mark.default_cassette("get_order")
    def test_get_order(self, broker: BaseBroker, scenario: dict[str, Any]) -> None:
        order = self.call(broker, scenario, "get_order")
        check.order(order)
        assert order["id"] == str(scenario["calls"]["get_order"]["kwargs"]["order_id"])

    @pytest.mark.vcr
    @pytest.mark.default_cassette("get_open_orders")
    def test_get_open_orders(self, broker: BaseBroker, scenario: dict[str, Any]) -> None:
        orders = self.call(broker, scenario, "get_open_orders")
        assert isinstance(orders, list)
        for order in orders:
            check.order(order)
            assert order["status"] in (None, "open")

    @pytest.mark.vcr
    @pytest.mark.default_cassette("cancel_order")
    def test_cancel_order(self, broker: BaseBroker, scenario: dict[str, Any]) -> None:
        order = self.call(broker, scenario, "cancel_order")
        check.order(order)
        assert order["status"] == "canceled"

    @pytest.mark.vcr
    @pytest.mark.default_cassette("get_positions")
    def test_get_positions(self, broker: BaseBroker, scenario: dict[str, Any]) -> None:
        positions = self.call(broker, scenario, "get_positions")
        assert isinstance(positions, list)
        for position in positions:
            check.position(position)
            assert position["symbol"] in broker.get_supported_symbols()

    # The two below ask for the broker only once the scenario has the call: a skip builds none.
    @pytest.mark.vcr
    @pytest.mark.default_cassette("get_order_unknown")
    def test_get_unknown_order_raises_order_not_found(
        self, request: pytest.FixtureRequest, scenario: dict[str, Any]
    ) -> None:
        if "get_order_unknown" not in scenario["calls"]:
            pytest.skip("no error response was recorded for an unknown order (imported data)")
        broker = request.getfixturevalue("broker")
        with pytest.raises(OrderNotFoundError):
            self.call(broker, scenario, "get_order_unknown")

    @pytest.mark.vcr
    @pytest.mark.default_cassette("cancel_order_unknown")
    def test_cancel_unknown_order_raises_order_not_found(
        self, request: pytest.FixtureRequest, scenario: dict[str, Any]
    ) -> None:
        if "cancel_order_unknown" not in scenario["calls"]:
            pytest.skip(
                "no error response was recorded for cancelling an unknown order (imported data)"
            )
        broker = request.getfixturevalue("broker")
        with pytest.raises(OrderNotFoundError):
            self.call(broker, scenario, "cancel_order_unknown")

    def test_ccxt_recorded_case(self, project_root: Path, ccxt_case: dict[str, Any]) -> None:
        """ccxt's own recorded response, replayed through this broker's exchange, parses as
        ccxt's offline tests expect (skipKeys honoured). The cases come from the live API,
        so the broker is built for it whatever the scenario recorded against."""
        from scaffolder.harness.ccxt_offline import replay_case
        from scaffolder.harness.parsed_check import compare_parsed

        cassette = project_root / "cassettes" / self.broker_name / "ccxt" / ccxt_case["cassette"]
        actual = replay_case(self._recorded_case_exchange(project_root), ccxt_case, cassette)
        assert (
            compare_parsed(actual, ccxt_case["parsedResponse"], ccxt_case.get("skipKeys", [])) == []
        )

    def _recorded_case_exchange(self, project_root: Path) -> Any:
        """The broker's ccxt exchange with the recorded markets set. Not connected: a case
        needs only its own markets, whatever pairs the config lists."""
        from scaffolder.harness.session import load_markets

        broker: Any = broker_for_replay(project_root, self.broker_name, testnet=False)
        markets = load_markets(project_root, self.broker_name)
        if markets is not None:
            broker.exchange.set_markets(markets)
        self._use_import_credentials(project_root, broker)
        return broker.exchange

    def test_unsupported_symbol_is_refused_before_any_request(self, broker: BaseBroker) -> None:
        with pytest.raises(InvalidSymbolError, match="NOPE/NOPE"):
            broker.get_ticker("NOPE/NOPE")
        with pytest.raises(InvalidSymbolError):
            broker.create_order("NOPE/NOPE", "limit", "buy", 1, price=1)

    def test_limit_order_without_price_is_refused_before_any_request(
        self, broker: BaseBroker
    ) -> None:
        symbol = broker.get_supported_symbols()[0]
        with pytest.raises(InvalidOrderError, match="needs a price"):
            broker.create_order(symbol, "limit", "buy", 1)
        with pytest.raises(InvalidOrderError, match="positive"):
            broker.create_order(symbol, "market", "buy", 0)

    def test_an_order_over_max_position_size_is_refused_before_any_request(
        self, broker: BaseBroker
    ) -> None:
        ceiling = broker.config.risk.get("max_position_size")
        if not ceiling:
            pytest.skip("the config sets no risk_management.max_position_size")
        symbols = broker.get_supported_symbols()
        rules = {symbol: broker.market_rules(symbol) for symbol in symbols}
        spot = [symbol for symbol in symbols if rules[symbol].kind == "spot"]
        symbol = (spot or symbols)[0]
        market = rules[symbol]
        if market.kind != "spot":  # only the position limit may refuse it, not the settings
            trading = {**broker.config.trading, "futures_enabled": True}
            broker.config = dataclasses.replace(broker.config, trading=trading)
        # an amount the market accepts, and a price that makes the order worth 3 x the ceiling
        limit = Decimal(str(ceiling)) * 3
        amount = max(Decimal(1), market.min_amount or Decimal(1))
        if market.inverse:
            amount = max(amount, limit / market.contract_size)
        step = market.amount_step
        if step:
            amount = (amount / step).to_integral_value(ROUND_CEILING) * step
        price = limit / (amount * market.contract_size)
        if market.price_tick:
            price = (price / market.price_tick).to_integral_value(ROUND_CEILING) * market.price_tick
        with pytest.raises(PreTradeLimitError, match="max_position_size"):
            broker.create_order(symbol, "limit", "buy", amount, price=price)

    def test_calls_before_connect_raise_not_connected(
        self, project_root: Path, scenario: dict[str, Any]
    ) -> None:
        broker = broker_for_replay(project_root, self.broker_name)
        symbol = broker.get_supported_symbols()[0]
        for call in (
            broker.get_balance,
            lambda: broker.get_ticker(symbol),
            lambda: broker.get_ohlcv(symbol),
            lambda: broker.create_order(symbol, "limit", "buy", 1, price=1),
            lambda: broker.cancel_order("1", symbol),
            lambda: broker.get_order("1", symbol),
            lambda: broker.get_open_orders(symbol),
            broker.get_positions,
        ):
            with pytest.raises(NotConnectedError):
                call()
        assert not broker.is_connected()
