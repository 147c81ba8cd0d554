"""Reward models: a scalar head on any transformers backbone, trained on preference pairs with the
Bradley-Terry loss, usable as ``reward_model(queries, responses) -> rewards``.

The backbone is loaded as ``AutoModelForSequenceClassification`` with one label, so any causal LM
checkpoint (the embedded model's cached folder, ``gpt2``, a Llama) gets a fresh linear head that reads
the last non-padding token. After training, rewards are centred: the mean reward over the training
pairs is stored and subtracted, so 0 means "typical" and PPO's KL-shaped rewards are not dominated by
an arbitrary offset.

Memory and speed on a CPU come from batching by length (:mod:`alignkit.rlhf.batching`): texts are
tokenized once, each forward pass holds rows of similar length padded only to the longest of them, and a
training step of ``batch_size`` pairs runs as micro-batches of at most ``micro_batch_tokens`` padded
tokens whose gradients add up to the step's (the loss is a mean over pairs, so the sum is exact).
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from alignkit.core.errors import ConfigError, MissingDependencyError
from alignkit.core.files import write_text_atomic
from alignkit.core.messages import Prompt, assistant, to_messages
from alignkit.core.records import PreferencePair
from alignkit.rlhf.batching import length_grouped_batches, sorted_token_batches, token_batches
from alignkit.rlhf.losses import bradley_terry_loss
from alignkit.torchutil import import_torch_transformers, pick_device

META_FILE = "alignkit-reward.json"
REWARD_FEATURE = "reward models"  # named in the install hint when torch or transformers is missing


@dataclass
class RewardConfig:
    """Reward-model training options; each default says why. Bad values raise a :class:`ConfigError`."""

    learning_rate: float = 1e-5  # full fine-tuning of a pretrained backbone; tiny test models use 1e-3
    batch_size: int = 8  # pairs per optimizer step (16 sequences)
    epochs: int = 1  # reward models overfit preference data quickly (InstructGPT trained one epoch)
    max_length: int = 512  # tokens per prompt+answer; longer conversations are cut from the left
    # Padded tokens per forward pass (chosen and rejected rows together); a step's pairs run as several
    # micro-batches when they exceed it, gradients summed, so memory follows this budget, not batch x length.
    micro_batch_tokens: int = 1024
    group_by_length: bool = True  # steps of similar-length pairs (shuffled pools): less padding, same data
    weight_decay: float = 0.0
    seed: int = 0
    center_rewards: bool = True  # store the mean training reward and subtract it when scoring
    center_pairs: int = 256  # pairs whose mean reward becomes the offset (a sample is enough for a mean)
    train_layers: int | None = None  # train only the top N blocks (+ head): backward stops there, ~N/L the cost
    # Recompute each block's activations in the backward pass instead of keeping them (ignored with train_layers,
    # where it only costs time): on the embedded model
    # (LoRA 16, 8 pairs of 256 tokens a step) peak memory 15.1 -> 7.1 GiB for about 10% more time.
    gradient_checkpointing: bool = True

    def __post_init__(self) -> None:
        if self.learning_rate <= 0 or self.weight_decay < 0:
            raise ConfigError(
                f"need learning_rate > 0 and weight_decay >= 0; got {self.learning_rate} and {self.weight_decay}"
            )
        for name in ("batch_size", "epochs", "max_length", "center_pairs", "micro_batch_tokens"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1; got {getattr(self, name)}")
        if self.train_layers is not None and self.train_layers < 0:
            raise ConfigError(f"train_layers must be 0 or more (None trains every layer); got {self.train_layers}")


class RewardModel:
    """A sequence classifier with one output, and its tokenizer. Call it to score answers."""

    def __init__(
        self, model: Any, tokenizer: Any, *, offset: float = 0.0, name: str = "reward-model", max_length: int = 512
    ) -> None:
        self.model, self.tokenizer, self.offset, self.name = model, tokenizer, offset, name
        self.max_length = max_length  # tokens scored per text by default: what it was trained on, once trained
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        model.config.pad_token_id = tokenizer.pad_token_id
        tokenizer.truncation_side = "left"  # keep the answer, cut old turns

    @classmethod
    def from_backbone(
        cls, path: str, *, device: str | None = "auto", lora_rank: int | None = None, **kwargs: Any
    ) -> RewardModel:
        """A fresh reward head on the backbone at ``path`` (a folder or hub id). With ``lora_rank``,
        only LoRA adapters on every linear layer and the head are trained (peft); ``save`` merges them."""
        _, transformers = import_torch_transformers(REWARD_FEATURE)
        tokenizer = transformers.AutoTokenizer.from_pretrained(path)
        level = transformers.logging.get_verbosity()
        transformers.logging.set_verbosity_error()  # the new head is "missing" from the checkpoint by design
        try:
            model = transformers.AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, **kwargs)
        finally:
            transformers.logging.set_verbosity(level)
        if lora_rank:
            try:
                import peft
            except ImportError as e:
                raise MissingDependencyError("LoRA reward models", "peft", "rlhf") from e
            config = peft.LoraConfig(
                r=lora_rank, lora_alpha=2 * lora_rank, target_modules="all-linear", task_type="SEQ_CLS"
            )  # SEQ_CLS keeps the new score head fully trainable
            model = peft.get_peft_model(model, config)
        model.to(pick_device(device))
        return cls(model, tokenizer, name=path)

    @classmethod
    def load(cls, folder: str | Path, *, device: str | None = "auto") -> RewardModel:
        """A reward model saved by :meth:`save`."""
        _, transformers = import_torch_transformers(REWARD_FEATURE)
        meta = json.loads((Path(folder) / META_FILE).read_text()) if (Path(folder) / META_FILE).exists() else {}
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
        model = transformers.AutoModelForSequenceClassification.from_pretrained(folder).to(pick_device(device))
        offset, length = float(meta.get("offset", 0.0)), int(meta.get("max_length", 512))
        return cls(model, tokenizer, offset=offset, name=str(folder), max_length=length)

    def save(self, folder: str | Path, **meta: Any) -> None:
        """Model, tokenizer and ``alignkit-reward.json`` (the offset and ``meta``) in ``folder``; LoRA is merged."""
        folder = Path(folder)
        if hasattr(self.model, "merge_and_unload"):  # LoRA: save plain merged weights, loadable without peft
            self.model = self.model.merge_and_unload()
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        write_text_atomic(
            folder / META_FILE,
            json.dumps({"offset": self.offset, "max_length": self.max_length, **meta}, indent=1, default=str),
        )

    # -- scoring ------------------------------------------------------------------------------------
    def render(self, prompt: Prompt, response: str) -> str:
        """The text scored for ``response`` to ``prompt``: the chat template when the tokenizer has one."""
        conversation = [*to_messages(prompt), assistant(response)]
        if getattr(self.tokenizer, "chat_template", None):
            return str(self.tokenizer.apply_chat_template([m.to_dict() for m in conversation], tokenize=False))
        return "\n".join(f"{m.role}: {m.content}" for m in conversation)

    def _raw(self, texts: Sequence[str], max_length: int) -> Any:
        """Rewards [N] of ``texts`` in one forward pass (padded to the longest), with gradients when enabled."""
        return self.forward_ids(self.encode(texts, max_length))

    def encode(self, texts: Sequence[str], max_length: int) -> list[list[int]]:
        """Token ids of each text, cut from the left to ``max_length``, unpadded."""
        ids: list[list[int]] = self.tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
        return ids

    def forward_ids(self, ids: Sequence[Sequence[int]]) -> Any:
        """Rewards [N] for token-id rows: right-padded to the longest row, the head read at each row's last token."""
        width = max(len(x) for x in ids)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[*x, *[pad] * (width - len(x))] for x in ids], device=self.model.device)
        mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids], device=self.model.device)
        return self.model(input_ids=input_ids, attention_mask=mask, use_cache=False).logits.squeeze(-1)  # no KV cache

    def score(
        self,
        prompts: Sequence[Prompt],
        responses: Sequence[str],
        *,
        batch_size: int = 64,
        max_length: int | None = None,
        batch_tokens: int = 4096,
    ) -> list[float]:
        """Centred rewards for each (prompt, response), in the order given. Texts are cut to ``max_length``
        tokens (default: what the model was trained on) and scored longest first, in forward passes of at
        most ``batch_size`` rows and ``batch_tokens`` padded tokens (similar lengths share a pass)."""
        if len(prompts) != len(responses):
            raise ConfigError(f"{len(prompts)} prompts but {len(responses)} responses")
        ids = self.encode([self.render(p, r) for p, r in zip(prompts, responses, strict=True)],
                          max_length or self.max_length)  # fmt: skip
        out = [0.0] * len(ids)
        self.model.eval()
        with torch.inference_mode():
            for group in sorted_token_batches([len(x) for x in ids], batch_tokens, batch_size):
                rewards = (self.forward_ids([ids[i] for i in group]) - self.offset).float().tolist()
                for i, r in zip(group, rewards, strict=True):
                    out[i] = r
        return out

    def __call__(self, queries: Sequence[Prompt], responses: Sequence[str]) -> Any:
        """``reward_model(queries, responses)``: a tensor of rewards, the form PPO's ``step`` takes."""
        if isinstance(responses, str):
            raise ConfigError("reward_model(queries, responses) takes lists; wrap a single pair in lists")
        return torch.tensor(self.score(list(queries), list(responses)))


