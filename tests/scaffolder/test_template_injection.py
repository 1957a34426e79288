"""Hostile answers never become code: every string answer is refused (exit 2, naming the
question) or reaches Python and JSON escaped, and round-trips to the exact value.

Each hostile value tries to create a marker file when the rendered code runs; the rendered
brokers are imported, built from their configs and their generated tests run, and the marker
must not exist.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from scaffolder.cli import main
from scaffolder.errors import UsageError
from scaffolder.generate import generate
from tests.conftest import built_once_per_run
from tests.scaffolder.test_generate import (
    canary_env,
    listing,
    make_project,
    run_pytest,
    run_python,
)

MARKER = "PWNED"
TOUCH = f'__import__("pathlib").Path("{MARKER}").touch()'
#: Ways out of a string literal, a docstring, a line or a Jinja expression.
PAYLOADS = [
    f'" + str({TOUCH}) + "',
    f"' + str({TOUCH.replace(chr(34), chr(39))}) + '",
    f'"""\n{TOUCH}\n"""',
    f"\n{TOUCH}  #",
    "\\",
    "{{ 7 * 7 }}",
    "\n",
    "${HOME}",
    "<b>&amp;</b>",
]
#: REST answers under which every REST string question is asked.
REST = {
    "integration": "rest",
    "websocket": True,
    "testnet": True,
    "signing_scheme": "hmac_sha256_header",
}
#: question -> (base answers, how a payload becomes an answer, where the value shows).
QUESTIONS: dict[str, tuple[dict, object, str]] = {
    "display_name": (REST, lambda p: f"Ex{p}change", "description"),
    "base_url": ({**REST, "testnet": False}, lambda p: f"https://x.example/{p}", "base_url"),
    "testnet_url": (REST, lambda p: f"https://t.example/{p}", "testnet_url"),
    "ws_url": ({**REST, "testnet": False}, lambda p: f"wss://x.example/{p}", "ws_url"),
    "testnet_ws_url": (REST, lambda p: f"wss://t.example/{p}", "testnet_ws_url"),
    "key_header": (REST, lambda p: f"X-Key{p}", "key_header"),
    "signature_header": (REST, lambda p: f"X-Sig{p}", "signature_header"),
    "timestamp_header": (REST, lambda p: f"X-Ts{p}", "timestamp_header"),
    "class_name": (REST, lambda p: f"Evil{p}", "class_name"),
    "timeframes": ({}, lambda p: ["1m", f"1h{p}"], "timeframes"),
    "supported_pairs": ({}, lambda p: ["BTC/USDT", f"ETH/USDT{p}"], "supported_pairs"),
}
#: Values with quotes, braces and markup that are still valid answers: they must round-trip.
ACCEPTED = {
    "display_name": "O'Brien {{ 7 * 7 }} $HOME <b>&amp;",
    "key_header": "X-O'K`|~^",
    "base_url": "https://x.example/a%22b/$&+,;=:@~",
}

#: Prints, per broker, the values as the runtime sees them.
READ_BACK = """
import json, sys
from pathlib import Path
from brokers.registry import broker_class
out = {}
for name in json.loads(sys.argv[1]):
    klass = broker_class(name)
    config = json.loads(Path(f"config/brokers/{name}.json").read_text())
    values = {k: getattr(klass, k, None) for k in (
        "base_url", "testnet_url", "ws_url", "testnet_ws_url",
        "key_header", "signature_header", "timestamp_header")}
    values["timeframes"] = list(getattr(klass, "timeframes", ()) or ())
    values["class_name"] = klass.__name__
    values["description"] = config["description"]
    values["supported_pairs"] = config["supported_pairs"]
    out[name] = values
