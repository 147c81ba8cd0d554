"""Token-level likelihoods of answers under a causal LM: what DP training minimises and what the
memorization tests (exposure, membership) measure.

An example is a context (the conversation up to the answer, rendered with the tokenizer's chat
template when it has one, as SFT renders it) and a target (the answer's tokens). Only target tokens
are scored: the context is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from alignkit.core.errors import ConfigError
from alignkit.core.messages import Message, assistant
from alignkit.rlhf.trl_methods_setup import completion_row, has_chat_template, prompt_row


@dataclass(frozen=True)
class Encoded:
    """Token ids of one example: ``context`` is given, ``target`` is scored."""

    context: list[int]
    target: list[int]


def encode(
    tokenizer: Any, prompt: Sequence[Message], answer: str, *, max_length: int = 512, eos: bool = True
) -> Encoded:
    """The context and target ids of ``answer`` to ``prompt``, as SFT trains on them (the answer ends
    with the end-of-turn token when ``eos``). The context is cut from the left to fit ``max_length``;
    an answer longer than ``max_length - 1`` tokens is cut at the end."""
    chat = has_chat_template(tokenizer)
    if chat:
        context_text = tokenizer.apply_chat_template(
            [m.to_dict() for m in prompt], tokenize=False, add_generation_prompt=True
        )
        full_text = tokenizer.apply_chat_template([m.to_dict() for m in (*prompt, assistant(answer))], tokenize=False)
        if not eos and full_text.endswith("\n"):
            full_text = full_text.rstrip("\n")
    else:
        context_text = str(prompt_row(tuple(prompt), chat=False))
        full_text = context_text + completion_row(context_text, answer, chat=False)
    context = tokenizer(context_text, add_special_tokens=False)["input_ids"]
    full = tokenizer(full_text, add_special_tokens=False)["input_ids"]
    if full[: len(context)] != context:  # a merge across the boundary: score what follows the shared ids
        shared = next((i for i, (a, b) in enumerate(zip(context, full, strict=False)) if a != b), len(context))
        context = full[:shared]
    target = full[len(context) :]
    if chat and not eos:
        target = _strip_end_of_turn(tokenizer, target)
    elif not chat and eos and tokenizer.eos_token_id is not None:
        target = [*target, tokenizer.eos_token_id]
    if not target:
        raise ConfigError(f"the answer {answer[:40]!r} has no tokens to score")
    target = target[: max_length - 1]
    return Encoded(context[max(0, len(context) - (max_length - len(target))) :], target)


def _strip_end_of_turn(tokenizer: Any, target: list[int]) -> list[int]:
    """The answer's ids without the chat template's end-of-turn token(s) after it."""
    ends = {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")}
    while len(target) > 1 and target[-1] in ends:
        target = target[:-1]
    return target


def batch_tensors(rows: Sequence[Encoded], pad_id: int, device: Any) -> tuple[Any, Any, Any]:
    """``(input_ids, attention_mask, target_mask)`` [B, L], right-padded; ``target_mask`` marks the
    positions whose *next* token is a target token (the logits that predict it)."""
    import torch

    width = max(len(r.context) + len(r.target) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    predicts = torch.zeros((len(rows), width - 1), dtype=torch.float32)
    for i, r in enumerate(rows):
        seq = r.context + r.target
        ids[i, : len(seq)] = torch.tensor(seq)
        attention[i, : len(seq)] = 1
        predicts[i, len(r.context) - 1 : len(seq) - 1] = 1.0  # logits at t predict token t + 1
    return ids.to(device), attention.to(device), predicts.to(device)


def target_nll(model: Any, rows: Sequence[Encoded], pad_id: int) -> tuple[Any, Any]:
    """``(summed NLL, target token count)`` per example, [B] each, with gradients (call under
    ``torch.no_grad`` to score)."""
    import torch

    if any(not r.context for r in rows):
        raise ConfigError("every scored example needs at least one context token (a prompt or a BOS token)")
    device = next(model.parameters()).device
    ids, attention, predicts = batch_tensors(rows, pad_id, device)
    logits = model(input_ids=ids, attention_mask=attention, use_cache=False).logits[:, :-1]  # [B, L-1, V]
    logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, ids[:, 1:, None]).squeeze(-1)  # [B, L-1]
    return -(logp * predicts).sum(dim=1), predicts.sum(dim=1)


def score_nll(model: Any, rows: Sequence[Encoded], pad_id: int, *, batch_size: int = 16) -> list[tuple[float, int]]:
    """``(summed NLL in nats, target tokens)`` of each example, in batches, without gradients."""
    import torch

    out: list[tuple[float, int]] = []
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for i in range(0, len(rows), batch_size):
                nll, count = target_nll(model, rows[i : i + batch_size], pad_id)
                out += [(float(a), int(b)) for a, b in zip(nll.tolist(), count.tolist(), strict=True)]
    finally:
        model.train(was_training)
    return out


def pad_id_of(tokenizer: Any) -> int:
    """The tokenizer's padding id (its end-of-sequence id when it has none); padding is masked out."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad is None:
        raise ConfigError("the tokenizer has neither a pad nor an end-of-sequence token; set tokenizer.pad_token")
    return int(pad)
