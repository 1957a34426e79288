"""Compiled templates reused by copier's renders, in one process and between runs.

A render served from the cache is byte-identical to one compiled afresh; code is never reused
for another source or an environment with other settings; a damaged cache file is a miss; and
a copier that no longer builds its environment where the hook expects it fails loudly.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

import copier._main
import pytest
from jinja2 import FileSystemLoader, TemplateSyntaxError, pass_context, select_autoescape
from jinja2.ext import Extension

from scaffolder import ccxt_metadata, jinja_cache
from scaffolder.generate import generate, remove
from scaffolder.jinja_cache import CachingSandboxedEnvironment, compiled_templates_cached
from tests.scaffolder.test_generate import listing, make_project

BROKER_TEMPLATE = Path(
    "templates", "broker", "template", "brokers", "{{ name }}", "broker.py.jinja"
)


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh cache directory and no compiled template in memory, for one test."""
    ccxt_metadata.exchanges()  # read from the usual cache first: rebuilding it imports ccxt
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    jinja_cache.clear()
    yield tmp_path / "cache" / "broker-scaffolder" / "jinja"
    jinja_cache.clear()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


def regenerate(project: Path, name: str) -> dict[str, bytes | None]:
    """Remove ``name`` if it is there, generate it again; the project's files afterwards."""
    if (project / "brokers" / name).exists():
        remove(name, project)
    generate(name, project)
    return listing(project)


# -- reuse ----------------------------------------------------------------------------------------


def test_a_second_broker_in_one_process_compiles_nothing_and_renders_the_same(
    project, tmp_path, monkeypatch
):
    reference = make_project(tmp_path / "reference")
    generate("okx", reference)  # everything compiled afresh
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "another-cache"))
    jinja_cache.clear()

    generate("kraken", project)
    first = jinja_cache.stats()
    assert first["misses"] > 0 and first["hits"] > 0  # copier renders through the hook
    generate("okx", project)
    second = jinja_cache.stats()
    assert second["misses"] == first["misses"] and second["hits"] > first["hits"]
    okx = {k: v for k, v in listing(project).items() if "okx" in k}
    assert okx == {k: v for k, v in listing(reference).items() if "okx" in k}


def test_the_next_run_loads_the_compiled_templates_from_disk(project, cache_home):
    compiled = regenerate(project, "kraken")
    assert list(cache_home.iterdir())
    jinja_cache.clear()  # as a new process starts

    assert regenerate(project, "kraken") == compiled
    stats = jinja_cache.stats()
    assert stats["misses"] == 0 and stats["disk_hits"] == len(list(cache_home.iterdir())) > 0


def test_the_files_on_disk_do_not_depend_on_the_project_directory(tmp_path, cache_home):
    generate("kraken", make_project(tmp_path / "one"))
    written = sorted(cache_home.iterdir())
    jinja_cache.clear()
    generate("kraken", make_project(tmp_path / "two"))
    assert sorted(cache_home.iterdir()) == written
    assert jinja_cache.stats()["disk_hits"] == len(written)


def test_a_template_file_loaded_from_disk_names_its_own_path(tmp_path):
    for directory in (tmp_path / "one", tmp_path / "two"):
        directory.mkdir()
        (directory / "page.jinja").write_text("{{ 1 // 0 }}\n")
        jinja_cache.clear()  # as a new process starts
        template = CachingSandboxedEnvironment(loader=FileSystemLoader(directory)).get_template(
            "page.jinja"
        )
        assert template.filename == str(directory / "page.jinja")
        with pytest.raises(ZeroDivisionError) as error:
            template.render()
        assert str(directory / "page.jinja") in [str(entry.path) for entry in error.traceback]
    assert jinja_cache.stats()["disk_hits"] == 1


