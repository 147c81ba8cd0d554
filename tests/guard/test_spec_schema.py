"""One GuardSpec behind RAIL, YAML and Python: same guard, same spec; errors name file, line and field;
a detector registered in a test is usable from every format with no other edit."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import alignkit.guard
from alignkit.core import ConfigError, UnknownPluginError
from alignkit.detectors.base import Detector, Finding, detector, detectors
from alignkit.guard import DEFAULT_REFUSAL, Guard, GuardConfig, GuardSpec, ValidatorSpec
from alignkit.guard.spec_rail import parse_rail
from alignkit.guard.spec_yaml import parse_yaml

RAIL = """<rail version="0.1">
<input validators="jailbreak" on-fail-jailbreak="refrain"/>
<output>
  <string name="r" validators="valid-length: 1 280; ban-list: darn, heck; toxicity: 0.8; regex_match: ^[A-Z]"
          on-fail-banned_words="filter" on-fail-toxic-language="exception"/>
</output>
<prompt>Say hello</prompt>
</rail>"""

YAML = """
settings: {prompt_template: Say hello}
input:
  - {validator: jailbreak, on_fail: refrain}
output:
  - valid_length: {min: 1, max: 280}
  - {validator: banned, words: [darn, heck], on_fail: filter}
  - {validator: no_toxic_language, threshold: 0.8, on_fail: exception}
  - {name: regex, regex: "^[A-Z]"}
