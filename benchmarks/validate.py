"""Benchmark of ``scaffolder validate`` (issue 2).

    python benchmarks/validate.py [--json] [--runs N] [--profile]

1. In-process throughput: configs per second through ``scaffolder.validate.check_file`` on 100
   valid variants of ``config/brokers/binance.json`` (one per ccxt exchange, credentials and
   testnet set from ccxt's metadata so the semantic checks pass), with and without the ccxt
   semantic checks.
2. Whole process: median wall time of the pre-commit hook's entry (``python -m
   scaffolder.validate_hook DIR``: ``scaffolder validate`` without the click command line) on
   those 100 files next to ``check-jsonschema --schemafile schemas/broker-config.schema.json
   <100 files>``. Target: at most 0.15 x check-jsonschema (``python -c pass``, the interpreter
   floor, is shown too). Also shown, not targets: ``scaffolder validate DIR`` as typed, and the
   same 100 files with 10 of them broken (an unknown key each), the case where jsonschema is
   imported to word the problems (valid documents are answered by the compiled fast path alone).
   The same runs are also timed in CPU (user + system, children included; median),
   steadier than wall time on a loaded machine; their ratio is printed beside the target.
3. Instructions: when valgrind is on PATH, the same three commands are run once each under
   ``valgrind --tool=callgrind --trace-children=no`` (total instructions, deterministic to
   about 0.1%, whatever else runs on the machine), and their ratio is a second target line.
   ``--no-instructions`` skips it (valgrind makes each run some 50 times slower).

The ccxt metadata cache is made to exist (one ``scaffolder validate`` run) before anything is
timed; whether it existed beforehand is printed. Then the script profiles ``python -X
importtime -m scaffolder.validate_hook DIR`` and prints where the import time goes: the top 10
imports by their own time, the top 10 top-level imports with their heaviest path, and what our
modules import.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench
from _bench import ROOT, Target, Timing

N_CONFIGS = 100
RATIO_LIMIT = 0.15
SCHEMA = ROOT / "schemas" / "broker-config.schema.json"
BASE_CONFIG = ROOT / "config" / "brokers" / "binance.json"


def make_configs(directory: Path, count: int = N_CONFIGS) -> list[Path]:
    """``count`` valid configs, one per ccxt exchange, derived from binance.json."""
    from scaffolder import ccxt_metadata

    base = json.loads(BASE_CONFIG.read_text(encoding="utf-8"))
    infos = [ccxt_metadata.exchanges()[e] for e in sorted(ccxt_metadata.exchanges())]
    if len(infos) < count:
        raise SystemExit(f"benchmark: ccxt has only {len(infos)} exchanges, need {count}")
    out = directory / "config" / "brokers"
    out.mkdir(parents=True)
    # The configs' "$schema" is ../../schemas/...; give it something to point at.
    (directory / "schemas").mkdir()
    shutil.copy2(SCHEMA, directory / "schemas" / SCHEMA.name)
    paths = []
    for info in infos[:count]:
        config = copy.deepcopy(base)
        config["name"] = info.id
        config["description"] = f"{info.name} (spot)"
        credentials = info.credentials or ["api_key", "api_secret"]
        prefix = re.sub(r"[^A-Z0-9_]", "_", info.id.upper())
        config["api_credentials"] = {c: f"${{{prefix}_{c.upper()}}}" for c in credentials}
        config["settings"]["testnet"] = info.sandbox
        config["settings"]["rate_limit"] = min(max(info.rate_limit_ms, 0), 60000)
        path = out / f"{info.id}.json"
        path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def make_broken_copy(paths: list[Path], directory: Path, broken: int = 10) -> Path:
    """``paths`` copied into ``directory``, every tenth one with a typo'd settings key."""
    directory.mkdir(parents=True)
    step = max(len(paths) // broken, 1)
    for index, path in enumerate(paths):
        document = json.loads(path.read_text(encoding="utf-8"))
        if index % step == 0:
            document["settings"]["testnett"] = True
        (directory / path.name).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return directory


@dataclass
class Throughput:
    label: str
    semantic: bool
    configs: int = 0
    seconds: float = 0.0
    first_pass_s: float = 0.0
    passes: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        """Configs per second over the median pass (robust to other load on the machine)."""
        return self.configs / len(self.passes) / statistics.median(self.passes)

    @property
    def best_per_second(self) -> float:
        return self.configs / len(self.passes) / min(self.passes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "semantic": self.semantic,
            "configs": self.configs,
            "passes": len(self.passes),
            "seconds": round(self.seconds, 4),
            "configs_per_s": round(self.per_second, 1),
            "best_configs_per_s": round(self.best_per_second, 1),
            "us_per_config": round(1e6 / self.per_second, 1),
            "first_pass_s": round(self.first_pass_s, 4),
            "pass_median_s": round(statistics.median(self.passes), 4),
        }


def in_process(paths: list[Path], semantic: bool, min_seconds: float = 1.5) -> Throughput:
    """Validate ``paths`` over and over for at least ``min_seconds``; everything must be valid."""
    from scaffolder.validate import check_file

    result = Throughput(
        "check_file" + (" + ccxt checks" if semantic else " (schema only)"), semantic
    )
    start = time.perf_counter()
    reports = [check_file(p, semantic=semantic) for p in paths]  # first pass: compiles, loads
    result.first_pass_s = time.perf_counter() - start
    bad = [r for r in reports if not r.ok]
    if bad:
        raise SystemExit(
            f"benchmark: generated config is invalid: {bad[0].path}: {bad[0].problems}"
        )
    while result.seconds < min_seconds or len(result.passes) < 3:
        start = time.perf_counter()
        for path in paths:
            check_file(path, semantic=semantic)
        elapsed = time.perf_counter() - start
        result.passes.append(elapsed)
        result.seconds += elapsed
        result.configs += len(paths)
    return result


# --- instruction counts --------------------------------------------------------------------


def instructions(command: list[str], *, cwd: Path, env: dict[str, str]) -> int | None:
    """Instructions ``command`` executes (valgrind callgrind's total), None without valgrind."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as tmp:
        done = subprocess.run(
            [
                valgrind,
                "--tool=callgrind",
                "--trace-children=no",
                f"--callgrind-out-file={tmp}/callgrind.out",
                *command,
            ],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    match = re.search(r"Collected : (\d+)", done.stderr)
    return int(match.group(1)) if match else None


# --- import-time profile -------------------------------------------------------------------

LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (.*)$")


@dataclass
class ImportNode:
    name: str
    self_us: int
    cumulative_us: int
    depth: int
    children: list[ImportNode] = field(default_factory=list)

    def walk(self, parents: tuple[ImportNode, ...] = ()):  # type: ignore[no-untyped-def]
        yield self, parents
        for child in self.children:
            yield from child.walk((*parents, self))


def parse_importtime(stderr: str) -> list[ImportNode]:
    """The import tree of ``-X importtime`` output (children are printed before parents)."""
    pending: dict[int, list[ImportNode]] = {}
    for raw in stderr.splitlines():
        match = LINE.match(raw)
        if not match:
            continue
        self_us, cumulative_us, spaced = match.groups()
        name = spaced.lstrip(" ")
        depth = (len(spaced) - len(name)) // 2
        node = ImportNode(name, int(self_us), int(cumulative_us), depth)
        node.children = pending.pop(depth + 1, [])
        pending.setdefault(depth, []).append(node)
    return pending.get(0, [])


def _ours(name: str) -> bool:
    return name.split(".")[0] in {"brokers", "scaffolder"}


def profile_imports(directory: Path, env: dict[str, str], runs: int = 5) -> dict[str, Any]:
    """Where ``scaffolder validate DIR`` spends its import time (the median run of ``runs``)."""
    command = [
        sys.executable,
        "-X",
        "importtime",
        "-m",
        "scaffolder.validate_hook",
        str(directory),
    ]
    profiles = []
    for _ in range(runs):
        elapsed, done = _bench.run_once(command, cwd=ROOT, env=env)
        roots = parse_importtime(done.stderr)
        profiles.append((sum(r.cumulative_us for r in roots), elapsed, roots))
    profiles.sort(key=lambda p: p[0])
    total_us, elapsed, roots = profiles[len(profiles) // 2]

    every = [node for root in roots for node, _parents in root.walk()]
    by_self = sorted(every, key=lambda n: n.self_us, reverse=True)[:10]
    top = sorted(roots, key=lambda n: n.cumulative_us, reverse=True)[:10]
    top_rows = []
    for node in top:
        chain, cursor = [], node
        while cursor.children:
            cursor = max(cursor.children, key=lambda n: n.cumulative_us)
            if cursor.cumulative_us < 2000:
                break
            chain.append(f"{cursor.name} {cursor.cumulative_us / 1000:.1f}")
            if len(chain) == 3:
                break
        top_rows.append(
            {
                "module": node.name,
                "cumulative_ms": round(node.cumulative_us / 1000, 1),
                "heaviest_path": " > ".join(chain),
            }
        )

    # Third-party/stdlib modules imported by our own modules, with who imported them.
    edges: dict[tuple[str, str], int] = {}
    for root in roots:
        for node, parents in root.walk():
            if _ours(node.name):
                continue
            importer = next((p.name for p in reversed(parents) if _ours(p.name)), None)
            direct_parent = parents[-1].name if parents else None
            if importer is None or direct_parent != importer:
                continue
            key = (node.name, importer)
            edges[key] = max(edges.get(key, 0), node.cumulative_us)
    lazy = [r for r in roots if not _ours(r.name) and r.cumulative_us >= 2000]
    foreign = sorted(edges.items(), key=lambda kv: kv[1], reverse=True)[:10]
    return {
        "command": command,
        "wall_s": round(elapsed, 4),
        "import_total_ms": round(total_us / 1000, 1),
        "top_self": [{"module": n.name, "self_ms": round(n.self_us / 1000, 1)} for n in by_self],
        "top_level": top_rows,
        "imported_by_our_modules": [
            {"module": m, "imported_by": who, "cumulative_ms": round(us / 1000, 1)}
            for (m, who), us in foreign
            if us >= 2000
        ],
        "top_level_foreign": [
            {"module": r.name, "cumulative_ms": round(r.cumulative_us / 1000, 1)} for r in lazy
        ],
    }


def print_profile(profile: dict[str, Any]) -> None:
    print()
    print(
        "import profile of `python -X importtime -m scaffolder.validate_hook DIR` (median of "
        f"runs): wall {profile['wall_s'] * 1000:.0f} ms, imports "
        f"{profile['import_total_ms']:.0f} ms"
    )
    print(
        _bench.table(
            ["import (top 10 by own time)", "self ms"],
            [(r["module"], r["self_ms"]) for r in profile["top_self"]],
        )
    )
    print()
    print(
        _bench.table(
            ["top-level import", "cum ms", "heaviest path (cum ms)"],
            [(r["module"], r["cumulative_ms"], r["heaviest_path"]) for r in profile["top_level"]],
        )
    )
    if profile["imported_by_our_modules"]:
        print()
        print(
            _bench.table(
                ["module", "imported by", "cum ms"],
                [
                    (r["module"], r["imported_by"], r["cumulative_ms"])
                    for r in profile["imported_by_our_modules"]
                ],
            )
        )


# --- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _bench.add_common_args(parser, runs=11)
    parser.add_argument("--profile", action="store_true", help="(the profile is always printed)")
    parser.add_argument(
        "--no-instructions", action="store_true", help="skip the valgrind instruction counts"
    )
    args = parser.parse_args(argv)
    quiet = args.json
    start_note = _bench.machine_note()

    from scaffolder import ccxt_metadata

    cache = ccxt_metadata.cache_path()
    cache_existed = cache.exists()
    scaffolder = _bench.venv_bin("scaffolder")
    check_jsonschema = _bench.venv_bin("check-jsonschema")
    env = _bench.child_env(pyc_cache=not args.no_pyc_cache)

    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        paths = make_configs(Path(tmp))
        directory = paths[0].parent
        # Warm-up: builds the ccxt metadata cache if it is missing, and fills the OS page cache.
        warm_s, _ = _bench.run_once([scaffolder, "validate", str(directory)], cwd=ROOT, env=env)
        _bench.log(
            f"ccxt metadata cache {cache} "
            f"{'existed' if cache_existed else 'was built'}; warm-up run {warm_s:.2f} s",
            quiet=quiet,
        )

        _bench.log("in-process throughput...", quiet=quiet)
        throughputs = [in_process(paths, semantic=True), in_process(paths, semantic=False)]

        _bench.log(f"whole process, {args.runs} interleaved runs each...", quiet=quiet)
        files = [str(p) for p in paths]
        ours = Timing(
            "python -m scaffolder.validate_hook DIR (pre-commit)",
            [sys.executable, "-m", "scaffolder.validate_hook", str(directory)],
        )
        typed = Timing("scaffolder validate DIR", [scaffolder, "validate", str(directory)])
        schema_only = Timing(
            "scaffolder validate --no-ccxt-checks DIR",
            [scaffolder, "validate", "--no-ccxt-checks", str(directory)],
        )
        theirs = Timing(
            "check-jsonschema --schemafile ... <100 files>",
            [check_jsonschema, "--schemafile", str(SCHEMA.relative_to(ROOT)), *files],
        )
        broken_dir = make_broken_copy(paths, Path(tmp) / "broken" / "config" / "brokers")
        broken = Timing(
            "scaffolder validate DIR, 10 of 100 invalid",
            [scaffolder, "validate", str(broken_dir)],
            ok_codes=(1,),
        )
        bare = Timing("python -c pass (interpreter floor)", [sys.executable, "-c", "pass"])
        timings = [ours, theirs, typed, schema_only, broken, bare]
        _bench.run_once(ours.command, cwd=ROOT, env=env)  # warm-up: its bytecode
        _bench.time_interleaved(timings, args.runs, cwd=ROOT, env=env)
        ratio = ours.median / theirs.median
        # CPU time too (user + system, of the same runs): on a loaded machine steadier than wall.
        cpu = {
            "hook": ours.cpu_median,
            "check-jsonschema": theirs.cpu_median,
            "floor": bare.cpu_median,
        }
        targets = [
            Target(
                "pre-commit's validate / check-jsonschema (whole process, 100 files)",
                ratio,
                RATIO_LIMIT,
                "x",
            )
        ]
        counted: dict[str, int | None] = {}
        if not args.no_instructions:
            _bench.log("instructions (valgrind), one run each...", quiet=quiet)
            for key, command in (
                ("hook", ours.command),
                ("check-jsonschema", theirs.command),
                ("floor", bare.command),
            ):
                counted[key] = instructions(command, cwd=ROOT, env=env)
        if all(counted.get(k) for k in ("hook", "check-jsonschema", "floor")):
            targets.append(
                Target(
                    "the same, by instructions (valgrind callgrind)",
                    counted["hook"] / counted["check-jsonschema"],  # type: ignore[operator]
                    RATIO_LIMIT,
                    "x",
                )
            )
        profile = profile_imports(directory, env)

    context = _bench.run_context(env, start_note)
    results: dict[str, Any] = {
        "configs": len(paths),
        "ccxt_metadata_cache": {"path": str(cache), "existed_before": cache_existed},
        **context,
        "in_process": [t.as_dict() for t in throughputs],
        "whole_process": [t.as_dict() for t in timings],
        "ratio": round(ratio, 4),
        "ratio_of_minimums": round(ours.best / theirs.best, 4),
        "cpu_median_s": {k: round(v, 4) for k, v in cpu.items()},
        "cpu_ratio": round(cpu["hook"] / cpu["check-jsonschema"], 4),
        "instructions": counted,
        "import_profile": profile,
    }
    if not args.json:
        print(
            f"{len(paths)} configs (binance.json renamed to ccxt exchanges, all valid); "
            f"ccxt metadata cache {'existed' if cache_existed else 'built by the warm-up run'}: "
            f"{cache}"
        )
        _bench.print_context(context)
        print()
        print(
            _bench.table(
                [
                    "in-process (100 files a pass)",
                    "passes",
                    "configs/s",
                    "best configs/s",
                    "us/config",
                    "first pass s",
                ],
                [
                    (
                        t.label,
                        len(t.passes),
                        round(t.per_second),
                        round(t.best_per_second),
                        round(1e6 / t.per_second, 1),
                        t.first_pass_s,
                    )
                    for t in throughputs
                ],
            )
        )
        print()
        print(
            _bench.table(
                [
                    f"whole process ({args.runs} runs)",
                    "median s",
                    "min s",
                    "max s",
                    "x check-jsonschema",
                ],
                [
                    (t.label, t.median, t.best, t.worst, round(t.median / theirs.median, 3))
                    for t in timings
                ],
            )
        )
        print(
            f"ratio of medians {ratio:.3f} (the target); ratio of fastest runs "
            f"{ours.best / theirs.best:.3f}"
        )
        print(
            f"CPU (user+system) medians: hook {cpu['hook']:.3f} s, check-jsonschema "
            f"{cpu['check-jsonschema']:.3f} s, python -c pass {cpu['floor']:.3f} s: ratio "
            f"{cpu['hook'] / cpu['check-jsonschema']:.3f} (floor "
            f"{cpu['floor'] / cpu['check-jsonschema']:.3f})"
        )
        if all(counted.get(k) for k in ("hook", "check-jsonschema", "floor")):
            hook_ir, theirs_ir, floor_ir = (
                counted["hook"] or 0,
                counted["check-jsonschema"] or 0,
                counted["floor"] or 0,
            )
            print(
                f"instructions (valgrind callgrind, one run each): hook {hook_ir / 1e6:.1f} M, "
                f"check-jsonschema {theirs_ir / 1e6:.1f} M, python -c pass {floor_ir / 1e6:.1f} M: "
                f"ratio {hook_ir / theirs_ir:.3f} (floor {floor_ir / theirs_ir:.3f})"
            )
        elif not args.no_instructions:
            print("instructions: valgrind not found (or it failed); not counted")
        if profile:
            print_profile(profile)
        print()
    return _bench.emit(results, targets, args.json)


if __name__ == "__main__":
    sys.exit(main())