def test_an_edited_template_is_compiled_again_not_served_from_the_cache(project):
    regenerate(project, "kraken")
    with (project / BROKER_TEMPLATE).open("a", encoding="utf-8") as handle:
        handle.write("\n# edited after the first render\n")

    edited = project / "brokers" / "kraken" / "broker.py"
    regenerate(project, "kraken")
    assert edited.read_text().endswith("# edited after the first render\n")
    jinja_cache.clear()
    regenerate(project, "kraken")
    assert edited.read_text().endswith("# edited after the first render\n")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_damaged_cache_files_are_compiled_again_not_errors(project, cache_home, damage):
    compiled = regenerate(project, "kraken")
    jinja_cache.clear()
    damaged = {}
    for path in cache_home.iterdir():
        data = path.read_bytes()
        damaged[path] = {"garbage": b"\x00garbage", "truncated": data[: len(data) // 2]}.get(
            damage, b""
        )
        path.write_bytes(damaged[path])

    assert regenerate(project, "kraken") == compiled
    assert jinja_cache.stats()["misses"] == len(damaged)
    assert all(path.read_bytes() != data for path, data in damaged.items())  # written afresh


def test_an_unwritable_cache_directory_costs_only_the_compile(project, cache_home):
    cache_home.parent.mkdir(parents=True)
    cache_home.write_text("a file where the cache directory would be\n")
    compiled = regenerate(project, "kraken")
    jinja_cache.clear()
    assert regenerate(project, "kraken") == compiled


# -- never the wrong code -------------------------------------------------------------------------


def test_environments_with_other_syntax_or_whitespace_do_not_share_code():
    plain = CachingSandboxedEnvironment()
    kept = CachingSandboxedEnvironment(keep_trailing_newline=True)
    brackets = CachingSandboxedEnvironment(variable_start_string="[[", variable_end_string="]]")
    for _ in range(2):
        assert plain.from_string("x\n").render() == "x"
        assert kept.from_string("x\n").render() == "x\n"
        assert plain.from_string("[[ 1 + 1 ]] {{ 2 }}").render() == "[[ 1 + 1 ]] 2"
        assert brackets.from_string("[[ 1 + 1 ]] {{ 2 }}").render() == "2 {{ 2 }}"


def test_a_filter_called_another_way_is_compiled_for_that_way():
    plain = CachingSandboxedEnvironment()
    plain.filters["f"] = lambda value: f"plain {value}"
    with_context = CachingSandboxedEnvironment()
    with_context.filters["f"] = pass_context(lambda context, value: f"context {value}")
    for _ in range(2):
        assert plain.from_string("{{ 1 | f }}").render() == "plain 1"
        assert with_context.from_string("{{ 1 | f }}").render() == "context 1"


def test_autoescaping_decided_by_a_function_is_not_cached():
    env = CachingSandboxedEnvironment(autoescape=select_autoescape())
    env.from_string("{{ 1 }}").render()
    env.from_string("{{ 1 }}").render()
    assert jinja_cache.stats() == {"hits": 0, "disk_hits": 0, "misses": 0, "entries": 0}


def test_a_source_that_does_not_compile_fails_every_time_and_is_not_kept():
    env = CachingSandboxedEnvironment()
    for _ in range(2):
        with pytest.raises(TemplateSyntaxError):
            env.from_string("{% if %}")
    assert jinja_cache.stats()["entries"] == 0


def test_preprocessors_run_on_every_compile_even_from_the_cache():
    seen: list[str] = []

    class Recording(Extension):
        def preprocess(self, source, name, filename=None):
            seen.append(source)
            return source

    env = CachingSandboxedEnvironment(extensions=[Recording])
    env.from_string("a")
    env.from_string("a")
    assert seen == ["a", "a"]
    assert jinja_cache.stats()["hits"] == 1


# -- the hook into copier -------------------------------------------------------------------------


def test_the_hook_is_undone_after_the_block_even_on_error():
    original = copier._main.SandboxedEnvironment
    with pytest.raises(KeyboardInterrupt), compiled_templates_cached():
        assert copier._main.SandboxedEnvironment is CachingSandboxedEnvironment
        raise KeyboardInterrupt
    assert copier._main.SandboxedEnvironment is original


def test_the_hook_fits_the_installed_copier():
    assert jinja_cache.hook_problem() is None


def test_a_copier_without_the_environment_class_still_generates_uncached(
    project, monkeypatch, caplog
):
    monkeypatch.delattr(copier._main, "SandboxedEnvironment", raising=True)
    assert "update scaffolder/jinja_cache.py" in (jinja_cache.hook_problem() or "")
    with pytest.raises(RuntimeError, match=r"update scaffolder/jinja_cache\.py"):
        compiled_templates_cached(strict=True).__enter__()
    monkeypatch.undo()  # copier itself needs the class to render; only the check is fooled
    monkeypatch.setattr(jinja_cache, "_copier_environment_module", _broken)
    jinja_cache.clear()
    with caplog.at_level("WARNING", logger="scaffolder.jinja_cache"):
        generate("kraken", project)
    assert (project / "brokers" / "kraken" / "broker.py").is_file()
    assert jinja_cache.stats()["misses"] == 0  # nothing went through the cache
    assert "compiled templates not cached" in caplog.text


def test_the_plain_path_renders_byte_for_byte_what_the_cached_one_does(tmp_path, monkeypatch):
    """With copier's internals moved (the hook cannot fit), ``scaffolder new`` still works and
    writes exactly the files the cached path writes."""
    cached = make_project(tmp_path / "cached")
    generate("kraken", cached)
    assert jinja_cache.stats()["misses"] > 0  # the cached path was taken
    monkeypatch.setitem(sys.modules, "copier._main", None)  # "import copier._main" fails
    assert "update scaffolder/jinja_cache.py" in (jinja_cache.hook_problem() or "")
    monkeypatch.undo()
    monkeypatch.setattr(jinja_cache, "_copier_environment_module", _broken)
    jinja_cache.clear()
    plain = make_project(tmp_path / "plain")
    generate("kraken", plain)
    assert jinja_cache.stats()["misses"] == 0  # nothing went through the cache
    assert listing(plain) == listing(cached)


def _broken():
    raise RuntimeError("copier 99 no longer builds ...: " + jinja_cache.HOOK_BROKEN)


def test_a_copier_that_builds_its_environment_otherwise_fails_loudly(monkeypatch):
    def elsewhere(self):
        raise AssertionError("never called")

    monkeypatch.setattr(copier._main.Worker, "jinja_env", cached_property(elsewhere))
    with pytest.raises(RuntimeError, match=r"no longer builds its Jinja environment"):
        compiled_templates_cached(strict=True).__enter__()
