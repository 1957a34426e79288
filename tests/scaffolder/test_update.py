"""``scaffolder update``: a template change arrives and a hand edit survives (copier's merge)."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from scaffolder.cli import main
from scaffolder.errors import ScaffolderError, UsageError
from scaffolder.generate import generate
from scaffolder.update import update
from tests.conftest import own_copy

ROOT = Path(__file__).resolve().parents[2]
CONFLICT = "<<<<<<< before updating"
BROKER_TEMPLATE = Path("templates/broker/template/brokers/{{ name }}/broker.py.jinja")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@localhost", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def template_project(root: Path) -> Path:
    """A git project holding the template (tagged v1) and nothing else."""
    shutil.copytree(ROOT / "templates", root / "templates")
    shutil.copytree(ROOT / "schemas", root / "schemas")
    (root / "brokers").mkdir()
    shutil.copy(ROOT / "brokers" / "registered.py", root / "brokers" / "registered.py")
    (root / "config" / "brokers").mkdir(parents=True)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "template v1")
    git(root, "tag", "v1")
    return root


@pytest.fixture(scope="module")
def template_v1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """:func:`template_project`, built once for the module's tests to copy."""
    return template_project(tmp_path_factory.mktemp("template-v1"))


@pytest.fixture(scope="module")
def kraken_v1(tmp_path_factory: pytest.TempPathFactory, template_v1: Path) -> Path:
    """``template_v1`` with kraken generated into it (not committed), built once."""
    root = own_copy(template_v1, tmp_path_factory.mktemp("kraken-v1"))
    generate("kraken", root)
    return root


@pytest.fixture
def project(template_v1: Path, tmp_path: Path) -> Path:
    """A git project holding the template (tagged v1) and nothing else: the test's own."""
    return own_copy(template_v1, tmp_path)


@pytest.fixture
def kraken_project(kraken_v1: Path, tmp_path: Path) -> Path:
    """``project`` with kraken generated into it, as ``generate("kraken", project)`` leaves it."""
    return own_copy(kraken_v1, tmp_path)


def test_a_copied_project_is_the_test_s_own_and_git_still_works(
    kraken_project: Path, kraken_v1: Path
):
    """What the shared fixtures rely on: a copy keeps its repository, and changing it (a file,
    a commit) leaves the built project as it was."""
    assert git(kraken_project, "status", "--porcelain") == git(kraken_v1, "status", "--porcelain")
    assert "?? brokers/kraken/" in git(kraken_project, "status", "--porcelain")
    (kraken_project / "brokers" / "kraken" / "broker.py").write_text("changed\n")
    git(kraken_project, "add", "-A")
    git(kraken_project, "commit", "-q", "-m", "only in the copy")
    assert git(kraken_v1, "log", "--format=%s") == "template v1\n"
    assert "changed" not in (kraken_v1 / "brokers" / "kraken" / "broker.py").read_text()


def test_update_brings_the_template_change_and_keeps_the_hand_edit(kraken_project: Path):
    broker = kraken_project / "brokers" / "kraken" / "broker.py"
    broker.write_text(
        broker.read_text() + '\n    def hand_written(self) -> str:\n        return "kept"\n'
    )
    git(kraken_project, "add", "-A")
    git(kraken_project, "commit", "-q", "-m", "kraken, hand-edited")

    template = kraken_project / BROKER_TEMPLATE
    template.write_text(
        template.read_text().replace(
            "    exchange_id = {{ name | tojson }}\n",
            "    exchange_id = {{ name | tojson }}\n    template_v2 = True\n",
        )
    )
    git(kraken_project, "commit", "-q", "-am", "template v2")
    git(kraken_project, "tag", "v2")

    report = update("kraken", kraken_project)

    text = broker.read_text()
    assert "template_v2 = True" in text, "the template change did not arrive"
    assert 'return "kept"' in text, "the hand edit was lost"
    assert report.conflicts == []
    assert "brokers/kraken/broker.py" in report.changed
    answers = (kraken_project / "brokers" / "kraken" / ".copier-answers.yml").read_text()
    assert (
        f"_commit: {git(kraken_project, 'rev-parse', 'HEAD:templates/broker').strip()}" in answers
    )
    assert "_src_path: templates/broker" in answers
    assert update("kraken", kraken_project).up_to_date


