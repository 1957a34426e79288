"""Benchmark of the generator (issue 3).

    python benchmarks/generate.py [--json] [--runs N] [--name NAME]

In a temporary project (copies of templates/, schemas/ and brokers/registered.py, an empty
config/brokers/):

1. Whole-process median of ``scaffolder new NAME --defaults`` next to a raw
   ``copier copy --defaults --trust -d name=NAME <tmp>/templates/broker <dest>`` of the same
   template. Between ``scaffolder new`` runs the broker is removed with
   ``scaffolder remove NAME --yes`` (not timed); each copier run gets a fresh destination.
   Target: scaffolder <= 1.0 x copier (wall-clock medians). The same runs' CPU times (user +
   system, children included) are printed beside them: on a shared machine they are the
   steadier figure.
2. Brokers for every ccxt exchange generated in one process, as one batch
   (``scaffolder.generate.generate_many``: each rendered and checked, all moved in, the wiring
   regenerated once), then all of them imported in one subprocess with the temporary project
   first on PYTHONPATH (the runtime ``brokers/*.py`` is copied in so the generated packages
   resolve). Target: generate + import <= 10 s.
3. What the compiled-template cache (``scaffolder/jinja_cache.py``) saves: CPU time (user +
   system), median of ``--runs``, of ``scaffolder new NAME --defaults`` as usual and with the
   cache forced off (its plain path, as with a copier the hook does not fit). Not a target; the
   cache is kept only while it saves at least 10%.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench
from _bench import ROOT, Target, Timing

RATIO_LIMIT = 1.0
ALL_LIMIT_S = 10.0


def make_project(directory: Path, *, runtime: bool = False) -> Path:
    """A throw-away project the scaffolder can work in (its tests opted in to the harness's
    network block, as this repository's are)."""
    from scaffolder.harness.plugin import write_opt_in

    directory.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "templates", directory / "templates")
    shutil.copytree(ROOT / "schemas", directory / "schemas")
    (directory / "brokers").mkdir()
    shutil.copy2(ROOT / "brokers" / "registered.py", directory / "brokers" / "registered.py")
    if runtime:
        for module in (ROOT / "brokers").glob("*.py"):
            if module.name != "registered.py":
                shutil.copy2(module, directory / "brokers" / module.name)
        for package in (ROOT / "brokers").iterdir():  # the runtime's own (brokers.config)
            if (package / "__init__.py").is_file() and not (
                package / ".copier-answers.yml"
            ).is_file():
                shutil.copytree(
                    package, directory / "brokers" / package.name,
                    ignore=shutil.ignore_patterns("__pycache__"),
                )  # fmt: skip
    (directory / "config" / "brokers").mkdir(parents=True)
    write_opt_in(directory)
    return directory


GENERATE_ALL = textwrap.dedent(
    """
    import json, sys, time
    start = time.perf_counter()
    from pathlib import Path
    import copier
    import scaffolder.generate as g
    from scaffolder.generate import generate_many
    phases, each = {}, []

    def timed(owner, attr, label, durations=None):
        inner = getattr(owner, attr, None)
        if inner is None:
            return
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - t
                phases[label] = phases.get(label, 0.0) + elapsed
                if durations is not None:
                    durations.append(elapsed)
        setattr(owner, attr, wrapper)

    # Where a generation spends its time (the wrappers cost microseconds).
    timed(copier, "run_copy", "copier.run_copy", each)
    for attr in ("_check_rendered", "_finish_answers", "template_version", "install_tree",
                 "rewire", "template_meta", "_stage", "format_python"):
        timed(g, attr, attr)
    import scaffolder.harness.corpus as corpus  # generate_many imports it when called
    timed(corpus, "seed_new_broker", "seed_new_broker")
    root = Path(sys.argv[1])
    names = json.loads(sys.argv[2])
    imported = time.perf_counter()
    done, failed = [], {}
    try:
        done = [r.name for r in generate_many({name: None for name in names}, root)]
    except Exception as exc:  # all or nothing: one failure, none generated
        failed["(the batch)"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"generated": done, "failed": failed, "each_s": each,
                      "import_s": imported - start, "loop_s": time.perf_counter() - imported,
                      "phases_s": phases}))
    """
)

