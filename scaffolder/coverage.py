"""``scaffolder coverage``: per broker and contract call, what proves it.

- ``recorded``: the broker's own cassettes (``scaffolder record``, a testnet or a stand-in);
- ``ccxt-data``: real responses from ccxt's recorded data (the bundled corpus or
  ``scaffolder cassettes import-ccxt``), replayed with the case's own pair;
- ``stand-in``: no cassette, but a local exchange stand-in (``scaffolder standin``) the call can
  be recorded against;
- ``none``: nothing; ``fill`` names the command that would prove it.

Read from disk only (answers, config, ``cassettes/<name>/contract.json``): no ccxt import.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from scaffolder.fs import load_yaml
from scaffolder.harness.scenario import CALLS as SCENARIO_CALLS
from scaffolder.wiring import broker_dirs

#: Contract call -> the ccxt unified method that answers it.
CALLS: dict[str, str] = dict(SCENARIO_CALLS)
PROOFS = ("recorded", "ccxt-data", "stand-in", "none")


@dataclass(frozen=True)
class Proof:
    """What proves one contract call of one broker."""

    call: str
    proof: str
    detail: str = ""
    fill: str = ""


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def _has_standin(exchange: str) -> bool:
    return (Path(__file__).parent / "standin" / f"{exchange}.py").exists()


def _record_command(name: str, answers: dict[str, Any], standin: bool) -> str:
    if standin:
        return f"scaffolder standin --exchange {name} & scaffolder record {name} --via URL"
    if answers.get("testnet", False):
        return f"scaffolder record {name}"
    return f"scaffolder record {name} --allow-mainnet (no testnet)"


def broker_coverage(root: Path, name: str) -> list[Proof]:
    """Every contract call of broker ``name`` with its proof."""
    answers_file = root / "brokers" / name / ".copier-answers.yml"
    answers = load_yaml(answers_file.read_text(encoding="utf-8")) if answers_file.exists() else {}
    answers = answers or {}
    has = (answers.get("ccxt_meta") or {}).get("has") or {}
    config = _read_json(root / "config" / "brokers" / f"{name}.json")
    pairs = set(config.get("supported_pairs") or [])
    scenario = _read_json(root / "cassettes" / name / "contract.json")
    imported = scenario.get("source") == "ccxt-static"
    standin = _has_standin(name)
    record = _record_command(name, answers, standin)
    proofs = []
    for call, method in CALLS.items():
        spec = (scenario.get("calls") or {}).get(call)
        symbol = (spec or {}).get("kwargs", {}).get("symbol")
        if has and has.get(method) is False:
            proofs.append(
                Proof(call, "none", f"the exchange lacks {method}: refused, as it must be")
            )
        elif spec and symbol and symbol not in pairs:
            detail = f"recorded case trades {symbol}, not a configured pair"
            proofs.append(Proof(call, "none", detail, f"add {symbol} to supported_pairs"))
        elif spec and imported:
            proofs.append(Proof(call, "ccxt-data", str(spec.get("case") or "")))
        elif spec:
            proofs.append(Proof(call, "recorded", f"cassettes/{name}/{call}.yaml"))
        elif standin:
            proofs.append(Proof(call, "stand-in", "scaffolder standin", record))
        else:
            fill = record if answers.get("integration") != "ccxt" else (
                f"{record}, or scaffolder cassettes import-ccxt {name} --static-dir DIR"
            )  # fmt: skip
            proofs.append(Proof(call, "none", "no cassette", fill))
    return proofs


def coverage(root: Path, name: str | None = None) -> dict[str, list[Proof]]:
    """Broker name -> its proofs, for ``name`` or every broker of the project."""
    names = [name] if name else [d.name for d in broker_dirs(root)]
    return {n: broker_coverage(root, n) for n in names}


def as_json(table: dict[str, list[Proof]]) -> list[dict[str, Any]]:
    """Machine-readable coverage: one object per broker."""
    return [
        {"name": name, "calls": {p.call: {k: v for k, v in asdict(p).items() if k != "call"}
                                 for p in proofs}}
        for name, proofs in table.items()
    ]  # fmt: skip


def as_text(table: dict[str, list[Proof]]) -> list[str]:
    """A table (broker x call) and a totals line."""
    header = ["broker", *CALLS]
    rows = [header] + [[name] + [p.proof for p in proofs] for name, proofs in table.items()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    totals = {kind: sum(p.proof == kind for ps in table.values() for p in ps) for kind in PROOFS}
    lines.append(", ".join(f"{kind}: {count}" for kind, count in totals.items()))
    return lines
