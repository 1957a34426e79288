"""``scaffolder new`` / ``remove``: what is written, what is refused, and that it is all or nothing.

Every test works in a throwaway project (the template, the schema and a copy of the runtime);
code that imports a generated broker runs in a fresh interpreter whose ``brokers`` package is
the throwaway project's, never this repository's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import scaffolder.fs
from brokers.config import read_document, schema_problems
from scaffolder.cli import main
from scaffolder.errors import ScaffolderError, UsageError
from scaffolder.generate import MAX_NAME_LENGTH, check_name, generate, generate_many
from scaffolder.harness.plugin import write_opt_in
from scaffolder.inventory import inventory
from scaffolder.wiring import rewire
from tests.conftest import own_copy

ROOT = Path(__file__).resolve().parents[2]
#: The runtime modules a generated broker imports (the wiring file is the project's own).
RUNTIME_MODULES = sorted(p for p in (ROOT / "brokers").glob("*.py") if p.name != "registered.py")
#: The runtime's own subpackages (``brokers.config``), not the brokers (they have answers).
RUNTIME_PACKAGES = sorted(
    p
    for p in (ROOT / "brokers").iterdir()
    if (p / "__init__.py").is_file() and not (p / ".copier-answers.yml").is_file()
)
ALLOWED = "lowercase letters, digits and _"

#: Run first in every subprocess: proves ``brokers`` is the project's copy, not this repository's.
PRELUDE = """\
import pathlib
import brokers
here = pathlib.Path.cwd().resolve() / "brokers"
assert pathlib.Path(brokers.__file__).resolve().parent == here, brokers.__file__
"""


def make_project(path: Path) -> Path:
    """A throwaway project: template, schema, runtime modules, the wiring file, config/brokers/,
    and the opt-in to the harness's network block."""
    shutil.copytree(
        ROOT / "templates", path / "templates", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(ROOT / "schemas", path / "schemas")
    (path / "brokers").mkdir()
    for module in RUNTIME_MODULES:
        shutil.copy2(module, path / "brokers" / module.name)
    for package in RUNTIME_PACKAGES:
        shutil.copytree(
            package, path / "brokers" / package.name, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy2(ROOT / "brokers" / "registered.py", path / "brokers" / "registered.py")
    (path / "config" / "brokers").mkdir(parents=True)
    write_opt_in(path)  # its tests block the network, as this repository's do
    return path


def listing(root: Path) -> dict[str, bytes | None]:
    """Every file under ``root`` with its bytes, and every directory (as None)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes() if p.is_file() else None
        for p in sorted(root.rglob("*"))
    }


def canary_env(project: Path) -> dict[str, str]:
    """A canary value for every variable ``.env.example`` lists."""
    names = [
        line.partition("=")[0]
        for line in (project / ".env.example").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    return {name: f"CANARY-{name}" for name in names}


def run_python(project: Path, code: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``code`` in a fresh interpreter inside ``project``; return its stdout."""
    result = subprocess.run(
        [sys.executable, "-c", PRELUDE + code, *args],
        cwd=project,
        env={
            **os.environ,
            "PYTHONPATH": str(project),
            **(env or {}),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def run_pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest on ``args`` (test paths) inside ``project``, whose ``brokers`` is its own."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project)},
        capture_output=True,
        text=True,
        timeout=600,
    )


def git(project: Path, *args: str) -> str:
    """Run git in ``project`` with a throwaway identity; return its stdout."""
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    return subprocess.run(
        ["git", *identity, "-c", "commit.gpgsign=false", *args],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def answers_of(project: Path, name: str) -> dict:
    return yaml.safe_load((project / "brokers" / name / ".copier-answers.yml").read_text())


def registered(project: Path) -> dict[str, str]:
    namespace: dict = {}
    exec((project / "brokers" / "registered.py").read_text(encoding="utf-8"), namespace)
    return namespace["BROKERS"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


@pytest.fixture
def cli(project: Path, monkeypatch: pytest.MonkeyPatch):
    """``cli(*args, input=...)``: the ``scaffolder`` command run from the project's root."""
    monkeypatch.chdir(project)

    def run(*args: str, input: str | None = None):
        return CliRunner().invoke(main, list(args), input=input)

    return run


# -- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["../x", "class", "Bin-ance", "", "base", "a/b", "match", "con", "com1"]
)
def test_bad_names_are_refused_with_exit_code_2_and_nothing_is_written(project, cli, name):
    before = listing(project)
    result = cli("new", name, "--defaults")
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # one line, not a traceback
    assert result.output.startswith("error: ") and ALLOWED in result.output
    assert listing(project) == before


def test_a_name_with_a_trailing_newline_is_refused():
    with pytest.raises(UsageError, match=ALLOWED):
        check_name("kraken\n")


# -- what a broker is made of -----------------------------------------------------------------


def test_new_kraken_writes_package_config_tests_cassettes_and_wiring(project, cli):
    result = cli("new", "kraken", "--defaults", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [b["name"] for b in report["brokers"]] == ["kraken"]
    files = sorted(report["brokers"][0]["files"])
    assert [f for f in files if not f.startswith("cassettes/kraken/")] == [
        "brokers/kraken/.copier-answers.yml",
        "brokers/kraken/__init__.py",
        "brokers/kraken/broker.py",
        "config/brokers/kraken.json",
        "tests/brokers/test_kraken.py",
    ]
    # and replay data from the bundled corpus (tests/scaffolder/test_new_from_corpus.py)
    assert {"cassettes/kraken/contract.json", "cassettes/kraken/markets.json"} <= set(files)
    assert sorted(report["rewired"]) == [".env.example", "brokers/registered.py"]
    assert (project / "cassettes" / "kraken").is_dir()

    answers = answers_of(project, "kraken")
    assert answers["_src_path"] == "templates/broker"
    assert answers["integration"] == "ccxt"
    assert answers.get("testnet", False) is False  # ccxt has no sandbox for kraken

    text, document = read_document(project / "config" / "brokers" / "kraken.json")
    assert schema_problems(document, text) == []
    assert document["settings"]["testnet"] is False
    assert document["api_credentials"] == {
        "api_key": "${KRAKEN_API_KEY}",
        "api_secret": "${KRAKEN_API_SECRET}",
    }

    assert registered(project) == {"kraken": "brokers.kraken.broker:KrakenBroker"}
    env_lines = (project / ".env.example").read_text().splitlines()
    assert "KRAKEN_API_KEY=" in env_lines and "KRAKEN_API_SECRET=" in env_lines


def test_ccxt_metadata_decides_credentials_and_sandbox(project):
    expected = {
        "kraken": (["api_key", "api_secret"], False),
        "okx": (["api_key", "api_secret", "passphrase"], True),
        "binance": (["api_key", "api_secret"], True),
    }
    for name in expected:
        generate(name, project)
    for name, (credentials, testnet) in expected.items():
        document = json.loads((project / "config" / "brokers" / f"{name}.json").read_text())
        assert sorted(document["api_credentials"]) == credentials
        assert document["settings"]["testnet"] is testnet
        assert answers_of(project, name).get("testnet", False) is testnet
    assert "OKX_PASSPHRASE=" in (project / ".env.example").read_text().splitlines()

    # The bot's view: the factory builds each broker from its config and the environment.
    checks = json.loads(
        run_python(
            project,
            """
import json, sys
from brokers import create_broker
from brokers.config import CCXT_CREDENTIALS
out = {}
for name in json.loads(sys.argv[1]):
    broker = create_broker(name, f"config/brokers/{name}.json")
    exchange = broker.exchange
    out[name] = {
        "class": type(broker).__module__ + ":" + type(broker).__name__,
        "sandbox": bool(exchange.isSandboxModeEnabled),
        "credentials": {k: getattr(exchange, CCXT_CREDENTIALS[k]) for k in broker.config.credentials},
    }
print(json.dumps(out))
""",
            json.dumps(list(expected)),
            env=canary_env(project),
        )
    )
    for name, (credentials, testnet) in expected.items():
        assert checks[name]["class"] == registered(project)[name]
        assert checks[name]["sandbox"] is testnet
        assert checks[name]["credentials"] == {
            c: f"CANARY-{name.upper()}_{c.upper()}" for c in credentials
        }


@pytest.mark.parametrize("data", [{"integration": "rest"}, {}], ids=["explicit", "default"])
def test_a_name_ccxt_lacks_becomes_a_signed_rest_broker(project, data):
    data = {
        **data,
        "base_url": "https://api.myexchange.io",
        "testnet_url": "https://testnet.myexchange.io/",
    }
    generate("myexchange", project, data=data)
    assert answers_of(project, "myexchange")["integration"] == "rest"
    document = json.loads((project / "config" / "brokers" / "myexchange.json").read_text())
    assert document["integration"] == "rest" and document["settings"]["testnet"] is True
    out = run_python(
        project,
        """
from brokers import create_broker
from brokers.myexchange.broker import MyexchangeBroker
from brokers.rest_broker import RestBroker
assert issubclass(MyexchangeBroker, RestBroker)
broker = create_broker("myexchange", "config/brokers/myexchange.json")
assert type(broker) is MyexchangeBroker
print(MyexchangeBroker.base_url, MyexchangeBroker.testnet_url, broker.url)
""",
        env=canary_env(project),
    )
    assert out.split() == [
        "https://api.myexchange.io",
        "https://testnet.myexchange.io/",
        "https://testnet.myexchange.io",
    ]


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        (
            "binanse",
            {"integration": "ccxt"},
            "ccxt has no exchange 'binanse' (did you mean binance",
        ),
        ("kraken", {"testnet": True}, "kraken has no sandbox"),
        ("okx", {"credentials": ["api_key", "api_secret"]}, "okx requires passphrase"),
    ],
    ids=["unknown-exchange", "testnet-without-sandbox", "missing-credential"],
)
def test_answers_that_scaffolder_validate_rejects_are_refused(project, name, data, says):
    before = listing(project)
    with pytest.raises(UsageError, match="the generated config is invalid") as refused:
        generate(name, project, data=data)
    assert says in str(refused.value)
    assert listing(project) == before


# -- existing brokers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "piece",
    [
        None,
        "brokers/kraken/broker.py",
        "config/brokers/kraken.json",
        "tests/brokers/test_kraken.py",
        "cassettes/kraken/.gitkeep",
        "brokers/kraken/extra.py",
    ],
    ids=["generated", "package", "config", "tests", "cassettes", "package-directory"],
)
def test_an_existing_broker_is_refused_without_force_and_left_byte_identical(project, cli, piece):
    if piece is None:  # a generated broker, its config edited by hand since
        generate("kraken", project)
        piece = "config/brokers/kraken.json"
    (project / piece).parent.mkdir(parents=True, exist_ok=True)
    (project / piece).write_text("# hand-written\n")
    before = listing(project)
    result = cli("new", "kraken", "--defaults")
    assert result.exit_code == 2
    assert "exists already" in result.output and "--force" in result.output
    assert listing(project) == before


def test_force_restores_a_hand_edited_broker_and_keeps_its_recordings(project, cli):
    generate("kraken", project)
    generated = listing(project)
    config = project / "config" / "brokers" / "kraken.json"
    config.write_text(config.read_text().replace('"timeout": 10000', '"timeout": 20000'))
    (project / "brokers" / "kraken" / "broker.py").write_text("# hand-edited\n")
    recording = project / "cassettes" / "kraken" / "get_ticker.yaml"
    recording.write_text("interactions: []\n")

    result = cli("new", "kraken", "--defaults", "--force")
    assert result.exit_code == 0, result.output
    assert listing(project) == {
        **generated,
        "cassettes/kraken/get_ticker.yaml": recording.read_bytes(),
    }


def test_recordings_made_before_the_broker_are_kept_and_give_the_default_pairs(project):
    cassettes = project / "cassettes" / "kraken"
    cassettes.mkdir(parents=True)
    (cassettes / "markets.json").write_text(
        json.dumps({"ETH/USD": {"symbol": "ETH/USD"}, "BTC/USD": {"symbol": "BTC/USD"}})
    )
    (cassettes / "get_ticker.yaml").write_text("interactions: []\n")
    recorded = listing(cassettes)
    generate("kraken", project)
    assert {k: v for k, v in listing(cassettes).items() if k != ".gitkeep"} == recorded
    document = json.loads((project / "config" / "brokers" / "kraken.json").read_text())
    assert document["supported_pairs"] == ["BTC/USD", "ETH/USD"]


# -- wiring ---------------------------------------------------------------------------------------


def test_rewiring_twice_changes_nothing(project):
    generate("kraken", project)
    generate("okx", project)
    assert list(registered(project)) == ["kraken", "okx"]
    before = listing(project)
    assert rewire(project) == []
    assert listing(project) == before


def test_the_wiring_does_not_depend_on_the_order_brokers_were_added(tmp_path):
    one, two = make_project(tmp_path / "one"), make_project(tmp_path / "two")
    for name in ("okx", "kraken", "binance"):
        generate(name, one)
    for name in ("binance", "kraken", "okx"):
        generate(name, two)
    for wiring in ("brokers/registered.py", ".env.example"):
        assert (one / wiring).read_bytes() == (two / wiring).read_bytes()
    assert list(registered(one)) == ["binance", "kraken", "okx"]


def test_rewiring_resolves_a_merge_conflict_in_the_wiring(project):
    generate("kraken", project)
    generate("okx", project)
    clean = {p: (project / p).read_bytes() for p in ("brokers/registered.py", ".env.example")}
    for path in clean:
        (project / path).write_text("<<<<<<< ours\n=======\n>>>>>>> theirs\n")
    assert len(rewire(project)) == 2
    assert {p: (project / p).read_bytes() for p in clean} == clean


# -- all or nothing ----------------------------------------------------------------------------


class FailingMoves:
    """``os`` as scaffolder.fs sees it, except that the n-th move into the project fails once.

    Moves into the scratch directory (rendering, backups, rollbacks) are not counted.
    """

    def __init__(self, fail_at: int) -> None:
        self.fail_at = fail_at
        self.count = 0

    def __getattr__(self, name: str):
        return getattr(os, name)

    def replace(self, src, dst) -> None:
        if ".scaffolder-" not in str(dst):
            self.count += 1
            if self.count == self.fail_at:
                raise OSError(28, "No space left on device (simulated)")
        os.replace(src, dst)


@pytest.fixture(scope="module")
def kraken_files(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, int]:
    """How many files generating kraken writes: into a new project (False), and replacing it
    with force (True), which keeps the cassettes the first generation took from the corpus.
    Counted once for the module, in a project of its own."""
    reference = make_project(tmp_path_factory.mktemp("reference") / "project")
    new = len(generate("kraken", reference).files)
    return {False: new, True: len(generate("kraken", reference, force=True).files)}


HAND_MADE = "class HandMadeBroker:\n"


@pytest.fixture(scope="module")
def hand_edited_kraken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with a hand-edited kraken whose wiring a replacement changes; built once
    for the module, never changed (tests copy it)."""
    project = make_project(tmp_path_factory.mktemp("hand-edited") / "project")
    generate("kraken", project)
    (project / "brokers" / "kraken" / "broker.py").write_text(HAND_MADE)
    config = project / "config" / "brokers" / "kraken.json"
    config.write_text(config.read_text().replace('"api_key"', '"uid": "${KRAKEN_UID}", "api_key"'))
    rewire(project)
    return project


@pytest.mark.parametrize("force", [False, True], ids=["new", "force"])
@pytest.mark.parametrize("when", ["first-file", "middle-file", "last-file", "registry", "env"])
def test_a_failed_move_leaves_the_project_as_it_was(
    project, tmp_path, monkeypatch, force, when, kraken_files, hand_edited_kraken
):
    files = kraken_files[force]
    fail_at = {
        "first-file": 1,
        "middle-file": files // 2,
        "last-file": files,
        "registry": files + 1,
        "env": files + 2,
    }[when]
    if force:  # the test's own copy of the hand-edited broker
        project = own_copy(hand_edited_kraken, tmp_path / "hand-edited")
        # as built: no earlier test changed it (the retry below puts the template's back)
        assert (project / "brokers" / "kraken" / "broker.py").read_text() == HAND_MADE
    before = listing(project)

    failing = FailingMoves(fail_at)
    monkeypatch.setattr(scaffolder.fs, "os", failing)
    with pytest.raises(OSError, match="simulated"):
        generate("kraken", project, force=force)
    assert failing.count >= fail_at
    monkeypatch.undo()

    assert listing(project) == before
    assert not list(project.glob(".scaffolder-*"))
    generate("kraken", project, force=force)  # and nothing left behind blocks a retry


def test_a_template_rendering_invalid_python_writes_nothing(project):
    template = project / "templates" / "broker" / "template" / "brokers" / "{{ name }}"
    with (template / "broker.py.jinja").open("a") as handle:
        handle.write("\n    def broken(:\n")
    before = listing(project)
    with pytest.raises(ScaffolderError, match=r"invalid Python in broker\.py"):
        generate("kraken", project)
    assert listing(project) == before


def test_an_interrupt_while_rendering_writes_nothing(project, cli, monkeypatch):
    import copier

    render = copier.run_copy

    def render_then_interrupt(*args, **kwargs):
        render(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(copier, "run_copy", render_then_interrupt)
    before = listing(project)
    result = cli("new", "kraken", "--defaults")
    assert result.exit_code == 130
    assert "interrupted" in result.output
    assert listing(project) == before


# -- batches ------------------------------------------------------------------------------------

#: A batch mixing defaults, an answer the defaults do not give, and a signed-REST broker.
BATCH: dict[str, dict | None] = {
    "okx": None,
    "kraken": {"market_type": "margin"},
    "myquery": {"integration": "rest"},
}


def test_a_batch_writes_what_generating_one_by_one_writes(tmp_path):
    one_by_one, batch = make_project(tmp_path / "one"), make_project(tmp_path / "batch")
    for name, data in BATCH.items():
        generate(name, one_by_one, data=data)

    results = generate_many(BATCH, batch)

    assert listing(batch) == listing(one_by_one)
    assert [r.name for r in results] == list(BATCH)
    for result in results:
        assert result.files == sorted(result.files)
        assert {p.relative_to(batch).parts[-1] for p in result.files} >= {
            "broker.py",
            f"{result.name}.json",
            f"test_{result.name}.py",
        }
        assert all(result.name in p.relative_to(batch).as_posix() for p in result.files)
        assert result.rewired == [batch / "brokers" / "registered.py", batch / ".env.example"]
    assert list(registered(batch)) == sorted(BATCH)


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ({"Bin-ance": None}, "broker 'Bin-ance': 'Bin-ance' is not a valid broker name"),
        ({"kraken": {"testnet": True}}, "broker 'kraken': the generated config is invalid"),
        ({"myquery": {"base_url": "ftp://x"}}, "broker 'myquery': the template refused"),
    ],
    ids=["bad-name", "invalid-config", "refused-answer"],
)
def test_a_batch_with_one_bad_broker_writes_nothing_and_names_it(project, bad, says):
    before = listing(project)
    with pytest.raises(UsageError) as refused:
        generate_many({"okx": None, **bad, "binance": None}, project)
    assert str(refused.value).startswith(says)
    assert listing(project) == before
    assert not list(project.glob(".scaffolder-*"))


def test_a_batch_replaces_an_existing_broker_only_with_force(project):
    generate("kraken", project)
    config = project / "config" / "brokers" / "kraken.json"
    config.write_text("# hand-written\n")
    before = listing(project)
    with pytest.raises(UsageError, match=r"broker 'kraken': .* exists already; pass --force"):
        generate_many({"okx": None, "kraken": None}, project)
    assert listing(project) == before

    generate_many({"okx": None, "kraken": None}, project, force=True)
    assert list(registered(project)) == ["kraken", "okx"]
    assert json.loads(config.read_text())["name"] == "kraken"


@pytest.mark.parametrize("when", ["first-broker", "last-broker", "registry"])
def test_a_failed_move_in_a_batch_leaves_the_project_as_it_was(project, monkeypatch, when):
    generate("binance", project)
    before = listing(project)
    files = 6  # per broker (see test_new_kraken_writes_package_config_tests_cassettes_and_wiring)
    failing = FailingMoves(
        {"first-broker": 2, "last-broker": 2 * files, "registry": 2 * files + 1}[when]
    )
    monkeypatch.setattr(scaffolder.fs, "os", failing)
    with pytest.raises(OSError, match="simulated"):
        generate_many({"kraken": None, "okx": None}, project)
    monkeypatch.undo()
    assert listing(project) == before
    assert not list(project.glob(".scaffolder-*"))


def test_an_interrupt_while_rendering_a_batch_writes_nothing(project, monkeypatch):
    import copier

    render, renders = copier.run_copy, []

    def interrupt_the_second(*args, **kwargs):
        renders.append(args)
        if len(renders) == 2:
            raise KeyboardInterrupt
        return render(*args, **kwargs)

    monkeypatch.setattr(copier, "run_copy", interrupt_the_second)
    before = listing(project)
    with pytest.raises(KeyboardInterrupt):
        generate_many({"kraken": None, "okx": None, "binance": None}, project)
    assert listing(project) == before and len(renders) == 2


# -- git ----------------------------------------------------------------------------------------


def test_outside_git_the_template_version_is_left_out(project):
    probe = subprocess.run(["git", "rev-parse"], cwd=project, capture_output=True)
    assert probe.returncode != 0, "the temporary project must not be inside a git repository"
    generate("kraken", project)
    assert "_commit" not in answers_of(project, "kraken")
    assert [row.template for row in inventory(project)] == ["untracked"]


def test_inside_a_dirty_git_repository_the_template_tree_is_recorded(project):
    (project / "NOTES.md").write_text("first\n")
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "init")
    (project / "NOTES.md").write_text("changed, not committed\n")
    (project / "staged.txt").write_text("staged\n")
    git(project, "add", "staged.txt")
    (project / "untracked.txt").write_text("untracked\n")
    staged = git(project, "diff", "--cached", "--name-only")

    generate("kraken", project)

    assert answers_of(project, "kraken")["_commit"] == git(
        project, "rev-parse", "HEAD:templates/broker"
    )
    assert git(project, "diff", "--cached", "--name-only") == staged  # the index is untouched
    assert not [p for p in (project / ".git").iterdir() if "scaffolder" in p.name]


def test_inside_a_git_worktree_the_template_tree_is_recorded(project, tmp_path):
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "init")
    worktree = tmp_path / "worktree"
    git(project, "worktree", "add", "-q", str(worktree))
    generate("kraken", worktree)
    assert answers_of(worktree, "kraken")["_commit"] == git(
        worktree, "rev-parse", "HEAD:templates/broker"
    )


# -- remove ---------------------------------------------------------------------------------------


def test_remove_yes_undoes_new(project, cli):
    generate("okx", project)
    before = listing(project)
    generate("kraken", project)
    (project / "cassettes" / "kraken" / "get_ticker.yaml").write_text("interactions: []\n")

    result = cli("remove", "kraken", "--yes")
    assert result.exit_code == 0, result.output
    assert sorted(result.output.split()) == sorted(
        [
            *["removed"] * 4,
            "brokers/kraken",
            "cassettes/kraken",
            "config/brokers/kraken.json",
            "tests/brokers/test_kraken.py",
        ]
    )
    assert listing(project) == before


def test_remove_asks_first_and_no_keeps_everything(project, cli):
    generate("kraken", project)
    before = listing(project)
    result = cli("remove", "kraken", input="n\n")
    assert result.exit_code == 1
    assert "config/brokers/kraken.json" in result.output and "Aborted" in result.output
    assert listing(project) == before


def test_removing_a_broker_that_is_not_there_is_a_usage_error(project, cli):
    before = listing(project)
    result = cli("remove", "kraken", "--yes")
    assert result.exit_code == 2 and "no broker 'kraken'" in result.output
    assert listing(project) == before


def test_new_with_several_names_generates_all_in_one_step(project, cli):
    result = cli("new", "kraken", "okx", "kraken", "--defaults", "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == ["[1/2] kraken", "[2/2] okx"]
    report = json.loads(result.stdout)
    assert [b["name"] for b in report["brokers"]] == ["kraken", "okx"]
    assert sorted(report["rewired"]) == [".env.example", "brokers/registered.py"]
    registered = (project / "brokers" / "registered.py").read_text()
    assert '"kraken"' in registered and '"okx"' in registered
    for name in ("kraken", "okx"):
        assert (project / "config" / "brokers" / f"{name}.json").is_file()


def test_new_with_one_bad_name_among_several_writes_nothing(project, cli):
    before = listing(project)
    result = cli("new", "kraken", "Bad-Name", "--defaults")
    assert result.exit_code == 2
    assert "Bad-Name" in result.output
    assert listing(project) == before


def test_the_longest_name_still_gives_ruff_clean_code(project, cli):
    shutil.copy2(ROOT / "pyproject.toml", project / "pyproject.toml")  # the ruff settings
    name = "a" * MAX_NAME_LENGTH
    result = cli("new", name, "--defaults", "--data", "integration=rest")
    assert result.exit_code == 0, result.output
    files = [
        project / "brokers" / name / "broker.py",
        project / "brokers" / name / "__init__.py",
        project / "tests" / "brokers" / f"test_{name}.py",
    ]
    ruff = str(Path(sys.executable).parent / "ruff")
    # With the project's ruff settings; import sorting depends on which packages ruff finds in
    # the project (this throwaway one holds no scaffolder/), so it is not judged here.
    for command in (["format", "--check"], ["check", "--ignore", "I001"]):
        done = subprocess.run([ruff, *command, *map(str, files)], cwd=project, capture_output=True)
        assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()


def test_every_runtime_module_is_a_reserved_broker_name():
    """A broker package named like a module of ``brokers`` would shadow it."""
    from scaffolder.generate import RESERVED_NAMES

    modules = {p.stem for p in (ROOT / "brokers").glob("*.py") if p.stem != "__init__"}
    # subpackages of the runtime (brokers.config), not brokers (those hold an answers file)
    modules |= {
        p.parent.name
        for p in (ROOT / "brokers").glob("*/__init__.py")
        if not (p.parent / ".copier-answers.yml").exists()
    }
    assert "config" in modules
    assert modules <= RESERVED_NAMES, sorted(modules - RESERVED_NAMES)
