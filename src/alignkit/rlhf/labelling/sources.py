"""Where comparison items come from: files of answer pairs, or models answering prompts.

Pair files are JSONL or CSV. A row is either a preference pair (alignkit's ``prompt``/``chosen``/
``rejected`` fields, or Anthropic HH transcripts; the existing preference is ignored, since the
answers are shown in random order and relabelled) or a prompt with two answers under ``response_a``/
``response_b`` (also ``answer_a``/``answer_b``), optionally with ``model_a``/``model_b``.

Prompt files are ``.txt`` (one prompt per line), JSONL (``prompt`` as text or messages, or
``messages``) or CSV (a ``prompt`` column).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from alignkit.core.config import GenerateConfig
from alignkit.core.errors import ConfigError, RecordError
from alignkit.core.jsonl import field_list, iter_lines
from alignkit.core.messages import Message, Prompt, to_messages
from alignkit.core.model import Model
from alignkit.rlhf.data import pair_from_row, read_rows, text_field
from alignkit.rlhf.labelling.store import LabelItem

ANSWER_KEYS: tuple[tuple[str, str], ...] = (("response_a", "response_b"), ("answer_a", "answer_b"))


def _prompt(value: Any, where: str, name: str = "prompt") -> tuple[Message, ...]:
    try:
        messages = to_messages(value)
    except (ConfigError, TypeError, ValueError) as e:
        raise RecordError(f"{where}: field {name!r} is neither text nor a list of messages ({e})") from None
    if not messages:
        raise RecordError(f"{where}: field {name!r} is empty")
    return messages


def item_from_row(row: Mapping[str, Any], *, source: str | None = None, where: str = "<row>") -> LabelItem:
    """One comparison item from a pair-file row (see the module docstring for the shapes)."""
    for key_a, key_b in ANSWER_KEYS:
        if key_a in row or key_b in row:
            missing = [k for k in ("prompt", key_a, key_b) if k not in row]
            if missing:
                raise RecordError(f"{where}: no field(s) {missing}; the row has {field_list(row)}")
            try:
                if row["prompt"] is None:
                    text_field(row, "prompt")  # "field 'prompt' is null"
                a, b = (text_field(row, k) for k in (key_a, key_b))
                model_a, model_b = (text_field(row, k) if row.get(k) else None for k in ("model_a", "model_b"))
            except RecordError as e:
                raise RecordError(f"{where}: {e}") from None
            return LabelItem(_prompt(row["prompt"], where), a, b, model_a, model_b, source)
    if "chosen" in row and "rejected" in row:
        pair = pair_from_row(row, source=source, where=where)
        return LabelItem(prompt=pair.prompt, answer_a=pair.chosen, answer_b=pair.rejected, source=source)
    raise RecordError(
        f"{where}: expected a prompt and two answers (response_a/response_b, or chosen/rejected); "
        f"the row has {field_list(row)}"
    )


def items_from_file(path: str | Path) -> list[LabelItem]:
    """Comparison items from a JSONL or CSV file of answer pairs; errors name the line."""
    p = Path(path)
    return [item_from_row(row, source=str(p), where=f"{p}:{line}") for line, row in read_rows(p)]


def read_prompts(path: str | Path) -> list[tuple[Message, ...]]:
    """Prompts from a ``.txt`` (one a line), JSONL or CSV file; blank lines are ignored."""
    p = Path(path)
    if p.suffix.lower() == ".txt":
        if not p.is_file():
            raise ConfigError(f"no file at {p}")
        prompts = [to_messages(line.strip()) for _, line in iter_lines(p) if line.strip()]
    else:
        prompts = [_prompt_of(row, f"{p}:{line}") for line, row in read_rows(p)]
    if not prompts:
        raise ConfigError(f"{p} holds no prompts")
    return prompts


def _prompt_of(row: Mapping[str, Any], where: str) -> tuple[Message, ...]:
    """The prompt of a prompt-file row: its ``prompt`` field, or its ``messages``."""
    name = "prompt" if "prompt" in row else "messages"
    if name not in row:
        raise RecordError(f"{where}: no 'prompt' (or 'messages') field; the row has {field_list(row)}")
    if row[name] is None or row[name] == "":
        raise RecordError(f"{where}: field {name!r} is {'null' if row[name] is None else 'empty'}")
    return _prompt(row[name], where, name)


DEFAULT_SAMPLING_TEMPERATURE = 0.8  # one model sampled twice: enough spread for two different answers


def generate_items(
    prompts: Sequence[Prompt],
    model_a: Model,
    model_b: Model | None = None,
    *,
    config: GenerateConfig | None = None,
    batch_size: int = 16,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[list[LabelItem], int]:
    """Two answers per prompt: one from each model, or two samples of ``model_a`` when ``model_b`` is None.

    Sampling one model twice needs a temperature above 0 (the default then is 0.8) and uses two seeds
    (``seed`` and ``seed + 1``, when a seed is set). Returns the items and the number of prompts dropped
    because a model failed on them (failures are recorded, not raised, so one bad prompt loses nothing else).
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1; got {batch_size}")
    cfg_a = cfg_b = config or GenerateConfig()
    if model_b is None:
        if cfg_a.temperature == 0:
            raise ConfigError(
                "two answers from one model need sampling: set a temperature above 0 (e.g. --temperature 0.8) "
                "or give a second model (--model-b)"
            )
        temperature = cfg_a.temperature or DEFAULT_SAMPLING_TEMPERATURE
        cfg_a = cfg_a.merge(temperature=temperature)
        cfg_b = cfg_a.merge(seed=None if cfg_a.seed is None else cfg_a.seed + 1)
    second = model_b or model_a
    spec_a, spec_b = model_a.info.spec, second.info.spec
    source = f"{spec_a} vs {spec_b}" if model_b is not None else f"{spec_a} sampled twice"
    msgs = [to_messages(p) for p in prompts]
    items: list[LabelItem] = []
    failed = 0
    for start in range(0, len(msgs), batch_size):
        chunk = msgs[start : start + batch_size]
        answers_a = model_a.generate_batch(chunk, cfg_a, on_error="record")
        answers_b = second.generate_batch(chunk, cfg_b, on_error="record")
        for prompt, a, b in zip(chunk, answers_a, answers_b, strict=True):
            if not (a.ok and b.ok):
                failed += 1
                continue
            items.append(LabelItem(prompt, a.text, b.text, spec_a, spec_b, source))
        if on_progress:
            on_progress(min(start + batch_size, len(msgs)), len(msgs))
    return items, failed