IMPORT_ALL = textwrap.dedent(
    """
    import importlib, json, sys, time
    start = time.perf_counter()
    import ccxt  # noqa: F401  (timed apart: every ccxt broker needs it)
    ccxt_s = time.perf_counter() - start
    import brokers
    from brokers.registered import BROKERS
    names = json.loads(sys.argv[1])
    ok, failed = [], {}
    t = time.perf_counter()
    for name in names:
        try:
            module = importlib.import_module(f"brokers.{name}.broker")
            importlib.import_module(f"brokers.{name}")
            target = BROKERS[name]
            module_name, _, attr = target.partition(":")
            assert module_name == module.__name__, target
            getattr(module, attr)
            ok.append(name)
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"imported": ok, "failed": failed, "ccxt_import_s": ccxt_s,
                      "brokers_s": time.perf_counter() - t, "brokers_file": brokers.__file__}))
    """
)


#: ``scaffolder new`` with the compiled-template cache forced off: copier renders uncached.
UNCACHED_NEW = textwrap.dedent(
    """
    import os, sys
    # what the scaffolder script has first on its path: its own directory, not the project's
    # (whose brokers/ folder would shadow the runtime of an editable install)
    sys.path[0] = os.path.dirname(sys.executable)
    from scaffolder import jinja_cache
    def forced_off():
        raise RuntimeError("forced off by benchmarks/generate.py")
    jinja_cache._copier_environment_module = forced_off
    from scaffolder.cli import main
    main(sys.argv[1:], prog_name="scaffolder")
    """
)


def template_cache_on_off(
    tmp: Path, name: str, runs: int, quiet: bool, env: dict[str, str]
) -> dict[str, Any]:
    """CPU medians of ``scaffolder new NAME --defaults`` with the template cache and without."""
    scaffolder = _bench.venv_bin("scaffolder")
    project = make_project(tmp / "cache-on-off")
    commands = [
        [scaffolder, "new", name, "--defaults"],
        [sys.executable, "-c", UNCACHED_NEW, "new", name, "--defaults"],
    ]

    def remove(_index: int) -> None:
        if (project / "brokers" / name).exists():
            _bench.run_once([scaffolder, "remove", name, "--yes"], cwd=project, env=env)

    _bench.log(f"template cache on and off, {runs} interleaved runs each...", quiet=quiet)
    _bench.cpu_times_interleaved(commands, 1, cwd=project, env=env, before_each=remove)  # warm-up
    on, off = _bench.cpu_times_interleaved(commands, runs, cwd=project, env=env, before_each=remove)
    median_on, median_off = statistics.median(on), statistics.median(off)
    return {
        "command": f"scaffolder new {name} --defaults",
        "cpu_on_s": [round(t, 3) for t in on],
        "cpu_off_s": [round(t, 3) for t in off],
        "median_on_s": round(median_on, 3),
        "median_off_s": round(median_off, 3),
        "saved_fraction": round(1 - median_on / median_off, 3),
    }