def test_conflicting_edits_are_marked_the_way_copier_marks_them(kraken_project: Path):
    broker = kraken_project / "brokers" / "kraken" / "broker.py"
    broker.write_text(
        broker.read_text().replace('exchange_id = "kraken"', 'exchange_id = "kraken"  # mine')
    )
    template = kraken_project / BROKER_TEMPLATE
    template.write_text(
        template.read_text().replace(
            "exchange_id = {{ name | tojson }}", "exchange_id = {{ name | tojson }}  # theirs"
        )
    )
    git(kraken_project, "add", "-A")
    git(kraken_project, "commit", "-q", "-m", "template v2 and the edit")
    report = update("kraken", kraken_project)
    assert report.conflicts == ["brokers/kraken/broker.py"]
    assert "<<<<<<< before updating" in broker.read_text()


def test_update_of_an_unknown_broker_is_a_usage_error(project: Path):
    with pytest.raises(UsageError, match="no broker 'nope'"):
        update("nope", project)


# -- a hostile or broken answers file --------------------------------------------------------


@pytest.mark.parametrize(
    "commit",
    ["--output=victim.txt", "-o victim.txt", "HEAD", "deadbeef", "g" * 40, "A" * 40 + "\n--x"],
)
def test_a_commit_that_is_not_a_hex_id_is_refused_and_no_file_is_touched(
    kraken_project: Path, commit: str
):
    victim = kraken_project / "victim.txt"
    victim.write_text("precious\n")
    answers_path = kraken_project / "brokers" / "kraken" / ".copier-answers.yml"
    answers = yaml.safe_load(answers_path.read_text())
    answers["_commit"] = commit
    answers_path.write_text(yaml.safe_dump(answers))
    before = {
        p: p.read_bytes()
        for p in kraken_project.rglob("*")
        if p.is_file() and ".git" not in p.parts
    }
    with pytest.raises(UsageError, match="_commit") as refused:
        update("kraken", kraken_project)
    assert ".copier-answers.yml" in str(refused.value)
    assert victim.read_text() == "precious\n"
    after = {
        p: p.read_bytes()
        for p in kraken_project.rglob("*")
        if p.is_file() and ".git" not in p.parts
    }
    assert after == before


def test_the_cli_says_so_in_one_line_with_exit_2(kraken_project: Path, monkeypatch):
    answers_path = kraken_project / "brokers" / "kraken" / ".copier-answers.yml"
    answers_path.write_text(
        answers_path.read_text().replace("_commit:", "_commit: --output=v.txt #")
    )
    monkeypatch.chdir(kraken_project)
    result = CliRunner().invoke(main, ["update", "kraken"])
    assert result.exit_code == 2, result.output
    assert "_commit" in result.output and "Traceback" not in result.output
    assert not (kraken_project / "v.txt").exists()


@pytest.mark.parametrize("text", ["[unclosed", "- a list\n- not a mapping\n", "\x00"])
def test_an_unreadable_answers_file_is_a_usage_error(kraken_project: Path, text: str):
    (kraken_project / "brokers" / "kraken" / ".copier-answers.yml").write_text(text)
    with pytest.raises(UsageError, match=r"\.copier-answers\.yml"):
        update("kraken", kraken_project)


def test_git_never_reads_a_tree_id_as_an_option(project: Path, tmp_path: Path):
    """Defence in depth below the check: a value from a file is passed after --end-of-options."""
    from scaffolder.update import _export_tree

    victim = project / "victim.txt"
    victim.write_text("precious\n")
    with pytest.raises(ScaffolderError):
        _export_tree(project, "--output=victim.txt", tmp_path / "out")
    assert victim.read_text() == "precious\n"