def train_reward_model(
    rm: RewardModel,
    pairs: Sequence[PreferencePair],
    config: RewardConfig | None = None,
    *,
    on_step: Callable[[int, int, float], None] | None = None,
) -> dict[str, Any]:
    """Bradley-Terry training on ``pairs``; returns statistics (loss curve, time, accuracy on the
    training pairs) and sets the reward offset when ``center_rewards``."""
    cfg = config or RewardConfig()
    if not pairs:
        raise ConfigError("no preference pairs to train on")
    torch.manual_seed(cfg.seed)
    if cfg.train_layers is not None:
        freeze_below(rm.model, cfg.train_layers)
    params = [p for p in rm.model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    # Not with train_layers: frozen blocks keep no activations anyway, and on the embedded model (top 4 blocks,
    # 8 pairs of 128 tokens) checkpointing made a step 3x slower (73 s against 24 s, same loaded machine).
    checkpointing = (
        cfg.gradient_checkpointing and cfg.train_layers is None and hasattr(rm.model, "gradient_checkpointing_enable")
    )
    if checkpointing:  # non-reentrant: works with LoRA's frozen inputs (no input grads needed)
        rm.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    # tokenized once: chosen and rejected ids per pair, and the longer of the two (what a pair pads to)
    chosen = rm.encode([rm.render(p.prompt, p.chosen) for p in pairs], cfg.max_length)
    rejected = rm.encode([rm.render(p.prompt, p.rejected) for p in pairs], cfg.max_length)
    lengths = [max(len(c), len(r)) for c, r in zip(chosen, rejected, strict=True)]
    steps_per_epoch = math.ceil(len(pairs) / cfg.batch_size)
    total, losses, start = steps_per_epoch * cfg.epochs, [], time.perf_counter()
    rm.model.train()
    for epoch in range(cfg.epochs):
        for s, batch in enumerate(_epoch_batches(lengths, cfg, epoch)):
            opt.zero_grad()
            loss = 0.0
            # micro-batches of pairs, longest first, each at most micro_batch_tokens padded tokens (2 rows a pair)
            for micro in token_batches([2 * lengths[i] for i in batch], cfg.micro_batch_tokens):
                idx = [batch[j] for j in micro]
                rewards = rm.forward_ids([chosen[i] for i in idx] + [rejected[i] for i in idx])  # chosen, rejected
                part = _pair_loss(rewards, [pairs[i] for i in idx]) * (len(idx) / len(batch))
                part.backward()  # the step's loss is the mean over its pairs: the parts' gradients sum to it
                loss += float(part.detach())
            opt.step()
            losses.append(loss)
            if on_step:
                on_step(epoch * steps_per_epoch + s + 1, total, loss)
    rm.model.eval()
    if checkpointing:
        rm.model.gradient_checkpointing_disable()
    rm.max_length = cfg.max_length
    stats: dict[str, Any] = {
        "steps": total,
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "seconds": time.perf_counter() - start,
        "config": asdict(cfg),
    }
    if cfg.center_rewards:
        rm.offset = 0.0
        picked = random.Random(cfg.seed).sample(range(len(pairs)), min(len(pairs), cfg.center_pairs))  # noqa: S311
        sample = [pairs[i] for i in picked]
        both = rm.score([p.prompt for p in sample] * 2, [p.chosen for p in sample] + [p.rejected for p in sample])
        rm.offset = sum(both) / len(both)
        stats["offset"] = rm.offset
    return stats


def _epoch_batches(lengths: Sequence[int], cfg: RewardConfig, epoch: int) -> list[list[int]]:
    """One epoch's steps: pairs of similar length together (``group_by_length``) or a plain shuffle;
    a different seeded order each epoch."""
    if cfg.group_by_length:
        return length_grouped_batches(lengths, cfg.batch_size, cfg.seed + epoch)
    order = list(range(len(lengths)))
    random.Random(cfg.seed + epoch).shuffle(order)  # noqa: S311 (reproducible order, not secrecy)
    return [order[i : i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]


def _pair_loss(rewards: Any, batch: Sequence[PreferencePair]) -> Any:
    """Bradley-Terry loss of rewards [2B] (the B chosen rows, then the B rejected), with each pair's
    margin and soft label."""
    n = len(batch)
    margin = torch.tensor([p.margin or 0.0 for p in batch], device=rewards.device)
    prob = torch.tensor([_chosen_prob(p) for p in batch], device=rewards.device)
    return bradley_terry_loss(rewards[:n], rewards[n:], margin=margin, chosen_prob=prob)


def freeze_below(model: Any, top: int) -> None:
    """Freeze every weight except the top ``top`` transformer blocks, the final norm and the head."""
    blocks = max(
        (m for m in model.modules() if isinstance(m, torch.nn.ModuleList)), key=len, default=None
    )  # the stack of transformer blocks
    if blocks is None or top < 0:
        raise ConfigError("train_layers needs a model with a stack of transformer blocks and top >= 0")
    keep = {id(p) for block in list(blocks)[len(blocks) - top :] for p in block.parameters()}
    block_params = {id(p) for p in blocks.parameters()}
    embeddings = {id(p) for p in model.get_input_embeddings().parameters()}
    for p in model.parameters():
        # below the top: the lower blocks and the embeddings; the final norm and the head stay trainable
        p.requires_grad_(id(p) in keep or (id(p) not in block_params and id(p) not in embeddings))


def _chosen_prob(pair: PreferencePair) -> float:
    """The training target P(chosen better): a tie is 0.5, a soft label is itself, a plain label is 1."""
    if pair.tie:
        return 0.5
    return 1.0 if pair.chosen_prob is None else pair.chosen_prob


def evaluate_reward_model(
    rm: RewardModel, pairs: Sequence[PreferencePair], *, bins: int = 10, max_length: int | None = None
) -> dict[str, float]:
    """Pairwise accuracy (chosen scored above rejected; ties count half) and calibration: the expected
    calibration error of P(chosen) = σ(r_c - r_r) against the outcome, over ``bins`` confidence bins.
    Texts are cut to ``max_length`` tokens (default: what the model was trained on)."""
    if not pairs:
        raise ConfigError("no pairs to evaluate")
    n = len(pairs)  # one scoring call for both sides, so lengths are sorted across all 2n texts
    both = rm.score([p.prompt for p in pairs] * 2, [p.chosen for p in pairs] + [p.rejected for p in pairs],
                    max_length=max_length)  # fmt: skip
    rc, rr = both[:n], both[n:]
    correct = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in zip(rc, rr, strict=True))
    probs = [1 / (1 + math.exp(-(a - b))) for a, b in zip(rc, rr, strict=True)]
    # ECE over the symmetric confidence max(p, 1 - p): is the model right as often as it is sure?
    conf = [max(p, 1 - p) for p in probs]
    hit = [1.0 if p > 0.5 else 0.0 for p in probs]
    ece = 0.0
    for k in range(bins):
        lo, hi = 0.5 + 0.5 * k / bins, 0.5 + 0.5 * (k + 1) / bins
        idx = [i for i, c in enumerate(conf) if lo <= c < hi or (k == bins - 1 and c == 1.0)]
        if idx:
            ece += (
                len(idx) / len(conf) * abs(sum(hit[i] for i in idx) / len(idx) - sum(conf[i] for i in idx) / len(idx))
            )
    return {
        "pairwise_accuracy": correct / len(pairs),
        "ece": ece,
        "mean_margin": sum(a - b for a, b in zip(rc, rr, strict=True)) / len(rc),
    }
