"""The corpus build: cases the installed ccxt reproduces are kept, the others dropped with why."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from scaffolder.harness import corpus
from scaffolder.harness.ccxt_import import import_ccxt

STATIC = Path(__file__).resolve().parents[1] / "data" / "ccxt_static"


def _raw_copy(tmp_path: Path, exchange_id: str) -> Path:
    raw = tmp_path / "raw"
    for kind in ("markets", "response"):
        (raw / kind).mkdir(parents=True)
        shutil.copyfile(STATIC / kind / f"{exchange_id}.json", raw / kind / f"{exchange_id}.json")
    (raw / "sources.json").write_text(
        json.dumps({"response/kraken.json": [{"path": "p", "commit": "c" * 40}]})
    )
    return raw


def test_a_case_whose_parsed_response_disagrees_is_dropped_with_the_reason(tmp_path: Path) -> None:
    raw = _raw_copy(tmp_path, "kraken")
    doc = json.loads((raw / "response" / "kraken.json").read_text())
    wrong = copy.deepcopy(doc["methods"]["fetchOHLCV"][0])
    wrong["description"] = "tampered"
    wrong["parsedResponse"][0][4] = 123456789.0  # a close no parser could give
    doc["methods"]["fetchOHLCV"].append(wrong)
    (raw / "response" / "kraken.json").write_text(json.dumps(doc))

    entry = corpus.build(raw, tmp_path / "out")["exchanges"]["kraken"]

    assert "fetchOHLCV[0]" in entry["kept"] and "fetchOHLCV[1]" not in entry["kept"]
    [dropped] = [d for d in entry["dropped"] if d["description"] == "tampered"]
    assert "parsedResponse" in dropped["reason"]
    assert entry["sources"]["response"] == [{"path": "p", "commit": "c" * 40}]
    kept = json.loads((tmp_path / "out" / "response" / "kraken.json").read_text())["methods"]
    assert [c["description"] for c in kept["fetchOHLCV"]] == [
        doc["methods"]["fetchOHLCV"][0]["description"]
    ]


def test_corpus_markets_hold_only_the_symbols_the_kept_cases_mention(tmp_path: Path) -> None:
    raw = _raw_copy(tmp_path, "kraken")
    corpus.build(raw, tmp_path / "out")
    kept = json.loads((tmp_path / "out" / "response" / "kraken.json").read_text())["methods"]
    markets = json.loads((tmp_path / "out" / "markets" / "kraken.json").read_text())
    text = json.dumps(kept)
    assert markets and all(f'"{symbol}"' in text for symbol in markets)
    assert len(markets) < len(json.loads((raw / "markets" / "kraken.json").read_text()))


@pytest.mark.parametrize(
    "exchange_id", sorted(e for e, entry in corpus.manifest()["exchanges"].items() if entry["kept"])
)
def test_every_bundled_case_imports_with_the_installed_ccxt(
    tmp_path: Path, exchange_id: str
) -> None:
    entry = corpus.manifest()["exchanges"][exchange_id]
    report = import_ccxt(exchange_id, corpus.CORPUS_DIR, tmp_path / exchange_id)
    assert len(report.imported) == len(entry["kept"]), report.skipped
    files = [source for sources in entry["sources"].values() for source in sources]
    assert files and all(source["path"].startswith("ts/src/test/static/") for source in files)


def test_an_exchange_with_nothing_kept_has_only_its_reasons_in_the_manifest() -> None:
    for exchange_id, entry in corpus.manifest()["exchanges"].items():
        has_files = (corpus.CORPUS_DIR / "response" / f"{exchange_id}.json").exists()
        assert has_files == bool(entry["kept"]) == corpus.available(exchange_id)
        assert entry["kept"] or entry["dropped"]


def test_the_corpus_keeps_the_licence_and_no_held_out_exchange() -> None:
    assert "MIT License" in (corpus.CORPUS_DIR / "LICENSE-ccxt.txt").read_text()
    names = {p.stem for p in corpus.CORPUS_DIR.rglob("*.json")}
    assert not names & {"mexc", "bitstamp", "gate"}


def test_the_corpus_ships_as_package_data(tmp_path: Path) -> None:
    """What ``pip install`` users get: setuptools' build_py copies every corpus file."""
    import subprocess
    import sys

    root = corpus.CORPUS_DIR.parents[1]
    code = f"from setuptools import setup; setup(script_args=['-q', 'build_py', '-d', {str(tmp_path)!r}])"
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True, capture_output=True)
    shipped = {p.relative_to(tmp_path / "scaffolder" / "corpus") for p in
               (tmp_path / "scaffolder" / "corpus").rglob("*") if p.is_file()}  # fmt: skip
    ours = {p.relative_to(corpus.CORPUS_DIR) for p in corpus.CORPUS_DIR.rglob("*") if p.is_file()}
    assert ours and ours == shipped


