"""DPO, RLOO, GRPO and SFT through trl, on alignkit's records and reward functions.

- :func:`train_dpo` takes :class:`~alignkit.core.PreferencePair` records (ties dropped and counted;
  a soft label ``chosen_prob < 0.5`` swaps the answers; when every pair carries the same soft label,
  it becomes trl's ``label_smoothing``, which is exactly the soft-label loss).
- :func:`train_rloo` and :func:`train_grpo` take prompts and an alignkit reward function
  ``f(prompts, responses) -> rewards`` (a list of floats or a 1-D tensor; a
  :class:`~alignkit.rlhf.reward.RewardModel` is one), adapted by :func:`as_trl_reward`. The reward
  function sees the prompts exactly as they were passed in.
- :func:`train_sft` takes :class:`~alignkit.core.SFTExample` records and learns the completions only.
- DPO, RLOO and GRPO take ``monitor=`` (:class:`~alignkit.rlhf.hacking.HackingMonitor`): gold vs proxy
  on held-out prompts, shortcut flags, warn / stop / roll back (docs/reward-hacking.md).

Each takes the model as a folder, an hf id, an alignkit ``HFModel`` or a loaded transformers model,
saves the trained model and tokenizer to ``config.output_dir`` (``hf/<output_dir>`` loads it) and
returns statistics. trl rebuilds the reference model from the policy's saved path, which is wrong
for a model trained or built in memory: here DPO gets an explicit frozen copy, and RLOO/GRPO get the
in-memory weights saved to a temporary folder first. A model passed in memory is trained in place.
"""

from __future__ import annotations

import copy
import math
import tempfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from alignkit.core.errors import ConfigError
from alignkit.core.messages import Message, Prompt, to_messages
from alignkit.core.records import PreferencePair, SFTExample
from alignkit.rlhf.hacking import HackingMonitor
from alignkit.rlhf.hacking_probe import trl_callbacks
from alignkit.rlhf.reward_functions import RewardFn
from alignkit.rlhf.trl_config import DPOTrainConfig, LoraAdapterConfig, RLTrainConfig, TrainConfig
from alignkit.rlhf.trl_methods_setup import (
    OnLog,
    completion_row,
    has_chat_template,
    import_stack,
    load_policy,
    load_reference,
    log_callback,
    make_trl_config,
    peft_config,
    prompt_row,
    quiet_progress,
    to_dataset,
    train_and_save,
    unwrap,
)

__all__ = [
    "DPOTrainConfig",
    "LoraAdapterConfig",
    "RLTrainConfig",
    "RewardFn",
    "TrainConfig",
    "as_trl_reward",
    "train_dpo",
    "train_grpo",
    "train_rloo",
    "train_sft",
]


# -- the reward adapter -------------------------------------------------------------------------------
def as_trl_reward(
    reward_fn: RewardFn, *, prompts: Sequence[Prompt] | None = None, name: str | None = None
) -> Callable[..., list[float]]:
    """A trl reward function (``f(prompts, completions, **kwargs) -> list[float]``) that calls
    ``reward_fn(prompts, responses)``.

    Completions may be plain strings or conversational (``[{"role": "assistant", "content": ...}]``;
    the last message's content is the response). Prompts are passed on as they were given when trl's
    rows carry a ``prompt_index`` column and ``prompts`` holds the originals; otherwise a
    conversational prompt becomes a tuple of :class:`Message` and a plain one stays a string.
    """
    originals = list(prompts) if prompts is not None else None

    def reward(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float]:
        if len(prompts) != len(completions):
            raise ConfigError(f"{len(prompts)} prompts but {len(completions)} completions")
        index = kwargs.get("prompt_index")
        if originals is not None and index is not None:
            queries = [originals[int(i)] for i in index]
        else:
            queries = [p if isinstance(p, str) else to_messages(p) for p in prompts]
        responses = [_response_text(c) for c in completions]
        values = _as_floats(reward_fn(queries, responses), name or reward.__name__)
        if len(values) != len(responses):
            raise ConfigError(
                f"reward function {reward.__name__!r} returned {len(values)} rewards for {len(responses)} responses"
            )
        return values

    label = str(name or getattr(reward_fn, "name", None) or getattr(reward_fn, "__name__", None) or "reward")
    reward.__name__ = label.rstrip("/").rsplit("/", 1)[-1] or "reward"  # a model path names it by its folder
    return reward


def _response_text(completion: Any) -> str:
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion:
        last = completion[-1]
        return str(last["content"] if isinstance(last, dict) else getattr(last, "content", last))
    raise ConfigError(f"a completion must be a string or a list of messages; got {completion!r}")


def _as_floats(out: Any, name: str) -> list[float]:
    if hasattr(out, "detach"):
        out = out.detach().float().cpu()
    if getattr(out, "ndim", 1) != 1:
        raise ConfigError(f"reward function {name!r} must return one reward per response (a 1-D tensor or a list)")
    if hasattr(out, "tolist"):
        out = out.tolist()
    if isinstance(out, str) or not isinstance(out, Sequence):
        raise ConfigError(f"reward function {name!r} must return a list of rewards; got {type(out).__name__}")
    return [math.nan if v is None else float(v) for v in out]


