"""Settings and plumbing shared by the trl trainers in :mod:`alignkit.rlhf.trl_methods`.

Everything here turns alignkit's objects into what trl expects and back: settings into a trl config's
keyword arguments, :class:`~alignkit.core.Message` conversations into trl's conversational rows, a
model given as a folder or as a loaded object into a model and a tokenizer, a trained trainer into a
checkpoint folder that ``hf/<folder>`` loads and a dictionary of statistics. torch, transformers and
trl are imported inside the functions, so importing this module stays light.
"""

from __future__ import annotations

import importlib
import json
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from alignkit.core.errors import ConfigError, MissingDependencyError, ModelNotFoundError
from alignkit.core.messages import Message
from alignkit.providers.hf import HFModel

OnLog = Callable[[int, int, dict[str, float]], None]
"""``on_log(step, total_steps, logs)``: called whenever trl logs (every ``logging_steps`` steps)."""

STATS_FILE = "alignkit-train.json"


def _require(ok: bool, name: str, value: Any, rule: str) -> None:
    if not ok:
        raise ConfigError(f"{name} must be {rule}; got {value!r}")


@dataclass(frozen=True)
class LoraSettings:
    """A LoRA adapter (through peft) instead of full fine-tuning; each default says why."""

    rank: int = 16  # enough capacity for preference and style tuning; the LoRA paper saw little gain above 8-16
    alpha: int = 32  # 2 x rank, the common choice: the update's scale stays steady when you change rank
    dropout: float = 0.05  # light regularisation; data sets here are small
    target_modules: str | tuple[str, ...] = "all-linear"  # peft's shorthand: every linear layer except the head
    merge: bool = True  # save merged full weights so hf/<output_dir> loads them; the adapter goes to adapter/

    def __post_init__(self) -> None:
        if self.rank < 1 or self.alpha < 1:
            raise ConfigError(f"LoRA rank and alpha must be at least 1; got rank={self.rank}, alpha={self.alpha}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"LoRA dropout must be in [0, 1); got {self.dropout}")


@dataclass
class TrainSettings:
    """What every trl method shares (SFT uses it as is); each default says why."""

    output_dir: str | Path  # the trained model and tokenizer go here; hf/<output_dir> loads them
    learning_rate: float | None = None  # None: trl's default per method (1e-6 DPO/RLOO/GRPO, 2e-5 SFT); LoRA ~1e-4
    batch_size: int = 4  # per step: pairs (DPO), examples (SFT), completions (RLOO/GRPO); fits 135M on 2 cores
    gradient_accumulation: int = 1  # raise it for a larger effective batch at the same memory
    epochs: float = 1.0  # one pass: preference and SFT sets overfit quickly
    max_steps: int | None = None  # stop after this many optimizer steps (overrides epochs); short runs and tests
    max_length: int = 512  # tokens per prompt + answer (DPO, SFT); longer rows are truncated by trl
    seed: int = 0  # trl seeds torch, numpy and python from it, and shuffles with it
    lora: LoraSettings | None = None  # None: full fine-tuning
    logging_steps: int = 1  # log every step: runs are short and on_log drives progress bars
    report_to: tuple[str, ...] = ()  # no tracker, so no network calls; ("tensorboard",) writes under output_dir
    gradient_checkpointing: bool = False  # trl turns it on; it costs ~20% compute and only big models need it
    use_cpu: bool | None = None  # None: the CPU when no CUDA GPU is present, else the GPU
    progress_bar: bool = False  # library code stays quiet; callers draw their own from on_log
    trl_args: Mapping[str, Any] = field(default_factory=dict)  # any other trl config field, e.g. {"loss_type": ...}

    def __post_init__(self) -> None:
        _require(self.batch_size >= 1, "batch_size", self.batch_size, "at least 1")
        _require(self.gradient_accumulation >= 1, "gradient_accumulation", self.gradient_accumulation, "at least 1")
        _require(self.epochs > 0, "epochs", self.epochs, "positive")
        _require(self.max_steps is None or self.max_steps >= 1, "max_steps", self.max_steps, "at least 1 or None")
        _require(self.max_length >= 8, "max_length", self.max_length, "at least 8 tokens")
        _require(self.learning_rate is None or self.learning_rate > 0, "learning_rate", self.learning_rate, "positive")
        _require(self.logging_steps >= 1, "logging_steps", self.logging_steps, "at least 1")
        if not str(self.output_dir):
            raise ConfigError("output_dir is empty; give the folder the trained model should be saved to")


@dataclass
class DPOSettings(TrainSettings):
    """DPO: the shared settings plus the strength of the pull towards the reference model."""

    beta: float = 0.1  # the DPO paper's value; lower lets the policy drift further from the reference

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.beta <= 0:
            raise ConfigError(f"DPO beta must be positive; got {self.beta}")


@dataclass
class RLSettings(TrainSettings):
    """RLOO and GRPO: sample a group of answers per prompt, score them, push towards the better ones."""

    batch_size: int = 8  # completions per step: two prompts x num_generations
    num_generations: int = 4  # group size: the baseline is the group's mean; 4 is affordable on a CPU
    max_new_tokens: int = 64  # answer length per sample; generation dominates the step time
    temperature: float = 1.0  # sample the policy as it is: both estimators assume on-policy samples
    beta: float = 0.04  # KL pull to the reference (DeepSeekMath's GRPO value); 0 drops the reference model

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_generations < 2:
            raise ConfigError(
                f"num_generations must be at least 2 (the group is the baseline); got {self.num_generations}"
            )
        per_update = self.batch_size * self.gradient_accumulation
        if per_update % self.num_generations:
            multiple = self.num_generations * max(1, per_update // self.num_generations)
            raise ConfigError(
                f"batch_size x gradient_accumulation ({per_update}) must be a multiple of num_generations "
                f"({self.num_generations}), so each prompt's group is scored together; make it e.g. {multiple}"
            )
        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be at least 1; got {self.max_new_tokens}")
        if self.temperature <= 0:
            raise ConfigError(f"temperature must be positive (sampling needs it); got {self.temperature}")
        if self.beta < 0:
            raise ConfigError(f"beta must be 0 or positive; got {self.beta}")


# -- dependencies -----------------------------------------------------------------------------------
def import_stack() -> tuple[Any, Any, Any]:
    """``(torch, transformers, trl)``, or a :class:`MissingDependencyError` naming the extra."""
    try:
        torch = importlib.import_module("torch")
        transformers = importlib.import_module("transformers")
    except ImportError as e:
        raise MissingDependencyError("training with trl", "torch and transformers", "hf") from e
    try:
        trl = importlib.import_module("trl")
        importlib.import_module("datasets")
    except ImportError as e:
        raise MissingDependencyError("DPO, RLOO, GRPO and SFT training", "trl and datasets", "rlhf") from e
    return torch, transformers, trl


def peft_config(lora: LoraSettings | None) -> Any:
    """A ``peft.LoraConfig`` for causal LMs, or None for full fine-tuning."""
    if lora is None:
        return None
    try:
        peft = importlib.import_module("peft")
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
    datasets = importlib.import_module("datasets")
    return datasets.Dataset.from_list(rows)


# -- trainer arguments, callbacks, statistics ---------------------------------------------------------
def config_kwargs(settings: TrainSettings, torch: Any) -> dict[str, Any]:
    """Keyword arguments every trl config takes, from the shared settings."""
    cuda = bool(torch.cuda.is_available())
    use_cpu = (not cuda) if settings.use_cpu is None else settings.use_cpu
    kwargs: dict[str, Any] = {
        "output_dir": str(settings.output_dir),
        "per_device_train_batch_size": settings.batch_size,
        "gradient_accumulation_steps": settings.gradient_accumulation,
        "num_train_epochs": settings.epochs,
        "max_steps": settings.max_steps or -1,
        "seed": settings.seed,
        "data_seed": settings.seed,
        "logging_steps": settings.logging_steps,
        "report_to": list(settings.report_to) or "none",
        "save_strategy": "no",  # the final model is saved once, by us, where hf/<folder> finds it
        "push_to_hub": False,
        "use_cpu": use_cpu,
        "bf16": bool(cuda and not use_cpu and torch.cuda.is_bf16_supported()),  # CPU bf16 matmuls are slow
        "disable_tqdm": not settings.progress_bar,
        "dataloader_num_workers": 0,
    }
    if settings.learning_rate is not None:
        kwargs["learning_rate"] = settings.learning_rate
    return kwargs


def make_config(config_class: Any, settings: TrainSettings, torch: Any, **method_kwargs: Any) -> Any:
    kwargs = {**config_kwargs(settings, torch), **method_kwargs}
    # transformers 5 renamed gradient_checkpointing (trl turns it on by default) to activation_checkpointing.
    names = {f.name for f in fields(config_class)}
    checkpointing = "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"
    kwargs[checkpointing] = settings.gradient_checkpointing
    kwargs.update(settings.trl_args)
    try:
        return config_class(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"trl rejected the settings for {config_class.__name__}: {e}") from e


@contextmanager
def quiet_progress(quiet: bool) -> Iterator[None]:
    """Turn off the datasets and transformers progress bars while inside (library code stays quiet)."""
    if not quiet:
        yield
        return
    switches = [importlib.import_module(f"{m}.utils.logging") for m in ("datasets", "transformers")]
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
    trainer: Any, tokenizer: Any, settings: TrainSettings, method: str, extra: dict[str, Any]
) -> dict[str, Any]:
    """Run ``trainer``, save the model (LoRA merged unless asked not to) and tokenizer to
    ``settings.output_dir``, and return statistics (also written there as ``alignkit-train.json``)."""
    if not settings.progress_bar:  # without tqdm, transformers prints every log; library code stays quiet
        trainer.remove_callback(importlib.import_module("transformers").PrinterCallback)
    start = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - start
    if trainer.eval_dataset is not None:
        extra = {**extra, "eval": {k: float(v) for k, v in trainer.evaluate().items()}}
    out = Path(settings.output_dir)
    model = trainer.accelerator.unwrap_model(trainer.model)
    if settings.lora is not None:
        model.save_pretrained(out / "adapter")
        if settings.lora.merge:
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
        "settings": {k: v for k, v in asdict(settings).items() if k != "trl_args"}
        | {"trl_args": dict(settings.trl_args)},
    }
    (out / STATS_FILE).write_text(json.dumps(stats, indent=1, default=str))
    return stats
