"""Compiled Jinja templates kept for copier's renders: per process, and on disk between runs.

copier compiles from scratch every template it renders: each file of the template, and each
templated string of ``copier.yml`` (defaults, ``when``, validators, choices, paths), a few hundred
per run and most of them the same strings again and again; then all of it once more for the next
broker. Compiling is a pure function of the source and of the environment's settings, so
:class:`CachingSandboxedEnvironment` keeps the compiled code keyed by both: in memory for the
rest of the process, and on disk for the next ``scaffolder new``, under ``jinja/`` in
scaffolder's cache directory (``$XDG_CACHE_HOME/broker-scaffolder``), in the format of Jinja's
own bytecode cache (:class:`FileSystemBytecodeCache`, which checks the Jinja and Python versions
and the source's checksum on every load). Rendering still happens on every run, with that run's
answers.

copier offers no supported way to hand it a Jinja environment (``_jinja_extensions`` is the
template's own setting, and an extension cannot change how templates are compiled), so
:func:`compiled_templates_cached` swaps the class copier builds its environment from, for the
duration of one ``with`` block. :func:`_copier_environment_module` checks, before anything is
swapped, that copier still builds it from that name; when a copier upgrade changes this, the
hook raises :class:`RuntimeError` instead of silently doing nothing.

What it saves (``benchmarks/generate.py`` prints it), ``scaffolder new kraken --defaults``
with the cache and forced onto the plain path: 3.00 G against 3.60 G instructions (valgrind,
17%), CPU median of 5 1.53 s against 1.71 s (11%; a loaded machine). The plain path is
tested (``tests/scaffolder/test_jinja_cache.py``): it renders byte for byte the same files.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import CodeType, ModuleType
from typing import Any

import jinja2
from jinja2 import FileSystemBytecodeCache, nodes
from jinja2.bccache import Bucket

from brokers.config import cache_dir

#: What to do when a copier release breaks the hook (written against copier 9.19).
HOOK_BROKEN = "update scaffolder/jinja_cache.py, which hooks copier's Jinja environment"

try:
    from copier._jinja_ext import SandboxedEnvironment
except ImportError:  # pragma: no cover - another copier: renders go uncached (see below)
    from jinja2.sandbox import SandboxedEnvironment  # type: ignore[assignment]

    _IMPORT_PROBLEM: str | None = "copier has no copier._jinja_ext.SandboxedEnvironment"
else:
    _IMPORT_PROBLEM = None

#: Compiled templates kept in memory (one broker's render compiles about 70 distinct sources).
MAX_ENTRIES = 4096

_compiled: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_lock = threading.Lock()
_stats = {"hits": 0, "disk_hits": 0, "misses": 0}


def _name(value: Any) -> str:
    """A name for a class or function that is the same in every process."""
    return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', repr(value))}"


def _settings(env: jinja2.Environment) -> str | None:
    """Everything about ``env`` that decides what ``compile`` makes of a source, as text.

    The Jinja version, the lexer's syntax and whitespace options, the extensions (their tags,
    preprocessors and stream filters), code generation switches, and for filters and tests their
    names and how they are called (``pass_context``...): the compiler refuses unknown ones and
    emits a call per calling convention. Globals are looked up when rendering, so they do not
    count. None (nothing is cached) when autoescaping is decided by a function, whose name does
    not say what it decides.
    """
    if callable(env.autoescape):
        return None
    conventions = {
        kind: sorted((k, repr(getattr(v, "jinja_pass_arg", None))) for k, v in table.items())
        for kind, table in (("filters", env.filters), ("tests", env.tests))
    }
    return repr(
        (
            jinja2.__version__,
            _name(type(env)),
            env.block_start_string,
            env.block_end_string,
            env.variable_start_string,
            env.variable_end_string,
            env.comment_start_string,
            env.comment_end_string,
            env.line_statement_prefix,
            env.line_comment_prefix,
            env.trim_blocks,
            env.lstrip_blocks,
            env.newline_sequence,
            env.keep_trailing_newline,
            [_name(type(ext)) for ext in env.iter_extensions()],
            env.optimized,
            env.is_async,
            env.autoescape,
            None if env.finalize is None else _name(env.finalize),
            _name(env.code_generator_class),
            conventions,
        )
    )


def _disk_cache() -> FileSystemBytecodeCache | None:
    """Jinja's file cache in ``$XDG_CACHE_HOME/broker-scaffolder/jinja``; None if unwritable."""
    directory = cache_dir() / "jinja"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return FileSystemBytecodeCache(str(directory))


