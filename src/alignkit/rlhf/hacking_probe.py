"""The trainers' side of the reward-hacking monitor (:mod:`alignkit.rlhf.hacking`): sample the held-out
prompts with the current policy, measure KL to the reference, snapshot and restore the trainable weights.

- :class:`PolicyProbe` works on any transformers causal LM (plain or peft): PPO passes its policy and
  frozen reference; the trl callback passes the model being trained and, without LoRA, a frozen copy
  taken at the start (with LoRA the reference is the same model with its adapters switched off).
- :func:`hacking_callback` is the transformers ``TrainerCallback`` the trl methods add when given a
  monitor: it evaluates at the start and every ``eval_every`` optimizer steps, writes the figures to
  the run log (``log.csv`` in the output folder) and ends training when the monitor stops it.

Evaluation sampling runs inside ``torch.random.fork_rng``, so watching a run does not change its
training samples, and with dropout off (the previous mode is restored after).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from alignkit.core.messages import Prompt
from alignkit.rlhf.hacking import HackingMonitor
from alignkit.rlhf.losses import logprobs_of
from alignkit.rlhf.policy import ValueHeadModel, collate, forward_response
from alignkit.rlhf.trainlog import LOG_FILE, TrainLog
from alignkit.rlhf.trl_methods_setup import OnLog, log_callback

__all__ = ["PolicyProbe", "hacking_callback", "ppo_probe", "trl_callbacks"]

CHUNK = 16  # held-out prompts sampled per generate call


class PolicyProbe:
    """A :class:`~alignkit.rlhf.hacking.Probe` over a causal LM ``lm`` and its ``tokenizer``.

    ``reference`` is a frozen causal LM, or None when ``lm`` is a peft model (its adapters are switched
    off for the reference log-probs). ``params`` are the weights :meth:`snapshot` copies (default: those
    of ``lm`` that require gradients)."""

    def __init__(self, lm: Any, tokenizer: Any, reference: Any = None, *, max_new_tokens: int = 64,
                 temperature: float = 1.0, max_prompt_length: int = 256, chat_template: bool = True,
                 params: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.lm, self.reference = lm, reference
        self.policy = ValueHeadModel(lm, tokenizer)  # for its encode_queries/sample; the value head is unused
        self.policy.max_new_tokens, self.policy.temperature = max_new_tokens, temperature
        self.policy.chat_template = chat_template
        self.max_prompt_length = max_prompt_length
        self.params = params if params is not None else {n: p for n, p in lm.named_parameters() if p.requires_grad}

    def sample(self, prompts: Sequence[Prompt], seed: int) -> tuple[list[str], list[float]]:
        """One answer per prompt (plain temperature sampling, seeded) and its summed KL to the reference."""
        tok = self.policy._tokenizer()
        texts: list[str] = []
        kls: list[float] = []
        with _eval_mode(self.lm), torch.random.fork_rng(devices=_cuda_devices(self.lm)):
            for i in range(0, len(prompts), CHUNK):
                q = self.policy.encode_queries(list(prompts[i : i + CHUNK]), self.max_prompt_length)
                r = self.policy.sample(q, seed=seed + i)
                texts += tok.batch_decode(r, skip_special_tokens=True)
                kls += self._kl(q, r)
        return texts, kls

    def _kl(self, queries: list[list[int]], responses: list[list[int]]) -> list[float]:
        """Σ_t log π(y_t) − log π_ref(y_t) per answer (the k1 estimate of KL(π ‖ π_ref)); NaN without a reference."""
        tok = self.policy._tokenizer()
        disable = getattr(self.lm, "disable_adapter", None)
        if self.reference is None and disable is None:
            return [math.nan] * len(responses)
        batch = collate(queries, responses, tok.pad_token_id, tok.eos_token_id).to(self.policy.device)
        t = self.policy.temperature
        with torch.inference_mode():
            logp = logprobs_of(forward_response(self.lm, batch)[0], batch.responses, t)
            if self.reference is not None:
                ref_logp = logprobs_of(forward_response(self.reference, batch)[0], batch.responses, t)
            elif disable is not None:
                with disable():
                    ref_logp = logprobs_of(forward_response(self.lm, batch)[0], batch.responses, t)
        return [float(x) for x in ((logp - ref_logp) * batch.response_mask).sum(1).tolist()]

    def snapshot(self) -> dict[str, torch.Tensor]:
        """CPU copies of the trainable weights."""
        return {n: p.detach().to("cpu", copy=True) for n, p in self.params.items()}

    def restore(self, snapshot: dict[str, torch.Tensor]) -> None:
        """Copy a :meth:`snapshot` back into the weights."""
        with torch.no_grad():
            for n, p in self.params.items():
                p.copy_(snapshot[n].to(p.device))


@contextmanager
def _eval_mode(module: Any) -> Iterator[None]:
    was_training = bool(module.training)
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


def _cuda_devices(module: Any) -> list[int]:
    device = next(module.parameters()).device
    return [device.index or 0] if device.type == "cuda" else []


def hacking_callback(transformers: Any, monitor: HackingMonitor, tokenizer: Any, config: Any) -> Any:
    """A transformers ``TrainerCallback`` that runs ``monitor`` on a trl run; ``config`` is the
    method's :class:`~alignkit.rlhf.trl_config.TrainConfig` (its ``max_new_tokens`` and
    ``temperature``, where it has them, are the evaluation's)."""

    class _WatchForHacking(transformers.TrainerCallback):  # type: ignore[misc]  # transformers is untyped here
        def __init__(self) -> None:
            self.after_step: Any = None
            self.log: TrainLog | None = None

        def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **_: Any) -> None:
            reference = None
            if not hasattr(model, "disable_adapter"):
                reference = copy.deepcopy(model).eval().requires_grad_(False)  # the weights as training starts
            probe = PolicyProbe(
                model, tokenizer, reference, max_new_tokens=int(getattr(config, "max_new_tokens", 64)),
                temperature=float(getattr(config, "temperature", 1.0)),
                chat_template=bool(getattr(tokenizer, "chat_template", None)),
            )  # fmt: skip
            (Path(args.output_dir) / LOG_FILE).unlink(missing_ok=True)  # a new run in an old folder: a new log
            self.log = TrainLog(args.output_dir)
            step = int(state.global_step)
            self.after_step = monitor.attach(probe, step)
            self.log.write(step, monitor.last_row)

        def on_step_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            step = int(state.global_step)
            row = self.after_step(step)
            if self.log is not None and not math.isnan(row["hacking/proxy"]):
                self.log.write(step, row)
            if monitor.stopped:
                control.should_training_stop = True

    return _WatchForHacking()


