"""Transformers causal language models: ``hf/<local folder or hub id>``.

Batched generation with left padding (prompts sorted by length so batches pad little), chat templates
when the tokenizer has one, stop strings, seeds, and the GPU when one is present. Generation runs in a
worker thread so an event loop stays responsive; one generation at a time per model.

torch and transformers are imported only when a model is built; without them the error names the extra.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alignkit.core.completion import Choice, Completion, FinishReason, Usage
from alignkit.core.config import GenerateConfig
from alignkit.core.errors import ConfigError, ModelNotFoundError
from alignkit.core.messages import Message
from alignkit.core.model import ModelBase
from alignkit.providers import provider
from alignkit.providers.onnx import OnnxDecoder, ensure_onnx
from alignkit.torchutil import import_torch_transformers, pick_device, pick_dtype, seed_torch

DEFAULT_MAX_TOKENS = 256  # a chat answer's worth; a runaway generation on CPU costs minutes
DEFAULT_BATCH_SIZE = 8  # on 2 CPU cores batch 8 gives 3.4x the tokens/s of batch 1 (bench/RESULTS.md)


class HFModel(ModelBase):
    """A transformers causal LM with its tokenizer.

    Build it from a folder or hub id with :meth:`from_pretrained`, or wrap objects already in memory
    (a policy being trained) with ``HFModel(model, tokenizer, name=...)``. ``.model`` and
    ``.tokenizer`` stay available for training.
    """

    provider = "hf"
    native_batching = True  # one forward pass answers a whole batch: callers should send batches

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str = "in-memory",
        batch_size: int = DEFAULT_BATCH_SIZE,
        config: GenerateConfig | None = None,
        decoder: OnnxDecoder | None = None,
        **record_args: Any,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1; got {batch_size}")
        super().__init__(name, config=config, batch_size=batch_size, **record_args)
        self.torch, _ = import_torch_transformers()
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self._lock = threading.Lock()
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self._eos_ids = _eos_ids(model, tokenizer)
        self.decoder = decoder  # ONNX Runtime generation of the same weights (runtime="onnx"), or None

    @property
    def device(self) -> Any:
        """Where the weights are."""
        return next(self.model.parameters()).device

    @classmethod
    def from_pretrained(
        cls,
        name: str,
        *,
        device: str | None = "auto",
        dtype: str | None = "auto",
        revision: str | None = None,
        trust_remote_code: bool = False,
        batch_size: int = DEFAULT_BATCH_SIZE,
        config: GenerateConfig | None = None,
        runtime: str = "torch",
        onnx_precision: str = "fp32",
        **load_kwargs: Any,
    ) -> HFModel:
        """Load a model and tokenizer from a local folder or the Hugging Face hub (or its local cache).

        ``runtime="onnx"`` (a local folder, CPU) generates with ONNX Runtime GenAI from a converted copy
        of the folder (:mod:`alignkit.providers.onnx`); ``.model`` stays the transformers model for
        training and for first-token logprobs."""
        if runtime not in ("torch", "onnx"):
            raise ConfigError(f"unknown runtime {runtime!r}; use 'torch' or 'onnx'")
        _, transformers = import_torch_transformers()
        local = Path(name).expanduser()
        is_path = local.exists() or name.startswith((".", "/", "~"))
        if is_path and not (local / "config.json").exists():
            raise ModelNotFoundError(
                f"no transformers model at {local}: the folder needs a config.json "
                "(save one with model.save_pretrained(folder) and tokenizer.save_pretrained(folder))"
            )
        source = str(local) if is_path else name
        dev = pick_device(device)
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(
                source, revision=revision, trust_remote_code=trust_remote_code
            )
            model = transformers.AutoModelForCausalLM.from_pretrained(
                source,
                revision=revision,
                trust_remote_code=trust_remote_code,
                dtype=pick_dtype(dtype, dev),
                **load_kwargs,
            )
        except OSError as e:
            offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")
            raise ModelNotFoundError(
                f"could not load {name!r} from "
                + ("its folder" if is_path else "the Hugging Face hub or its local cache")
                + (" (HF_HUB_OFFLINE is set, so only the cache was tried)" if offline else "")
                + f": {e}. Pass a local folder as hf/./path, check the id, or log in with "
                "`huggingface-cli login` for gated models."
            ) from e
        model.to(dev)
        model.eval()
        args: dict[str, Any] = {"revision": revision, "device": device if device != "auto" else None}
        if dtype not in (None, "auto"):
            args["dtype"] = dtype
        decoder = None
        if runtime == "onnx":
            if not is_path or str(dev) != "cpu":
                raise ConfigError("runtime='onnx' runs a local folder on the CPU; pass hf/./folder and device='cpu'")
            decoder = OnnxDecoder(ensure_onnx(local, onnx_precision))
            args.update(runtime=runtime, onnx_precision=onnx_precision)
        return cls(model, tokenizer, name=name, batch_size=batch_size, config=config, decoder=decoder, **args)

    # -- prompt rendering ---------------------------------------------------------------------------
    def render(self, messages: Sequence[Message]) -> str:
        """The text the model reads: the chat template when the tokenizer has one."""
        if getattr(self.tokenizer, "chat_template", None):
            out = self.tokenizer.apply_chat_template(
                [m.to_dict() for m in messages], tokenize=False, add_generation_prompt=True
            )
            return str(out)
        if len(messages) == 1 and messages[0].role == "user":
            return messages[0].content  # a base model continues the text
        lines = [f"{m.role.capitalize()}: {m.content}" for m in messages]
        return "\n".join([*lines, "Assistant:"])

    # -- generation ---------------------------------------------------------------------------------
    async def _generate_batch(self, prompts: list[tuple[Message, ...]], config: GenerateConfig) -> list[Completion]:
        return await asyncio.to_thread(self._generate_sync, prompts, config)

    def _generate_sync(self, prompts: list[tuple[Message, ...]], config: GenerateConfig) -> list[Completion]:
        texts = [self.render(p) for p in prompts]
        encoded = [self.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))  # similar lengths pad less
        results: dict[int, Completion] = {}
        with self._lock:
            if config.seed is not None:
                seed_torch(config.seed)
            onnx = self.decoder is not None and config.top_logprobs is None  # logprobs come from transformers
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                batch = [encoded[i] for i in idx]
                done = self._generate_onnx(batch, config) if onnx else self._generate_padded(batch, config)
                for i, c in zip(idx, done, strict=True):
                    results[i] = c
        return [results[i] for i in range(len(texts))]

    def _generate_padded(self, batch: list[list[int]], config: GenerateConfig) -> list[Completion]:
        torch = self.torch
        width = max(len(ids) for ids in batch)
        pad = self.tokenizer.pad_token_id
        # Left padding: every prompt ends at the same position, so new tokens line up.
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in batch], device=self.device)
        attention = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in batch], device=self.device)
        n = config.n or 1
        max_new = config.max_tokens or DEFAULT_MAX_TOKENS
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_new,
            "num_return_sequences": n,
            "pad_token_id": pad,
            "eos_token_id": self._eos_ids,
            "do_sample": not config.greedy,
        }
        if config.greedy:
            # Unset the model's own sampling defaults so greedy decoding does not warn about them.
            kwargs.update(temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(temperature=config.temperature, top_p=config.top_p or 1.0, top_k=0)
        if config.stop:
            kwargs.update(stop_strings=list(config.stop), tokenizer=self.tokenizer)
        if config.top_logprobs is not None:
            kwargs.update(return_dict_in_generate=True, output_logits=True)
        with torch.inference_mode():
            out = self.model.generate(input_ids=input_ids, attention_mask=attention, **kwargs)
        first: list[dict[str, float] | None] = [None] * (len(batch) * n)
        if config.top_logprobs is not None:
            first = self._first_token_logprobs(out.logits[0], config.top_logprobs)
            out = out.sequences
        new_tokens = out[:, width:].tolist()
        completions = []
        for row, ids in enumerate(batch):
            choices, used = [], 0
            for k, seq in enumerate(new_tokens[row * n : (row + 1) * n]):
                text, count, reason = self._decode(seq, max_new, config.stop)
                choices.append(Choice(text, reason, first[row * n + k]))
                used += count
            completions.append(Completion(tuple(choices), self.info.spec, Usage(len(ids), used)))
        return completions

    def _generate_onnx(self, batch: list[list[int]], config: GenerateConfig) -> list[Completion]:
        """A batch through the ONNX decoder (``runtime="onnx"``); the same answers as the torch path."""
        assert self.decoder is not None
        max_new, n, stops = config.max_tokens or DEFAULT_MAX_TOKENS, config.n or 1, tuple(config.stop or ())

        def stopped(new: list[int]) -> bool:
            tail = self.tokenizer.decode(new[-16:], skip_special_tokens=True)
            return any(s in tail for s in stops)

        runs = [  # one pass per choice; sampled choices each get their own seed
            self.decoder.generate(
                batch,
                max_new=max_new,
                eos_ids=self._eos_ids,
                greedy=config.greedy,
                temperature=config.temperature or 1.0,
                top_p=config.top_p or 1.0,
                seed=None if config.seed is None else config.seed + k,
                stop=stopped if stops else None,
            )
            for k in range(n)
        ]
        completions = []
        for row, ids in enumerate(batch):
            decoded = [self._decode(run[row], max_new, config.stop) for run in runs]
            choices = tuple(Choice(text, reason, None) for text, _, reason in decoded)
            completions.append(Completion(choices, self.info.spec, Usage(len(ids), sum(c for _, c, _ in decoded))))
        return completions

    def _first_token_logprobs(self, logits: Any, k: int) -> list[dict[str, float] | None]:
        """Per sequence, ``{token text: logprob}`` of the ``k`` most likely first tokens under the model's
        own distribution (raw logits: before temperature, top-p and other processors). Tokens that decode
        to the same text (rare) are merged by adding their probabilities."""
        torch = self.torch
        logp = torch.log_softmax(logits.float(), dim=-1)
        values, indices = logp.topk(min(k, logp.size(-1)), dim=-1)
        out: list[dict[str, float] | None] = []
        for vals, ids in zip(values.tolist(), indices.tolist(), strict=True):
            row: dict[str, float] = {}
            for v, i in zip(vals, ids, strict=True):
                token = self.tokenizer.decode([i])
                if token in row:  # log(exp(a) + exp(b)) without underflow
                    a, b = max(row[token], v), min(row[token], v)
                    v = a + math.log1p(math.exp(b - a))
                row[token] = v
            out.append(row)
        return out

    def _decode(self, seq: list[int], max_new: int, stop: tuple[str, ...] | None) -> tuple[str, int, FinishReason]:
        """Text, tokens generated and finish reason of one generated sequence (padding removed)."""
        reason: FinishReason = "length"
        for pos, tok in enumerate(seq):
            if tok in self._eos_ids:
                seq, reason = seq[:pos], "stop"
                count = pos + 1
                break
        else:
            count = len(seq)
            if count < max_new:
                reason = "stop"  # ended early by a stop string
        text = self.tokenizer.decode(seq, skip_special_tokens=True)
        for s in stop or ():
            cut = text.find(s)
            if cut >= 0:
                text, reason = text[:cut], "stop"
        return text, count, reason

    async def aclose(self) -> None:
        """Drop the model so its weights can be freed."""
        self.model = None  # drop the reference so the weights can be freed


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    """Every token id that ends an answer: the generation config's EOS ids and the tokenizer's."""
    ids: set[int] = set()
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for v in (gen_eos, tokenizer.eos_token_id):
        if isinstance(v, int):
            ids.add(v)
        elif isinstance(v, list | tuple):
            ids.update(int(x) for x in v)
    # Chat models end a turn with a special token that may differ from the tokenizer's EOS.
    for special in ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>"):
        tid = tokenizer.convert_tokens_to_ids(special) if special in tokenizer.get_vocab() else None
        if isinstance(tid, int):
            ids.add(tid)
    if not ids:
        raise ConfigError("the tokenizer has no end-of-sequence token; set tokenizer.eos_token first")
    return sorted(ids)


@provider(
    "hf",
    aliases=("transformers", "huggingface"),
    description="transformers causal LMs: local folder or hub id",
)
def hf(name: str, *, config: GenerateConfig | None = None, **args: Any) -> HFModel:
    """transformers causal LMs from a local folder or the Hugging Face hub."""
    return HFModel.from_pretrained(name, config=config, **args)
