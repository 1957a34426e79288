"""The stand-in registry: one table that both command lines read, loaded only when served."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

import scaffolder.standin
from scaffolder.cli import main as cli
from scaffolder.standin import registry
from scaffolder.standin.__main__ import _parse_args, build
from scaffolder.standin.server import StandInServer


def _module_help(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        _parse_args(["--help"])
    return capsys.readouterr().out


def test_both_command_lines_offer_the_registered_stand_ins(capsys):
    names = registry.names()
    assert names == sorted(registry.STANDINS) and len(names) >= 3
    scaffolder_help = CliRunner().invoke(cli, ["standin", "--help"]).output
    assert f"[{'|'.join(names)}]" in scaffolder_help
    assert f"{{{','.join(names)}}}" in _module_help(capsys)


def test_a_stand_in_added_to_the_registry_appears_in_both_command_lines():
    """Both read the table itself, not a copy of its names: one entry is all a new one needs."""
    code = (
        "import contextlib, io, json\n"
        "from scaffolder.standin import registry\n"
        "registry.STANDINS['kraken'] = registry.Registered("
        "'Kraken', 'scaffolder.standin.gemini', 'GeminiStandIn')\n"
        "from scaffolder.cli import main\n"
        "from scaffolder.standin.__main__ import _parse_args\n"
        "helps = []\n"
        "for run in (lambda: main(['standin', '--help']), lambda: _parse_args(['--help'])):\n"
        "    out = io.StringIO()\n"
        "    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "        run()\n"
        "    helps.append(out.getvalue())\n"
        "print(json.dumps(helps))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    scaffolder_help, module_help = json.loads(done.stdout)
    assert "[binance|coinbase|gemini|kraken]" in scaffolder_help
    assert "{binance,coinbase,gemini,kraken}" in module_help


@pytest.mark.parametrize("name", registry.names())
def test_each_registered_stand_in_builds_with_its_canary_credentials(name):
    registered = registry.STANDINS[name]
    standin = build(_parse_args(["--exchange", name, "--port", "0"]))
    assert isinstance(standin, StandInServer)
    assert type(standin).__name__ == registered.class_name
    assert (standin.api_key, standin.secret) == registered.canary()
    assert standin.port == 0 and standin.url.startswith("http://127.0.0.1:")


def test_only_binance_passes_its_receive_window_and_names_ccxt_options():
    binance = build(_parse_args(["--exchange", "binance", "--recv-window-max", "5000"]))
    assert binance.recv_window_max == 5000
    assert binance.ccxt_options() == scaffolder.standin.CCXT_OPTIONS
    gemini = build(_parse_args(["--exchange", "gemini"]))
    assert gemini.ccxt_options() == {}


def test_the_scaffolder_command_loads_no_stand_in_server():
    code = (
        "import sys, scaffolder.cli\n"
        "print(sorted(m for m in sys.modules if m.startswith('scaffolder.standin')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["['scaffolder.standin',", "'scaffolder.standin.registry']"]


def test_the_package_exports_each_name_from_its_module_on_first_use():
    exported = {name: getattr(scaffolder.standin, name) for name in scaffolder.standin.__all__}
    assert exported["BinanceStandIn"].__module__ == "scaffolder.standin.binance"
    assert exported["FAULTS"] == exported["FAULTS_BEFORE"] + exported["FAULTS_AFTER"]
    assert set(scaffolder.standin.__all__) == set(scaffolder.standin._EXPORTS)
    with pytest.raises(AttributeError, match="no attribute 'KrakenStandIn'"):
        _ = scaffolder.standin.KrakenStandIn