"""

PYTHON = {
    "settings": {"prompt_template": "Say hello"},
    "input": [{"validator": "jailbreak", "on_fail": "refrain"}],
    "output": [
        {"validator": "valid_length", "args": {"min": 1, "max": 280}},
        {"validator": "banned_words", "on_fail": "filter", "args": {"words": ["darn", "heck"]}},
        {"validator": "toxicity", "on_fail": "exception", "threshold": 0.8},
        {"validator": "regex_match", "regex": "^[A-Z]"},
    ],
}

MODELS = GuardSpec(
    settings=GuardConfig(prompt_template="Say hello"),
    input=[ValidatorSpec(validator="jailbreak", on_fail="refrain")],
    output=[
        ValidatorSpec(validator="valid_length", args={"min": 1, "max": 280}),
        ValidatorSpec(validator="banned_words", on_fail="filter", args={"words": ["darn", "heck"]}),
        ValidatorSpec(validator="toxicity", on_fail="exception", threshold=0.8),
        ValidatorSpec(validator="regex_match", args={"regex": "^[A-Z]"}),
    ],
)


def test_rail_yaml_and_python_parse_to_equal_specs() -> None:
    rail, _ = parse_rail(RAIL)
    yml, _ = parse_yaml(YAML)
    assert rail == yml == GuardSpec.model_validate(PYTHON) == MODELS
    assert GuardSpec.model_validate(MODELS.model_dump()) == MODELS  # the canonical dict round-trips


def test_every_format_builds_the_same_guard() -> None:
    guards = [Guard.from_rail(RAIL), Guard.from_yaml(YAML), Guard.from_spec(PYTHON), Guard.from_spec(MODELS)]
    described = [g.describe() for g in guards]
    assert all(d == described[0] for d in described)
    assert described[0]["validators"][1]["detector"] == "valid_length(max=280, min=1)"
    assert all(g.prompt_template == "Say hello" and g.validators[3].detector.threshold == 0.8 for g in guards)


# -- errors name the file, the line and the field -------------------------------------------------------
YAML_ERRORS = [
    # an unknown field: at the top, in settings, and as a detector argument
    ("name: x\noutputs: [valid_json]\n", ConfigError, r":2: outputs: unknown keys \['outputs'\]"),
    ("settings:\n  max_reask: 1\noutput: [valid_json]\n", ConfigError, r":2: settings\.max_reask: unknown settings"),
    (
        "output:\n  - valid_json\n  - validator: refusal\n    on_fail: noop\n    thresold: 0.3\n",
        ConfigError,
        r":5: output\[1\]\.thresold: unknown argument\(s\): thresold; refusal takes threshold",
    ),
    # an unknown validator
    (
        "output:\n  - valid_json\n  - {validator: toxicty}\n",
        UnknownPluginError,
        r":3: output\[1\]\.validator: .*'toxicity'",
    ),
    # a bad argument type, and a threshold out of range
    (
        "output:\n  - validator: valid_length\n    min: 1\n    max: abc\n",
        ConfigError,
        r":4: output\[0\]\.max: Input should be a valid integer: got 'abc', and max takes int \| None",
    ),
    ("output:\n  - refusal:\n      threshold: 1.5\n", ConfigError, r":3: output\[0\]\.threshold: .*number in \[0, 1\]"),
    # an unknown action, and an action on the wrong rail
    (
        "input:\n  - jailbreak\n  - {validator: pii, on_fail: explode}\n",
        ConfigError,
        r":3: input\[1\]\.on_fail: unknown",
    ),
    ("input:\n  - {validator: pii, on_fail: reask}\n", ConfigError, r":2: input\[0\]\.on_fail: 'reask' .* output"),
]


@pytest.mark.parametrize(("text", "error", "pattern"), YAML_ERRORS)
def test_yaml_errors_name_file_line_and_field(tmp_path: Path, text: str, error: type[Exception], pattern: str) -> None:
    path = tmp_path / "guard.yaml"
    path.write_text(text)
    with pytest.raises(error, match=re.escape(str(path)) + pattern):
        Guard.from_file(path)


RAIL_ERRORS = [
    ('validators="refusal: thresold=0.3"', ConfigError, r":3: output\[0\]\.thresold: unknown argument"),
    ('validators="valid_json; nope"', UnknownPluginError, r":3: validator 'nope': unknown detector 'nope'"),
    ('validators="valid-length: a b"', ConfigError, r":3: output\[0\]\.min: Input should be a valid integer"),
    (
        'validators="valid_json" on-fail-valid_json="explode"',
        ConfigError,
        r":3: output\[0\]\.on_fail \(on-fail-valid_json\): unknown",
    ),
]


@pytest.mark.parametrize(("attrs", "error", "pattern"), RAIL_ERRORS)
def test_rail_errors_name_file_line_and_field(tmp_path: Path, attrs: str, error: type[Exception], pattern: str) -> None:
    path = tmp_path / "guard.rail"
    path.write_text(f'<rail version="0.1">\n<output>\n  <string name="r" {attrs}/>\n</output>\n</rail>\n')
    with pytest.raises(error, match=re.escape(str(path)) + pattern):
        Guard.from_file(path)


def test_python_spec_errors_name_the_field_and_how_to_fix() -> None:
    with pytest.raises(ConfigError, match=r"<spec>: output\[0\]\.entities: .*takes Iterable\[str\] \| str \| None"):
        Guard.from_spec({"output": [{"validator": "pii", "entities": 3}]})
    with pytest.raises(ConfigError, match=r"<spec>: output: expected a list, got str \(write a list: \[pii\]\)"):
        Guard.from_spec({"output": "pii"})
    with pytest.raises(
        ConfigError, match=r"<spec>: output\[0\]\.colour: unknown argument\(s\): colour; pii takes entities"
    ):
        Guard.from_spec({"output": [{"validator": "pii", "colour": "red"}]})


def test_errors_from_building_a_detector_still_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text("output:\n  - valid_json\n  - {validator: toxicity, threshold: loose}\n")
    at = f"{path}:3: output[1].threshold: toxicity: unknown operating point 'loose'"
    with pytest.raises(ConfigError, match=re.escape(at)):
        Guard.from_yaml(path)
    path.write_text("output:\n  - valid_json\n  - {validator: regex_match, regex: '('}\n")
    with pytest.raises(ConfigError, match=re.escape(f"{path}:3: output[1]: regex_match: invalid pattern")):
        Guard.from_yaml(path)


# -- registration is the only step --------------------------------------------------------------------
@pytest.fixture
def min_words(monkeypatch: pytest.MonkeyPatch) -> str:
    """A detector registered by this test only (the registry is restored afterwards)."""
    detectors.names()  # load the built-ins, then let the test's registration go into a throwaway copy
    monkeypatch.setattr(detectors, "_entries", dict(detectors._entries))
    monkeypatch.setattr(detectors, "_aliases", dict(detectors._aliases))

    @detector("min_words", aliases=("min-words-check",))
    class MinWords(Detector):
        """Flags answers shorter than ``count`` words."""

        name = "min_words"

        def __init__(self, count: int = 3, *, threshold: float | None = None) -> None:
            super().__init__(threshold=threshold, count=count)
            self.count = count

        def find(self, text: str) -> Finding:
            return Finding(1.0 if len(text.split()) < self.count else 0.0, label="too_short")

    return "min_words"


def test_a_newly_registered_detector_takes_rail_positional_arguments(min_words: str) -> None:
    g = Guard.from_rail(
        '<rail version="0.1"><output><string validators="min-words-check: 5" on-fail-min_words="refrain"/></output></rail>'
    )
    assert g.validators[0].detector.args == {"count": 5}
    assert g.validate("too short").text == DEFAULT_REFUSAL
    assert g.validate("this answer is long enough").passed
    yml = Guard.from_yaml("output:\n  - {validator: min_words, count: 5, on_fail: refrain}\n")
    python = Guard().use(min_words, count=5, on_fail="refrain")
    assert g.describe() == yml.describe() == python.describe()
    with pytest.raises(ConfigError, match=r":1: output\[0\]\.count: .*got 'five', and count takes int"):
        Guard.from_rail('<rail><output><string validators="min_words: five"/></output></rail>')
    with pytest.raises(ConfigError, match=r"at most 1 positional argument\(s\) \(count\)"):
        Guard.from_rail('<rail><output><string validators="min_words: 5 6"/></output></rail>')


def test_a_detector_without_positional_parameters_takes_its_threshold_by_position() -> None:
    g = Guard.from_rail('<rail><output><string validators="refusal: 0.9; toxicity: high_recall"/></output></rail>')
    assert g.validators[0].detector.threshold == 0.9
    assert g.validators[1].detector.args == {"threshold": "high_recall"}


# -- the package's shape ------------------------------------------------------------------------------
def test_guard_py_imports_none_of_the_modules_built_on_it() -> None:
    src = Path(alignkit.guard.__file__).parent
    imported = {
        node.module
        for node in ast.walk(ast.parse((src / "guard.py").read_text()))
        if isinstance(node, ast.ImportFrom) and node.module
    }
    above = {f"alignkit.guard.{m}" for m in ("api", "spec", "spec_rail", "spec_yaml", "stream", "model")}
    assert not imported & above


def test_the_guard_package_does_not_re_export_provider_helpers() -> None:
    assert not {"as_model", "CallableModel"} & set(dir(alignkit.guard))
