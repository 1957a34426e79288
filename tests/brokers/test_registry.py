"""The registry: lazy imports, entry-point plug-ins, and a factory that validates first."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint

import pytest

from brokers import registry
from brokers.errors import ConfigError, UnknownBrokerError


def test_importing_brokers_does_not_import_ccxt():
    code = "import sys, brokers; brokers.available(); print('ccxt' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unknown_broker_lists_close_matches(monkeypatch):
    monkeypatch.setattr(registry, "available", lambda: {"binance": "x:Y", "kraken": "x:Z"})
    with pytest.raises(UnknownBrokerError, match=r"did you mean binance"):
        registry.broker_class("binanse")


def test_plugins_are_found_through_the_entry_point_group(monkeypatch):
    plugin = EntryPoint(
        name="plugex", value="brokers.rest_broker:RestBroker", group=registry.ENTRY_POINT_GROUP
    )
    import importlib.metadata

    real = importlib.metadata.entry_points
    monkeypatch.setattr(
        importlib.metadata,
        "entry_points",
        lambda group: [plugin] if group == registry.ENTRY_POINT_GROUP else real(group=group),
    )
    assert registry.available()["plugex"] == "brokers.rest_broker:RestBroker"
    from brokers.rest_broker import RestBroker

    assert registry.broker_class("plugex") is RestBroker


def test_create_broker_validates_the_config_before_building(monkeypatch, config_doc):
    monkeypatch.setattr(
        registry, "available", lambda: {"binance": "brokers.ccxt_broker:CcxtBroker"}
    )
    config_doc["settings"]["timeout"] = 1
    with pytest.raises(ConfigError, match="/settings/timeout"):
        registry.create_broker("binance", config_doc)


def test_create_broker_builds_from_a_document(monkeypatch, config_doc, canary_env):
    monkeypatch.setattr(
        registry, "available", lambda: {"binance": "brokers.ccxt_broker:CcxtBroker"}
    )
    broker = registry.create_broker("binance", config_doc)
    assert broker.config.credentials["api_key"] == "CANARY-API-KEY-0000"
    assert not broker.is_connected()


def test_every_public_name_of_the_package_resolves_lazily() -> None:
    import importlib
    import subprocess
    import sys

    import brokers

    for name in brokers.__all__:
        assert getattr(brokers, name) is getattr(
            importlib.import_module(brokers._EXPORTS[name]), name
        )
    assert sorted(brokers._EXPORTS) == sorted(brokers.__all__)
    # Only what is used gets imported: the error tree alone pulls in neither config nor ccxt.
    probe = (
        "import sys; import brokers.errors; "
        "print(sorted(m for m in ('brokers.config', 'brokers.registry', 'ccxt', 'jsonschema') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
