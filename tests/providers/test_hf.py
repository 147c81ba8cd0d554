from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alignkit import get_model
from alignkit.core import GenerateConfig, Message, MissingDependencyError, ModelNotFoundError
from tests.conftest import build_tiny_model, needs_torch

pytestmark = needs_torch


def test_loads_from_folder_and_answers(tiny_model_dir: Path) -> None:
    m = get_model(f"hf/{tiny_model_dir}")
    c = m.generate("what is the capital of france?", max_tokens=6)
    assert c.ok and c.model == f"hf/{tiny_model_dir}"
    assert 1 <= c.usage.completion_tokens <= 6
    rendered = m.render((Message("user", "what is the capital of france?"),))
    expected_prompt = len(m.tokenizer(rendered, add_special_tokens=False)["input_ids"])
    assert c.usage.prompt_tokens == expected_prompt
    assert m.device.type == "cpu"


def test_chat_template_is_applied(tiny_model_dir: Path) -> None:
    m = get_model(f"hf/{tiny_model_dir}")
    text = m.render((Message("system", "be brief"), Message("user", "hi")))
    assert text == "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_base_model_without_template_continues_text(tmp_path: Path) -> None:
    folder = build_tiny_model(tmp_path / "base", chat_template=False)
    m = get_model(f"hf/{folder}")
    assert m.render((Message("user", "once upon a time"),)) == "once upon a time"
    assert m.render((Message("system", "s"), Message("user", "u"))) == "System: s\nUser: u\nAssistant:"


def test_batched_left_padded_generation_matches_one_by_one(tiny_model_dir: Path) -> None:
    prompts = [
        "hi",
        "what is the capital of france? paris is",
        "a guard checks them",
        "the quick brown fox jumps",
    ]
    batched = get_model(f"hf/{tiny_model_dir}", batch_size=4).generate_batch(prompts, max_tokens=8)
    single = get_model(f"hf/{tiny_model_dir}", batch_size=1)
    one_by_one = [single.generate(p, max_tokens=8) for p in prompts]
    assert [c.text for c in batched] == [c.text for c in one_by_one]
    assert [c.usage for c in batched] == [c.usage for c in one_by_one]


def test_seeded_sampling_is_reproducible_and_n_gives_choices(tiny_model_dir: Path) -> None:
    m = get_model(f"hf/{tiny_model_dir}")
    cfg = GenerateConfig(temperature=1.0, seed=123, max_tokens=10, n=3)
    a, b = m.generate("the quick", cfg), m.generate("the quick", cfg)
    assert len(a.choices) == 3
    assert [c.text for c in a.choices] == [c.text for c in b.choices]
    assert len({c.text for c in a.choices}) > 1  # three samples from a random model differ
    other = m.generate("the quick", cfg.merge(seed=124))
    assert [c.text for c in other.choices] != [c.text for c in a.choices]


def test_decode_finish_reasons(tiny_model_dir: Path) -> None:
    m = get_model(f"hf/{tiny_model_dir}")
    eos = m.tokenizer.convert_tokens_to_ids("<|im_end|>")
    word = m.tokenizer("fox", add_special_tokens=False)["input_ids"]
    text, count, reason = m._decode([*word, eos, eos, eos], max_new=10, stop=None)
    assert (text, count, reason) == ("fox", len(word) + 1, "stop")
    text, count, reason = m._decode(word * 3, max_new=len(word) * 3, stop=None)
    assert reason == "length" and count == len(word) * 3
    text, _, reason = m._decode(word * 3, max_new=len(word) * 3, stop=("x",))
    assert text == "fo" and reason == "stop"


def test_stop_strings_cut_the_answer(tiny_model_dir: Path) -> None:
    m = get_model(f"hf/{tiny_model_dir}")
    free = m.generate("the quick brown", max_tokens=12).text
    if len(free) < 2:
        pytest.skip("the random model ended at once")
    stop = free[1]
    cut = m.generate("the quick brown", max_tokens=12, stop=[stop])
    assert stop not in cut.text and free.startswith(cut.text)


def test_missing_folder_and_bad_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"needs a config\.json"):
        get_model(f"hf/{tmp_path / 'nothing-here'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match=r"needs a config\.json"):
        get_model(f"hf/{tmp_path / 'empty'}")


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)  # makes `import transformers` fail
    with pytest.raises(MissingDependencyError, match=r"pip install 'alignkit\[hf\]'"):
        get_model("hf/some/model")


def _seed_hub_cache(cache: Path, repo_id: str, folder: Path) -> None:
    """Lay a model out the way huggingface_hub caches downloads: models--org--name/snapshots/<rev>/."""
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    shutil.copytree(folder, repo / "snapshots" / revision)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)


HUB_SCRIPT = """
import sys
from alignkit import get_model
m = get_model(sys.argv[1])
c = m.generate("hello", max_tokens=3)
print("OK", m.info.spec, c.usage.completion_tokens)
"""


def _run_offline(spec: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-c", HUB_SCRIPT, spec], env=env, capture_output=True, text=True, timeout=300
    )


def test_hub_id_resolves_through_the_hub_cache_offline(tmp_path: Path, tiny_model_dir: Path) -> None:
    """The hub code path for real: from_pretrained("org/name") resolved by huggingface_hub from its cache."""
    cache = tmp_path / "hub"
    _seed_hub_cache(cache, "alignkit-test/tiny-llama", tiny_model_dir)
    ok = _run_offline("hf/alignkit-test/tiny-llama", cache)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "OK hf/alignkit-test/tiny-llama" in ok.stdout
    missing = _run_offline("hf/alignkit-test/not-there", cache)
    assert missing.returncode != 0
    assert "ModelNotFoundError" in missing.stderr and "HF_HUB_OFFLINE is set" in missing.stderr


@pytest.mark.network
def test_real_hub_download() -> None:
    m = get_model("hf/hf-internal-testing/tiny-random-LlamaForCausalLM")
    assert m.generate("hello", max_tokens=3).ok


@pytest.mark.gpu
def test_uses_the_gpu_when_present(tiny_model_dir: Path) -> None:
    m = get_model(f"hf/{tiny_model_dir}")
    assert m.device.type == "cuda"
    assert m.generate_batch(["hi", "the quick brown fox"], max_tokens=4)[1].ok