def scaffolder_vs_copier(
    tmp: Path, name: str, runs: int, quiet: bool, env: dict[str, str]
) -> tuple[Timing, Timing, dict[str, Any]]:
    """Whole-process medians of ``scaffolder new`` and ``copier copy`` of the same template."""
    scaffolder = _bench.venv_bin("scaffolder")
    copier = _bench.venv_bin("copier")
    project = make_project(tmp / "project")
    dest_root = tmp / "copier-out"
    dest_root.mkdir()
    counter = {"copier": 0}

    ours = Timing(f"scaffolder new {name} --defaults", [scaffolder, "new", name, "--defaults"])
    theirs = Timing(
        f"copier copy --defaults --trust -d name={name}",
        [
            copier,
            "copy",
            "--defaults",
            "--trust",
            "--quiet",
            "-d",
            f"name={name}",
            str(project / "templates" / "broker"),
            "<dest>",
        ],
    )

    def before(timing: Timing) -> None:
        if timing is ours:
            if (project / "brokers" / name).exists():
                _bench.run_once([scaffolder, "remove", name, "--yes"], cwd=project, env=env)
        else:
            counter["copier"] += 1
            dest = dest_root / f"run{counter['copier']}"
            timing.command[-1] = str(dest)

    # One untimed warm-up of each (page cache, .pyc files, the ccxt metadata cache).
    _bench.log("warm-up...", quiet=quiet)
    for timing in (ours, theirs):
        before(timing)
        _bench.run_once(timing.command, cwd=project, env=env)
    files_ours = sorted(
        str(p.relative_to(project))
        for p in project.rglob("*")
        if p.is_file() and name in str(p.relative_to(project))
    )
    files_theirs = sorted(
        str(p.relative_to(dest_root / "run1"))
        for p in (dest_root / "run1").rglob("*")
        if p.is_file()
    )
    _bench.log(f"scaffolder new vs copier copy, {runs} interleaved runs each...", quiet=quiet)
    _bench.time_interleaved([ours, theirs], runs, cwd=project, env=env, before_each=before)
    theirs.command[-1] = "<dest>"
    return ours, theirs, {"scaffolder_files": files_ours, "copier_files": files_theirs}


