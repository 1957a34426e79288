"""How the harness builds a broker for replay and the vcrpy configuration it records with.

One place for both, used by the pytest plugin, the contract suite and ``scaffolder record``:
brokers are built from ``config/brokers/<name>.json`` with canary credentials (never real
keys), the markets snapshot instead of the exchange's listing, no rate-limit waits and no
retry sleeps.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from brokers.base import BaseBroker
from brokers.config import BrokerConfig, env_references, load_config
from brokers.registry import broker_class
from scaffolder.harness import vcr_loader
from scaffolder.harness.matching import make_matcher
from scaffolder.harness.scrub import Scrubber
from scaffolder.harness.signed_requests import SCHEMES

MATCHER_PREFIX = "exchange_request"


def canary(variable: str) -> str:
    """An obvious fake credential for ``variable``: alphanumeric, valid base64, never a real key."""
    value = "CANARY" + re.sub(r"[^A-Za-z0-9]", "", variable)
    return value + "x" * (-len(value) % 4)


#: Exchanges whose ccxt client signs only with session keys, named "account-...": read from
#: the harness's table (:attr:`~scaffolder.harness.signed_requests.AuthScheme.account_keys`).
ACCOUNT_KEY_EXCHANGES = frozenset(name for name, scheme in SCHEMES.items() if scheme.account_keys)


def account_key(value: str) -> str:
    """``value`` as a session key name: ``account-`` in front unless it already says so."""
    return value if "account" in value else f"account-{value}"


def shaped_credentials(exchange_id: str, credentials: Mapping[str, str]) -> dict[str, str]:
    """Our credential names -> canary values, in the shape ``exchange_id``'s client accepts."""
    shaped = dict(credentials)
    if exchange_id in ACCOUNT_KEY_EXCHANGES and shaped.get("api_key"):
        shaped["api_key"] = account_key(shaped["api_key"])
    return shaped


def canary_env(config_path: Path) -> dict[str, str]:
    """Canary values for every ``${VAR}`` the config references (worked out once per process
    and text of the file: every replayed test builds its broker from the same config)."""
    return dict(_canary_env(config_path.read_text(encoding="utf-8")))


@functools.lru_cache(maxsize=64)
def _canary_env(text: str) -> tuple[tuple[str, str], ...]:
    return tuple({var: canary(var) for _, var in env_references(json.loads(text))}.items())


def matcher_name(broker: str) -> str:
    """The registered matcher for a broker: its auth scheme's, or the generic one."""
    return f"{MATCHER_PREFIX}_{broker}" if broker in SCHEMES else MATCHER_PREFIX


class CassetteReadError(Exception):
    """A cassette file exists but cannot be read as a vcrpy cassette."""


class ReplayDataError(CassetteReadError):
    """A file replay starts from (``markets.json``, ``contract.json``) is missing or corrupt:
    the message names it and the command that writes it again."""


def remedy(name: str) -> str:
    """What to run to get a broker's replay files back."""
    return (
        f"restore it from git, or write it again with `scaffolder record {name}` (or "
        f"`scaffolder cassettes import-ccxt {name} --static-dir DIR` for imported cassettes)"
    )


def read_replay_json(path: Path, name: str) -> dict[str, Any]:
    """A replay file of broker ``name`` as a JSON object; any problem is a ReplayDataError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ReplayDataError(f"{path}: missing; {remedy(name)}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ReplayDataError(f"{path}: cannot be read ({exc}); {remedy(name)}") from exc
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ReplayDataError(
            f"{path}: not valid JSON ({type(exc).__name__}: {exc}); {remedy(name)}"
        ) from exc
    if not isinstance(document, dict):
        raise ReplayDataError(
            f"{path}: holds {type(document).__name__}, not a JSON object; {remedy(name)}"
        )
    return document


def load_scenario(root: Path, name: str) -> dict[str, Any] | None:
    """The broker's recorded scenario (``cassettes/<name>/contract.json``), or None when
    nothing was recorded yet; a corrupt one is a ReplayDataError naming it."""
    path = root / "cassettes" / name / "contract.json"
    if not path.exists():
        return None
    return read_replay_json(path, name)


class NamingPersister:
    """Wraps a vcrpy persister so that an unreadable cassette names its file and the remedy.

    A missing cassette still goes through as vcrpy expects (a new, empty cassette).
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def load_cassette(self, cassette_path: Any, serializer: Any) -> Any:
        from vcr.cassette import CassetteNotFoundError

        try:
            return self.inner.load_cassette(cassette_path, serializer)
        except CassetteNotFoundError:
            raise
        except Exception as exc:
            raise CassetteReadError(
                f"{cassette_path}: cannot be read as a cassette ({type(exc).__name__}: {exc}); "
                "restore it from git, or re-record it with `scaffolder record NAME`"
            ) from exc

    def save_cassette(self, cassette_path: Any, cassette_dict: Any, serializer: Any) -> Any:
        return self.inner.save_cassette(cassette_path, cassette_dict, serializer=serializer)


def register_matchers(vcr: Any) -> None:
    """Register the generic and the per-exchange matchers on a vcrpy ``VCR``, and wrap its
    persister so that an unreadable cassette is reported with its file name."""
    vcr.register_matcher(MATCHER_PREFIX, make_matcher(None))
    for name in SCHEMES:
        vcr.register_matcher(f"{MATCHER_PREFIX}_{name}", make_matcher(name))
    if not isinstance(vcr.persister, NamingPersister):
        vcr.register_persister(NamingPersister(vcr.persister))


