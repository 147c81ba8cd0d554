"""Counterfactual data augmentation: each training row, plus a copy with one axis's group terms swapped
in every text field ("she" <-> "he" in the prompt and in both answers), labels kept.

Training on both versions teaches a model that the swap should not change the answer (Lu et al.,
"Gender Bias in Neural NLP", 2018; Zmigrod et al., ACL 2019). The output has the input's format
(preference pairs, HH rows, SFT examples or prompts), so ``alignkit rlhf dpo``/``sft`` and the ``cai``
commands read it as they read the input. A variant records what made it in ``metadata.counterfactual``
(axis, groups, the input line). Rows no term touched are written once (with ``keep_original``) and
counted; the file is written to a temporary name and renamed when complete.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from alignkit.bias.rows import map_texts, read_rows
from alignkit.bias.terms import Swapper
from alignkit.core.errors import RecordError
from alignkit.core.files import atomic_path, check_not_input
from alignkit.core.jsonl import JsonlWriter


@dataclass
class AugmentStats:
    """What an augmentation wrote."""

    rows: int = 0  # input rows
    written: int = 0  # output rows (originals kept plus variants)
    variants: dict[str, int] = field(default_factory=dict)  # per "axis:a<->b"
    untouched: int = 0  # rows no swapper changed

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"rows": self.rows, "written": self.written, "variants": self.variants, "untouched": self.untouched}


def swap_name(swapper: Swapper) -> str:
    """``axis:a<->b``, the name a variant and the statistics give a swap."""
    return f"{swapper.terms.axis}:{swapper.a}<->{swapper.b}"


def variant(row: Mapping[str, Any], swapper: Swapper, line: int) -> dict[str, Any] | None:
    """``row`` with ``swapper`` applied to every text field, or None when no term was touched."""
    touched = 0

    def swap(text: str) -> str:
        nonlocal touched
        s = swapper.swap(text)
        touched += s.from_a + s.from_b
        return s.text

    out = map_texts(row, swap)
    if not touched:
        return None
    meta = row.get("metadata", {})
    if not isinstance(meta, Mapping):
        raise RecordError(f"line {line}: field 'metadata' must be an object to record the counterfactual in")
    out["metadata"] = {
        **meta,
        "counterfactual": {
            "axis": swapper.terms.axis,
            "groups": [swapper.a, swapper.b],
            "line": line,
            "terms_swapped": touched,
        },
    }
    if isinstance(row.get("id"), str):
        out["id"] = f"{row['id']}~{swapper.terms.axis}-swap"
    return out


def augment_rows(
    rows: Iterable[tuple[int, Mapping[str, Any]]],
    swappers: Sequence[Swapper],
    stats: AugmentStats,
    *,
    keep_original: bool = True,
) -> Iterator[dict[str, Any]]:
    """Each row (with ``keep_original``) followed by its variants, one per swapper that changed it."""
    for line, row in rows:
        stats.rows += 1
        if keep_original:
            stats.written += 1
            yield dict(row)
        made = 0
        for swapper in swappers:
            v = variant(row, swapper, line)
            if v is not None:
                made += 1
                name = swap_name(swapper)
                stats.variants[name] = stats.variants.get(name, 0) + 1
                stats.written += 1
                yield v
        stats.untouched += made == 0


def augment_file(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    swappers: Sequence[Swapper],
    *,
    keep_original: bool = True,
) -> AugmentStats:
    """Augment the JSONL file ``source`` into ``output`` (written whole or not at all)."""
    check_not_input(output, [source], "--output")
    stats = AugmentStats()
    with atomic_path(output) as tmp, JsonlWriter(tmp) as writer:
        for row in augment_rows(read_rows(source), swappers, stats, keep_original=keep_original):
            writer.write(row)
    return stats
