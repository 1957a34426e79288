"""The ccxt options a generated broker sets come from one table, ``ccxt_quirks`` in the
template's ``copier.yml``: the template itself knows no exchange."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffolder.errors import UsageError
from scaffolder.generate import generate
from tests.scaffolder.test_generate import make_project

COPIER_YML = Path("templates") / "broker" / "copier.yml"


def ccxt_options(project: Path, name: str) -> tuple[dict[str, Any], str]:
    """The broker's ``ccxt_options`` as a value, and the lines of source that state it."""
    source = (project / "brokers" / name / "broker.py").read_text()
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "ccxt_options"
            and node.value is not None
        ):
            return ast.literal_eval(node.value), ast.get_source_segment(source, node) or ""
    raise AssertionError(f"brokers/{name}/broker.py sets no ccxt_options")


def quirks(project: Path) -> dict[str, Any]:
    return yaml.safe_load((project / COPIER_YML).read_text())["ccxt_quirks"]["default"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("quirks") / "project")


def test_binance_spot_gets_the_options_of_its_entry(project):
    generate("binance", project, data={"websocket": True}, force=True)
    options, source = ccxt_options(project, "binance")
    entry = quirks(project)["binance"]["spot"]
    assert options == {
        "defaultType": "spot",
        **entry["options"],
        **entry["websocket_options"],
    }
    assert options["fetchCurrencies"] is False
    comment = entry["comments"]["watchTickers"]
    assert f'# {comment}\n        "watchTickers"' in source


def test_websocket_options_are_left_out_without_websocket(project):
    generate("binanceus", project, force=True)
    options, _ = ccxt_options(project, "binanceus")
    entry = quirks(project)["binanceus"]["spot"]
    assert options == {"defaultType": "spot", **entry["options"]}


@pytest.mark.parametrize(("name", "data"), [("kraken", {}), ("binance", {"market_type": "swap"})])
def test_an_exchange_or_market_type_without_an_entry_sets_only_the_default_type(
    project, name, data
):
    generate(name, project, data=data, force=True)
    options, source = ccxt_options(project, name)
    market_type = data.get("market_type", "spot")
    assert options == {"defaultType": market_type}
    assert source == f'ccxt_options: ClassVar[dict[str, Any]] = {{"defaultType": "{market_type}"}}'


def test_a_new_entry_in_the_table_reaches_that_exchanges_broker(tmp_path):
    project = make_project(tmp_path / "project")
    questionnaire = yaml.safe_load((project / COPIER_YML).read_text())
    questionnaire["ccxt_quirks"]["default"]["kraken"] = {
        "margin": {
            "options": {"adjustForTimeDifference": True, "recvWindow": 5000, "x": None},
            "comments": {"recvWindow": "made up, to see it arrive"},
        }
    }
    (project / COPIER_YML).write_text(yaml.safe_dump(questionnaire, sort_keys=False))
    generate("kraken", project, data={"market_type": "margin"})
    options, source = ccxt_options(project, "kraken")
    assert options == {
        "defaultType": "margin",
        "adjustForTimeDifference": True,
        "recvWindow": 5000,
        "x": None,
    }
    assert '# made up, to see it arrive\n        "recvWindow": 5000,' in source
    generate("okx", project)  # the entry is kraken's alone
    assert ccxt_options(project, "okx")[0] == {"defaultType": "spot"}


def test_the_table_cannot_be_answered(project):
    with pytest.raises(UsageError, match="ccxt_quirks"):
        generate("kraken", project, data={"ccxt_quirks": {}}, force=True)
