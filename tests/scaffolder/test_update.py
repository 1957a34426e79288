"""``scaffolder update``: a template change arrives and a hand edit survives (copier's merge)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from scaffolder.cli import main
from scaffolder.errors import ScaffolderError, UsageError
from scaffolder.generate import generate
from scaffolder.update import update

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


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git project holding the template (tagged v1) and nothing else."""
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    (tmp_path / "brokers").mkdir()
    shutil.copy(ROOT / "brokers" / "registered.py", tmp_path / "brokers" / "registered.py")
    (tmp_path / "config" / "brokers").mkdir(parents=True)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "template v1")
    git(tmp_path, "tag", "v1")
    return tmp_path


def test_update_brings_the_template_change_and_keeps_the_hand_edit(project: Path):
    generate("kraken", project)
    broker = project / "brokers" / "kraken" / "broker.py"
    broker.write_text(
        broker.read_text() + '\n    def hand_written(self) -> str:\n        return "kept"\n'
    )
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "kraken, hand-edited")

    template = project / BROKER_TEMPLATE
    template.write_text(
        template.read_text().replace(
            "    exchange_id = {{ name | tojson }}\n",
            "    exchange_id = {{ name | tojson }}\n    template_v2 = True\n",
        )
    )
    git(project, "commit", "-q", "-am", "template v2")
    git(project, "tag", "v2")

    report = update("kraken", project)

    text = broker.read_text()
    assert "template_v2 = True" in text, "the template change did not arrive"
    assert 'return "kept"' in text, "the hand edit was lost"
    assert report.conflicts == []
    assert "brokers/kraken/broker.py" in report.changed
    answers = (project / "brokers" / "kraken" / ".copier-answers.yml").read_text()
    assert f"_commit: {git(project, 'rev-parse', 'HEAD:templates/broker').strip()}" in answers
    assert "_src_path: templates/broker" in answers
    assert update("kraken", project).up_to_date


def test_conflicting_edits_are_marked_the_way_copier_marks_them(project: Path):
    generate("kraken", project)
    broker = project / "brokers" / "kraken" / "broker.py"
    broker.write_text(
        broker.read_text().replace('exchange_id = "kraken"', 'exchange_id = "kraken"  # mine')
    )
    template = project / BROKER_TEMPLATE
    template.write_text(
        template.read_text().replace(
            "exchange_id = {{ name | tojson }}", "exchange_id = {{ name | tojson }}  # theirs"
        )
    )
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "template v2 and the edit")
    report = update("kraken", project)
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
    project: Path, commit: str
):
    generate("kraken", project)
    victim = project / "victim.txt"
    victim.write_text("precious\n")
    answers_path = project / "brokers" / "kraken" / ".copier-answers.yml"
    answers = yaml.safe_load(answers_path.read_text())
    answers["_commit"] = commit
    answers_path.write_text(yaml.safe_dump(answers))
    before = {
        p: p.read_bytes() for p in project.rglob("*") if p.is_file() and ".git" not in p.parts
    }
    with pytest.raises(UsageError, match="_commit") as refused:
        update("kraken", project)
    assert ".copier-answers.yml" in str(refused.value)
    assert victim.read_text() == "precious\n"
    after = {p: p.read_bytes() for p in project.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert after == before


def test_the_cli_says_so_in_one_line_with_exit_2(project: Path, monkeypatch):
    generate("kraken", project)
    answers_path = project / "brokers" / "kraken" / ".copier-answers.yml"
    answers_path.write_text(
        answers_path.read_text().replace("_commit:", "_commit: --output=v.txt #")
    )
    monkeypatch.chdir(project)
    result = CliRunner().invoke(main, ["update", "kraken"])
    assert result.exit_code == 2, result.output
    assert "_commit" in result.output and "Traceback" not in result.output
    assert not (project / "v.txt").exists()


@pytest.mark.parametrize("text", ["[unclosed", "- a list\n- not a mapping\n", "\x00"])
def test_an_unreadable_answers_file_is_a_usage_error(project: Path, text: str):
    generate("kraken", project)
    (project / "brokers" / "kraken" / ".copier-answers.yml").write_text(text)
    with pytest.raises(UsageError, match=r"\.copier-answers\.yml"):
        update("kraken", project)


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
    """kraken's config hand-edited where the template changes too; returns the config path."""
    generate("kraken", project)
    config = project / "config" / "brokers" / "kraken.json"
    config.write_text(config.read_text().replace('"timeout": 10000', '"timeout": 15000'))
    template = project / CONFIG_TEMPLATE
    template.write_text(template.read_text().replace('"timeout": 10000', '"timeout": 20000'))
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "template v2 and a clashing hand edit")
    return config


def test_a_conflicting_update_keeps_the_old_template_version(project: Path):
    config = conflicting_config_update(project)
    answers_path = project / "brokers" / "kraken" / ".copier-answers.yml"
    before = yaml.safe_load(answers_path.read_text())["_commit"]
    report = update("kraken", project)
    assert report.conflicts == ["config/brokers/kraken.json"]
    assert CONFLICT in config.read_text()
    answers = yaml.safe_load(answers_path.read_text())
    assert answers["_commit"] == before, "with conflicts unresolved it is not at the new template"
    assert answers["_update_pending"] == report.to_version


def test_update_again_with_the_markers_still_there_is_refused_and_changes_nothing(project: Path):
    conflicting_config_update(project)
    update("kraken", project)
    before = {
        p: p.read_bytes() for p in project.rglob("*") if p.is_file() and ".git" not in p.parts
    }
    with pytest.raises(ScaffolderError, match=r"config/brokers/kraken\.json.*<<<<<<<"):
        update("kraken", project)
    after = {p: p.read_bytes() for p in project.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert after == before


def test_a_conflicted_config_keeps_its_variables_in_env_example(project: Path):
    conflicting_config_update(project)
    env_example = (project / ".env.example").read_text()
    update("kraken", project)
    assert (project / ".env.example").read_text() == env_example
    assert "KRAKEN_API_KEY=" in env_example


def test_after_resolving_the_conflict_update_reaches_the_new_version(project: Path):
    config = conflicting_config_update(project)
    update("kraken", project)
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
