"""Guard specs: RAIL (XML) and YAML.

RAIL, in every form guardrails-ai users have written::

    <rail version="0.1">
    <output>
      <string name="response" validators="no_toxic_language; no_pii" on-fail-no_pii="fix" />
    </output>
    </rail>

- ``validators=`` (current) or ``format=`` (before late 2023), separated by ``;``;
- on-fail per validator as ``on-fail-<name>="..."``, where ``<name>`` may be any alias
  (``on-fail-toxic-language``, ``on-fail-no_toxic_language``);
- validator arguments after a colon: ``valid-length: 1 280``, ``regex_match: ^[A-Z]``,
  ``toxicity: threshold=0.8``;
- ``<output validators=... />`` directly, and an ``<input>`` element (an alignkit addition) for prompt
  validators; ``<prompt>`` text is kept as the prompt template.

YAML::

    name: support-bot
    settings: {max_reasks: 1, refusal_message: "I can't help with that."}
    input:
      - jailbreak
      - {validator: prompt_injection, on_fail: exception}
    output:
      - {validator: toxicity, threshold: 0.8, on_fail: fix}
      - {validator: pii, entities: [EMAIL, PHONE], on_fail: fix}

Unknown validators, actions or keys are errors that say where (YAML line numbers) and what is known.
"""

from __future__ import annotations

import ast
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import yaml

from alignkit.core.errors import ConfigError
from alignkit.detectors.base import detectors
from alignkit.guard.guard import Guard
from alignkit.guard.validator import Validator

MAX_SPEC_BYTES = 1_000_000
# Positional arguments in "name: a b" RAIL syntax, by canonical detector name.
POSITIONAL: dict[str, tuple[str, ...]] = {
    "valid_length": ("min", "max"),
    "regex_match": ("regex",),
    "banned_words": ("words",),
    "competitors": ("words",),
    "toxicity": ("threshold",),
    "pii": ("entities",),
}
SETTINGS = {"max_reasks", "refusal_message", "escalation_message", "name", "prompt_template"}


def _read(spec: str | os.PathLike[str], kind: str, looks_inline: bool) -> tuple[str, str]:
    if looks_inline:
        text, where = str(spec), f"<{kind} string>"
    else:
        path = Path(spec)
        if not path.is_file():
            raise ConfigError(f"no {kind} file at {path} (pass the spec text itself, or a path to a file)")
        text, where = path.read_text(encoding="utf-8"), str(path)
    if len(text.encode()) > MAX_SPEC_BYTES:
        raise ConfigError(f"{where}: spec larger than {MAX_SPEC_BYTES} bytes")
    return text, where


# -- RAIL -------------------------------------------------------------------------------------------
def guard_from_rail(rail: str | os.PathLike[str], **kwargs: Any) -> Guard:
    inline = isinstance(rail, str) and rail.lstrip().startswith("<")
    text, where = _read(rail, "RAIL", inline)
    try:
        root = ET.fromstring(text)  # noqa: S314 (expat >= 2.4 refuses entity-expansion bombs; size capped above)
    except ET.ParseError as e:
        raise ConfigError(f"{where}: not valid RAIL XML: {e}") from None
    if root.tag != "rail":
        raise ConfigError(f"{where}: the root element must be <rail>, not <{root.tag}>")
    prompt = root.find("prompt")
    if prompt is not None and prompt.text and "prompt_template" not in kwargs:
        kwargs["prompt_template"] = prompt.text.strip()
    guard = Guard(**kwargs)
    found = False
    for rail_name in ("input", "output"):
        for section in root.findall(rail_name):
            for element in section.iter():  # the section itself first, then its descendants
                specs = element.get("validators") or element.get("format")
                if specs:
                    found = True
                    for v in _rail_validators(specs, element.attrib, rail_name, where):
                        guard.use(v)
    if not found:
        raise ConfigError(f"{where}: no validators= (or format=) attribute in <input> or <output>")
    return guard


def _rail_validators(specs: str, attrs: dict[str, str], on: str, where: str) -> list[Validator]:
    on_fail_by_name: dict[str, str] = {}
    for key, value in attrs.items():
        if key.startswith("on-fail-"):
            target = key.removeprefix("on-fail-")
            on_fail_by_name[_canonical(target, where)] = value
    out = []
    for raw in specs.split(";"):
        raw = raw.strip()
        if not raw:
            continue
        name, _, argtext = raw.partition(":")
        canon = _canonical(name.strip(), where)
        args = _rail_args(canon, argtext.strip(), where)
        action = on_fail_by_name.pop(canon, "fix")
        try:
            out.append(Validator(canon, on=on, on_fail=action, **args))  # type: ignore[arg-type]
        except ConfigError as e:
            raise _located(e, f"{where}: validator {raw!r}") from None
    if on_fail_by_name:
        raise ConfigError(f"{where}: on-fail given for validators not listed: {', '.join(on_fail_by_name)}")
    return out