print(json.dumps(out))
"""


def cases() -> list[tuple[str, str, object]]:
    found = [
        (q, f"p{i}", make(p))
        for q, (_, make, _) in QUESTIONS.items()
        for i, p in enumerate(PAYLOADS)
    ]
    return found + [(q, "ok", v) for q, v in ACCEPTED.items()]


def render_every_case(path: Path) -> None:
    """Every case generated into one project, ``path/project``, and what became of each in
    ``path/outcome.json``: the broker each accepted case became, the message of each refusal.

    Questions only a ccxt broker renders (timeframes) go to ccxt exchange ids, one each.
    """
    import ccxt

    project = make_project(path / "project")
    exchange_ids = iter(sorted(ccxt.exchanges))
    accepted: dict[str, tuple[str, object]] = {}
    refused: list[tuple[str, str, str]] = []
    for index, (question, label, value) in enumerate(cases()):
        base = QUESTIONS[question][0]
        name = next(exchange_ids) if "integration" not in base else f"hostile{index}"
        try:
            generate(name, project, data={**base, question: value})
        except UsageError as exc:
            refused.append((question, label, str(exc)))
            continue
        accepted[name] = (question, value)
    outcome = {"accepted": accepted, "refused": refused}
    (path / "outcome.json").write_text(json.dumps(outcome), encoding="utf-8")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    """(project, accepted, refused messages) of :func:`render_every_case`, rendered once per
    run for every xdist worker (102 renders): the tests here only read the project."""
    path = built_once_per_run(tmp_path_factory, "hostile-answers", render_every_case)
    outcome = json.loads((path / "outcome.json").read_text(encoding="utf-8"))
    accepted = {name: (question, value) for name, (question, value) in outcome["accepted"].items()}
    refused = {(question, label): message for question, label, message in outcome["refused"]}
    return path / "project", accepted, refused


def test_every_refusal_names_the_question(rendered):
    _, _, refused = rendered
    assert refused, "nothing hostile was refused"
    for (question, _), message in refused.items():
        assert f"'{question}'" in message, message


def test_values_that_break_out_of_a_literal_are_refused(rendered):
    _, accepted, refused = rendered
    for question in QUESTIONS:
        if question in ("display_name",):
            continue
        # a double quote leaves a Python string: never accepted for a URL, header or name
        assert (question, "p0") in refused, (question, accepted)
    assert ("display_name", "p0") in refused and ("display_name", "p2") in refused
    assert ("display_name", "p4") in refused  # a trailing backslash would escape the quote
    assert ("display_name", "p7") in refused  # ${HOME} would be read as a variable
    for question in QUESTIONS:  # a trailing newline: "$" alone would let it through
        assert (question, "p6") in refused, question


def test_nothing_ran_and_what_was_accepted_round_trips(rendered):
    project, accepted, _ = rendered
    assert {q for q, _ in accepted.values()} >= set(ACCEPTED), accepted
    names = sorted(accepted)
    before = listing(project)
    seen = json.loads(run_python(project, READ_BACK, json.dumps(names), env=canary_env(project)))
    assert listing(project) == before  # read-only: every worker shares the project
    for name, (question, value) in accepted.items():
        where = QUESTIONS[question][2]
        shown = seen[name][where]
        if question == "display_name":
            assert shown.startswith(f"{value} ("), (name, shown)
        else:
            assert shown == value, (name, question, shown)
    assert not (project / MARKER).exists(), "an answer ran as code"


def test_the_generated_tests_of_the_accepted_answers_pass_and_run_nothing(rendered):
    project, _, _ = rendered
    before = listing(project)
    result = run_pytest(project, "tests/brokers")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert listing(project) == before  # read-only: every worker shares the project
    assert not (project / MARKER).exists(), "an answer ran as code"


def test_the_issue_example_exits_2_naming_base_url_and_writes_nothing(tmp_path, monkeypatch):
    project = make_project(tmp_path / "project")
    monkeypatch.chdir(project)
    before = listing(project)
    hostile = 'base_url=https://x.com/" + str(__import__("os").getpid()) + "'
    result = CliRunner().invoke(
        main, ["new", "myex", "--defaults", "--data", "integration=rest", "--data", hostile]
    )
    assert result.exit_code == 2, result.output
    assert "base_url" in result.output and "Traceback" not in result.output
    assert listing(project) == before


@pytest.mark.parametrize("question", ["display_name", "key_header"])
def test_a_quote_in_a_name_or_header_exits_2_naming_it(tmp_path, monkeypatch, question):
    project = make_project(tmp_path / "project")
    monkeypatch.chdir(project)
    before = listing(project)
    result = CliRunner().invoke(
        main,
        ["new", "myex", "--defaults", "--data", "integration=rest", "--data", f'{question}=a"b'],
    )
    assert result.exit_code == 2, result.output
    assert question in result.output and "Traceback" not in result.output
    assert listing(project) == before
