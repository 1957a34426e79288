"""The drift report (``scaffolder cassettes diff``): two recordings of the Binance contract
against the stand-in, one of them with the stand-in answering in a changed shape.

What must hold: recordings that differ only in prices, ids and timestamps are not drift (exit
0); a renamed field the broker reads is reported, both in the exchange's answer and in our
parsed result (exit 1); a number sent as a string is reported as a type change in the answer,
and does not count when the parsing absorbs it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from scaffolder.cli import main
from scaffolder.harness.drift import DriftReport, drift
from scaffolder.harness.record import record
from scaffolder.standin import BinanceStandIn
from tests.harness.test_record import API_KEY, ENV, SECRET, new_project


def record_copy(root: Path, into: Path, **shape) -> Path:
    """Record root's binance contract against a fresh stand-in (answering in ``shape``) and
    keep a copy of the cassettes at ``into``."""
    with pytest.MonkeyPatch.context() as mp, BinanceStandIn(API_KEY, SECRET) as standin:
        for name, value in ENV.items():
            mp.setenv(name, value)
        standin.change_shape(**shape)
        record("binance", root, via=standin.url, replay=False)
    shutil.copytree(root / "cassettes" / "binance", into)
    return into


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("drift")
    root = new_project(base / "project")
    (root / "templates" / "broker").mkdir(parents=True)  # what the CLI finds a project by
    (root / "templates" / "broker" / "copier.yml").write_text("{}\n")
    return {
        "root": root,
        "old": record_copy(root, base / "old"),
        "same": record_copy(root, base / "same"),
        "renamed": record_copy(root, base / "renamed", rename={"status": "state"}),
        "stringified": record_copy(root, base / "stringified", stringify={"closeTime"}),
    }


def report(recordings, new: str) -> DriftReport:
    return drift(recordings["root"], "binance", recordings["old"], recordings[new])


def call(result: DriftReport, name: str):
    return next(c for c in result.calls if c.call == name)


def test_recordings_differing_only_in_ids_prices_and_timestamps_are_not_drift(recordings):
    old, same = recordings["old"], recordings["same"]
    assert (old / "create_order.yaml").read_text() != (same / "create_order.yaml").read_text()
    result = report(recordings, "same")
    assert len(result.calls) == 10
    assert result.parsed_changed == [] and result.exit_code == 0
    assert not any(c.exchange_changed for c in result.calls)


def test_a_renamed_field_is_reported_in_the_answer_and_in_the_parsed_result(recordings):
    result = report(recordings, "renamed")
    assert result.exit_code == 1
    assert "get_order" in result.parsed_changed and "create_order" in result.parsed_changed
    get_order = call(result, "get_order")
    (change,) = get_order.exchange
    assert change.request == "GET /api/v3/order" and change.status == (200, 200)
    assert change.added == {"$.state": "string"} and change.removed == {"$.status": "string"}
    assert get_order.parsed == ["$.status: string -> null"]
    assert call(result, "get_ticker").exchange_changed is False
    text = result.text()
    assert "removed  $.status (string)" in text and "get_order" in text.splitlines()[-1]


def test_a_number_sent_as_a_string_is_a_type_change_the_parsing_absorbs(recordings):
    result = report(recordings, "stringified")
    ticker = call(result, "get_ticker")
    assert ticker.exchange[0].changed_type == {"$.closeTime": ("number", "string")}
    assert ticker.parsed == []
    assert result.exit_code == 0


def test_the_command_exits_1_on_a_changed_parsed_result_and_0_otherwise(recordings, monkeypatch):
    monkeypatch.chdir(recordings["root"])
    runner = CliRunner()
    renamed = runner.invoke(
        main, ["cassettes", "diff", "binance", "--against", str(recordings["renamed"]), "--json"]
    )
    assert renamed.exit_code == 1, renamed.output
    document = json.loads(renamed.output)
    assert "get_order" in document["parsed_changed"]
    same = runner.invoke(
        main,
        ["cassettes", "diff", "binance", "--base", str(recordings["old"]), "--against",
         str(recordings["same"])],
    )  # fmt: skip
    assert same.exit_code == 0, same.output
    assert "no parsed result changed" in same.output


def test_diff_without_a_second_recording_is_a_usage_error(recordings, monkeypatch):
    monkeypatch.chdir(recordings["root"])
    result = CliRunner().invoke(main, ["cassettes", "diff", "binance"])
    assert result.exit_code == 2 and "--against" in result.output
    missing = CliRunner().invoke(main, ["cassettes", "diff", "binance", "--against", "nowhere"])
    assert missing.exit_code == 2 and "nowhere" in missing.output