def trl_callbacks(
    transformers: Any, on_log: OnLog | None, monitor: HackingMonitor | None, tokenizer: Any, config: Any
) -> list[Any] | None:
    """The callbacks a trl method adds: progress (``on_log``) and the monitor, either or both."""
    found = [log_callback(transformers, on_log)] if on_log else []
    if monitor is not None:
        found.append(hacking_callback(transformers, monitor, tokenizer, config))
    return found or None


def ppo_probe(trainer: Any) -> PolicyProbe:
    """The probe of a :class:`~alignkit.rlhf.ppo.PPOTrainer`: its policy, frozen reference, sampling
    settings, and every weight its optimizer trains (policy, value head, critic)."""
    policy = trainer.accelerator.unwrap_model(trainer.model)
    cfg = trainer.config
    named = dict(policy.named_parameters())
    if trainer.critic is not None:
        named.update({f"critic.{n}": p for n, p in trainer.accelerator.unwrap_model(trainer.critic).named_parameters()})
    return PolicyProbe(
        policy.pretrained_model, trainer.tokenizer, trainer.ref_model, max_new_tokens=cfg.max_new_tokens,
        temperature=cfg.temperature, max_prompt_length=cfg.max_prompt_length, chat_template=cfg.chat_template,
        params={n: p for n, p in named.items() if p.requires_grad},
    )  # fmt: skip