# -- a conflicting update ----------------------------------------------------------------------

CONFIG_TEMPLATE = Path("templates/broker/template/config/brokers/{{ name }}.json.jinja")


def conflicting_config_update(project: Path) -> Path:
    """kraken's config (``project`` holds kraken) hand-edited where the template changes too;
    returns the config path."""
    config = project / "config" / "brokers" / "kraken.json"
    config.write_text(config.read_text().replace('"timeout": 10000', '"timeout": 15000'))
    template = project / CONFIG_TEMPLATE
    template.write_text(template.read_text().replace('"timeout": 10000', '"timeout": 20000'))
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "template v2 and a clashing hand edit")
    return config


@dataclass(frozen=True)
class Conflicted:
    """A project after :func:`conflicting_config_update` and one ``update`` (which conflicted)."""

    root: Path
    #: ``.env.example`` as it was before that update.
    env_example: str


@pytest.fixture(scope="module")
def conflicted_once(tmp_path_factory: pytest.TempPathFactory, kraken_v1: Path) -> Conflicted:
    """:class:`Conflicted`, built once for the tests that start from it (each copies it);
    test_a_conflicting_update_keeps_the_old_template_version makes its own first update."""
    root = own_copy(kraken_v1, tmp_path_factory.mktemp("conflicted"))
    conflicting_config_update(root)
    env_example = (root / ".env.example").read_text()
    assert update("kraken", root).conflicts == ["config/brokers/kraken.json"]
    return Conflicted(root, env_example)


@pytest.fixture
def conflicted(conflicted_once: Conflicted, tmp_path: Path) -> Path:
    """The test's own copy of ``conflicted_once``."""
    return own_copy(conflicted_once.root, tmp_path)


def test_a_conflicting_update_keeps_the_old_template_version(kraken_project: Path):
    project = kraken_project
    config = conflicting_config_update(project)
    answers_path = project / "brokers" / "kraken" / ".copier-answers.yml"
    before = yaml.safe_load(answers_path.read_text())["_commit"]
    report = update("kraken", project)
    assert report.conflicts == ["config/brokers/kraken.json"]
    assert CONFLICT in config.read_text()
    answers = yaml.safe_load(answers_path.read_text())
    assert answers["_commit"] == before, "with conflicts unresolved it is not at the new template"
    assert answers["_update_pending"] == report.to_version


def test_update_again_with_the_markers_still_there_is_refused_and_changes_nothing(
    conflicted: Path,
):
    project = conflicted
    before = {
        p: p.read_bytes() for p in project.rglob("*") if p.is_file() and ".git" not in p.parts
    }
    with pytest.raises(ScaffolderError, match=r"config/brokers/kraken\.json.*<<<<<<<"):
        update("kraken", project)
    after = {p: p.read_bytes() for p in project.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert after == before


def test_a_conflicted_config_keeps_its_variables_in_env_example(
    conflicted: Path, conflicted_once: Conflicted
):
    env_example = conflicted_once.env_example
    assert (conflicted / ".env.example").read_text() == env_example
    assert "KRAKEN_API_KEY=" in env_example


def test_after_resolving_the_conflict_update_reaches_the_new_version(conflicted: Path):
    project = conflicted
    config = project / "config" / "brokers" / "kraken.json"
    text = config.read_text()
    resolved = re.sub(r"<<<<<<< [^\n]*\n(.*?)=======\n.*?>>>>>>> [^\n]*\n", r"\1", text, flags=re.S)
    assert CONFLICT not in resolved
    config.write_text(resolved)
    report = update("kraken", project)
    assert report.conflicts == [], config.read_text()
    answers = yaml.safe_load((project / "brokers" / "kraken" / ".copier-answers.yml").read_text())
    assert answers["_commit"] == report.to_version and "_update_pending" not in answers
    assert update("kraken", project).up_to_date
    assert '"timeout": 15000' in config.read_text()