class CachingSandboxedEnvironment(SandboxedEnvironment):
    """copier's sandboxed environment whose ``compile`` reuses code compiled earlier.

    Only sources given as text are cached (a parsed ``nodes.Template`` is compiled as usual),
    and a source that fails to compile is not cached: it fails again, the same way. On disk the
    key leaves out where a template file is, and code loaded from there is given the file's own
    path: the project's directory does not matter, and the cache does not grow by a set of
    files for every temporary project. On a hit the extensions' preprocessors still run,
    because copier's ``yield`` extension resets its per-render state there. The settings are
    read at the first compile: Jinja does not support changing an environment after its first
    template was loaded (its own template cache would go stale too).
    """

    _cache_settings: str | None = None
    _cache_ready = False
    _disk: FileSystemBytecodeCache | None = None

    def compile(
        self,
        source: str | nodes.Template,
        name: str | None = None,
        filename: str | None = None,
        raw: bool = False,
        defer_init: bool = False,
    ) -> Any:
        if not self._cache_ready:
            self._cache_settings = _settings(self)
            self._disk = _disk_cache() if self._cache_settings is not None else None
            self._cache_ready = True
        settings = self._cache_settings
        if not isinstance(source, str) or settings is None:
            return super().compile(source, name, filename, raw, defer_init)  # type: ignore[call-overload]
        key = (settings, source, name, filename, raw, defer_init)
        with _lock:
            code = _compiled.get(key)
            if code is not None:
                _compiled.move_to_end(key)
                _stats["hits"] += 1
        if code is not None:
            self.preprocess(source, name, filename)
            return code
        bucket = None if raw else self._load(settings, source, name, defer_init)
        if bucket is not None and bucket.code is not None:
            self.preprocess(source, name, filename)
            code = _relocated(bucket.code, filename or "<template>")
            counter = "disk_hits"
        else:
            code = super().compile(source, name, filename, raw, defer_init)  # type: ignore[call-overload]
            counter = "misses"
            if bucket is not None:
                bucket.code = code
                self._store(bucket)
        with _lock:
            _stats[counter] += 1
            _compiled[key] = code
            while len(_compiled) > MAX_ENTRIES:
                _compiled.popitem(last=False)
        return code

    def _load(
        self, settings: str, source: str, name: str | None, defer_init: bool
    ) -> Bucket | None:
        """The file cache's bucket for a source: its ``code`` is None when absent or stale.

        What Jinja's ``get_bucket`` does, except that a damaged file is a miss (and is
        overwritten by the fresh compile), never an error.
        """
        if self._disk is None:
            return None
        digest = hashlib.sha256(f"{settings}\0{(name, defer_init)!r}\0{source}".encode())
        disk = self._disk
        bucket = Bucket(
            self, disk.get_cache_key(digest.hexdigest()), disk.get_source_checksum(source)
        )
        try:
            disk.load_bytecode(bucket)
        except Exception:
            bucket.reset()
        return bucket

    def _store(self, bucket: Bucket) -> None:
        """Write ``bucket`` to the file cache (atomically: Jinja writes, then renames)."""
        if self._disk is not None:
            # A full or read-only disk only costs the next run the compile.
            with suppress(OSError):
                self._disk.set_bucket(bucket)


def _relocated(code: CodeType, filename: str) -> CodeType:
    """``code`` as compiled from ``filename``: tracebacks and ``Template.filename`` name it."""
    if code.co_filename == filename:
        return code
    consts = tuple(
        _relocated(const, filename) if isinstance(const, CodeType) else const
        for const in code.co_consts
    )
    return code.replace(co_filename=filename, co_consts=consts)


def stats() -> dict[str, int]:
    """Compiles answered from memory (``hits``), from disk (``disk_hits``), and done (``misses``)."""
    with _lock:
        return {**_stats, "entries": len(_compiled)}


def clear() -> None:
    """Forget every template compiled in this process (and the counts); the files stay."""
    with _lock:
        _compiled.clear()
        _stats.update(hits=0, disk_hits=0, misses=0)


def _copier_environment_module() -> ModuleType:
    """The copier module whose ``SandboxedEnvironment`` builds the Worker's environment.

    With the import above, the one place that knows copier's internals (checked on copier
    9.19): ``Worker.jinja_env`` calls ``SandboxedEnvironment(loader=..., extensions=...,
    **envops)`` by its name in ``copier._main``. Raises RuntimeError when that is no longer so.
    """
    import copier

    if _IMPORT_PROBLEM is not None:  # pragma: no cover - another copier
        raise RuntimeError(f"{_IMPORT_PROBLEM}: {HOOK_BROKEN}")
    try:
        _main = importlib.import_module("copier._main")
    except ImportError as exc:  # a copier that moved its worker: render uncached
        raise RuntimeError(
            f"copier {copier.__version__} has no copier._main: {HOOK_BROKEN}"
        ) from exc
    builder = getattr(getattr(_main, "Worker", None), "jinja_env", None)
    code = getattr(getattr(builder, "func", None), "__code__", None)
    current = getattr(_main, "SandboxedEnvironment", None)
    if (
        current not in (SandboxedEnvironment, CachingSandboxedEnvironment)
        or code is None
        or "SandboxedEnvironment" not in code.co_names
    ):
        raise RuntimeError(
            f"copier {copier.__version__} no longer builds its Jinja environment from "
            f"copier._main.SandboxedEnvironment: {HOOK_BROKEN}"
        )
    return _main


def hook_problem() -> str | None:
    """Why the hook cannot work with the installed copier, or None when it can."""
    try:
        _copier_environment_module()
    except RuntimeError as exc:
        return str(exc)
    return None


@contextmanager
def compiled_templates_cached(*, strict: bool = False) -> Iterator[None]:
    """Within the block, copier's renders reuse templates compiled before.

    With a copier this hook does not fit, renders are correct but uncached: a warning is logged
    (``strict`` raises RuntimeError instead). The test suite checks the hook fits the installed
    copier, so an upgrade that breaks it fails CI rather than slowing users down silently.
    """
    try:
        module = _copier_environment_module()
    except RuntimeError as exc:
        if strict:
            raise
        logging.getLogger(__name__).warning("compiled templates not cached: %s", exc)
        yield
        return
    previous = module.SandboxedEnvironment
    module.SandboxedEnvironment = CachingSandboxedEnvironment  # type: ignore[attr-defined]
    try:
        yield
    finally:
        module.SandboxedEnvironment = previous  # type: ignore[attr-defined]
