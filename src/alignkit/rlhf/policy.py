"""The policy PPO trains: a causal language model with a scalar value head, and the token layout
every PPO forward pass uses.

Layout: each row is ``[pad … pad, query][response, pad … pad]``: queries are left-padded to a common
length Q, responses right-padded to R. Every response starts at column Q, so the logits that predict
response tokens are the last R+1 positions (``logits_to_keep``) and no per-row gather is needed.

``ValueHeadModel.generate`` takes the guide's input, a list of query texts, and returns the answers
as a list of strings that also carries the exact sampled tokens, so ``PPOTrainer.step`` scores the
tokens that were sampled, not a re-tokenisation of their text.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from alignkit.core.errors import ConfigError
from alignkit.core.messages import Prompt, to_messages
from alignkit.torchutil import import_torch_transformers, pick_device, seed_torch

VALUE_HEAD_FILE = "value_head.pt"


class GeneratedTexts(list[str]):
    """Answers as strings, plus the response tokens each was decoded from (EOS included when the
    model stopped by itself) and the query tokens it answered."""

    def __init__(self, texts: Sequence[str], queries: list[list[int]], responses: list[list[int]]) -> None:
        super().__init__(texts)
        self.query_tokens, self.response_tokens = queries, responses


def render_query(tokenizer: Any, query: Prompt, *, chat_template: bool = True) -> str:
    """The text the policy sees for ``query``: the chat template with a generation prompt when the
    tokenizer has one (and ``chat_template``), the plain text otherwise."""
    if chat_template and getattr(tokenizer, "chat_template", None):
        messages = [m.to_dict() for m in to_messages(query)]
        return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
    if isinstance(query, str):
        return query
    return "\n".join(m.content for m in to_messages(query))


def ensure_pad_token(tokenizer: Any) -> None:
    """Pad with the EOS token when the tokenizer has no pad token (padding is masked out)."""
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token


@dataclass
class Batch:
    """One batch in the PPO layout. ``response_mask`` is 1 on real response tokens (EOS included)."""

    input_ids: torch.Tensor  # [B, Q + R]
    attention_mask: torch.Tensor  # [B, Q + R]
    query_length: int  # Q
    response_mask: torch.Tensor  # [B, R]
    has_eos: torch.Tensor  # [B] bool: the response ended with EOS rather than being cut off

    @property
    def position_ids(self) -> torch.Tensor:
        """Positions for left-padded rows: each real token's index among the real tokens."""
        return (self.attention_mask.cumsum(1) - 1).clamp(min=0)

    @property
    def responses(self) -> torch.Tensor:
        """The response tokens [B, R]."""
        return self.input_ids[:, self.query_length :]

    def to(self, device: Any) -> Batch:
        """The batch on ``device``."""
        return Batch(
            self.input_ids.to(device),
            self.attention_mask.to(device),
            self.query_length,
            self.response_mask.to(device),
            self.has_eos.to(device),
        )

    def select(self, idx: torch.Tensor) -> Batch:
        """The rows ``idx`` (same layout, same Q)."""
        return Batch(
            self.input_ids[idx], self.attention_mask[idx], self.query_length, self.response_mask[idx], self.has_eos[idx]
        )


def collate(queries: Sequence[Sequence[int]], responses: Sequence[Sequence[int]], pad_id: int, eos_id: int) -> Batch:
    """Lay out token lists as a :class:`Batch`; each response is cut after its first EOS."""
    if len(queries) != len(responses):
        raise ConfigError(f"{len(queries)} queries but {len(responses)} responses; pass one response per query")
    cut: list[list[int]] = []
    for r in responses:
        r = list(r)
        cut.append(r[: r.index(eos_id) + 1] if eos_id in r else r)
    if any(len(q) == 0 for q in queries):
        raise ConfigError("a query has no tokens; every query needs at least one token (add a BOS or some text)")
    Q, R = max(len(q) for q in queries), max(1, max(len(r) for r in cut))
    B = len(queries)
    ids = torch.full((B, Q + R), pad_id, dtype=torch.long)
    attn = torch.zeros((B, Q + R), dtype=torch.long)
    rmask = torch.zeros((B, R), dtype=torch.float32)
    for i, (q, r) in enumerate(zip(queries, cut, strict=True)):
        ids[i, Q - len(q) : Q] = torch.tensor(list(q), dtype=torch.long)
        attn[i, Q - len(q) : Q] = 1
        if r:
            ids[i, Q : Q + len(r)] = torch.tensor(r, dtype=torch.long)
            attn[i, Q : Q + len(r)] = 1
            rmask[i, : len(r)] = 1.0
    has_eos = torch.tensor([bool(r) and r[-1] == eos_id for r in cut])
    return Batch(ids, attn, Q, rmask, has_eos)