# -- DPO ------------------------------------------------------------------------------------------------
def _orient(pairs: Sequence[PreferencePair]) -> tuple[list[tuple[tuple[Message, ...], str, str]], dict[str, Any]]:
    """``(prompt, chosen, rejected)`` triples with soft labels folded to ``chosen_prob >= 0.5``."""
    kept, probs, dropped, swapped = [], [], {"tie": 0, "chosen_prob 0.5": 0}, 0
    for p in pairs:
        prob = 1.0 if p.chosen_prob is None else p.chosen_prob
        if p.tie:
            dropped["tie"] += 1
        elif prob == 0.5:
            dropped["chosen_prob 0.5"] += 1
        elif prob < 0.5:
            kept.append((p.prompt, p.rejected, p.chosen))
            probs.append(1.0 - prob)
            swapped += 1
        else:
            kept.append((p.prompt, p.chosen, p.rejected))
            probs.append(prob)
    uniform = bool(probs) and all(math.isclose(q, probs[0]) for q in probs)
    # -(1-e) log s(b d) - e log s(-b d) is the soft-label loss for p = 1 - e, but trl has one e per run.
    smoothing = 1.0 - probs[0] if uniform else 0.0
    info = {
        "pairs": len(kept),
        "dropped": {k: v for k, v in dropped.items() if v},
        "swapped": swapped,
        "label_smoothing": smoothing,
        "soft_labels_used_as_hard": 0 if uniform else sum(q < 1.0 for q in probs),
    }
    return kept, info


def _preference_rows(triples: list[tuple[tuple[Message, ...], str, str]], chat: bool) -> list[dict[str, Any]]:
    rows = []
    for prompt, chosen, rejected in triples:
        p = prompt_row(prompt, chat)
        rows.append(
            {"prompt": p, "chosen": completion_row(p, chosen, chat), "rejected": completion_row(p, rejected, chat)}
        )
    return rows


def train_dpo(
    model: Any,
    pairs: Sequence[PreferencePair],
    config: DPOTrainConfig,
    *,
    tokenizer: Any = None,
    ref_model: Any = None,
    eval_pairs: Sequence[PreferencePair] | None = None,
    on_log: OnLog | None = None,
    monitor: HackingMonitor | None = None,
) -> dict[str, Any]:
    """Direct preference optimization on ``pairs``. ``ref_model`` (a folder or a loaded model)
    defaults to a frozen copy of the starting policy (with LoRA: the policy with adapters off).
    Statistics add ``pairs``, ``dropped``, ``swapped``, ``label_smoothing`` and, with
    ``eval_pairs``, ``eval`` (trl's metrics on them after training)."""
    if not isinstance(config, DPOTrainConfig):
        raise ConfigError(f"train_dpo needs DPOTrainConfig; got {type(config).__name__}")
    triples, info = _orient(pairs)
    if not triples:
        raise ConfigError(f"no preference pairs to train on (given {len(pairs)}; dropped {info['dropped'] or 'none'})")
    torch, transformers, trl = import_stack()
    with quiet_progress(not config.progress_bar):
        policy, tok, from_path = load_policy(model, tokenizer, transformers)
        ref = load_reference(ref_model, transformers)
        if ref is None and not from_path and config.lora is None:
            ref = copy.deepcopy(policy).eval().requires_grad_(False)  # trl would reload the path's stale weights
        chat = has_chat_template(tok)
        eval_dataset = None
        if eval_pairs:
            eval_triples, _ = _orient(eval_pairs)
            eval_dataset = to_dataset(_preference_rows(eval_triples, chat)) if eval_triples else None
        trl_args = make_trl_config(
            trl.DPOConfig,
            config,
            torch,
            beta=config.beta,
            max_length=config.max_length,
            label_smoothing=info["label_smoothing"],
            per_device_eval_batch_size=config.batch_size,
        )
        trainer = trl.DPOTrainer(
            model=policy,
            ref_model=ref,
            args=trl_args,
            train_dataset=to_dataset(_preference_rows(triples, chat)),
            eval_dataset=eval_dataset,
            processing_class=tok,
            peft_config=peft_config(config.lora),
            callbacks=trl_callbacks(transformers, on_log, monitor, tok, config),
        )
        return train_and_save(trainer, tok, config, "dpo", info)


