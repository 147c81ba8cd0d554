"""Plumbing shared by the trl trainers in :mod:`alignkit.rlhf.trl_methods`.

Everything here turns alignkit's objects into what trl expects and back: a
:class:`~alignkit.rlhf.trl_config.TrainConfig` into a trl config's
keyword arguments, :class:`~alignkit.core.Message` conversations into trl's conversational rows, a
model given as a folder or as a loaded object into a model and a tokenizer, a trained trainer into a
checkpoint folder that ``hf/<folder>`` loads and a dictionary of statistics. torch, transformers and
trl are imported inside the functions, so importing this module stays light.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from alignkit.core.errors import ConfigError, MissingDependencyError, ModelNotFoundError
from alignkit.core.files import write_text_atomic
from alignkit.core.messages import Message
from alignkit.providers.hf import HFModel
from alignkit.rlhf.trl_config import LoraAdapterConfig, TrainConfig
from alignkit.torchutil import import_torch_transformers, prefers_bf16

OnLog = Callable[[int, int, dict[str, float]], None]
"""``on_log(step, total_steps, logs)``: called whenever trl logs (every ``logging_steps`` steps)."""

STATS_FILE = "alignkit-train.json"


# -- dependencies -----------------------------------------------------------------------------------
def import_stack() -> tuple[Any, Any, Any]:
    """``(torch, transformers, trl)``, or a :class:`MissingDependencyError` naming the extra."""
    torch, transformers = import_torch_transformers("training with trl")
    try:
        import datasets  # noqa: F401  (to_dataset needs it; fail here, with the hint)
        import trl
    except ImportError as e:
        raise MissingDependencyError("DPO, RLOO, GRPO and SFT training", "trl and datasets", "rlhf") from e
    return torch, transformers, trl


def peft_config(lora: LoraAdapterConfig | None) -> Any:
    """A ``peft.LoraConfig`` for causal LMs, or None for full fine-tuning."""
    if lora is None:
        return None
    try:
        import peft
    except ImportError as e:
        raise MissingDependencyError("LoRA training", "peft", "rlhf") from e
    targets = lora.target_modules if isinstance(lora.target_modules, str) else list(lora.target_modules)
    return peft.LoraConfig(
        r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=targets, task_type="CAUSAL_LM"
    )


# -- models -----------------------------------------------------------------------------------------
def load_policy(model: Any, tokenizer: Any, transformers: Any) -> tuple[Any, Any, bool]:
    """``(model, tokenizer, from_path)`` from a folder or hub id, an alignkit ``HFModel`` or a loaded
    transformers model. ``from_path`` says whether the weights are exactly those at the model's saved
    path, so trl may rebuild the reference model from it."""
    if isinstance(model, HFModel):
        model, tokenizer = model.model, tokenizer or model.tokenizer
        from_path = False
    elif isinstance(model, str | Path):
        path = str(model)
        tokenizer = tokenizer or _from_pretrained(transformers.AutoTokenizer, path)
        model = _from_pretrained(transformers.AutoModelForCausalLM, path)
        from_path = True
    else:
        from_path = False
        if model is None or not hasattr(model, "config"):
            raise ConfigError(
                "model must be a folder, an hf model id, an HFModel or a transformers model; "
                f"got {type(model).__name__}"
            )
    if tokenizer is None:
        source = getattr(model.config, "_name_or_path", "")
        if not source:
            raise ConfigError("the model was built in memory and has no saved path; pass tokenizer=")
        tokenizer = _from_pretrained(transformers.AutoTokenizer, source)
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token is None:
            raise ConfigError("the tokenizer has neither a pad nor an end-of-sequence token; set tokenizer.pad_token")
        tokenizer.pad_token = tokenizer.eos_token  # padding is masked out, any token serves
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer, from_path


def _from_pretrained(loader: Any, path: str) -> Any:
    """``loader.from_pretrained(path)`` with errors that say what to pass instead."""
    local = Path(path).expanduser()
    if (local.exists() or path.startswith((".", "/", "~"))) and not (local / "config.json").exists():
        raise ModelNotFoundError(
            f"no transformers model at {local}: the folder needs a config.json "
            "(save one with model.save_pretrained(folder) and tokenizer.save_pretrained(folder))"
        )
    try:
        return loader.from_pretrained(path)
    except OSError as e:
        raise ModelNotFoundError(f"could not load {path!r} from its folder or the Hugging Face hub: {e}") from e


def unwrap(model: Any) -> Any:
    """The transformers model inside an alignkit ``HFModel``; anything else as it is."""
    return model.model if isinstance(model, HFModel) else model


def load_reference(ref_model: Any, transformers: Any) -> Any:
    """A frozen reference model from a folder or a loaded model (None stays None)."""
    if ref_model is None:
        return None
    if isinstance(ref_model, str | Path):
        ref_model = _from_pretrained(transformers.AutoModelForCausalLM, str(ref_model))
    ref_model = unwrap(ref_model)
    ref_model.eval()
    ref_model.requires_grad_(False)
    return ref_model


# -- data -------------------------------------------------------------------------------------------
def has_chat_template(tokenizer: Any) -> bool:
    """Whether the tokenizer renders conversations with a chat template."""
    return bool(getattr(tokenizer, "chat_template", None))


def prompt_row(prompt: Sequence[Message], chat: bool) -> Any:
    """trl's prompt: a message list when the tokenizer has a chat template, else the text the ``hf``
    provider would send (one user turn as is; a conversation as ``Role: text`` lines)."""
    if chat:
        return [m.to_dict() for m in prompt]
    if len(prompt) == 1 and prompt[0].role == "user":
        return prompt[0].content
    return "\n".join([*(f"{m.role.capitalize()}: {m.content}" for m in prompt), "Assistant:"])


def completion_row(prompt_text: Any, answer: str, chat: bool) -> Any:
    """trl's completion: one assistant message, or the answer text (space-separated from the prompt)."""
    if chat:
        return [{"role": "assistant", "content": answer}]
    joined = str(prompt_text)[-1:].isspace() or answer[:1].isspace()
    return answer if joined else " " + answer


