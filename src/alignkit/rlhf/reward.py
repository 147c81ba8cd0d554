"""Reward models: a scalar head on any transformers backbone, trained on preference pairs with the
Bradley-Terry loss, usable as ``reward_model(queries, responses) -> rewards``.

The backbone is loaded as ``AutoModelForSequenceClassification`` with one label, so any causal LM
checkpoint (the embedded model's cached folder, ``gpt2``, a Llama) gets a fresh linear head that reads
the last non-padding token. After training, rewards are centred: the mean reward over the training
pairs is stored and subtracted, so 0 means "typical" and PPO's KL-shaped rewards are not dominated by
an arbitrary offset.
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
from alignkit.rlhf.losses import bradley_terry_loss
from alignkit.torchutil import import_torch_transformers, pick_device

META_FILE = "alignkit-reward.json"
REWARD_FEATURE = "reward models"  # named in the install hint when torch or transformers is missing


@dataclass
class RewardConfig:
    """Reward-model training options; each default says why. Bad values raise a :class:`ConfigError`."""

    learning_rate: float = 1e-5  # full fine-tuning of a pretrained backbone; tiny test models use 1e-3
    batch_size: int = 8  # pairs per step (16 sequences); fits a 135M model on 2 CPU cores
    epochs: int = 1  # reward models overfit preference data quickly (InstructGPT trained one epoch)
    max_length: int = 512  # tokens per prompt+answer; longer conversations are cut from the left
    weight_decay: float = 0.0
    seed: int = 0
    center_rewards: bool = True  # store the mean training reward and subtract it when scoring
    center_pairs: int = 256  # pairs whose mean reward becomes the offset (a sample is enough for a mean)
    train_layers: int | None = None  # train only the top N blocks (+ head): backward stops there, ~N/L the cost
    # Recompute each block's activations in the backward pass instead of keeping them: on the embedded model
    # (LoRA 16, 8 pairs of 256 tokens a step) peak memory 15.1 -> 7.1 GiB for about 10% more time.
    gradient_checkpointing: bool = True

    def __post_init__(self) -> None:
        if self.learning_rate <= 0 or self.weight_decay < 0:
            raise ConfigError(
                f"need learning_rate > 0 and weight_decay >= 0; got {self.learning_rate} and {self.weight_decay}"
            )
        for name in ("batch_size", "epochs", "max_length", "center_pairs"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1; got {getattr(self, name)}")
        if self.train_layers is not None and self.train_layers < 0:
            raise ConfigError(f"train_layers must be 0 or more (None trains every layer); got {self.train_layers}")


class RewardModel:
    """A sequence classifier with one output, and its tokenizer. Call it to score answers."""

    def __init__(self, model: Any, tokenizer: Any, *, offset: float = 0.0, name: str = "reward-model") -> None:
        self.model, self.tokenizer, self.offset, self.name = model, tokenizer, offset, name
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
        return cls(model, tokenizer, offset=float(meta.get("offset", 0.0)), name=str(folder))

    def save(self, folder: str | Path, **meta: Any) -> None:
        """Model, tokenizer and ``alignkit-reward.json`` (the offset and ``meta``) in ``folder``; LoRA is merged."""
        folder = Path(folder)
        if hasattr(self.model, "merge_and_unload"):  # LoRA: save plain merged weights, loadable without peft
            self.model = self.model.merge_and_unload()
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        write_text_atomic(folder / META_FILE, json.dumps({"offset": self.offset, **meta}, indent=1, default=str))

    # -- scoring ------------------------------------------------------------------------------------
    def render(self, prompt: Prompt, response: str) -> str:
        """The text scored for ``response`` to ``prompt``: the chat template when the tokenizer has one."""
        conversation = [*to_messages(prompt), assistant(response)]
        if getattr(self.tokenizer, "chat_template", None):
            return str(self.tokenizer.apply_chat_template([m.to_dict() for m in conversation], tokenize=False))
        return "\n".join(f"{m.role}: {m.content}" for m in conversation)

    def _raw(self, texts: Sequence[str], max_length: int) -> Any:
        enc = self.tokenizer(list(texts), return_tensors="pt", padding=True, truncation=True, max_length=max_length)
        enc = {k: v.to(self.model.device) for k, v in enc.items()}
        return self.model(**enc, use_cache=False).logits.squeeze(-1)  # [N]; no KV cache to build

    def score(
        self, prompts: Sequence[Prompt], responses: Sequence[str], *, batch_size: int = 16, max_length: int = 512
    ) -> list[float]:
        """Centred rewards for each (prompt, response)."""
        if len(prompts) != len(responses):
            raise ConfigError(f"{len(prompts)} prompts but {len(responses)} responses")
        out: list[float] = []
        self.model.eval()
        with torch.inference_mode():
            for i in range(0, len(prompts), batch_size):
                texts = [
                    self.render(p, r)
                    for p, r in zip(prompts[i : i + batch_size], responses[i : i + batch_size], strict=True)
                ]
                out += (self._raw(texts, max_length) - self.offset).float().tolist()
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
    order = list(range(len(pairs)))
    if cfg.train_layers is not None:
        freeze_below(rm.model, cfg.train_layers)
    params = [p for p in rm.model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    checkpointing = cfg.gradient_checkpointing and hasattr(rm.model, "gradient_checkpointing_enable")
    if checkpointing:  # non-reentrant: works with LoRA's frozen inputs (no input grads needed)
        rm.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    steps_per_epoch = math.ceil(len(pairs) / cfg.batch_size)
    total, losses, start = steps_per_epoch * cfg.epochs, [], time.perf_counter()
    rm.model.train()
    for epoch in range(cfg.epochs):
        random.Random(cfg.seed + epoch).shuffle(order)  # noqa: S311 (reproducible order, not secrecy)
        for s in range(steps_per_epoch):
            batch = [pairs[i] for i in order[s * cfg.batch_size : (s + 1) * cfg.batch_size]]
            texts = [rm.render(p.prompt, p.chosen) for p in batch] + [rm.render(p.prompt, p.rejected) for p in batch]
            rewards = rm._raw(texts, cfg.max_length)  # [2B]: chosen first, then rejected
            n = len(batch)
            margin = torch.tensor([p.margin or 0.0 for p in batch], device=rewards.device)
            prob = torch.tensor([_chosen_prob(p) for p in batch], device=rewards.device)
            loss = bradley_terry_loss(rewards[:n], rewards[n:], margin=margin, chosen_prob=prob)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            if on_step:
                on_step(epoch * steps_per_epoch + s + 1, total, losses[-1])
    rm.model.eval()
    if checkpointing:
        rm.model.gradient_checkpointing_disable()
    stats: dict[str, Any] = {
        "steps": total,
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "seconds": time.perf_counter() - start,
        "config": asdict(cfg),
    }
    if cfg.center_rewards:
        rm.offset = 0.0
        sample = [pairs[i] for i in order[: cfg.center_pairs]]
        both = rm.score(
            [p.prompt for p in sample] * 2,
            [p.chosen for p in sample] + [p.rejected for p in sample],
            max_length=cfg.max_length,
        )
        rm.offset = sum(both) / len(both)
        stats["offset"] = rm.offset
    return stats


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
    rm: RewardModel, pairs: Sequence[PreferencePair], *, bins: int = 10, max_length: int = 512
) -> dict[str, float]:
    """Pairwise accuracy (chosen scored above rejected; ties count half) and calibration: the expected
    calibration error of P(chosen) = σ(r_c - r_r) against the outcome, over ``bins`` confidence bins."""
    if not pairs:
        raise ConfigError("no pairs to evaluate")
    rc = rm.score([p.prompt for p in pairs], [p.chosen for p in pairs], max_length=max_length)
    rr = rm.score([p.prompt for p in pairs], [p.rejected for p in pairs], max_length=max_length)
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
