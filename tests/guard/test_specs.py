"""Every spec form: RAIL (validators=, format=, on-fail-*, arguments, input, prompt), YAML, Python."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignkit.core import ConfigError, UnknownPluginError
from alignkit.guard import Guard, GuardValidationError
from alignkit.providers.mock import MockModel


def names(g: Guard) -> list[tuple[str, str, str]]:
    return [(v.name, v.on, v.action_name) for v in g.validators]


def test_rail_0_1_validators_attribute_with_on_fail() -> None:
    g = Guard.from_rail("""
<rail version="0.1">
<output>
<string name="response" validators="valid-length: 1 20; regex_match: ^[A-Z]" on-fail-valid-length="exception" />
</output>
</rail>""")
    assert names(g) == [("valid_length", "output", "exception"), ("regex_match", "output", "fix")]
    assert g.validators[0].detector.args == {"min": 1, "max": 20}


def test_old_format_attribute_and_guardrails_hyphen_names() -> None:
    g = Guard.from_rail("""<rail version="0.1"><output>
        <string name="r" format="ban-list: darn heck; valid_json" on-fail-ban-list="refrain"/></output></rail>""")
    assert names(g) == [("banned_words", "output", "refrain"), ("valid_json", "output", "fix")]


def test_current_form_output_element_input_and_prompt() -> None:
    g = Guard.from_rail("""<rail version="0.1">
<input validators="banned_words: secretword" on-fail-banned_words="exception"/>
<output type="string" validators="refusal: threshold=0.9" on-fail-refusal="noop"/>
<prompt>Say hello</prompt>
</rail>""")
    assert names(g) == [("banned_words", "input", "exception"), ("refusal", "output", "noop")]
    assert g.validators[1].detector.threshold == 0.9
    assert g(MockModel("echo")).text == "Say hello"  # the <prompt> is the default prompt
    with pytest.raises(GuardValidationError):
        g(MockModel("echo"), "the secretword is")


def test_rail_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "g.rail"
    path.write_text('<rail version="0.1"><output><string name="r" validators="valid_json"/></output></rail>')
    assert names(Guard.from_rail(path)) == [("valid_json", "output", "fix")]
    assert names(Guard.from_file(str(path))) == [("valid_json", "output", "fix")]


def test_rail_errors_say_what_is_wrong() -> None:
    with pytest.raises(UnknownPluginError, match=r"unknown detector 'no_such_check'.*Known detectors"):
        Guard.from_rail('<rail version="0.1"><output><string validators="no_such_check"/></output></rail>')
    with pytest.raises(ConfigError, match="not valid RAIL XML"):
        Guard.from_rail("<rail><output>")
    with pytest.raises(ConfigError, match="no validators="):
        Guard.from_rail('<rail version="0.1"><output><string name="r"/></output></rail>')
    with pytest.raises(ConfigError, match="on-fail given for validators not listed"):
        Guard.from_rail('<rail><output><string validators="valid_json" on-fail-refusal="noop"/></output></rail>')
    with pytest.raises(ConfigError, match="unknown on_fail action"):
        Guard.from_rail('<rail><output><string validators="valid_json" on-fail-valid_json="explode"/></output></rail>')
    with pytest.raises(ConfigError, match="no RAIL file"):
        Guard.from_rail("does/not/exist.rail")


def test_rail_refuses_entity_expansion_bombs() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
        + ']><rail><output><string validators="&i;"/></output></rail>'
    )
    with pytest.raises(ConfigError):
        Guard.from_rail(bomb)


def test_yaml_forms(tmp_path: Path) -> None:
    spec = """
name: support-bot
settings:
  max_reasks: 2
  refusal_message: "No."
input:
  - {validator: banned_words, words: [secretword], on_fail: exception}
output:
  - valid_json
  - refusal: {threshold: 0.8, on_fail: noop}
"""
    g = Guard.from_yaml(spec)
    assert g.name == "support-bot" and g.max_reasks == 2 and g.refusal_message == "No."
    assert names(g) == [
        ("banned_words", "input", "exception"),
        ("valid_json", "output", "fix"),
        ("refusal", "output", "noop"),
    ]
    path = tmp_path / "guard.yaml"
    path.write_text(spec)
    assert names(Guard.from_file(path)) == names(g)


def test_yaml_errors_point_at_the_line() -> None:
    with pytest.raises(UnknownPluginError, match="toxicty"):
        Guard.from_yaml("output:\n  - valid_json\n  - {validator: toxicty}\n")
    with pytest.raises(ConfigError, match=r"<YAML string>:3: .*unknown argument\(s\): thresold"):
        Guard.from_yaml("output:\n  - valid_json\n  - {validator: refusal, thresold: 0.3}\n")
    with pytest.raises(ConfigError, match="unknown settings"):
        Guard.from_yaml("settings: {max_reask: 1}\noutput: [valid_json]\n")
    with pytest.raises(ConfigError, match="unknown keys"):
        Guard.from_yaml("outputs: [valid_json]\n")
    with pytest.raises(ConfigError, match="lists no validators"):
        Guard.from_yaml("name: empty\n")


def test_python_form_and_validator_objects() -> None:
    from alignkit.detectors.rules import ValidLength
    from alignkit.guard import Validator

    g = Guard().use(Validator("valid_json", on_fail="noop")).use(ValidLength(max=3), on_fail="fix")
    g.use("banned_words", on="input", words=["x"], on_fail="refrain")
    assert names(g) == [
        ("valid_json", "output", "noop"),
        ("valid_length", "output", "fix"),
        ("banned_words", "input", "refrain"),
    ]
    assert g.describe()["validators"][1] == {
        "detector": "valid_length(max=3)",
        "on": "output",
        "on_fail": "fix",
    }
