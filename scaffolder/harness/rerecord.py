"""Safe re-record: new cassettes replace the committed ones only after they replay.

``scaffolder record`` records into ``cassettes/.record-<name>-<time>/`` (:func:`scratch`).
:func:`install` completes that folder into a full recording (with ``only``, the calls not
re-recorded keep their committed cassettes and arguments), prints the drift report against the
committed cassettes, replays the contract on the new folder (through a shadow project whose
``cassettes/<name>`` is that folder), and only when it passes swaps it in with one directory
rename. When the replay fails, or the run is interrupted (Ctrl-C, or anything raising
``KeyboardInterrupt``/``SystemExit``), ``cassettes/<name>/`` is left as it was and the new
folder is kept, named in the message; a killed run leaves it too (``kept`` finds it). Any
other failure (the audit found a secret, the exchange failed) removes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path

from scaffolder.errors import ScaffolderError, UsageError
from scaffolder.fs import write_text_atomic
from scaffolder.harness.drift import drift, shown

Progress = Callable[[str], None]
#: The contract calls ``--only`` accepts.
CALLS = (
    "get_balance", "get_ticker", "get_ohlcv", "create_order", "get_order", "get_open_orders",
    "cancel_order", "get_positions", "get_order_unknown", "cancel_order_unknown",
)  # fmt: skip


class ReplayFailed(ScaffolderError):
    """The new cassettes did not replay; the committed ones are untouched."""

    exit_code = 1


def prefix(name: str) -> str:
    return f".record-{name}-"


def kept(root: Path, name: str) -> list[Path]:
    """Recordings of ``name`` left aside by a failed, interrupted or killed run, newest first."""
    found = [p for p in (root / "cassettes").glob(prefix(name) + "*") if p.is_dir()]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def check_only(only: Iterable[str] | None) -> list[str] | None:
    """``--only`` values checked against the contract's calls."""
    if not only:
        return None
    unknown = [call for call in only if call not in CALLS]
    if unknown:
        raise UsageError(f"--only {', '.join(unknown)}: not a contract call ({', '.join(CALLS)})")
    return list(dict.fromkeys(only))


@contextlib.contextmanager
def scratch(root: Path, name: str, progress: Progress) -> Iterator[Path]:
    """The folder a recording is written to; kept (and named) when the run is interrupted or
    the replay fails, removed after any other failure and after a successful swap."""
    for leftover in kept(root, name):
        progress(f"an earlier recording was kept in {shown(leftover, root)} (inspect or delete it)")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    (root / "cassettes").mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(dir=root / "cassettes", prefix=f"{prefix(name)}{stamp}-"))
    try:
        yield path
    except (KeyboardInterrupt, SystemExit):
        if _audited(root, path):
            progress(
                f"interrupted: cassettes/{name}/ is untouched; what was recorded is kept in "
                f"{shown(path, root)}"
            )
        else:
            shutil.rmtree(path, ignore_errors=True)
        raise
    except ReplayFailed:
        raise
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    shutil.rmtree(path, ignore_errors=True)


def _audited(root: Path, path: Path) -> bool:
    """Whether a partial recording may be kept: the audit finds no secret in it."""
    from scaffolder.harness.audit import audit

    try:
        _, findings = audit([path], root)
    except Exception:  # an unreadable partial file: do not keep what was not checked
        return False
    return not findings


def _complete(new: Path, committed: Path, only: list[str] | None) -> None:
    """Make ``new`` a whole recording: with ``only``, the other calls' committed cassettes
    and arguments (and the committed markets snapshot); in any case the committed files the
    recording does not make (an imported ``ccxt/`` folder)."""
    if not committed.is_dir():
        return
    if only:
        scenario = json.loads((new / "contract.json").read_text(encoding="utf-8"))
        old_path = committed / "contract.json"
        old = json.loads(old_path.read_text(encoding="utf-8")) if old_path.exists() else {}
        calls = dict(old.get("calls", {}))
        for call in only:
            if call in scenario["calls"]:
                calls[call] = scenario["calls"][call]
        for call in scenario["calls"]:
            if call not in only:
                (new / f"{call}.yaml").unlink(missing_ok=True)
        scenario["calls"] = {c: calls[c] for c in CALLS if c in calls}
        write_text_atomic(new / "contract.json", json.dumps(scenario, indent=2) + "\n")
        if (committed / "markets.json").exists():
            shutil.copy2(committed / "markets.json", new / "markets.json")
    for item in committed.iterdir():
        if (new / item.name).exists():
            continue
        if item.is_dir():
            shutil.copytree(item, new / item.name)
        elif not only and item.suffix == ".yaml":
            continue  # a call this recording no longer makes
        else:
            shutil.copy2(item, new / item.name)


def _replay(root: Path, name: str, cassettes: Path) -> int:
    """The contract replayed on ``cassettes`` in a shadow of the project: its config, brokers
    and test file, with ``cassettes/<name>`` pointing at the new folder."""
    from scaffolder.harness.record import replay_contract

    root = root.resolve()
    with tempfile.TemporaryDirectory(prefix=".replay-", dir=root) as tmp:
        shadow = Path(tmp)
        for linked in ("config", "brokers", "pyproject.toml"):
            if (root / linked).exists():
                (shadow / linked).symlink_to(root / linked)
        (shadow / "cassettes").mkdir()
        (shadow / "cassettes" / name).symlink_to(cassettes.resolve())
        tests = shadow / "tests" / "brokers"
        tests.mkdir(parents=True)
        for source in (
            root / "tests" / "__init__.py",
            root / "tests" / "conftest.py",
            root / "tests" / "brokers" / "__init__.py",
            root / "tests" / "brokers" / f"test_{name}.py",
        ):
            if source.exists():
                shutil.copy2(source, shadow / source.relative_to(root))
        return replay_contract(shadow, name)


def install(
    root: Path,
    name: str,
    new: Path,
    *,
    progress: Progress,
    replay: bool = True,
    only: list[str] | None = None,
) -> tuple[list[str], int | None]:
    """Swap the recording in ``new`` into ``cassettes/<name>/`` once it replays (see the
    module docstring); returns the files installed and the replay's exit code."""
    target = root / "cassettes" / name
    _complete(new, target, only)
    if (target / "contract.json").exists():
        progress("drift against the committed cassettes:")
        try:
            for line in drift(root, name, target, new).text().splitlines():
                progress(f"  {line}")
        except Exception as exc:  # the report is information: never block the recording
            progress(f"  (no drift report: {type(exc).__name__}: {exc})")
    code: int | None = None
    if replay:
        progress("replaying the contract from the new cassettes")
        code = _replay(root, name, new)
        if code != 0:
            where = shown(new, root)
            raise ReplayFailed(
                f"the new cassettes did not replay (pytest exit {code}): cassettes/{name}/ is "
                f"untouched; the new recording is kept in {where} "
                f"(compare: scaffolder cassettes diff {name} --against {where})"
            )
    old = new.with_name(new.name + ".previous")
    if target.exists():
        os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)
    return sorted(p.name for p in target.iterdir()), code
