"""YAML guard specs: the :class:`~alignkit.guard.spec.GuardSpec` written as YAML::

    name: support-bot
    settings: {max_reasks: 1, refusal_message: "I can't help with that."}
    input:
      - jailbreak
      - {validator: prompt_injection, on_fail: exception}
    output:
      - {validator: toxicity, threshold: 0.8, on_fail: fix}
      - pii: {entities: [EMAIL, PHONE], on_fail: fix}

Errors give the line of the field at fault, read from the YAML nodes' marks.
"""

from __future__ import annotations

import yaml

from alignkit.core.errors import ConfigError
from alignkit.guard.spec import GuardSpec, Loc, Source, parse_spec


def parse_yaml(text: str, where: str = "<YAML string>") -> tuple[GuardSpec, Source]:
    """The spec in ``text`` and where each of its fields came from; errors name ``where`` and the line."""
    loader = None
    try:
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
        if node is None or not isinstance(data, dict):
            raise ConfigError(f"{where}: a guard spec is a mapping with name:, settings:, input: and output:")
        lines: dict[Loc, int] = {}
        _collect_lines(node, (), lines)
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: not valid YAML: {e}") from None
    except RecursionError:  # deep nesting, or an alias that contains itself (a: &a [*a])
        raise ConfigError(f"{where}: nested too deeply (or an alias that contains itself); flatten it") from None
    finally:
        if loader is not None:
            loader.dispose()
    source = Source(where, lines)
    return parse_spec(data, source), source


def _collect_lines(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> None:
    """Record the line of every mapping key and sequence item below ``node``, by its path."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            here = (*loc, str(key.value))
            lines[here] = key.start_mark.line + 1
            _collect_lines(value, here, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*loc, i)] = item.start_mark.line + 1
            _collect_lines(item, (*loc, i), lines)
            if isinstance(item, yaml.MappingNode) and len(item.value) == 1:  # {NAME: {ARG: ...}}: args at item level
                _collect_lines(item.value[0][1], (*loc, i), lines)
                lines[(*loc, i)] = item.start_mark.line + 1
