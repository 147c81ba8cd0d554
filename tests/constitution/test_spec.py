from __future__ import annotations

import random
from pathlib import Path

import pytest

from alignkit.constitution import Constitution, Principle, default_constitution, load_constitution, parse_constitution
from alignkit.core import ConfigError

GOOD = """\
name: mine
version: 2
metadata: {owner: me}
principles:
  - id: kind
    name: Be kind
    description: Speak gently.
    critique: ["Where is the answer unkind?", "Is anything harsh?"]
    revision: [Rewrite it kindly., Soften it.]
  - id: brief
    name: Be brief
    critique: Where is the answer long-winded?
    revision: Shorten it.
examples:
  - principle: kind
    prompt: Rate my poem.
    answer: It is awful.
    critique: Harsh.
    revision: It has a lovely rhythm; the ending could be stronger.
"""


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as e:
        parse_constitution(text, "my.yaml")
    return str(e.value)


def test_default_constitution_has_the_guides_five_principles() -> None:
    c = default_constitution()
    assert [p.id for p in c.principles] == ["hhh", "harm", "uncertainty", "privacy", "ai-transparency"]
    assert all(p.critique and p.revision and p.comparisons() and p.check_question() for p in c.principles)
    assert c.examples and all(e.principle in {p.id for p in c.principles} for e in c.examples)
    assert load_constitution("default") == c == load_constitution(None)
    assert parse_constitution(c.to_yaml()) == c  # what `cai show` prints loads back unchanged


def test_user_file_loads_with_phrasings_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(GOOD)
    c = load_constitution(path)
    assert (c.spec, c.metadata) == ("mine@2", {"owner": "me"})
    kind, brief = c.principles
    assert kind.critique == ("Where is the answer unkind?", "Is anything harsh?")
    assert brief.revision == ("Shorten it.",)
    assert brief.comparisons() == ("Which of these answers better follows the principle 'Be brief'?",)
    assert "Be kind" in kind.check_question() and "Speak gently" in kind.check_question()
    assert [e.principle for e in c.examples_for("kind")] == ["kind"] and c.examples_for("brief") == []
    assert c.select(["brief"]).principles == (brief,) and c.select(["brief"]).examples == ()


def test_paired_phrasings_are_drawn_together() -> None:
    p = Principle(id="x", name="X", critique=["c0", "c1", "c2"], revision=["r0", "r1", "r2"])
    for seed in range(20):
        crit, rev = p.draw_requests(random.Random(seed))
        assert crit[1] == rev[1]
    c = Constitution(principles=[p, p.model_copy(update={"id": "y", "weight": 1e-9})])
    assert {c.draw(random.Random(s)).id for s in range(50)} == {"x"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("    revision: Shorten it.", "    revison: Shorten it."),
            "my.yaml:13: principles[1].revison: unknown key; allowed: id, name",
        ),
        (
            GOOD.replace("    critique: Where is the answer long-winded?\n", ""),
            "my.yaml:10: principles[1].critique: required key is missing",
        ),
        (GOOD.replace("id: brief", "id: Brief Rule"), "my.yaml:10: principles[1].id: String should match pattern"),
        (
            GOOD.replace("revision: Shorten it.", "revision: Shorten it.\n    weight: -1"),
            "my.yaml:14: principles[1].weight: Input should be greater than 0",
        ),
        (GOOD.replace("id: brief", "id: kind"), "my.yaml:10: principles[1].id: duplicate principle id 'kind'"),
        (
            GOOD.replace("principle: kind", "principle: kindness"),
            "my.yaml:15: examples[0].principle: no principle 'kindness'",
        ),
        (
            GOOD.replace("    description: Speak gently.", "    description: Speak gently.\n    name: Again"),
            "my.yaml:8: key 'name' appears twice",
        ),
        (GOOD.replace("metadata: {owner: me}", "metadata: {owner: me"), "my.yaml:4: not valid YAML"),
        (GOOD + "colour: blue\n", "my.yaml:20: colour: unknown key; allowed: name, version"),
        ("principles: []\n", "my.yaml:1: principles: Tuple should have at least 1 item"),
        ("", "my.yaml: empty file"),
        ("- a list\n", "my.yaml:1: expected a mapping"),
    ],
)
def test_errors_name_the_line(text: str, expected: str) -> None:
    assert expected in error_of(text)


def test_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read constitution"):
        load_constitution(tmp_path / "nope.yaml")