@pytest.mark.parametrize(
    "exchange_id", sorted(e for e, entry in corpus.manifest()["exchanges"].items() if entry["kept"])
)
def test_the_prebuilt_replay_data_is_what_importing_with_the_installed_ccxt_gives(
    tmp_path: Path, exchange_id: str
) -> None:
    """``scaffolder new`` copies ``prebuilt/<id>`` instead of importing when the ccxt matches;
    the copy must be exactly what the import would write."""
    copied, imported = tmp_path / "copied", tmp_path / "imported"
    assert corpus.seed(exchange_id, copied) == corpus._seed_by_import(
        exchange_id, imported, None, corpus.CORPUS_DIR
    )
    names = sorted(p.relative_to(copied).as_posix() for p in copied.rglob("*") if p.is_file())
    assert names == sorted(
        p.relative_to(imported).as_posix() for p in imported.rglob("*") if p.is_file()
    )
    for name in ("contract.json", "markets.json", "ccxt/cases.json"):
        assert json.loads((copied / name).read_text()) == json.loads((imported / name).read_text())


def test_seeding_from_the_prebuilt_data_reads_the_manifest_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manifest (100 KB of JSON) is read once per seeded broker, not again by each check
    and by each provenance file; the provenance is still the one read on its own."""
    from scaffolder.harness import provenance

    expected = provenance.for_import(corpus.CORPUS_DIR, "kraken")
    reads: list[Path] = []
    read_text = Path.read_text

    def counted(self: Path, *args: object, **kwargs: object) -> str:
        if self.name == corpus.MANIFEST:
            reads.append(self)
        return read_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", counted)
    assert corpus.seed("kraken", tmp_path / "kraken") is not None
    assert len(reads) == 1
    for folder in (tmp_path / "kraken", tmp_path / "kraken" / "ccxt"):
        assert provenance.read(folder) == expected


def test_an_exchange_without_fixtures_is_checked_on_its_ccxt_parents(tmp_path: Path) -> None:
    """fmfwio's ccxt class derives from hitbtc's and it has no fixtures of its own: hitbtc's
    cases are re-run with fmfwio's class, kept only where they reproduce hitbtc's parsed
    results, and the entry names where the data came from."""
    raw = _raw_copy(tmp_path, "hitbtc")
    source = {"path": "ts/src/test/static/response/hitbtc.json", "commit": "c" * 40}
    (raw / "sources.json").write_text(json.dumps({"response/hitbtc.json": [source]}))
    assert corpus.data_of({"hitbtc"}) == {"bequant": "hitbtc", "fmfwio": "hitbtc"}
    document = corpus.build(raw, tmp_path / "out", only=["fmfwio"])
    entry = document["exchanges"]["fmfwio"]
    assert entry["dataOf"] == "hitbtc" and entry["kept"]
    assert entry["sources"]["response"][0]["path"].endswith("response/hitbtc.json")
    report = import_ccxt("fmfwio", tmp_path / "out", tmp_path / "imported")
    assert report.imported and not report.skipped  # the kept cases replay with fmfwio's class
    assert "hitbtc" not in document["exchanges"]  # only what was asked for


def test_no_exchange_inherits_data_its_parent_does_not_have() -> None:
    """gateeu derives from gate, whose fixtures are kept out of the project: it gets none."""
    own = {p.stem for p in (corpus.CORPUS_DIR / "response").glob("*.json")}
    inherited = corpus.data_of(own)
    assert all(parent in own for parent in inherited.values())
    assert "gateeu" not in inherited and "gate" not in own