def harness_vcr_config(
    broker: str, secrets: Iterable[str] = (), url_aliases: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``vcr_config`` for a broker: signed-request matching and scrubbing before writing.

    ``url_aliases`` rewrites recorded URL prefixes (the local stand-in's address to the
    testnet's), so a cassette recorded against the stand-in replays against the real URLs.
    """
    scrubber = Scrubber(broker, secrets)
    aliases = dict(url_aliases or {})

    def before_record_request(request: Any) -> Any:
        for prefix, replacement in aliases.items():
            if request.uri.startswith(prefix):
                request.uri = replacement + request.uri[len(prefix) :]
        return scrubber.request(request)

    # functions, not the bound methods: pytest-recording deep-copies the config (twice a
    # test), and a bound method would take a deep copy of the scrubber with it
    def before_record_response(response: Any) -> Any:
        return scrubber.response(response)

    return {
        # vcrpy's own matchers first: they do not change what matches (the exchange matcher
        # checks the same), but vcrpy only reports a "similar" recorded request, with the
        # exchange matcher's description of what differs, when some matcher succeeded.
        "match_on": ("method", "scheme", "host", "port", "path", matcher_name(broker)),
        "before_record_request": before_record_request,
        "before_record_response": before_record_response,
        "decode_compressed_response": True,
        "allow_playback_repeats": True,
        **vcr_loader.vcr_options(),
    }


def load_markets(root: Path, name: str, *, required: bool = False) -> dict[str, Any] | None:
    """The broker's markets snapshot (a fresh copy), or None when it has none.

    ``required`` (the broker has a recorded scenario and replays from a snapshot): a missing
    snapshot is a ReplayDataError naming it, as a corrupt one always is. The file is parsed on
    every call: each caller gets its own copy because ccxt's ``set_markets`` keeps and extends
    what it is given, and parsing is three to six times quicker than a deep copy of one parse.
    """
    path = root / "cassettes" / name / "markets.json"
    if not path.exists():
        if required:
            raise ReplayDataError(
                f"{path}: missing (replay starts from this markets snapshot); {remedy(name)}"
            )
        return None
    return read_replay_json(path, name)


def replay_config(root: Path, name: str, *, testnet: bool | None = None) -> BrokerConfig:
    """The broker's config with canary credentials (shaped as the exchange's client wants
    them), ready for replay (no waits).

    ``testnet`` overrides the config's choice: cassettes imported from ccxt's recorded data
    come from the live API, and replaying them (offline) needs the live URLs.
    """
    path = root / "config" / "brokers" / f"{name}.json"
    config = load_config(path, env=canary_env(path))
    exchange_id = getattr(broker_class(name), "exchange_id", "") or name
    config = dataclasses.replace(
        config, credentials=shaped_credentials(exchange_id, config.credentials)
    )
    settings = dataclasses.replace(
        config.settings,
        testnet=config.settings.testnet if testnet is None else testnet,
        enable_rate_limit=False,
        retry=dataclasses.replace(
            config.settings.retry, base_delay=0.0, max_delay=0.0, max_retry_after=0.0
        ),
    )
    return dataclasses.replace(config, settings=settings)


def broker_for_replay(
    root: Path, name: str, *, testnet: bool | None = None, **kwargs: Any
) -> BaseBroker:
    """A broker of ``name`` built for replay: canary credentials, markets from the snapshot."""
    klass = broker_class(name)
    config = replay_config(root, name, testnet=testnet)
    if "markets" not in kwargs and _accepts(klass, "markets"):
        recorded = (root / "cassettes" / name / "contract.json").exists()
        markets = load_markets(root, name, required=recorded)
        if markets is not None:
            kwargs["markets"] = markets
    return klass(config, sleep=lambda seconds: None, **kwargs)


def _accepts(klass: type, parameter: str) -> bool:
    import inspect

    return parameter in inspect.signature(klass.__init__).parameters


def for_imported_case(broker: BaseBroker, symbol: str | None = None) -> BaseBroker:
    """``broker`` ready to replay one of ccxt's recorded cases: without the config's risk limits,
    and, where the case trades the derivative ``symbol``, with futures trading allowed.

    The case proves how ccxt's recorded answer is normalised; the config's risk limits are the
    user's policy, proven by their own contract test, and a market order under
    ``max_position_size`` would read a ticker that ccxt's recorded case does not hold.  The
    test's config allows what its case trades.
    """
    if broker.config.risk:
        broker.config = dataclasses.replace(broker.config, risk={})
    if symbol and broker.market_rules(symbol).kind != "spot":
        trading = {**broker.config.trading, "futures_enabled": True}
        broker.config = dataclasses.replace(broker.config, trading=trading)
    return broker


def with_import_credentials(exchange: Any, exchange_id: str, cases_index: Path) -> Any:
    """``exchange`` with the canary credentials ccxt's recorded cases were imported with
    (``cases.json``): some exchanges sign or address a request with a key of a given form (a
    wallet address in the body, an ed25519 key), so the replay must hold the same canaries."""
    import json

    from scaffolder.harness.ccxt_canaries import canary_credentials

    try:
        stored = json.loads(cases_index.read_text(encoding="utf-8")).get("credentials") or {}
    except (OSError, ValueError):
        stored = {}
    for name, value in {**canary_credentials(exchange_id), **stored}.items():
        setattr(exchange, name, value)
    return exchange