def forward_response(lm: Any, batch: Batch, *, hidden: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Logits [B, R, V] that predict the response tokens (and the final hidden states at the same
    positions [B, R, H] when ``hidden``)."""
    R = batch.response_mask.size(1)
    out = lm(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
        output_hidden_states=hidden,
        logits_to_keep=R + 1,
        use_cache=False,
    )
    logits = out.logits[:, :-1]  # position Q-1+t predicts response token t
    states = out.hidden_states[-1][:, -(R + 1) : -1] if hidden else None
    return logits, states


class ValueHeadModel(nn.Module):  # type: ignore[misc]  # torch is untyped here
    """A causal LM with a linear value head on its final hidden state (PPO's actor and critic in one).

    ``pretrained_model`` is the transformers model; ``save_pretrained`` writes it as a normal
    checkpoint (any provider loads it as ``hf/<folder>``) plus ``value_head.pt``.
    """

    def __init__(self, pretrained_model: Any, tokenizer: Any = None) -> None:
        super().__init__()
        self.pretrained_model = pretrained_model
        self.tokenizer = tokenizer
        if tokenizer is not None:
            ensure_pad_token(tokenizer)
        size = int(pretrained_model.get_input_embeddings().embedding_dim)
        self.v_head = nn.Linear(size, 1)
        nn.init.zeros_(self.v_head.weight)  # values start at 0: the first updates come from returns alone
        nn.init.zeros_(self.v_head.bias)
        self.v_head.to(next(pretrained_model.parameters()).device)
        # What generate() samples with; PPOTrainer sets these from its config.
        self.max_new_tokens, self.temperature, self.chat_template = 32, 1.0, True

    @classmethod
    def from_pretrained(cls, path: str | Path, *, device: str | None = "auto", **kwargs: Any) -> ValueHeadModel:
        """Load a causal LM (folder or hub id) and its tokenizer; restore the value head if saved."""
        _, transformers = import_torch_transformers("the PPO policy")
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(path))
        lm = transformers.AutoModelForCausalLM.from_pretrained(str(path), **kwargs).to(pick_device(device))
        model = cls(lm, tokenizer)
        head = Path(path) / VALUE_HEAD_FILE
        if head.exists():
            model.v_head.load_state_dict(torch.load(head, map_location=lm.device, weights_only=True))
        return model

    def save_pretrained(self, folder: str | Path) -> None:
        """The LM and tokenizer as a normal checkpoint, plus ``value_head.pt``."""
        folder = Path(folder)
        self.pretrained_model.save_pretrained(folder)
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(folder)
        torch.save(self.v_head.state_dict(), folder / VALUE_HEAD_FILE)

    @property
    def device(self) -> torch.device:
        """Where the weights are."""
        return next(self.pretrained_model.parameters()).device

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Response logits [B, R, V] and values [B, R]."""
        logits, states = forward_response(self.pretrained_model, batch, hidden=True)
        assert states is not None
        return logits, self.v_head(states.to(self.v_head.weight.dtype)).squeeze(-1)

    # -- sampling -----------------------------------------------------------------------------------
    def encode_queries(self, queries: Sequence[Prompt], max_length: int | None = None) -> list[list[int]]:
        """Token ids of each rendered query, cut from the left to ``max_length`` (the question is kept)."""
        tok = self._tokenizer()
        texts = [render_query(tok, q, chat_template=self.chat_template) for q in queries]
        ids: list[list[int]] = tok(texts, add_special_tokens=not getattr(tok, "chat_template", None))["input_ids"]
        return [q[-max_length:] if max_length else q for q in ids]  # keep the end: the question

    def sample(self, query_tokens: Sequence[Sequence[int]], *, seed: int | None = None) -> list[list[int]]:
        """Sample one response per query with plain temperature sampling (no top-k/top-p, no model
        defaults: PPO needs the sampling distribution to be exactly softmax(logits / temperature))."""
        _, transformers = import_torch_transformers("the PPO policy")
        tok = self._tokenizer()
        batch = collate(query_tokens, [[] for _ in query_tokens], tok.pad_token_id, tok.eos_token_id)
        prompt_ids = batch.input_ids[:, : batch.query_length].to(self.device)
        prompt_mask = batch.attention_mask[:, : batch.query_length].to(self.device)
        config = transformers.GenerationConfig(
            do_sample=True,
            temperature=self.temperature,
            top_k=0,
            top_p=1.0,
            max_new_tokens=self.max_new_tokens,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
        )
        if seed is not None:
            seed_torch(seed)
        with _bare_generation_config(self.pretrained_model, transformers), torch.inference_mode():
            out = self.pretrained_model.generate(
                input_ids=prompt_ids, attention_mask=prompt_mask, generation_config=config
            )
        responses = []
        for row in out[:, batch.query_length :].tolist():
            responses.append(row[: row.index(tok.eos_token_id) + 1] if tok.eos_token_id in row else row)
        return responses

    def generate(self, queries: Any, **kwargs: Any) -> Any:
        """Texts in, :class:`GeneratedTexts` out (the guide's ``model.generate(batch["query"])``);
        token tensors are passed to the transformers model's ``generate`` unchanged."""
        if isinstance(queries, torch.Tensor) or (queries and isinstance(queries[0], torch.Tensor)):
            return self.pretrained_model.generate(queries, **kwargs)
        if isinstance(queries, str):  # one query in, one answer out
            return str(self.generate([queries], **kwargs)[0])
        q_tokens = self.encode_queries(list(queries))
        r_tokens = self.sample(q_tokens, seed=kwargs.get("seed"))
        texts = self._tokenizer().batch_decode(r_tokens, skip_special_tokens=True)
        return GeneratedTexts(texts, q_tokens, r_tokens)

    def _tokenizer(self) -> Any:
        if self.tokenizer is None:
            raise ConfigError("this model has no tokenizer; load it with from_pretrained or pass tokenizer=")
        return self.tokenizer


class CriticModel(nn.Module):  # type: ignore[misc]  # torch is untyped here
    """A separate value network: a sequence classifier (e.g. the reward model) read at every response
    position instead of only the last token."""

    def __init__(self, classifier: Any) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, batch: Batch) -> torch.Tensor:
        """Values [B, R] for the states before each response token."""
        R = batch.response_mask.size(1)
        hidden = self.classifier.base_model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            position_ids=batch.position_ids,
            use_cache=False,
        ).last_hidden_state
        out: torch.Tensor = self.classifier.score(hidden[:, -(R + 1) : -1]).squeeze(-1)
        return out


@contextmanager
def _bare_generation_config(lm: Any, transformers: Any) -> Iterator[None]:
    """Hide the checkpoint's generation defaults (repetition penalty, top-k, …), which transformers
    would otherwise merge into an explicit config."""
    saved = lm.generation_config
    lm.generation_config = transformers.GenerationConfig(
        bos_token_id=saved.bos_token_id, eos_token_id=saved.eos_token_id, pad_token_id=saved.pad_token_id
    )
    try:
        yield
    finally:
        lm.generation_config = saved


def frozen_copy(lm: Any) -> Any:
    """The reference model: a deep copy in eval mode with gradients off."""
    ref = copy.deepcopy(lm).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref


# trl's name for the same thing, so code written for trl reads unchanged.
AutoModelForCausalLMWithValueHead = ValueHeadModel
