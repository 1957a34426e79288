"""``scaffolder.fs.load_yaml``: what ``yaml.safe_load`` gives, by libyaml where PyYAML has it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scaffolder.fs import load_yaml

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    [*(ROOT / "cassettes").rglob("*.yaml"), *(ROOT / "brokers").rglob(".copier-answers.yml")]
)


def test_there_are_cassettes_and_answers_files_to_compare() -> None:
    assert any(p.suffix == ".yaml" for p in FILES) and any(p.suffix == ".yml" for p in FILES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_committed_yaml_file_loads_to_what_safe_load_gives(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert load_yaml(text) == yaml.safe_load(text)


@pytest.mark.parametrize(
    "text",
    ["key: [unclosed", "a: b: c", "!!python/object:os.system {}", "- x\n y: z"],
)
def test_bad_or_unsafe_yaml_raises_what_safe_load_raises(text: str) -> None:
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(text)
    with pytest.raises(yaml.YAMLError):
        load_yaml(text)


def test_libyaml_does_the_parsing_where_pyyaml_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    if not yaml.__with_libyaml__:
        pytest.skip("this PyYAML was built without libyaml")
    used = []

    class Spy(yaml.CSafeLoader):
        def __init__(self, stream: str) -> None:
            used.append(stream)
            super().__init__(stream)

    monkeypatch.setattr(yaml, "CSafeLoader", Spy)
    assert load_yaml("a: 1") == {"a": 1}
    assert used == ["a: 1"]