def every_exchange(tmp: Path, quiet: bool, env: dict[str, str]) -> dict[str, Any]:
    """Generate a broker for every ccxt exchange in one process, then import them all."""
    import ccxt

    names = sorted(ccxt.exchanges)
    project = make_project(tmp / "all", runtime=True)
    _bench.log(f"generating {len(names)} brokers in one process...", quiet=quiet)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    gen_s, done = _bench.run_once(
        [sys.executable, "-c", GENERATE_ALL, str(project), json.dumps(names)], cwd=project, env=env
    )
    gen_cpu_s = _bench.cpu_since(before)
    generated = json.loads(done.stdout.strip().splitlines()[-1])
    _bench.log(f"importing {len(generated['generated'])} brokers in one subprocess...", quiet=quiet)
    import_env = {**env, "PYTHONPATH": str(project)}
    # Untimed: compile ccxt into the bytecode cache (a first import ever costs seconds more).
    _bench.run_once([sys.executable, "-c", "import ccxt, ccxt.pro"], cwd=project, env=env)
    imp_s, done = _bench.run_once(
        [sys.executable, "-c", IMPORT_ALL, json.dumps(generated["generated"])],
        cwd=project,
        env=import_env,
    )
    imported = json.loads(done.stdout.strip().splitlines()[-1])
    if not imported["brokers_file"].startswith(str(project)):
        raise SystemExit(
            f"benchmark: imported {imported['brokers_file']}, not the temporary project's brokers"
        )
    each = sorted(generated["each_s"])
    return {
        "exchanges": len(names),
        "generated": len(generated["generated"]),
        "generate_failed": generated["failed"],
        "generate_wall_s": round(gen_s, 3),
        "generate_cpu_s": round(gen_cpu_s, 3),
        "generate_import_s": round(generated["import_s"], 3),
        "generate_loop_s": round(generated["loop_s"], 3),
        "render_each_median_ms": round(1000 * each[len(each) // 2], 1) if each else None,
        "render_each_max_ms": round(1000 * each[-1], 1) if each else None,
        "generate_phases_s": {
            k: round(v, 3)
            for k, v in sorted(generated["phases_s"].items(), key=lambda kv: kv[1], reverse=True)
        },
        "imported": len(imported["imported"]),
        "import_failed": imported["failed"],
        "import_wall_s": round(imp_s, 3),
        "import_ccxt_s": round(imported["ccxt_import_s"], 3),
        "import_brokers_s": round(imported["brokers_s"], 3),
        "total_s": round(gen_s + imp_s, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _bench.add_common_args(parser, runs=7)
    parser.add_argument("--name", default="kraken", help="exchange to generate (default kraken)")
    args = parser.parse_args(argv)
    quiet = args.json
    start_note = _bench.machine_note()

    env = _bench.child_env(pyc_cache=not args.no_pyc_cache)
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as raw:
        tmp = Path(raw)
        ours, theirs, files = scaffolder_vs_copier(tmp, args.name, args.runs, quiet, env)
        everything = every_exchange(tmp, quiet, env)
        cache_on_off = template_cache_on_off(tmp, args.name, args.runs, quiet, env)
        _bench.forget_pyc(tmp)

    ratio = ours.median / theirs.median
    cpu_ratio = ours.cpu_median / theirs.cpu_median
    all_ok = not everything["generate_failed"] and not everything["import_failed"]
    targets = [
        Target(
            f"scaffolder new / copier copy ({args.name}, whole process)", ratio, RATIO_LIMIT, "x"
        ),
        Target(
            f"generate + import brokers for every ccxt exchange ({everything['exchanges']})"
            + ("" if all_ok else " [SOME FAILED]"),
            everything["total_s"] if all_ok else float("inf"),
            ALL_LIMIT_S,
            "s",
        ),
    ]
    context = _bench.run_context(env, start_note)
    results = {
        "name": args.name,
        "new_vs_copier": [ours.as_dict(), theirs.as_dict()],
        "ratio": round(ratio, 4),
        "cpu_ratio": round(cpu_ratio, 4),
        "files": files,
        "every_exchange": everything,
        "template_cache": cache_on_off,
        **context,
    }
    if not args.json:
        _bench.print_context(context)
        print(
            _bench.table(
                [
                    f"whole process ({args.runs} runs)",
                    "median s",
                    "min s",
                    "max s",
                    "x copier",
                    "CPU median s",
                    "CPU x copier",
                ],
                [
                    (
                        t.label,
                        t.median,
                        t.best,
                        t.worst,
                        round(t.median / theirs.median, 3),
                        t.cpu_median,
                        round(t.cpu_median / theirs.cpu_median, 3),
                    )
                    for t in (ours, theirs)
                ],
            )
        )
        print(
            f"files written: scaffolder {len(files['scaffolder_files'])} "
            f"(+ registered.py, .env.example), copier {len(files['copier_files'])}"
        )
        print()
        e = everything
        print(
            _bench.table(
                [f"every ccxt exchange ({e['exchanges']})", "wall s", "detail"],
                [
                    (
                        f"generate {e['generated']} (one process)",
                        e["generate_wall_s"],
                        f"CPU {e['generate_cpu_s']:.2f} s, "
                        f"startup+imports {e['generate_import_s']:.2f} s, loop "
                        f"{e['generate_loop_s']:.2f} s, copier render per broker median "
                        f"{e['render_each_median_ms']} ms, max {e['render_each_max_ms']} ms",
                    ),
                    (
                        f"import {e['imported']} (one subprocess)",
                        e["import_wall_s"],
                        f"import ccxt {e['import_ccxt_s']:.2f} s, broker modules "
                        f"{e['import_brokers_s']:.2f} s",
                    ),
                    (
                        "  where the loop went",
                        e["generate_loop_s"],
                        ", ".join(
                            f"{k} {v:.2f} s ({100 * v / e['generate_loop_s']:.0f}%)"
                            for k, v in e["generate_phases_s"].items()
                        )
                        + " (phases may nest)",
                    ),
                    ("total", e["total_s"], ""),
                ],
            )
        )
        for label, failures in (
            ("generate", e["generate_failed"]),
            ("import", e["import_failed"]),
        ):
            for name, why in sorted(failures.items())[:10]:
                print(f"{label} failed: {name}: {why}")
        print()
        c = cache_on_off
        print(
            f"compiled-template cache: {c['command']} CPU median {c['median_on_s']} s, forced "
            f"off {c['median_off_s']} s: saves {100 * c['saved_fraction']:.0f}% "
            f"({args.runs} runs each)"
        )
        print()
    return _bench.emit(results, targets, args.json)


if __name__ == "__main__":
    sys.exit(main())