def _canonical(name: str, where: str) -> str:
    candidates = (name, name.replace("-", "_"), name.replace("_", "-"))
    for c in candidates:
        if c in detectors:
            return detectors.resolve_name(c)
    try:
        return detectors.resolve_name(name)
    except ConfigError as e:
        raise _located(e, where) from None


def _located(e: ConfigError, where: str) -> ConfigError:
    """The same error (same type, for callers that catch UnknownPluginError) prefixed with where."""
    e.args = (f"{where}: {e.args[0] if e.args else e}", *e.args[1:])
    return e


def _rail_args(canon: str, argtext: str, where: str) -> dict[str, Any]:
    if not argtext:
        return {}
    if "=" in argtext and not argtext.startswith(("^", "(")):
        out = {}
        for part in argtext.split():
            key, sep, value = part.partition("=")
            if not sep:
                raise ConfigError(f"{where}: mix of positional and key=value arguments in {argtext!r}")
            out[key] = _literal(value)
        return out
    names = POSITIONAL.get(canon)
    if not names:
        raise ConfigError(f"{where}: {canon} takes key=value arguments, e.g. '{canon}: threshold=0.7'")
    if names == ("regex",):
        return {"regex": argtext}
    if names == ("words",) or names == ("entities",):
        items = [w.strip() for w in argtext.replace(",", " ").split() if w.strip()]
        return {names[0]: items}
    values = argtext.split()
    if len(values) > len(names):
        raise ConfigError(f"{where}: {canon} takes at most {len(names)} positional arguments ({', '.join(names)})")
    return {n: _literal(v) for n, v in zip(names, values, strict=False)}


def _literal(value: str) -> Any:
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


# -- YAML -------------------------------------------------------------------------------------------
class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping, for error messages."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = {str(k): v for k, v in loader.construct_mapping(node, deep=True).items()}
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def guard_from_yaml(spec: str | os.PathLike[str], **kwargs: Any) -> Guard:
    inline = isinstance(spec, str) and ("\n" in spec or ":" in spec) and Path(spec).suffix not in (".yaml", ".yml")
    text, where = _read(spec, "YAML", inline)
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 (_LineLoader is a SafeLoader)
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: a guard spec is a mapping with input:, output: and settings:")
    return guard_from_dict(data, where=where, **kwargs)


def guard_from_dict(data: dict[str, Any], *, where: str = "<spec>", **kwargs: Any) -> Guard:
    data = dict(data)
    data.pop("__line__", None)
    unknown = set(data) - {"input", "output", "settings", "name"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; a spec has name, settings, input, output")
    settings = dict(data.get("settings") or {})
    line = settings.pop("__line__", None)
    bad = set(settings) - SETTINGS
    if bad:
        raise ConfigError(f"{where}:{line}: unknown settings {sorted(bad)}; known: {', '.join(sorted(SETTINGS))}")
    if "name" in data:
        settings["name"] = data["name"]
    guard = Guard(**{**settings, **kwargs})
    for rail in ("input", "output"):
        items = data.get(rail) or []
        if not isinstance(items, list):
            raise ConfigError(f"{where}: {rail}: must be a list of validators")
        for item in items:
            guard.use(_yaml_validator(item, rail, where))
    if not guard.validators:
        raise ConfigError(f"{where}: the spec lists no validators under input: or output:")
    return guard


def _yaml_validator(item: Any, rail: str, where: str) -> Validator:
    if isinstance(item, str):
        name, args, line = item, {}, "?"
    elif isinstance(item, dict):
        args = dict(item)
        line = args.pop("__line__", "?")
        if "validator" in args or "name" in args:
            name = args.pop("validator", None) or args.pop("name")
        elif len(args) == 1:  # {toxicity: {threshold: 0.8}} form
            name, inner = next(iter(args.items()))
            args = dict(inner or {})
            args.pop("__line__", None)
        else:
            raise ConfigError(f"{where}:{line}: a validator needs 'validator: NAME'")
    else:
        raise ConfigError(f"{where}: {rail}: each validator is a name or a mapping, not {type(item).__name__}")
    on_fail = args.pop("on_fail", "fix")
    try:
        return Validator(str(name), on=rail, on_fail=on_fail, **args)  # type: ignore[arg-type]
    except ConfigError as e:
        raise _located(e, f"{where}:{line}") from None


def guard_from_file(path: str | os.PathLike[str], **kwargs: Any) -> Guard:
    suffix = Path(path).suffix.lower()
    if suffix in (".rail", ".xml"):
        return guard_from_rail(path, **kwargs)
    if suffix in (".yaml", ".yml"):
        return guard_from_yaml(path, **kwargs)
    raise ConfigError(f"{path}: guard specs are .rail/.xml (RAIL) or .yaml/.yml files")