# -- SFT ------------------------------------------------------------------------------------------------
def train_sft(
    model: Any,
    examples: Sequence[SFTExample],
    config: TrainConfig,
    *,
    tokenizer: Any = None,
    on_log: OnLog | None = None,
) -> dict[str, Any]:
    """Supervised fine-tuning on ``examples``: the loss covers the completions only, the prompt is context."""
    if not examples:
        raise ConfigError("no SFT examples to train on")
    torch, transformers, trl = import_stack()
    with quiet_progress(not config.progress_bar):
        policy, tok, _ = load_policy(model, tokenizer, transformers)
        chat = has_chat_template(tok)
        rows = []
        for ex in examples:
            p = prompt_row(ex.prompt, chat)
            rows.append({"prompt": p, "completion": completion_row(p, ex.completion, chat)})
        trl_args = make_trl_config(
            trl.SFTConfig, config, torch, max_length=config.max_length, completion_only_loss=True
        )
        trainer = trl.SFTTrainer(
            model=policy,
            args=trl_args,
            train_dataset=to_dataset(rows),
            processing_class=tok,
            peft_config=peft_config(config.lora),
            callbacks=[log_callback(transformers, on_log)] if on_log else None,
        )
        return train_and_save(trainer, tok, config, "sft", {"examples": len(rows)})


# -- RLOO and GRPO ----------------------------------------------------------------------------------------
def train_rloo(
    model: Any,
    prompts: Sequence[Prompt],
    reward_fn: RewardFn | Sequence[RewardFn],
    config: RLTrainConfig,
    *,
    tokenizer: Any = None,
    ref_model: Any = None,
    on_log: OnLog | None = None,
    monitor: HackingMonitor | None = None,
) -> dict[str, Any]:
    """REINFORCE leave-one-out: each sample's baseline is the mean reward of the other samples of its
    prompt. ``reward_fn`` is one alignkit reward function or several (their rewards are summed)."""
    return _train_online("rloo", model, prompts, reward_fn, config, tokenizer, ref_model, on_log, monitor)


def train_grpo(
    model: Any,
    prompts: Sequence[Prompt],
    reward_fn: RewardFn | Sequence[RewardFn],
    config: RLTrainConfig,
    *,
    tokenizer: Any = None,
    ref_model: Any = None,
    on_log: OnLog | None = None,
    monitor: HackingMonitor | None = None,
) -> dict[str, Any]:
    """Group relative policy optimization: advantages are rewards standardized within each prompt's
    group of ``num_generations`` samples, with a clipped objective and a KL pull of strength ``beta``."""
    return _train_online("grpo", model, prompts, reward_fn, config, tokenizer, ref_model, on_log, monitor)


def _train_online(
    method: str,
    model: Any,
    prompts: Sequence[Prompt],
    reward_fn: RewardFn | Sequence[RewardFn],
    config: RLTrainConfig,
    tokenizer: Any,
    ref_model: Any,
    on_log: OnLog | None,
    monitor: HackingMonitor | None = None,
) -> dict[str, Any]:
    if not isinstance(config, RLTrainConfig):
        raise ConfigError(f"train_{method} needs RLTrainConfig; got {type(config).__name__}")
    if isinstance(prompts, str):
        raise ConfigError(f"train_{method} takes a list of prompts; wrap a single prompt in a list")
    if not prompts:
        raise ConfigError(f"no prompts to train {method.upper()} on")
    conversations = [to_messages(p) for p in prompts]
    fns = [reward_fn] if callable(reward_fn) else list(reward_fn)
    if not fns or not all(callable(f) for f in fns):
        raise ConfigError("reward_fn must be a reward function f(prompts, responses) -> rewards, or a list of them")
    torch, transformers, trl = import_stack()
    trl_config_class, trainer_class = (
        (trl.GRPOConfig, trl.GRPOTrainer) if method == "grpo" else (trl.RLOOConfig, trl.RLOOTrainer)
    )
    trl_args = make_trl_config(
        trl_config_class,
        config,
        torch,
        num_generations=config.num_generations,
        max_completion_length=config.max_new_tokens,
        temperature=config.temperature,
        beta=config.beta,
        remove_unused_columns=False,  # prompt_index reaches the reward adapter
    )
    with ExitStack() as stack:
        stack.enter_context(quiet_progress(not config.progress_bar))
        policy, tok, from_path = load_policy(model, tokenizer, transformers)
        chat = has_chat_template(tok)
        rows = [{"prompt": prompt_row(c, chat), "prompt_index": i} for i, c in enumerate(conversations)]
        original_path = getattr(policy.config, "_name_or_path", "")
        needs_ref = config.beta > 0 and config.lora is None
        if needs_ref and (ref_model is not None or not from_path):
            # trl builds the reference from the policy's saved path: point that path at the right weights.
            source = ref_model if ref_model is not None else policy
            if not isinstance(source, str | Path):
                folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="alignkit-ref-"))
                unwrap(source).save_pretrained(folder)
                source = folder
            policy.config._name_or_path = str(source)
        try:
            trainer = trainer_class(
                model=policy,
                reward_funcs=[as_trl_reward(f, prompts=list(prompts)) for f in fns],
                args=trl_args,
                train_dataset=to_dataset(rows),
                processing_class=tok,
                peft_config=peft_config(config.lora),
                callbacks=trl_callbacks(transformers, on_log, monitor, tok, config),
            )
        finally:
            policy.config._name_or_path = original_path
        return train_and_save(trainer, tok, config, method, {"prompts": len(rows)})
