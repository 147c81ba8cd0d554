"""RAIL guard specs (guardrails-ai's XML), in every form its users have written::

    <rail version="0.1">
    <output>
      <string name="response" validators="no_toxic_language; no_pii" on-fail-no_pii="fix" />
    </output>
    </rail>

- ``validators=`` (current) or ``format=`` (before late 2023), separated by ``;``;
- on-fail per validator as ``on-fail-<name>="..."``, where ``<name>`` may be any alias
  (``on-fail-toxic-language``, ``on-fail-no_toxic_language``);
- validator arguments after a colon, by position (``valid-length: 1 280``, ``regex_match: ^[A-Z]``,
  ``banned_words: darn, heck``, ``toxicity: 0.8``) or by name (``toxicity: threshold=0.8``); the
  positions are the detector factory's positional parameters (threshold where it has none), so a newly
  registered detector takes positional arguments with no edit here;
- ``<output validators=... />`` directly, and an ``<input>`` element (an alignkit addition) for prompt
  validators; ``<prompt>`` text is kept as the prompt template.

Every form becomes the same :class:`~alignkit.guard.spec.GuardSpec`; errors name the element's line.
"""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET
from typing import Any
from xml.parsers import expat

from alignkit.core.errors import ConfigError, UnknownPluginError
from alignkit.detectors.arguments import canonical_name, signature
from alignkit.guard.spec import GuardSpec, Loc, Source, field_path, located, parse_spec

_KEYWORD = re.compile(r"^[A-Za-z_]\w*=")


def parse_rail(text: str, where: str = "<RAIL string>") -> tuple[GuardSpec, Source]:
    """The spec in the RAIL ``text`` and where each validator came from; errors name ``where`` and the line."""
    root, line_of = _parse_xml(text, where)
    if root.tag != "rail":
        raise ConfigError(f"{where}: the root element must be <rail>, not <{root.tag}>")
    data: dict[str, Any] = {"input": [], "output": []}
    lines: dict[Loc, int] = {}
    labels: dict[Loc, str] = {}
    prompt = root.find("prompt")
    if prompt is not None and prompt.text:
        data["settings"] = {"prompt_template": prompt.text.strip()}
        lines[("settings",)] = lines[("settings", "prompt_template")] = line_of[id(prompt)]
    for rail in ("input", "output"):
        for section in root.findall(rail):
            for element in section.iter():  # the section itself first, then its descendants
                specs = element.get("validators") or element.get("format")
                if not specs:
                    continue
                at = f"{where}:{line_of[id(element)]}"
                for entry, on_fail_attr in _validators(specs, element.attrib, at):
                    loc = (rail, len(data[rail]))
                    data[rail].append(entry)
                    lines[loc] = line_of[id(element)]
                    if on_fail_attr:
                        labels[(*loc, "on_fail")] = f"{field_path((*loc, 'on_fail'))} ({on_fail_attr})"
    if not data["input"] and not data["output"]:
        raise ConfigError(f"{where}: no validators= (or format=) attribute in <input> or <output>; add one")
    source = Source(where, lines, labels)
    return parse_spec(data, source), source


def _parse_xml(text: str, where: str) -> tuple[ET.Element, dict[int, int]]:
    """The element tree and the line each element starts on (by ``id`` of the element).

    expat >= 2.4 refuses entity-expansion bombs; the text's size is capped by the reader."""
    builder, line_of = ET.TreeBuilder(), {}
    parser = expat.ParserCreate()

    def start(tag: str, attrs: dict[str, str]) -> None:
        line_of[id(builder.start(tag, attrs))] = parser.CurrentLineNumber

    parser.StartElementHandler = start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(text, True)
        root = builder.close()
    except (expat.ExpatError, AssertionError) as e:  # TreeBuilder asserts on an unclosed document
        raise ConfigError(f"{where}: not valid RAIL XML: {e}") from None
    except UnicodeEncodeError as e:  # a lone surrogate in a str spec (bytes that were never UTF-8)
        line = text.count("\n", 0, e.start) + 1
        raise ConfigError(f"{where}:{line}: not valid RAIL XML: a character that is not text ({e.reason})") from None
    return root, line_of


def _validators(specs: str, attrs: dict[str, str], at: str) -> list[tuple[dict[str, Any], str | None]]:
    """Each validator of a ``validators=`` attribute, in the spec's dict form, with its on-fail attribute."""
    on_fail: dict[str, tuple[str, str]] = {}
    for key, value in attrs.items():
        if key.startswith("on-fail-"):
            on_fail[_name(key.removeprefix("on-fail-"), f"{at}: {key}")] = (key, value)
    out = []
    for raw in specs.split(";"):
        name, _, argtext = raw.strip().partition(":")
        if not name.strip():
            continue
        canon = _name(name.strip(), f"{at}: validator {raw.strip()!r}")
        entry = {"validator": canon, **_arguments(canon, argtext.strip(), f"{at}: validator {raw.strip()!r}")}
        attr, action = on_fail.pop(canon, (None, None))
        if action is not None:
            entry["on_fail"] = action
        out.append((entry, attr))
    if on_fail:
        given = ", ".join(attr for attr, _ in on_fail.values())
        raise ConfigError(f"{at}: on-fail given for validators not listed: {given}; add them to validators= or drop it")
    return out


def _name(name: str, at: str) -> str:
    try:
        return canonical_name(name)
    except UnknownPluginError as e:
        raise located(e, at) from None


def _arguments(canon: str, argtext: str, at: str) -> dict[str, Any]:
    """``key=value`` pairs by name, or values by position as the detector's signature orders them."""
    if not argtext:
        return {}
    tokens = argtext.split()
    keyword = [bool(_KEYWORD.match(t)) for t in tokens]
    if all(keyword):
        return {k: _literal(v) for k, _, v in (t.partition("=") for t in tokens)}
    sig = signature(canon)
    names = sig.positional
    first = sig.parameters.get(names[0])
    if len(names) == 1 and first is not None and first.takes_list:
        return {names[0]: [w.strip() for w in argtext.replace(",", " ").split() if w.strip()]}
    if len(names) == 1 and first is not None and first.takes_text:
        return {names[0]: argtext}
    if any(keyword):
        raise ConfigError(f"{at}: mix of positional and key=value arguments in {argtext!r}; use one form")
    if len(tokens) > len(names):
        raise ConfigError(f"{at}: {canon} takes at most {len(names)} positional argument(s) ({', '.join(names)})")
    return {n: _literal(v) for n, v in zip(names, tokens, strict=False)}


def _literal(value: str) -> Any:
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value
