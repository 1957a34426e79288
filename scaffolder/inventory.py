"""What brokers the project has, read from disk (``scaffolder list``)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from scaffolder.fs import load_yaml
from scaffolder.harness import provenance
from scaffolder.wiring import broker_dirs


@dataclass(frozen=True)
class BrokerRow:
    """One broker as ``scaffolder list`` shows it."""

    name: str
    integration: str
    sandbox: bool
    cassettes: int
    template: str
    #: Where the cassettes' traffic came from (``provenance.json``), and how many days ago.
    source: str | None = None
    age_days: int | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def as_row(self) -> tuple[str, ...]:
        return (
            self.name,
            self.integration,
            "yes" if self.sandbox else "no",
            str(self.cassettes) if self.cassettes else "none",
            self.template,
            self.source or ("unknown" if self.cassettes else "-"),
            "-" if self.age_days is None else f"{self.age_days}d",
        )


def inventory(root: Path) -> list[BrokerRow]:
    """Every generated broker with what its answers file, config and cassettes say."""
    rows = []
    for directory in broker_dirs(root):
        answers_file = directory / ".copier-answers.yml"
        answers = {}
        if answers_file.exists():
            answers = load_yaml(answers_file.read_text(encoding="utf-8")) or {}
        config_file = root / "config" / "brokers" / f"{directory.name}.json"
        testnet = False
        if config_file.exists():
            try:
                testnet = bool(
                    json.loads(config_file.read_text(encoding="utf-8"))["settings"]["testnet"]
                )
            except (ValueError, KeyError, TypeError):
                testnet = False
        cassettes = root / "cassettes" / directory.name
        count = len(list(cassettes.rglob("*.yaml"))) if cassettes.exists() else 0
        origin = provenance.read(cassettes)
        rows.append(
            BrokerRow(
                name=directory.name,
                integration=str(answers.get("integration", "?")),
                sandbox=testnet,
                cassettes=count,
                template=str(answers.get("_commit", "untracked"))[:12],
                source=str(origin.get("source", "unknown")) if origin else None,
                age_days=provenance.age_days(origin),
            )
        )
    return rows
