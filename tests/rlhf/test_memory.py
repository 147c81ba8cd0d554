"""The training-memory estimate: shapes read from a config, the estimate against a measured peak on a
model built from a config, and the error that says how to fit."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from alignkit.core import ConfigError
from alignkit.rlhf.memory import GIB, ModelShape, check_fits, estimate_training_memory
from tests.conftest import needs_torch

SMOLLM2 = {"num_hidden_layers": 30, "hidden_size": 576, "intermediate_size": 1536, "vocab_size": 49152,
           "num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64, "tie_word_embeddings": True}  # fmt: skip
TINY = {"num_hidden_layers": 4, "hidden_size": 256, "intermediate_size": 768, "vocab_size": 2048,
        "num_attention_heads": 4, "num_key_value_heads": 4, "tie_word_embeddings": True}  # fmt: skip

# Train a reward head on the TINY llama for one step of 16 rows x 256 tokens (no checkpointing), and
# report the peak RSS above what the process held with the model loaded.
MEASURE = """
import json, resource, sys, torch
from transformers import LlamaConfig, LlamaForSequenceClassification
cfg = json.loads(sys.argv[1]); torch.manual_seed(0)
model = LlamaForSequenceClassification(LlamaConfig(**cfg, num_labels=1, pad_token_id=0)).train()
params = sum(p.numel() for p in model.parameters())
opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
ids = torch.randint(1, cfg["vocab_size"], (16, 256))
model(input_ids=ids[:2, :8]).logits.sum().backward(); opt.zero_grad()  # warm up kernels and allocators
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
model(input_ids=ids).logits.sum().backward(); opt.step()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"params": params, "grew": peak - before}))
"""


def test_shape_from_a_config_counts_the_parameters() -> None:
    shape = ModelShape.from_config(SMOLLM2)
    assert shape.layers == 30 and shape.hidden == 576
    assert shape.params == pytest.approx(134_515_008, rel=0.01)  # SmolLM2-135M's published count
    assert shape.lora_params(16) < shape.params / 20  # peft counts 4.9M for rank 16 on every linear layer
    with pytest.raises(ConfigError, match="layer count"):
        ModelShape.from_config({"vocab_size": 10})


@needs_torch
@pytest.mark.slow
def test_estimate_is_within_a_factor_of_two_of_a_measured_peak() -> None:
    proc = subprocess.run([sys.executable, "-c", MEASURE, json.dumps(TINY)], capture_output=True, text=True,
                          check=True, timeout=300)  # fmt: skip
    measured = json.loads(proc.stdout.strip().splitlines()[-1])
    shape = ModelShape.from_config(TINY)
    assert shape.params == pytest.approx(measured["params"], rel=0.02)
    est = estimate_training_memory(shape, tokens_per_pass=16 * 256, trainable=measured["params"],
                                   checkpointing=False, lm_logits=False, available=64 * GIB)  # fmt: skip
    # the weights were loaded before the measurement started; the rest is what a step adds
    assert 0.5 <= (est.optimizer + est.activations) / measured["grew"] <= 2.0, (est, measured)


def test_a_run_that_does_not_fit_says_how_to_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    shape = ModelShape.from_config(SMOLLM2)
    est = estimate_training_memory(shape, tokens_per_pass=16 * 512, trainable=shape.params, checkpointing=False,
                                   lm_logits=True, copies=2, available=4 * GIB, what="rlhf dpo")  # fmt: skip
    assert not est.fits() and est.total > est.weights + est.activations
    with pytest.raises(ConfigError, match=r"rlhf dpo: memory estimate .* of 4.0 GiB available.*lower --max-length"):
        check_fits(est, ["lower --max-length (now 512)"])
    monkeypatch.setenv("ALIGNKIT_MEMORY_CHECK", "off")
    check_fits(est, ["lower --max-length"])  # the escape hatch the error names
    small = estimate_training_memory(shape, tokens_per_pass=1024, trainable=shape.lora_params(16),
                                     checkpointing=True, lm_logits=False, available=4 * GIB)  # fmt: skip
    assert small.fits() and small.total < 2 * GIB  # the README's LoRA reward model


def test_checkpointing_and_lora_shrink_the_estimate() -> None:
    shape = ModelShape.from_config(SMOLLM2)
    full = estimate_training_memory(shape, tokens_per_pass=4096, trainable=shape.params, checkpointing=False,
                                    lm_logits=True, available=GIB)  # fmt: skip
    lean = estimate_training_memory(shape, tokens_per_pass=4096, trainable=shape.lora_params(16), checkpointing=True,
                                    lm_logits=True, available=GIB)  # fmt: skip
    assert lean.activations < full.activations / 4 and lean.optimizer < full.optimizer / 20
