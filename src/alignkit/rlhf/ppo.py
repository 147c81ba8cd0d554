"""PPO for language models, top to bottom (Ziegler et al. 2019; Ouyang et al. 2022; Huang et al.
2024, "The N+ implementation details of RLHF with PPO").

One step, for B queries and their sampled responses:

1. score the responses (a reward model or any function), subtract a penalty from those that never
   emitted EOS;
2. with gradients off: log-probs of the response tokens under the policy (at the sampling
   temperature) and under the frozen reference, and the values;
3. per-token rewards: -β·(logp - ref_logp) on every token, plus the score on the last one;
4. GAE advantages and returns; whiten the advantages;
5. ``ppo_epochs`` passes over shuffled mini-batches: clipped policy loss + vf_coef × clipped value
   loss (− ent_coef × entropy), gradient clipping, AdamW;
6. adapt β towards the KL target (when adaptive).

The model stays in eval mode throughout: dropout would make the log-probs of step 2 and step 5
disagree for reasons that have nothing to do with the update.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from alignkit.core.errors import ConfigError
from alignkit.core.messages import Prompt
from alignkit.rlhf.losses import (
    AdaptiveKLController,
    entropy_from_logits,
    gae,
    kl_shaped_rewards,
    logprobs_of,
    masked_mean,
    masked_whiten,
    policy_loss,
    value_loss,
)
from alignkit.rlhf.policy import (
    Batch,
    CriticModel,
    GeneratedTexts,
    ValueHeadModel,
    collate,
    forward_response,
    frozen_copy,
)
from alignkit.rlhf.reward_functions import RewardFn
from alignkit.rlhf.trainlog import TrainLog

STATE_FILE = "trainer_state.pt"


@dataclass
class PPOConfig:
    """PPO settings; each default says why."""

    model_name: str | None = None  # policy to load when PPOTrainer gets no model (folder or hub id)
    learning_rate: float = 1e-5  # full fine-tuning; 1e-6..3e-5 is the usual range for 0.1-7B models
    batch_size: int = 16  # rollouts per PPO step
    mini_batch_size: int | None = None  # rollouts per gradient step; None = batch_size // 4 (at least 1)
    micro_batch_size: int | None = None  # rollouts per forward pass (gradient accumulation); None = mini
    ppo_epochs: int = 4  # passes over each batch; more reuses samples, but drifts off-policy
    cliprange: float = 0.2  # PPO's ε for the policy ratio
    cliprange_value: float = 0.2  # and for the value change
    vf_coef: float = 0.1  # value loss weight; the value head shares the body, keep it from dominating
    ent_coef: float = 0.0  # entropy bonus; KL to the reference already keeps the policy spread out
    gamma: float = 1.0  # no discounting within one answer
    lam: float = 0.95  # GAE λ
    init_kl_coef: float = 0.05  # β for the per-token KL penalty
    adaptive_kl: bool = False  # move β to keep KL near kl_target (Ziegler et al.)
    kl_target: float = 6.0  # nats per sequence, for adaptive β
    kl_horizon: int = 10000  # samples over which β may change by ±20%
    whiten_advantages: bool = True  # normalise advantages per batch (stabilises the policy step)
    score_clip: float | None = None  # clip scores to ±score_clip before shaping (guards against outliers)
    missing_eos_penalty: float | None = None  # subtracted from the score of answers cut off at max_new_tokens
    temperature: float = 1.0  # sampling temperature; log-probs are computed at the same temperature
    max_new_tokens: int = 32  # response length limit when train() or model.generate samples
    max_prompt_length: int = 256  # queries are cut from the left (keep the question) to this many tokens
    chat_template: bool = True  # render text queries with the tokenizer's chat template when it has one
    max_grad_norm: float = 1.0
    seed: int = 0
    output_dir: str | None = None  # logs and checkpoints; None = no files
    save_every: int = 0  # steps between checkpoints (0 = only at the end of train())
    keep_checkpoints: int = 2  # older checkpoints are deleted; 0 keeps them all
    tensorboard: bool = False  # also write TensorBoard scalars (needs the tensorboard package)
    device: str | None = "auto"

    def minibatch(self) -> int:
        return self.mini_batch_size or max(1, self.batch_size // 4)

    def check(self) -> None:
        mini, micro = self.minibatch(), self.micro_batch_size or self.minibatch()
        if self.batch_size < 1 or mini > self.batch_size or micro > mini:
            raise ConfigError(
                f"need 1 <= micro_batch_size ({micro}) <= mini_batch_size ({mini}) <= batch_size ({self.batch_size})"
            )
        if self.temperature <= 0:
            raise ConfigError("temperature must be > 0: PPO needs a sampling distribution (use 1.0 for plain sampling)")
        if self.adaptive_kl and self.kl_target <= 0:
            raise ConfigError("kl_target must be > 0 with adaptive_kl")


@dataclass
class _RunState:
    step: int = 0
    kl_coef: float = 0.05
    history: list[dict[str, float]] = field(default_factory=list)


class PPOTrainer:
    """``PPOTrainer(config, model, ref_model, tokenizer)``; drive it with :meth:`step` or :meth:`train`.

    ``model`` may be a :class:`ValueHeadModel` or a plain transformers causal LM (wrapped here); with
    no model, ``config.model_name`` is loaded. ``ref_model`` defaults to a frozen copy of the policy.
    ``critic`` (optional) is a reward-model folder or sequence classifier: the values then come from a
    separate network initialised from it instead of a head on the policy.
    """

    def __init__(
        self,
        config: PPOConfig | None = None,
        model: Any = None,
        ref_model: Any = None,
        tokenizer: Any = None,
        *,
        critic: Any = None,
        accelerator: Any = None,
    ) -> None:
        from accelerate import Accelerator

        self.config = cfg = config or PPOConfig()
        cfg.check()
        self.accelerator = accelerator or Accelerator(cpu=cfg.device == "cpu")
        if model is None:
            if not cfg.model_name:
                raise ConfigError("pass a model or set PPOConfig(model_name=...) to the policy's folder or hub id")
            model = ValueHeadModel.from_pretrained(cfg.model_name, device=cfg.device)
        elif not isinstance(model, ValueHeadModel):
            model = ValueHeadModel(model, tokenizer)
        if tokenizer is not None:
            model.tokenizer = tokenizer
        self.tokenizer = model._tokenizer()
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        model.max_new_tokens, model.temperature, model.chat_template = (
            cfg.max_new_tokens,
            cfg.temperature,
            cfg.chat_template,
        )
        model.eval()  # dropout off, for good (see the module docstring)
        self.policy = model
        ref = ref_model.pretrained_model if isinstance(ref_model, ValueHeadModel) else ref_model
        self.ref_model = frozen_copy(model.pretrained_model) if ref is None else ref.eval().requires_grad_(False)
        self.critic = _load_critic(critic, model.device) if critic is not None else None
        if self.critic is not None:
            model.v_head.requires_grad_(False)  # the critic gives the values; the head stays out of the update
        params = [p for p in model.parameters() if p.requires_grad]
        if self.critic is not None:
            params += list(self.critic.parameters())
        self.params = params
        self.optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, eps=1e-5)
        if self.critic is None:
            self.model, self.optimizer = self.accelerator.prepare(model, self.optimizer)
        else:
            self.model, self.critic, self.optimizer = self.accelerator.prepare(model, self.critic, self.optimizer)
        self.ref_model.to(self.accelerator.device)
        self.kl_ctl = AdaptiveKLController(cfg.init_kl_coef, cfg.kl_target, cfg.kl_horizon)
        self.state = _RunState(kl_coef=cfg.init_kl_coef)
        self.log = TrainLog(cfg.output_dir, tensorboard=cfg.tensorboard) if cfg.output_dir else None

    # -- the guide's API ------------------------------------------------------------------------------
    def step(self, queries: Any, responses: Any, rewards: Any) -> dict[str, float]:
        """One PPO update on ``queries``/``responses`` (texts, message lists or token tensors) and
        ``rewards`` (floats or a tensor). Returns the step's statistics."""
        batch = self._batch(queries, responses)
        return self._record(self._ppo_step(batch, as_scores(rewards, batch.input_ids.size(0))))

    def _record(self, stats: dict[str, float]) -> dict[str, float]:
        self.state.step += 1
        self.state.history.append(stats)
        if self.log is not None:
            self.log.write(self.state.step, stats)
        return stats

    # -- the loop -------------------------------------------------------------------------------------
    def train(
        self,
        prompts: Sequence[Prompt],
        reward_fn: RewardFn,
        *,
        steps: int | None = None,
        epochs: int = 1,
        resume_from: str | Path | None = None,
        on_step: Callable[[int, int, dict[str, float]], None] | None = None,
    ) -> list[dict[str, float]]:
        """Sample answers to ``prompts`` with the policy, score them with ``reward_fn(prompts,
        responses)`` (a :class:`RewardModel` or any function returning one number per answer) and
        update; ``steps`` batches in all (default: ``epochs`` passes over the prompts). With
        ``resume_from`` (a checkpoint folder, or ``"latest"`` in ``output_dir``) the run continues
        from that checkpoint: same data order, same samples. Returns the statistics of every step."""
        cfg, acc = self.config, self.accelerator
        prompts = list(prompts)[acc.process_index :: acc.num_processes]  # each process its own share
        if len(prompts) < cfg.batch_size:
            raise ConfigError(f"{len(prompts)} prompts for batch_size {cfg.batch_size}; add prompts or lower it")
        per_epoch = len(prompts) // cfg.batch_size
        total = steps if steps is not None else per_epoch * epochs
        if resume_from is not None:
            self.load_checkpoint(self._resolve_checkpoint(resume_from))
        while self.state.step < total:
            epoch, k = divmod(self.state.step, per_epoch)
            order = list(range(len(prompts)))
            random.Random(cfg.seed + epoch).shuffle(order)  # noqa: S311 (reproducible order, not secrecy)
            queries = [prompts[i] for i in order[k * cfg.batch_size : (k + 1) * cfg.batch_size]]
            t0 = time.perf_counter()
            q_tokens = self.policy.encode_queries(queries, cfg.max_prompt_length)
            r_tokens = acc.unwrap_model(self.model).sample(
                q_tokens, seed=cfg.seed * 1_000_003 + self.state.step + 7_919 * acc.process_index
            )
            texts = self.tokenizer.batch_decode(r_tokens, skip_special_tokens=True)
            t1 = time.perf_counter()
            scores = as_scores(reward_fn(queries, texts), len(queries))
            t2 = time.perf_counter()
            stats = self._ppo_step(
                collate(q_tokens, r_tokens, self.tokenizer.pad_token_id, self.tokenizer.eos_token_id), scores
            )
            elapsed = time.perf_counter() - t0
            stats.update(
                {
                    "time/generate": t1 - t0,
                    "time/reward": t2 - t1,
                    "time/step": elapsed,
                    "time/samples_per_s": len(queries) / elapsed,
                }
            )
            self._record(stats)
            if self.log is not None and cfg.save_every and self.state.step % cfg.save_every == 0:
                self.save_checkpoint()
            if on_step:
                on_step(self.state.step, total, stats)
        if self.log is not None:
            self.save_checkpoint()
        return self.state.history

    # -- internals ------------------------------------------------------------------------------------
    def _batch(self, queries: Any, responses: Any) -> Batch:
        tok = self.tokenizer
        if isinstance(responses, GeneratedTexts):
            q_tokens, r_tokens = responses.query_tokens, responses.response_tokens
        else:
            q_tokens = _token_lists(queries) or self.policy.encode_queries(list(queries), self.config.max_prompt_length)
            given = _token_lists(responses)
            r_tokens = (
                given
                if given is not None
                else [  # texts: complete answers, so they end with EOS
                    [*ids, tok.eos_token_id] for ids in tok(list(responses), add_special_tokens=False)["input_ids"]
                ]
            )
        return collate(q_tokens, r_tokens, tok.pad_token_id, tok.eos_token_id)

    def _forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        logits, values = self.model(batch)  # through the (possibly distributed) wrapper, so gradients sync
        if self.critic is not None:
            values = self.critic(batch)
        return logits, values

    def _ppo_step(self, batch: Batch, scores: torch.Tensor) -> dict[str, float]:
        cfg, device = self.config, self.accelerator.device
        batch = batch.to(device)
        mask, tokens, B = batch.response_mask, batch.responses, batch.input_ids.size(0)
        scores = scores.to(device).float()
        raw_scores = scores.clone()
        if cfg.missing_eos_penalty is not None:
            scores = scores - cfg.missing_eos_penalty * (~batch.has_eos).float()
        if cfg.score_clip is not None:
            scores = scores.clamp(-cfg.score_clip, cfg.score_clip)

        # 2-4: rollout statistics, no gradients
        with torch.no_grad():
            logits, values = self._forward(batch)
            old_logp = logprobs_of(logits, tokens, cfg.temperature)
            entropy = masked_mean(entropy_from_logits(logits / cfg.temperature), mask).item()
            ref_logits, _ = forward_response(self.ref_model, batch)
            ref_logp = logprobs_of(ref_logits, tokens, cfg.temperature)
            del logits, ref_logits
            rewards, kl = kl_shaped_rewards(scores, old_logp, ref_logp, mask, self.state.kl_coef)
            advantages, returns = gae(rewards, values, mask, cfg.gamma, cfg.lam)
            if cfg.whiten_advantages:
                advantages = masked_whiten(advantages, mask)

        # 5: PPO epochs over shuffled mini-batches
        mini, micro = cfg.minibatch(), cfg.micro_batch_size or cfg.minibatch()
        gen = torch.Generator().manual_seed(cfg.seed * 7919 + self.state.step)
        acc_stats: dict[str, list[float]] = {"pg": [], "vf": [], "clip": [], "vclip": [], "akl": [], "ent": []}
        for _ in range(cfg.ppo_epochs):
            perm = torch.randperm(B, generator=gen).to(device)
            for m0 in range(0, B, mini):
                mb = perm[m0 : m0 + mini]
                self.optimizer.zero_grad()
                for u0 in range(0, len(mb), micro):
                    idx = mb[u0 : u0 + micro]
                    sub, m = batch.select(idx), mask[idx]
                    new_logits, new_values = self._forward(sub)
                    new_logp = logprobs_of(new_logits, tokens[idx], cfg.temperature)
                    pg, pstats = policy_loss(new_logp, old_logp[idx], advantages[idx], m, cfg.cliprange)
                    vf, vstats = value_loss(new_values, values[idx], returns[idx], m, cfg.cliprange_value)
                    loss = pg + cfg.vf_coef * vf
                    if cfg.ent_coef:
                        ent = masked_mean(entropy_from_logits(new_logits / cfg.temperature), m)
                        loss = loss - cfg.ent_coef * ent
                        acc_stats["ent"].append(ent.item())
                    self.accelerator.backward(loss * len(idx) / len(mb))
                    acc_stats["pg"].append(pg.item())
                    acc_stats["vf"].append(vf.item())
                    acc_stats["clip"].append(pstats["clipfrac"])
                    acc_stats["vclip"].append(vstats["vf_clipfrac"])
                    acc_stats["akl"].append(pstats["approx_kl"])
                if cfg.max_grad_norm:
                    self.accelerator.clip_grad_norm_(self.params, cfg.max_grad_norm)
                self.optimizer.step()

        # 6: statistics, β update
        seq_kl = kl.sum(1)
        mean_kl = float(self.accelerator.reduce(seq_kl.mean(), reduction="mean"))
        kl_coef_used = self.state.kl_coef
        if cfg.adaptive_kl:
            self.state.kl_coef = self.kl_ctl.update(mean_kl, B * self.accelerator.num_processes)

        def avg(xs: list[float]) -> float:
            return sum(xs) / len(xs) if xs else 0.0

        lengths = mask.sum(1)
        return {
            "env/reward_mean": raw_scores.mean().item(),
            "env/reward_std": raw_scores.std().item() if B > 1 else 0.0,
            "objective/kl": mean_kl,
            "objective/kl_coef": kl_coef_used,
            "objective/entropy": entropy,
            "objective/score_minus_kl": (scores - kl_coef_used * seq_kl).mean().item(),
            "ppo/loss/policy": avg(acc_stats["pg"]),
            "ppo/loss/value": avg(acc_stats["vf"]),
            "ppo/policy/clipfrac": avg(acc_stats["clip"]),
            "ppo/policy/approxkl": avg(acc_stats["akl"]),
            "ppo/val/clipfrac": avg(acc_stats["vclip"]),
            "ppo/val/mean": masked_mean(values, mask).item(),
            "ppo/returns/mean": masked_mean(returns, mask).item(),
            "tokens/response_len_mean": lengths.mean().item(),
            "tokens/eos_fraction": batch.has_eos.float().mean().item(),
        }

    # -- checkpoints ----------------------------------------------------------------------------------
    def save_checkpoint(self, folder: str | Path | None = None) -> Path:
        """Write everything a resumed run needs (policy, value head/critic, optimizer, β, step,
        history) atomically; prune old checkpoints. Returns the folder."""
        if folder is None:
            if not self.config.output_dir:
                raise ConfigError("set PPOConfig(output_dir=...) or pass a folder to save checkpoints")
            folder = Path(self.config.output_dir) / f"checkpoint-{self.state.step}"
        folder = Path(folder)
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        self.accelerator.unwrap_model(self.model).save_pretrained(tmp)
        state = {
            "optimizer": self.optimizer.state_dict(),
            "step": self.state.step,
            "kl_coef": self.state.kl_coef,
            "history": self.state.history,
            "critic": self.accelerator.unwrap_model(self.critic).state_dict() if self.critic is not None else None,
        }
        torch.save(state, tmp / STATE_FILE)
        (tmp / "ppo_config.json").write_text(json.dumps(asdict(self.config), indent=1))
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
        keep = self.config.keep_checkpoints
        if keep > 0 and self.config.output_dir and folder.parent == Path(self.config.output_dir):
            for old in _checkpoints(folder.parent)[:-keep]:
                shutil.rmtree(old, ignore_errors=True)
        return folder

    def load_checkpoint(self, folder: str | Path) -> None:
        folder = Path(folder)
        if not (folder / STATE_FILE).exists():
            raise ConfigError(f"{folder}: not a PPO checkpoint (no {STATE_FILE}); pass a checkpoint-N folder")
        from safetensors.torch import load_file

        policy = self.accelerator.unwrap_model(self.model)
        weights: dict[str, torch.Tensor] = {}
        for f in sorted(folder.glob("*.safetensors")):
            weights.update(load_file(str(f), device=str(policy.device)))
        missing, _ = policy.pretrained_model.load_state_dict(weights, strict=False)
        if [k for k in missing if "lm_head" not in k]:  # tied embeddings are saved once
            raise ConfigError(f"{folder}: the checkpoint does not match this model ({len(missing)} missing weights)")
        policy.v_head.load_state_dict(
            torch.load(folder / "value_head.pt", map_location=policy.device, weights_only=True)
        )
        state = torch.load(folder / STATE_FILE, map_location=policy.device, weights_only=True)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.critic is not None and state["critic"] is not None:
            self.accelerator.unwrap_model(self.critic).load_state_dict(state["critic"])
        self.state = _RunState(step=state["step"], kl_coef=state["kl_coef"], history=state["history"])
        self.kl_ctl.value = state["kl_coef"]
        if self.log is not None:
            self.log.truncate_after(self.state.step)

    def _resolve_checkpoint(self, resume_from: str | Path) -> Path:
        if str(resume_from) != "latest":
            return Path(resume_from)
        found = _checkpoints(Path(self.config.output_dir or "."))
        if not found:
            raise ConfigError(f"no checkpoint-N folder in {self.config.output_dir}; nothing to resume")
        return found[-1]

    def save_pretrained(self, folder: str | Path) -> None:
        """The trained policy as a normal checkpoint (load it with ``hf/<folder>``)."""
        self.accelerator.unwrap_model(self.model).save_pretrained(folder)


