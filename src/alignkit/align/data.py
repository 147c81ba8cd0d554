"""The recipe's prompt sets: sampled from the sources, split into train and held-out, probe look-alikes dropped.

:func:`build_prompt_sets` draws, with one seed, ``harmful``, ``benign`` and ``lookalike`` prompts
(:mod:`~alignkit.align.sources`, :mod:`~alignkit.align.lookalikes`), first removing every near-duplicate of
a red-team probe (:mod:`~alignkit.align.overlap`), then holding ``heldout`` prompts of each kind out of
training for the selection check (hyper-parameters are picked on these, never on the probes). Draws
take the source files in turn (each shuffled), so a small draw still covers every source.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from alignkit.align.lookalikes import lookalike_prompts
from alignkit.align.overlap import Match, drop_near_duplicates
from alignkit.align.sources import Kind, TrainPrompt, benign_prompts, check_data, harmful_prompts
from alignkit.core.errors import ConfigError

KINDS: tuple[Kind, ...] = ("harmful", "benign", "lookalike")


@dataclass
class PromptSets:
    """Training and held-out prompts by kind, and what was dropped as a probe near-duplicate."""

    train: dict[str, list[TrainPrompt]]
    heldout: dict[str, list[TrainPrompt]]
    dropped: list[Match] = field(default_factory=list)
    available: dict[str, int] = field(default_factory=dict)  # per kind, after dropping near-duplicates

    def sources(self) -> dict[str, int]:
        """Training prompts per source file."""
        return dict(Counter(p.source for ps in self.train.values() for p in ps))


def build_prompt_sets(
    data: Path, sizes: dict[str, int], heldout: int, probe_texts: Sequence[str], seed: int
) -> PromptSets:
    """``sizes[kind]`` training and ``heldout`` held-out prompts of each kind (see the module docstring)."""
    check_data(data)
    pools = {"harmful": harmful_prompts(data), "benign": benign_prompts(data), "lookalike": lookalike_prompts(data)}
    sets = PromptSets({}, {})
    for kind in KINDS:
        pool = pools[kind]
        keep, dropped = drop_near_duplicates([p.text for p in pool], probe_texts)
        sets.dropped += dropped
        clean = [pool[i] for i in keep]
        sets.available[kind] = len(clean)
        need = sizes[kind] + heldout
        if len(clean) < need:
            raise ConfigError(
                f"only {len(clean)} {kind} prompts under {data} after dropping probe near-duplicates; "
                f"{sizes[kind]} for training + {heldout} held out were asked for: lower the size or add data"
            )
        clean = _interleave_sources(clean, random.Random(f"{seed}:{kind}"))  # noqa: S311 (a reproducible split)
        sets.heldout[kind] = clean[:heldout]
        sets.train[kind] = clean[heldout:need]
    return sets


def _interleave_sources(prompts: list[TrainPrompt], rng: random.Random) -> list[TrainPrompt]:
    """Each source's prompts shuffled, then taken one source at a time in turn."""
    by_source: dict[str, list[TrainPrompt]] = {}
    for p in prompts:
        by_source.setdefault(p.source, []).append(p)
    queues = [by_source[s] for s in sorted(by_source)]
    for q in queues:
        rng.shuffle(q)
    out: list[TrainPrompt] = []
    while any(queues):
        out += [q.pop() for q in queues if q]
    return out
