from __future__ import annotations

import pytest
from pydantic import ValidationError

from alignkit.core import ConfigError, GenerateConfig, Message, to_messages
from alignkit.core.messages import last_user_text


def test_string_prompt_becomes_one_user_message() -> None:
    assert to_messages("hi") == (Message("user", "hi"),)


def test_dicts_and_messages_mix() -> None:
    msgs = to_messages([{"role": "system", "content": "be brief"}, Message("user", "hi")])
    assert [m.role for m in msgs] == ["system", "user"]
    assert msgs[0].to_dict() == {"role": "system", "content": "be brief"}


@pytest.mark.parametrize(
    ("prompt", "fragment"),
    [
        ([], "at least one message"),
        ([{"role": "user"}], "'content' is missing"),
        ([{"role": "robot", "content": "x"}], "role must be one of"),
        (42, "must be a string"),
        ([42], "each message must be"),
    ],
)
def test_bad_prompts_say_what_is_wrong(prompt: object, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        to_messages(prompt)  # type: ignore[arg-type]


def test_last_user_text() -> None:
    msgs = to_messages([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    assert last_user_text(msgs) == "a"
    assert last_user_text(to_messages([{"role": "system", "content": "s"}])) == ""


def test_merge_overrides_only_explicit_fields() -> None:
    base = GenerateConfig(temperature=0.7, max_tokens=100)
    merged = base.merge(GenerateConfig(max_tokens=10))
    assert merged.temperature == 0.7
    assert merged.max_tokens == 10
    # None overrides (flags not given) keep configured values
    assert base.merge(temperature=None, seed=3) == GenerateConfig(temperature=0.7, max_tokens=100, seed=3)
    # explicit fields in `other` win even when equal to the default
    assert base.merge(GenerateConfig(temperature=0.0)).temperature == 0.0


def test_config_validation() -> None:
    assert GenerateConfig(stop="END").stop == ("END",)
    assert GenerateConfig().greedy and GenerateConfig(temperature=0).greedy
    assert not GenerateConfig(temperature=0.5).greedy
    with pytest.raises(ValidationError):
        GenerateConfig(temperature=-1)
    with pytest.raises(ValidationError):
        GenerateConfig(max_tokens=0)
    with pytest.raises(ValidationError):
        GenerateConfig(stop=[""])
    with pytest.raises(ValidationError, match="Extra inputs"):
        GenerateConfig(temprature=0.3)  # type: ignore[call-arg]


def test_every_config_field_documents_its_default() -> None:
    for name, field in GenerateConfig.model_fields.items():
        assert field.description and len(field.description) > 20, name
