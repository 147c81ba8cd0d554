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
from alignkit.core.files import write_text_atomic
from alignkit.core.messages import Prompt
from alignkit.rlhf.hacking import HackingMonitor
from alignkit.rlhf.hacking_probe import ppo_probe
from alignkit.rlhf.losses import (
    AdaptiveKLController,
    entropy_from_logits,
    logprobs_of,
    masked_mean,
    policy_loss,
    value_loss,
)
from alignkit.rlhf.policy import (
    Batch,
    CriticModel,
    GeneratedTexts,
    ValueHeadModel,
    collate,
    frozen_copy,
)
from alignkit.rlhf.ppo_config import PPOConfig
from alignkit.rlhf.ppo_rollout import Rollout, as_scores, rollout, token_lists
from alignkit.rlhf.reward_functions import RewardFn
from alignkit.rlhf.trainlog import TrainLog

__all__ = ["PPOConfig", "PPOTrainer"]  # PPOConfig lives in ppo_config; importable from here too

STATE_FILE = "trainer_state.pt"


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
        monitor: HackingMonitor | None = None,
    ) -> list[dict[str, float]]:
        """Sample answers to ``prompts`` with the policy, score them with ``reward_fn(prompts,
        responses)`` (a :class:`RewardModel` or any function returning one number per answer) and
        update; ``steps`` batches in all (default: ``epochs`` passes over the prompts). With
        ``resume_from`` (a checkpoint folder, or ``"latest"`` in ``output_dir``) the run continues
        from that checkpoint: same data order, same samples. A ``monitor`` (:mod:`alignkit.rlhf.hacking`)
        adds gold, proxy and shortcut columns every ``eval_every`` steps and may stop or roll back the run.
        Returns the statistics of every step."""
        cfg, acc = self.config, self.accelerator
        prompts = list(prompts)[acc.process_index :: acc.num_processes]  # each process its own share
        if len(prompts) < cfg.batch_size:
            raise ConfigError(f"{len(prompts)} prompts for batch_size {cfg.batch_size}; add prompts or lower it")
        per_epoch = len(prompts) // cfg.batch_size
        total = steps if steps is not None else per_epoch * epochs
        if resume_from is not None:
            self.load_checkpoint(self._resolve_checkpoint(resume_from))
        watch = monitor.attach(ppo_probe(self), self.state.step) if monitor is not None else None
        while self.state.step < total and not (monitor is not None and monitor.stopped):
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
            self._record(stats if watch is None else {**stats, **watch(self.state.step + 1)})
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
            q_tokens = token_lists(queries) or self.policy.encode_queries(list(queries), self.config.max_prompt_length)
            given = token_lists(responses)
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
        """Steps 1-6 of the module docstring on one batch of rollouts and their scores [B]."""
        batch = batch.to(self.accelerator.device)
        # 1-4: shaped scores, log-probs, values, KL-shaped rewards, advantages; no gradients
        ro = rollout(self._forward, self.ref_model, batch, scores, self.config, self.state.kl_coef)
        # 5: PPO epochs over shuffled mini-batches
        losses = self._update(batch, ro)
        # 6: β update and the step's statistics
        return self._finish_step(batch, ro, losses)

    def _update(self, batch: Batch, ro: Rollout) -> dict[str, list[float]]:
        """Step 5: ``ppo_epochs`` passes over shuffled mini-batches (micro-batches accumulate gradients);
        returns each micro-batch's losses and clip fractions."""
        cfg, B = self.config, batch.input_ids.size(0)
        mask, tokens = batch.response_mask, batch.responses
        mini, micro = cfg.minibatch(), cfg.microbatch()
        gen = torch.Generator().manual_seed(cfg.seed * 7919 + self.state.step)
        seen: dict[str, list[float]] = {"pg": [], "vf": [], "clip": [], "vclip": [], "akl": [], "ent": []}
        for _ in range(cfg.ppo_epochs):
            perm = torch.randperm(B, generator=gen).to(mask.device)
            for m0 in range(0, B, mini):
                mb = perm[m0 : m0 + mini]
                self.optimizer.zero_grad()
                for u0 in range(0, len(mb), micro):
                    idx = mb[u0 : u0 + micro]
                    m = mask[idx]
                    new_logits, new_values = self._forward(batch.select(idx))
                    new_logp = logprobs_of(new_logits, tokens[idx], cfg.temperature)
                    pg, pstats = policy_loss(new_logp, ro.old_logp[idx], ro.advantages[idx], m, cfg.cliprange)
                    vf, vstats = value_loss(new_values, ro.values[idx], ro.returns[idx], m, cfg.cliprange_value)
                    loss = pg + cfg.vf_coef * vf
                    if cfg.ent_coef:
                        ent = masked_mean(entropy_from_logits(new_logits / cfg.temperature), m)
                        loss = loss - cfg.ent_coef * ent
                        seen["ent"].append(ent.item())
                    self.accelerator.backward(loss * len(idx) / len(mb))
                    seen["pg"].append(pg.item())
                    seen["vf"].append(vf.item())
                    seen["clip"].append(pstats["clipfrac"])
                    seen["vclip"].append(vstats["vf_clipfrac"])
                    seen["akl"].append(pstats["approx_kl"])
                if cfg.max_grad_norm:
                    self.accelerator.clip_grad_norm_(self.params, cfg.max_grad_norm)
                self.optimizer.step()
        return seen

    def _finish_step(self, batch: Batch, ro: Rollout, losses: dict[str, list[float]]) -> dict[str, float]:
        """Step 6: move β towards the KL target (when adaptive) and gather the step's statistics."""
        B, mask = batch.input_ids.size(0), batch.response_mask
        seq_kl = ro.kl.sum(1)
        mean_kl = float(self.accelerator.reduce(seq_kl.mean(), reduction="mean"))
        kl_coef_used = self.state.kl_coef
        if self.config.adaptive_kl:
            self.state.kl_coef = self.kl_ctl.update(mean_kl, B * self.accelerator.num_processes)

        def avg(name: str) -> float:
            return sum(losses[name]) / len(losses[name]) if losses[name] else 0.0

        return {
            "env/reward_mean": ro.raw_scores.mean().item(),
            "env/reward_std": ro.raw_scores.std().item() if B > 1 else 0.0,
            "objective/kl": mean_kl,
            "objective/kl_coef": kl_coef_used,
            "objective/entropy": ro.entropy,
            "objective/score_minus_kl": (ro.scores - kl_coef_used * seq_kl).mean().item(),
            "ppo/loss/policy": avg("pg"),
            "ppo/loss/value": avg("vf"),
            "ppo/policy/clipfrac": avg("clip"),
            "ppo/policy/approxkl": avg("akl"),
            "ppo/val/clipfrac": avg("vclip"),
            "ppo/val/mean": masked_mean(ro.values, mask).item(),
            "ppo/returns/mean": masked_mean(ro.returns, mask).item(),
            "tokens/response_len_mean": mask.sum(1).mean().item(),
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
        write_text_atomic(tmp / "ppo_config.json", json.dumps(asdict(self.config), indent=1))
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
        keep = self.config.keep_checkpoints
        if keep > 0 and self.config.output_dir and folder.parent == Path(self.config.output_dir):
            for old in _checkpoints(folder.parent)[:-keep]:
                shutil.rmtree(old, ignore_errors=True)
        return folder

    def load_checkpoint(self, folder: str | Path) -> None:
        """Restore a checkpoint written by :meth:`save_checkpoint`: weights, value head or critic,
        optimizer, β, step and history (the log is cut back to that step)."""
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