def to_dataset(rows: list[dict[str, Any]]) -> Any:
    """A ``datasets.Dataset`` of ``rows``."""
    import datasets

    return datasets.Dataset.from_list(rows)


# -- trainer arguments, callbacks, statistics ---------------------------------------------------------
def config_kwargs(config: TrainConfig, torch: Any) -> dict[str, Any]:
    """Keyword arguments every trl config takes, from the shared options."""
    cuda = bool(torch.cuda.is_available())
    use_cpu = (not cuda) if config.use_cpu is None else config.use_cpu
    kwargs: dict[str, Any] = {
        "output_dir": str(config.output_dir),
        "per_device_train_batch_size": config.batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation,
        "num_train_epochs": config.epochs,
        "max_steps": config.max_steps or -1,
        "seed": config.seed,
        "data_seed": config.seed,
        "logging_steps": config.logging_steps,
        "report_to": list(config.report_to) or "none",
        "save_strategy": "no",  # the final model is saved once, by us, where hf/<folder> finds it
        "push_to_hub": False,
        "use_cpu": use_cpu,
        "bf16": cuda and not use_cpu and prefers_bf16("cuda"),
        "disable_tqdm": not config.progress_bar,
        "dataloader_num_workers": 0,
    }
    if config.learning_rate is not None:
        kwargs["learning_rate"] = config.learning_rate
    return kwargs


def make_trl_config(trl_config_class: Any, config: TrainConfig, torch: Any, **method_kwargs: Any) -> Any:
    """A trl config (``trl.DPOConfig``, ...) from ``config``, the method's own keyword arguments and
    ``config.trl_args`` (which win)."""
    kwargs = {**config_kwargs(config, torch), **method_kwargs}
    # transformers 5 renamed gradient_checkpointing (trl turns it on by default) to activation_checkpointing.
    names = {f.name for f in fields(trl_config_class)}
    checkpointing = "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"
    kwargs[checkpointing] = config.gradient_checkpointing
    kwargs.update(config.trl_args)
    try:
        return trl_config_class(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"trl rejected the options for {trl_config_class.__name__}: {e}") from e


@contextmanager
def quiet_progress(quiet: bool) -> Iterator[None]:
    """Turn off the datasets and transformers progress bars while inside (library code stays quiet)."""
    if not quiet:
        yield
        return
    import datasets.utils.logging
    import transformers.utils.logging

    switches = [datasets.utils.logging, transformers.utils.logging]
    were_on = [s.is_progress_bar_enabled() for s in switches]
    for s in switches:
        s.disable_progress_bar()
    try:
        yield
    finally:
        for s, on in zip(switches, were_on, strict=True):
            if on:
                s.enable_progress_bar()


def log_callback(transformers: Any, on_log: OnLog) -> Any:
    """A transformers ``TrainerCallback`` that forwards every log to ``on_log``."""

    class _ForwardLogs(transformers.TrainerCallback):  # type: ignore[misc]  # transformers is untyped here
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **_: Any) -> None:
            if logs:
                numbers = {k: float(v) for k, v in logs.items() if isinstance(v, int | float)}
                on_log(int(state.global_step), int(state.max_steps), numbers)

    return _ForwardLogs()


def train_and_save(
    trainer: Any, tokenizer: Any, config: TrainConfig, method: str, extra: dict[str, Any]
) -> dict[str, Any]:
    """Run ``trainer``, save the model (LoRA merged unless asked not to) and tokenizer to
    ``config.output_dir``, and return statistics (also written there as ``alignkit-train.json``)."""
    import transformers

    if not config.progress_bar:  # without tqdm, transformers prints every log; library code stays quiet
        trainer.remove_callback(transformers.PrinterCallback)
    start = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - start
    if trainer.eval_dataset is not None:
        extra = {**extra, "eval": {k: float(v) for k, v in trainer.evaluate().items()}}
    out = Path(config.output_dir)
    model = trainer.accelerator.unwrap_model(trainer.model)
    if config.lora is not None:
        model.save_pretrained(out / "adapter")
        if config.lora.merge:
            model = model.merge_and_unload()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    history = [dict(h) for h in trainer.state.log_history]
    steps = [h for h in history if "step" in h and "train_runtime" not in h]
    curves: dict[str, list[float]] = {}
    for h in steps:
        for k, v in h.items():
            if k not in ("step", "epoch") and isinstance(v, int | float) and math.isfinite(v):
                curves.setdefault(k, []).append(float(v))
    stats: dict[str, Any] = {
        "method": method,
        "output_dir": str(out),
        "steps": int(trainer.state.global_step),
        "seconds": seconds,
        "samples_per_second": float(result.metrics.get("train_samples_per_second", 0.0)),
        "train_loss": float(result.training_loss),
        "curves": curves,
        "log_history": history,
        **extra,
        "config": {k: v for k, v in asdict(config).items() if k != "trl_args"} | {"trl_args": dict(config.trl_args)},
    }
    write_text_atomic(out / STATS_FILE, json.dumps(stats, indent=1, default=str))
    return stats
