"""A broker's copier answers file: its text, and the note of where its cassettes came from.

Each broker keeps its own ``brokers/<name>/.copier-answers.yml`` (so ``copier update`` and
``scaffolder update`` can bring it along). Written here in copier's layout: its header, the
``_`` keys first, then the answers, sorted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from scaffolder.fs import load_yaml, write_text_atomic

ANSWERS_HEADER = "# Changes here will be overwritten by Copier; NEVER EDIT MANUALLY\n"
#: In a broker's answers file: where its cassettes came from (``recorded``, ``ccxt-static``).
#: A broker that has had cassettes fails its contract when they go missing, instead of
#: skipping it as a broker that never had any does.
CASSETTES_KEY = "_cassettes"


def answers_text(answers: Mapping[str, Any]) -> str:
    """An answers file's text: copier's header, its ``_`` keys first, then the answers, sorted."""
    ordered = {k: answers[k] for k in sorted(answers, key=lambda k: (not k.startswith("_"), k))}
    return ANSWERS_HEADER + yaml.safe_dump(ordered, sort_keys=False)


def write_answers(path: Path, answers: Mapping[str, Any]) -> None:
    """Write an answers file in the project, atomically (see :func:`answers_text`)."""
    write_text_atomic(path, answers_text(answers))


def recorded(root: Path, name: str) -> str | None:
    """Where broker ``name``'s cassettes came from (its ``contract.json``), None without any."""
    try:
        scenario = json.loads(
            (root / "cassettes" / name / "contract.json").read_text(encoding="utf-8")
        )
    except (OSError, ValueError):
        return None
    source = scenario.get("source") if isinstance(scenario, dict) else None
    return str(source) if source else "recorded"


def note_cassettes(root: Path, name: str) -> None:
    """Record in the broker's answers file that it has cassettes (after record or import)."""
    path = root / "brokers" / name / ".copier-answers.yml"
    source = recorded(root, name)
    if source is None or not path.is_file():
        return
    answers = load_yaml(path.read_text(encoding="utf-8"))
    if isinstance(answers, dict) and answers.get(CASSETTES_KEY) != source:
        write_answers(path, {**answers, CASSETTES_KEY: source})
