"""Memorization tests on a transformers causal LM: canary exposure, extraction and membership inference.

- **Exposure** (Carlini et al., 2019): rank the true secret among candidates of the same format by
  the model's likelihood of the secret after the prefix; exposure = log2 |R| - log2 rank. A model that
  never saw the secret ranks it about in the middle (exposure ≈ 1 bit); a memorized one ranks it first
  (exposure = log2 |R|). When 10^digits is larger than ``candidates``, R is the true secret plus a
  uniform sample of the others, and the figure is exposure *within that sample* (its ceiling is
  log2 |R| of the sample), never an extrapolation to the whole space.
- **Extraction**: greedy decoding after the canary's prompt and prefix; extracted when the output
  starts with the secret.
- **Membership inference** (loss-based, Yeom et al., 2018): members (trained on) should have lower
  loss than non-members from the same distribution; AUROC of the score -loss. 0.5 is no leak.

Every function takes the transformers model and tokenizer (an alignkit ``HFModel`` carries both).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

from alignkit.core.errors import ConfigError
from alignkit.core.records import SFTExample
from alignkit.privacy.canaries import Canary
from alignkit.privacy.likelihood import encode, pad_id_of, score_nll
from alignkit.rag.evaluate import auroc

MAX_CANDIDATES = 100_000


def exposure(
    model: Any, tokenizer: Any, canary: Canary, *, candidates: int = 1000, seed: int = 0, batch_size: int = 64
) -> dict[str, Any]:
    """The canary's rank and exposure among ``candidates`` other secrets of its format (all of them
    when there are no more), by the likelihood of the secret's tokens after the prompt and prefix.
    Ties with the true secret count against it (fail closed: a tie is not a leak found)."""
    if not 1 <= candidates <= MAX_CANDIDATES:
        raise ConfigError(f"candidates must be between 1 and {MAX_CANDIDATES}; got {candidates}")
    space = 10**canary.digits
    exhaustive = space - 1 <= candidates
    others = _other_secrets(canary, space, candidates, exhaustive, seed)
    secrets = [canary.secret, *others]
    rows = [
        encode(tokenizer, canary.example().prompt, f"{canary.prefix}{s}", eos=False, max_length=512) for s in secrets
    ]
    nll = [n for n, _ in score_nll(model, rows, pad_id_of(tokenizer), batch_size=batch_size)]
    true_nll = nll[0]
    better = sum(1 for x in nll[1:] if x < true_nll)
    ties = sum(1 for x in nll[1:] if x == true_nll)
    rank = 1 + better + ties
    size = len(secrets)
    return {
        "id": canary.id,
        "repeats": canary.repeats,
        "rank": rank,
        "candidates": size,
        "exhaustive": exhaustive,
        "exposure": math.log2(size) - math.log2(rank),
        "max_exposure": math.log2(size),
        "nll_secret": true_nll,
        "nll_candidates_median": sorted(nll[1:])[len(nll[1:]) // 2] if nll[1:] else None,
    }


def _other_secrets(canary: Canary, space: int, candidates: int, exhaustive: bool, seed: int) -> list[str]:
    width = canary.digits
    if exhaustive:
        return [f"{i:0{width}d}" for i in range(space) if f"{i:0{width}d}" != canary.secret]
    rng = random.Random(seed)  # noqa: S311 (a reproducible sample of candidates)
    chosen: set[str] = set()
    while len(chosen) < candidates:
        s = f"{rng.randrange(space):0{width}d}"
        if s != canary.secret:
            chosen.add(s)
    return sorted(chosen)


def extract(model: Any, tokenizer: Any, canary: Canary, *, extra_tokens: int = 4) -> dict[str, Any]:
    """Greedy decoding from the canary's prompt and prefix: does the model complete the secret?"""
    import torch

    row = encode(tokenizer, canary.example().prompt, f"{canary.prefix}{canary.secret}", eos=False)
    # the prefix's tokens are the target's start: decode from context + every token before the secret
    prefix_row = encode(tokenizer, canary.example().prompt, canary.prefix.rstrip() or canary.prefix, eos=False)
    start = row.context + prefix_row.target
    secret_tokens = len(row.target) - len(prefix_row.target)
    device = next(model.parameters()).device
    ids = torch.tensor([start], device=device)
    with torch.inference_mode():
        out = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max(1, secret_tokens) + extra_tokens,
            do_sample=False,
            pad_token_id=pad_id_of(tokenizer),
        )
    text = tokenizer.decode(out[0, len(start) :].tolist(), skip_special_tokens=True)
    return {
        "id": canary.id,
        "repeats": canary.repeats,
        "extracted": text.strip().startswith(canary.secret),
        "output": text,
    }


def membership(
    model: Any,
    tokenizer: Any,
    members: Sequence[SFTExample],
    non_members: Sequence[SFTExample],
    *,
    max_length: int = 512,
    batch_size: int = 16,
) -> dict[str, Any]:
    """Loss-based membership inference: AUROC of -loss (mean NLL per answer token) for members
    against non-members, and the mean losses. Needs both kinds; more of each narrows the AUROC."""
    if not members or not non_members:
        raise ConfigError("membership inference needs member examples (trained on) and non-members (held out)")
    pad = pad_id_of(tokenizer)

    def losses(examples: Sequence[SFTExample]) -> list[float]:
        rows = [encode(tokenizer, e.prompt, e.completion, max_length=max_length) for e in examples]
        return [n / max(c, 1) for n, c in score_nll(model, rows, pad, batch_size=batch_size)]

    member_loss, other_loss = losses(members), losses(non_members)
    return {
        "auroc": auroc([-x for x in member_loss], [-x for x in other_loss]),
        "members": len(member_loss),
        "non_members": len(other_loss),
        "member_loss_mean": sum(member_loss) / len(member_loss),
        "non_member_loss_mean": sum(other_loss) / len(other_loss),
    }
