"""The bundled corpus: ccxt's recorded real responses, checked against the installed ccxt.

``scaffolder/corpus/`` ships with the package and has the layout of ccxt's
``ts/src/test/static/`` (``markets/<id>.json``, ``response/<id>.json``), so
:func:`scaffolder.harness.ccxt_import.import_ccxt` reads it like any fixtures folder a user
brings.  ``manifest.json`` says, per exchange, where each file came from (repository path and
commit), which ccxt version checked it, and every case that was dropped, with the reason.

:func:`build` makes the corpus from raw fixture files: every case is run offline through the
installed ccxt (``import_ccxt``: the markets file set, ``fetch`` answered with the recorded body
as ccxt's own ``set_fetch_response`` does) and kept only when ccxt's result equals the fixture's
``parsedResponse`` under ccxt's comparison rules.  A disagreeing case is dropped and the reason
recorded; nothing is edited by hand.  Markets are trimmed to the symbols the kept cases mention.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["CORPUS_DIR", "available", "build", "data_of", "manifest"]

#: Where the bundled corpus lives (package data).
CORPUS_DIR = Path(__file__).resolve().parents[1] / "corpus"
MANIFEST = "manifest.json"
#: Markets kept for an exchange whose cases name no symbol (a balance only, say).
SPARE_MARKETS = 2
#: ``prebuilt/<id>/``: the replay data ``seed`` makes, made once by the build with the ccxt
#: named in the manifest, so ``scaffolder new`` need not import ccxt when that one is installed.
PREBUILT = "prebuilt"
SOURCE = "https://github.com/ccxt/ccxt ts/src/test/static (MIT, see LICENSE-ccxt.txt)"


def manifest(corpus_dir: Path = CORPUS_DIR) -> dict[str, Any]:
    """The corpus manifest (``{"exchanges": {id: entry}}``), empty when there is no corpus."""
    path = corpus_dir / MANIFEST
    if not path.exists():
        return {"exchanges": {}}
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def available(exchange_id: str, corpus_dir: Path = CORPUS_DIR) -> bool:
    """Whether the corpus holds kept cases for ``exchange_id``."""
    return _has_cases(exchange_id, manifest(corpus_dir)["exchanges"].get(exchange_id), corpus_dir)


def _has_cases(exchange_id: str, entry: Mapping[str, Any] | None, corpus_dir: Path) -> bool:
    """Whether ``entry`` (the manifest's for ``exchange_id``) has kept cases, with their file."""
    return (
        bool(entry and entry.get("kept"))
        and (corpus_dir / "response" / f"{exchange_id}.json").exists()
    )


def _mentioned(cases: Iterable[Mapping[str, Any]]) -> set[str]:
    """Every string in the cases' inputs and parsed results (symbols among them)."""
    found: set[str] = set()
    stack: list[Any] = [[c.get("input"), c.get("parsedResponse")] for c in cases]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def _check(exchange_id: str, static_dir: Path) -> tuple[list[tuple[str, int]], list[dict]]:
    """Cases of ``static_dir`` the installed ccxt reproduces, and the others with why."""
    from scaffolder.harness.ccxt_import import import_ccxt

    with tempfile.TemporaryDirectory(prefix="corpus-check-") as scratch:
        report = import_ccxt(exchange_id, static_dir, Path(scratch) / exchange_id)
        index = json.loads((Path(scratch) / exchange_id / "ccxt" / "cases.json").read_text())
    kept = [(c["method"], c["index"]) for c in index["cases"]]
    dropped = [
        {"method": s.method, "index": s.index, "description": s.description, "reason": s.reason}
        for s in report.skipped
    ]
    return kept, dropped


def _trimmed(
    markets: Mapping[str, Any], doc: Mapping[str, Any], kept: list[tuple[str, int]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The response document with only the kept cases, and the markets they mention (or, when
    they mention none, the first :data:`SPARE_MARKETS` of the file: a broker needs a pair)."""
    wanted = set(kept)
    methods = {
        method: [c for i, c in enumerate(cases) if (method, i) in wanted]
        for method, cases in doc["methods"].items()
    }
    methods = {m: cases for m, cases in methods.items() if cases}
    from scaffolder.harness.ccxt_import import canarized

    response = {**canarized(doc), "methods": methods}
    names = _mentioned(c for cases in methods.values() for c in cases)
    used = {s: m for s, m in markets.items() if s in names}
    return used or dict(sorted(markets.items())[:SPARE_MARKETS]), response


def _dump(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def build_one(
    exchange_id: str, raw_dir: Path, out_dir: Path, sources: Mapping[str, Any]
) -> dict[str, Any]:
    """Check ``exchange_id``'s raw fixtures and write its trimmed corpus files; its manifest
    entry.  Runs until stable: trimming the markets can make a case fail, which is dropped."""
    import ccxt

    from scaffolder.harness.ccxt_fixtures import usable_markets
    from scaffolder.harness.ccxt_import import SUPPORTED_METHODS, load_static_fixtures

    markets, doc = load_static_fixtures(exchange_id, raw_dir)
    # the import leaves out the markets ccxt cannot round an order for, as this one does: a
    # case that needs one fails, with why
    markets, unusable = usable_markets(exchange_id, markets)
    kept, dropped = _check(exchange_id, raw_dir)
    while True:
        small_markets, response = _trimmed(markets, doc, kept)
        with tempfile.TemporaryDirectory(prefix="corpus-stage-") as scratch:
            stage = Path(scratch)
            _dump(stage / "markets" / f"{exchange_id}.json", small_markets)
            _dump(stage / "response" / f"{exchange_id}.json", response)
            again, lost = _check(exchange_id, stage) if kept else ([], [])
            if len(again) == len(kept):
                for kind in ("markets", "response"):
                    target = out_dir / kind / f"{exchange_id}.json"
                    target.unlink(missing_ok=True)
                    if kept:  # nothing kept: only the manifest says why
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(stage / kind / f"{exchange_id}.json", target)
                break
        # renumber: the re-check indexed the trimmed document; map back to the raw indexes
        by_method: dict[str, list[int]] = {}
        for method, index in sorted(kept):
            by_method.setdefault(method, []).append(index)
        for item in lost:
            raw_index = by_method[item["method"]][item["index"]]
            kept.remove((item["method"], raw_index))
            reason = "with the markets trimmed: " + item["reason"]
            dropped.append({**item, "index": raw_index, "reason": reason})
    prebuilt = out_dir / PREBUILT / exchange_id
    shutil.rmtree(prebuilt, ignore_errors=True)
    if kept:
        _seed_by_import(exchange_id, prebuilt, None, out_dir)
    unused = sorted(set(doc["methods"]) - set(SUPPORTED_METHODS))
    return {
        "ccxtVersion": ccxt.__version__,
        "sources": {
            kind: sources.get(f"{kind}/{exchange_id}.json")
            for kind in ("markets", "response")
            if sources.get(f"{kind}/{exchange_id}.json")
        },
        "kept": [f"{method}[{index}]" for method, index in sorted(kept)],
        "dropped": sorted(
            (d for d in dropped if d["method"] not in unused),
            key=lambda d: (d["method"], d["index"]),
        ),
        "methodsNotUsed": unused,
        **({"marketsDropped": unusable} if unusable else {}),
    }


def data_of(own: Iterable[str]) -> dict[str, str]:
    """Exchanges without fixtures of their own whose ccxt class derives from one in ``own``:
    ``{exchange: the nearest such ancestor}`` (binanceusdm runs binance's API, so binance's
    recorded responses are checked on it too)."""
    import ccxt

    from scaffolder.harness.ccxt_import import ccxt_ancestors

    own = set(own)
    found: dict[str, str] = {}
    for exchange_id in ccxt.exchanges:
        if exchange_id in own:
            continue
        parent = next((a for a in ccxt_ancestors(exchange_id) if a in own), None)
        if parent:
            found[exchange_id] = parent
    return found


def _build_inherited(
    exchange_id: str, parent: str, raw_dir: Path, out_dir: Path, sources: Mapping[str, Any]
) -> dict[str, Any]:
    """``build_one`` for an exchange with no fixtures of its own, on its ccxt parent's: every
    case is re-run with the exchange's own ccxt class and kept only where it reproduces the
    parent's ``parsedResponse``.  The manifest entry names the parent (``dataOf``)."""
    with tempfile.TemporaryDirectory(prefix="corpus-inherit-") as scratch:
        stage = Path(scratch)
        own_sources: dict[str, Any] = {}
        for kind in ("markets", "response"):
            (stage / kind).mkdir()
            shutil.copyfile(raw_dir / kind / f"{parent}.json", stage / kind / f"{exchange_id}.json")
            listed = sources.get(f"{kind}/{parent}.json")
            if listed:
                own_sources[f"{kind}/{exchange_id}.json"] = listed
        entry = build_one(exchange_id, stage, out_dir, own_sources)
    return {**entry, "dataOf": parent}


def build(raw_dir: Path, out_dir: Path = CORPUS_DIR, only: Iterable[str] = ()) -> dict[str, Any]:
    """Build the corpus in ``out_dir`` from every exchange in ``raw_dir`` (or ``only`` those).

    ``raw_dir`` has ccxt's static layout plus ``sources.json`` (``{"<kind>/<id>.json":
    [{"repo", "path", "commit"}, ...]}``).  Returns the manifest written.
    """
    import ccxt

    from scaffolder.harness.ccxt_import import CcxtImportError

    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    sources_file = raw_dir / "sources.json"
    sources = json.loads(sources_file.read_text(encoding="utf-8")) if sources_file.exists() else {}
    own = {p.stem for p in (raw_dir / "response").glob("*.json") if p.stem in ccxt.exchanges}
    inherited = data_of(own)
    for exchange_id in only:
        if exchange_id not in ccxt.exchanges:
            raise CcxtImportError(f"unknown ccxt exchange id: {exchange_id!r}")
    ids = sorted(only) or sorted(own | set(inherited))
    document = manifest(out_dir) if out_dir.exists() else {"exchanges": {}}
    document["exchanges"] = dict(document.get("exchanges") or {})
    for exchange_id in ids:
        parent = inherited.get(exchange_id)
        try:
            if parent is None:
                entry = build_one(exchange_id, raw_dir, out_dir, sources)
            else:
                entry = _build_inherited(exchange_id, parent, raw_dir, out_dir, sources)
        except CcxtImportError as exc:  # unreadable fixtures: nothing of it is bundled
            for kind in ("markets", "response"):
                (out_dir / kind / f"{exchange_id}.json").unlink(missing_ok=True)
            shutil.rmtree(out_dir / PREBUILT / exchange_id, ignore_errors=True)
            entry = {"kept": [], "dropped": [], "error": str(exc)}
        document["exchanges"][exchange_id] = entry
    document["exchanges"] = dict(sorted(document["exchanges"].items()))
    document["source"] = SOURCE
    _dump(out_dir / MANIFEST, document)
    return document


def scenario_symbols(scenario: Mapping[str, Any]) -> list[str]:
    """The symbols a scenario's calls use, in call order, each once."""
    symbols = [call["kwargs"].get("symbol") for call in scenario.get("calls", {}).values()]
    return list(dict.fromkeys(s for s in symbols if isinstance(s, str) and s))


def seed(
    exchange_id: str,
    out_dir: Path,
    pairs: Iterable[str] | None = None,
    corpus_dir: Path = CORPUS_DIR,
) -> dict[str, Any] | None:
    """Replay cassettes, markets snapshot and scenario for ``exchange_id`` from the corpus.

    Written into ``out_dir`` (a broker's ``cassettes/<name>/``, or a scratch copy of it).
    ``pairs`` are the config's pairs, kept in the snapshot where the corpus lists them;
    without them the snapshot keeps every market of the corpus, and the data the build made
    is copied when the installed ccxt is the one that made it. Returns the scenario, or None
    when the corpus has nothing for the exchange.
    """
    from scaffolder.ccxt_metadata import ccxt_version

    entry = manifest(corpus_dir)["exchanges"].get(exchange_id)
    if not _has_cases(exchange_id, entry, corpus_dir):
        return None
    prebuilt = corpus_dir / PREBUILT / exchange_id
    if not pairs and entry.get("ccxtVersion") == ccxt_version() and prebuilt.is_dir():
        shutil.copytree(prebuilt, out_dir, dirs_exist_ok=True)
        from scaffolder.harness import provenance  # what the import would have written

        origin = provenance.for_import(corpus_dir, exchange_id, entry)
        for folder in (out_dir / "ccxt", out_dir):
            provenance.write(folder, origin)
        scenario: dict[str, Any] = json.loads((out_dir / "contract.json").read_text("utf-8"))
        return scenario
    return _seed_by_import(exchange_id, out_dir, pairs, corpus_dir)


def _seed_by_import(
    exchange_id: str, out_dir: Path, pairs: Iterable[str] | None, corpus_dir: Path
) -> dict[str, Any] | None:
    """``seed`` the long way: import the corpus's cases with the installed ccxt."""
    from scaffolder.harness.ccxt_import import import_ccxt
    from scaffolder.harness.scenario import scenario_from_import

    listed = json.loads((corpus_dir / "markets" / f"{exchange_id}.json").read_text("utf-8"))
    symbols = [p for p in pairs if p in listed] if pairs else list(listed)
    report = import_ccxt(exchange_id, corpus_dir, out_dir, symbols=symbols)
    if not report.imported:
        shutil.rmtree(out_dir, ignore_errors=True)
        return None
    return scenario_from_import(exchange_id, out_dir)


def seed_new_broker(
    name: str, root: Path, answers: Mapping[str, Any], where: Path
) -> tuple[Path, list[str]] | None:
    """For ``scaffolder new``: the corpus's cassettes for a new ccxt broker, staged in ``where``.

    Only for a broker without cassettes of its own: ``cassettes/<name>/`` holds no file but
    ``.gitkeep`` (recordings made before the broker are kept as they are).
    Returns the staged ``cassettes/<name>`` directory and the pairs its config should default
    to (the symbols the scenario's cases use), or None.
    """
    if answers.get("integration", "ccxt") != "ccxt":
        return None
    own = root / "cassettes" / name
    if own.is_dir() and any(p.is_file() and p.name != ".gitkeep" for p in own.rglob("*")):
        return None
    pairs = answers.get("supported_pairs")
    out = where / "cassettes" / name
    scenario = seed(name, out, pairs if isinstance(pairs, list) else None)
    if scenario is None:
        return None
    symbols = scenario_symbols(scenario)
    if symbols:
        return out, symbols
    snapshot = json.loads((out / "markets.json").read_text(encoding="utf-8"))
    return out, sorted(snapshot)[:SPARE_MARKETS]