def _checkpoints(folder: Path) -> list[Path]:
    found = [p for p in folder.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]))


def _token_lists(x: Any) -> list[list[int]] | None:
    """Token tensors (2-D, or a list of 1-D) as lists; None for texts."""
    if isinstance(x, torch.Tensor):
        return [row.tolist() for row in (x if x.dim() == 2 else x.unsqueeze(0))]
    if isinstance(x, Sequence) and x and isinstance(x[0], torch.Tensor):
        return [t.tolist() for t in x]
    return None


def as_scores(rewards: Any, n: int) -> torch.Tensor:
    """Rewards (floats or a tensor) as a float tensor [n]; wrong counts and NaNs are errors."""
    if isinstance(rewards, torch.Tensor):
        scores = rewards.detach().float().reshape(-1).cpu()
    else:
        try:
            scores = torch.tensor([float(r) for r in rewards], dtype=torch.float32)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"rewards must be numbers (a list of floats or a tensor), got {rewards!r:.80}") from e
    if scores.numel() != n:
        raise ConfigError(f"{scores.numel()} rewards for {n} responses; the reward function must return one per answer")
    if not torch.isfinite(scores).all():
        raise ConfigError("a reward is NaN or infinite; check the reward function")
    return scores


def _load_critic(critic: Any, device: Any) -> CriticModel:
    """A separate value network: a reward model (folder, RewardModel or sequence classifier)."""
    if hasattr(critic, "model") and hasattr(critic, "tokenizer"):  # alignkit RewardModel
        critic = critic.model
    if isinstance(critic, str | Path):
        from transformers import AutoModelForSequenceClassification

        critic = AutoModelForSequenceClassification.from_pretrained(str(critic), num_labels=1)
    if not hasattr(critic, "score"):
        raise ConfigError("the critic must be a sequence classifier with a `score` head (e.g. a saved reward model)")
    value_net = CriticModel(critic)
    value_net.to(device).eval()
    return value_net
