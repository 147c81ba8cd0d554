"""Fuzz suite over guard specs: every registered detector's arguments (and threshold and settings) given
the wrong type in YAML and in RAIL files, and spec files of random bytes, Unicode tricks and deep
nesting. Every case builds a guard or raises a :class:`ConfigError` that names the file, the line and,
for a wrong argument, the field (``output[0].min``): never another exception.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from alignkit.core.errors import ConfigError
from alignkit.detectors import detectors
from alignkit.detectors.arguments import signature
from alignkit.guard import Guard, GuardConfig

SEED = 20261212
# name -> values a YAML file and a RAIL attribute spell, for each wrong type
BAD_VALUES = {
    "text": ("banana", "banana"),
    "int": ("3", "3"),
    "negative": ("-1.5", "-1.5"),
    "list": ("[1, 2]", "[1,2]"),
    "mapping": ("{a: 1}", "{'a':1}"),
    "null": ("null", "None"),
}
HEAVY = ("hf_classifier", "llm_judge")  # need a model folder or a model: their model argument is its own test
ARGUMENTS = [
    (name, param)
    for name in detectors.names()
    if not name.endswith(("_encoder", "_cascade")) and name not in HEAVY
    for param in (*signature(name).parameters, "threshold")
]


def _example(name: str) -> dict[str, object]:
    return dict(detectors.entry(name).example or {})


def _yaml_value(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value).replace("'", "")


def build_error(path: Path) -> str | None:
    """The error building a guard from ``path`` raised (None: it built)."""
    try:
        Guard.from_file(path)
    except ConfigError as e:
        return str(e)
    return None


def _check(path: Path, line: int, field: str) -> None:
    """The spec builds, or its error names the file, the line and the field."""
    message = build_error(path)
    assert message is None or (message.startswith(f"{path}:{line}: output[0]") and field in message), message


@pytest.mark.parametrize("kind", BAD_VALUES)
@pytest.mark.parametrize(("name", "param"), ARGUMENTS)
def test_a_wrongly_typed_argument_in_yaml_names_file_line_and_field(
    tmp_path: Path, name: str, param: str, kind: str
) -> None:
    others = ", ".join(f"{k}: {_yaml_value(v)}" for k, v in _example(name).items() if k != param)
    path = tmp_path / "guard.yaml"
    path.write_text(
        f"name: fuzz\noutput:\n  - {{validator: {name}, {param}: {BAD_VALUES[kind][0]}{', ' + others if others else ''}}}\n"
    )
    _check(path, 3, param)


@pytest.mark.parametrize("kind", BAD_VALUES)
@pytest.mark.parametrize(("name", "param"), ARGUMENTS)
def test_a_wrongly_typed_argument_in_rail_names_file_line_and_field(
    tmp_path: Path, name: str, param: str, kind: str
) -> None:
    others = " ".join(f"{k}={v!r}".replace(" ", "") for k, v in _example(name).items() if k != param)
    path = tmp_path / "guard.rail"
    path.write_text(
        f'<rail version="0.1">\n<output>\n<string name="r"\n validators="{name}: {param}={BAD_VALUES[kind][1]} {others}"/>'
        "\n</output>\n</rail>\n"
    )
    _check(path, 3, param)  # the line where the element starts


@pytest.mark.parametrize("value", ["5", "banana", "[1, 2]", "null"])
def test_wrongly_typed_settings_name_the_field(tmp_path: Path, value: str) -> None:
    path = tmp_path / "guard.yaml"
    path.write_text(f"settings: {value}\noutput:\n  - valid_json\n")
    message = build_error(path)
    assert message is None or message.startswith(f"{path}:1: settings"), message
    for setting in GuardConfig.model_fields:
        path.write_text(f"settings:\n  {setting}: {{a: [1]}}\noutput:\n  - valid_json\n")
        with pytest.raises(ConfigError, match=rf"^{path}:2: settings\.{setting}: "):
            Guard.from_file(path)


def _spec_texts(rng: random.Random) -> list[bytes]:
    valid = b"output:\n  - {validator: pii, on_fail: fix}\n"
    rail = b'<rail version="0.1"><output><string name="r" validators="pii"/></output></rail>'
    out = [rng.randbytes(rng.randint(0, 400)) for _ in range(20)]
    for base in (valid, rail):
        for _ in range(10):  # flip, drop or insert a few bytes of a valid spec
            data = bytearray(base)
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(data))
                data[i : i + rng.randint(0, 2)] = rng.randbytes(rng.randint(0, 2))
            out.append(bytes(data))
    out += [
        b"output: " + b"[" * 3_000 + b"]" * 3_000,
        b"a: &a [*a]\noutput: *a\n",
        b"output:\n  - \xff\xfe valid_json\n",
        "output:\n  - valid_json\u202e\u200b\n".encode(),
        b"<rail>" + b"<a>" * 3_000 + b"</a>" * 3_000 + b"</rail>",
        b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><rail><output validators="&b;"/></rail>',
        b"\x00" * 100,
    ]
    return out


@pytest.mark.parametrize("suffix", [".yaml", ".rail"])
def test_random_spec_files_build_or_say_where_they_fail(tmp_path: Path, suffix: str) -> None:
    rng = random.Random(SEED)
    path = tmp_path / f"guard{suffix}"
    for i, data in enumerate(_spec_texts(rng)):
        path.write_bytes(data)
        message = build_error(path)
        assert message is None or message.startswith(str(path)), f"case {i} (seed {SEED}): {message}"


def test_inline_specs_with_lone_surrogates_and_odd_names() -> None:
    for spec in ("output:\n  - \udc80\n", "{" * 3_000, "\x00\x01", "x" * 5_000):
        with pytest.raises(ConfigError):
            Guard.from_yaml(spec)
    with pytest.raises(ConfigError, match="not valid RAIL XML"):
        Guard.from_rail('<rail><output validators="valid_json"/>\udc80</rail>')
