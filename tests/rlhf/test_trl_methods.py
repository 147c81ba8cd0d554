"""DPO, RLOO, GRPO and SFT through trl on a tiny Llama built from a config: each run is a few CPU
steps, and each test checks that the model learned what the data asked for and that the saved
folder loads through the ``hf`` provider."""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from alignkit import get_model
from alignkit.core import (
    ConfigError,
    Message,
    MissingDependencyError,
    ModelNotFoundError,
    PreferencePair,
    SFTExample,
)
from alignkit.rlhf.trl_methods import (
    DPOTrainConfig,
    LoraAdapterConfig,
    RLTrainConfig,
    TrainConfig,
    _orient,
    as_trl_reward,
    train_dpo,
    train_grpo,
    train_rloo,
    train_sft,
)
from alignkit.rlhf.trl_methods_setup import peft_config
from tests.conftest import build_tiny_model, needs_embedded, needs_torch

pytestmark = pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")  # trl's call

HAS_TRL = importlib.util.find_spec("trl") is not None and importlib.util.find_spec("datasets") is not None
needs_trl = pytest.mark.skipif(not HAS_TRL, reason="needs the rlhf extra: pip install 'alignkit[rlhf]'")

QUESTION = "what is the capital of france?"
PROMPTS = [QUESTION, "how do i kill a python process?", "the quick brown fox", "a model answers prompts"]
LETTERS = set("abcdefghijklmnopqrstuvwxyz ")


def letter_share(prompts: list[Any], responses: list[str]) -> list[float]:
    """A dense reward a random tiny model can climb: the share of plain letters and spaces
    (its byte-level vocabulary mostly emits other bytes)."""
    return [sum(c in LETTERS for c in r) / max(1, len(r)) for r in responses]


def dpo_pairs() -> list[PreferencePair]:
    answers = [("paris is the capital.", "the lazy dog."), ("paris.", "use the kill command.")]
    return [PreferencePair(prompt=QUESTION, chosen=c, rejected=r) for c, r in answers] * 4


def answer_logp(model: Any, tokenizer: Any, prompt: str, answer: str) -> float:
    """log p(answer | prompt) under the chat template, summed over the answer's tokens."""
    import torch

    messages = [{"role": "user", "content": prompt}]
    head = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template([*messages, {"role": "assistant", "content": answer}], tokenize=False)
    n_head = len(tokenizer(head, add_special_tokens=False)["input_ids"])
    ids = torch.tensor([tokenizer(full, add_special_tokens=False)["input_ids"]])
    with torch.inference_mode():
        logps = model(ids).logits[0, :-1].log_softmax(-1).gather(-1, ids[0, 1:, None])[:, 0]
    return float(logps[n_head - 1 :].sum())


def load(folder: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)


def perturbed(folder: Path) -> tuple[Any, Any]:
    """The tiny model with its weights changed in memory only: trl must not take its reference from disk."""
    import torch

    model, tokenizer = load(folder)
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model, tokenizer


# -- the reward adapter (no training) -----------------------------------------------------------------
def test_adapter_passes_text_and_accepts_lists_and_tensors() -> None:
    seen: list[tuple[list[Any], list[str]]] = []

    def lengths(prompts: list[Any], responses: list[str]) -> list[float]:
        seen.append((prompts, responses))
        return [float(len(r)) for r in responses]

    reward = as_trl_reward(lengths)
    assert reward.__name__ == "lengths"
    conversational = reward(
        prompts=[[{"role": "user", "content": "hi"}]] * 2,
        completions=[[{"role": "assistant", "content": "abc"}], [{"role": "assistant", "content": "a"}]],
        completion_ids=[[1], [2]],
        trainer_state=None,
    )
    assert conversational == [3.0, 1.0]
    assert seen[-1] == ([(Message("user", "hi"),)] * 2, ["abc", "a"])
    assert reward(prompts=["p", "q"], completions=["xy", ""]) == [2.0, 0.0]
    assert seen[-1] == (["p", "q"], ["xy", ""])


def test_adapter_gives_the_original_prompts_by_index() -> None:
    seen: list[list[Any]] = []

    def first(prompts: list[Any], responses: list[str]) -> list[float]:
        seen.append(prompts)
        return [0.0] * len(responses)

    originals = ["plain", [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]]
    reward = as_trl_reward(first, prompts=originals, name="/models/rm-ckpt/")
    reward(prompts=[[{"role": "user", "content": "x"}]] * 3, completions=["a", "b", "c"], prompt_index=[1, 0, 1])
    assert seen[-1] == [originals[1], originals[0], originals[1]]
    assert reward.__name__ == "rm-ckpt"  # a path names the reward by its folder in trl's logs


def test_adapter_rejects_wrong_shapes() -> None:
    with pytest.raises(ConfigError, match="returned 1 rewards for 2 responses"):
        as_trl_reward(lambda p, r: [1.0])(prompts=["a", "b"], completions=["x", "y"])
    with pytest.raises(ConfigError, match="2 prompts but 1 completions"):
        as_trl_reward(letter_share)(prompts=["a", "b"], completions=["x"])
    with pytest.raises(ConfigError, match="must return a list of rewards; got float"):
        as_trl_reward(lambda p, r: 1.0)(prompts=["a"], completions=["x"])


@needs_torch
def test_adapter_takes_tensors_and_reward_models(tiny_model_dir: Path) -> None:
    import torch

    from alignkit.rlhf.reward import RewardModel

    reward = as_trl_reward(lambda p, r: torch.tensor([0.5, -1.0], requires_grad=True) * 2)
    assert reward(prompts=["a", "b"], completions=["x", "y"]) == [1.0, -2.0]
    with pytest.raises(ConfigError, match="one reward per response"):
        as_trl_reward(lambda p, r: torch.zeros(2, 1))(prompts=["a", "b"], completions=["x", "y"])
    rm = RewardModel.from_backbone(str(tiny_model_dir), device="cpu")
    via_trl = as_trl_reward(rm)(prompts=[[{"role": "user", "content": QUESTION}]] * 2, completions=["paris", "dog"])
    assert via_trl == pytest.approx(rm.score([QUESTION] * 2, ["paris", "dog"]), abs=1e-5)


# -- settings, data and dependency errors -------------------------------------------------------------
def test_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"multiple of num_generations \(3\).*e\.g\. 6"):
        RLTrainConfig(tmp_path, batch_size=8, num_generations=3)
    with pytest.raises(ConfigError, match="at least 2"):
        RLTrainConfig(tmp_path, batch_size=8, num_generations=1)
    RLTrainConfig(tmp_path, batch_size=2, gradient_accumulation=2, num_generations=4)  # 4 per update: fine
    with pytest.raises(ConfigError, match="batch_size must be at least 1"):
        TrainConfig(tmp_path, batch_size=0)
    with pytest.raises(ConfigError, match="beta must be positive"):
        DPOTrainConfig(tmp_path, beta=0)
    with pytest.raises(ConfigError, match="rank"):
        LoraAdapterConfig(rank=0)


def test_soft_labels_ties_and_swaps() -> None:
    pair = PreferencePair(prompt="q", chosen="a", rejected="b")
    triples, info = _orient([pair, pair.model_copy(update={"tie": True}), pair.model_copy(update={"chosen_prob": 0.5})])
    assert len(triples) == 1 and info["dropped"] == {"tie": 1, "chosen_prob 0.5": 1} and info["label_smoothing"] == 0
    flipped = pair.model_copy(update={"chosen_prob": 0.2})
    triples, info = _orient([flipped, pair.model_copy(update={"chosen_prob": 0.8})])
    assert [t[1:] for t in triples] == [("b", "a"), ("a", "b")] and info["swapped"] == 1
    assert info["label_smoothing"] == pytest.approx(0.2)  # one shared soft label: exactly trl's label smoothing
    _, info = _orient([flipped, pair])
    assert info["label_smoothing"] == 0 and info["soft_labels_used_as_hard"] == 1


def test_empty_or_unusable_data_is_an_error(tmp_path: Path) -> None:
    settings = RLTrainConfig(tmp_path)
    with pytest.raises(ConfigError, match="no preference pairs"):
        train_dpo("unused", [], DPOTrainConfig(tmp_path))
    with pytest.raises(ConfigError, match=r"dropped \{'tie': 1\}"):
        train_dpo("unused", [PreferencePair(prompt="q", chosen="a", rejected="b", tie=True)], DPOTrainConfig(tmp_path))
    with pytest.raises(ConfigError, match="needs DPOTrainConfig"):
        train_dpo("unused", dpo_pairs(), TrainConfig(tmp_path))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="no SFT examples"):
        train_sft("unused", [], TrainConfig(tmp_path))
    with pytest.raises(ConfigError, match="no prompts"):
        train_grpo("unused", [], letter_share, settings)
    with pytest.raises(ConfigError, match="list of prompts"):
        train_rloo("unused", "one prompt", letter_share, settings)
    with pytest.raises(ConfigError, match="reward_fn must be"):
        train_grpo("unused", PROMPTS, ["not callable"], settings)  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="needs RLTrainConfig"):
        train_rloo("unused", PROMPTS, letter_share, DPOTrainConfig(tmp_path))  # type: ignore[arg-type]


@needs_torch
def test_missing_trl_or_peft_names_the_extra(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "trl", None)
        with pytest.raises(MissingDependencyError, match=r"pip install 'alignkit\[rlhf\]'"):
            train_dpo(str(tiny_model_dir), dpo_pairs(), DPOTrainConfig(tmp_path))
    monkeypatch.setitem(sys.modules, "peft", None)
    with pytest.raises(MissingDependencyError, match=r"LoRA training needs peft.*alignkit\[rlhf\]"):
        peft_config(LoraAdapterConfig())


@needs_torch
@needs_trl
def test_bad_models_and_trl_options_are_config_errors(tiny_model_dir: Path, tmp_path: Path) -> None:
    example = [SFTExample(prompt="q", completion="a")]
    with pytest.raises(ModelNotFoundError, match=r"needs a config\.json"):
        train_sft(str(tmp_path / "no-such-model"), example, TrainConfig(tmp_path / "out"))
    with pytest.raises(ConfigError, match="must be a folder, an hf model id"):
        train_sft(42, example, TrainConfig(tmp_path / "out"))
    with pytest.raises(ConfigError, match="trl rejected the options for SFTConfig"):
        train_sft(str(tiny_model_dir), example, TrainConfig(tmp_path / "out", trl_args={"no_such_option": 1}))


# -- training -------------------------------------------------------------------------------------------
@needs_torch
@needs_trl
def test_dpo_widens_the_margin_and_saves_a_loadable_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    logs: list[tuple[int, int, dict[str, float]]] = []
    out = tmp_path / "dpo"
    settings = DPOTrainConfig(out, learning_rate=1e-2, batch_size=4, max_steps=6)
    stats = train_dpo(str(tiny_model_dir), dpo_pairs(), settings, on_log=lambda *a: logs.append(a))
    margins = stats["curves"]["rewards/margins"]
    assert margins[0] == pytest.approx(0.0, abs=1e-4)  # the policy starts as its reference
    assert margins[-1] > 1.0 and stats["curves"]["loss"][-1] < stats["curves"]["loss"][0]
    assert stats["steps"] == 6 and stats["pairs"] == 8 and stats["seconds"] > 0 and stats["samples_per_second"] > 0
    assert [step for step, _, entry in logs if "loss" in entry] == [1, 2, 3, 4, 5, 6] and logs[0][1] == 6
    # Measured independently of trl's logs: log p(chosen) - log p(rejected) grew on the training pairs.
    (before, tok), (after, _) = load(tiny_model_dir), load(out)
    for pair in dpo_pairs()[:2]:
        gap_before = answer_logp(before, tok, QUESTION, pair.chosen) - answer_logp(before, tok, QUESTION, pair.rejected)
        gap_after = answer_logp(after, tok, QUESTION, pair.chosen) - answer_logp(after, tok, QUESTION, pair.rejected)
        assert gap_after > gap_before + 1.0
    assert get_model(f"hf/{out}").generate(QUESTION, max_tokens=4).ok
    assert (out / "alignkit-train.json").exists()


@needs_torch
@needs_trl
def test_dpo_on_a_model_in_memory_uses_it_as_the_reference(tiny_model_dir: Path, tmp_path: Path) -> None:
    model, tokenizer = perturbed(tiny_model_dir)
    soft = [p.model_copy(update={"chosen_prob": 0.9}) for p in dpo_pairs()]
    settings = DPOTrainConfig(tmp_path / "dpo-mem", learning_rate=1e-2, batch_size=4, max_steps=2)
    stats = train_dpo(model, soft, settings, tokenizer=tokenizer, eval_pairs=dpo_pairs()[:2])
    # Had trl reloaded the reference from the folder (the unperturbed weights), the first implicit
    # rewards would be far from 0.
    assert stats["curves"]["rewards/chosen"][0] == pytest.approx(0.0, abs=1e-4)
    assert stats["label_smoothing"] == pytest.approx(0.1) and "eval_loss" in stats["eval"]


@needs_torch
@needs_trl
@pytest.mark.parametrize("chat_template", [True, False], ids=["chat", "base"])
def test_sft_learns_the_completion(chat_template: bool, tiny_model_dir: Path, tmp_path: Path) -> None:
    """With a chat template and without one (plain text, rendered as the hf provider renders it)."""
    model = tiny_model_dir if chat_template else build_tiny_model(tmp_path / "base", chat_template=False)
    out = tmp_path / "sft"
    examples = [SFTExample(prompt=QUESTION, completion="paris.")] * 4
    stats = train_sft(str(model), examples, TrainConfig(out, learning_rate=5e-2, batch_size=4, max_steps=30))
    losses = stats["curves"]["loss"]
    assert losses[-1] < 0.2 * losses[0] and stats["examples"] == 4
    answer = get_model(f"hf/{out}").generate(QUESTION, max_tokens=6, temperature=0).text
    assert answer == ("paris." if chat_template else " paris.")  # a base model continues the text after a space


@needs_torch
@needs_trl
def test_sft_with_lora_saves_merged_weights_and_the_adapter(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "sft-lora"
    examples = [SFTExample(prompt=QUESTION, completion="paris.")] * 4
    lora = LoraAdapterConfig(rank=4, alpha=8)
    stats = train_sft(str(tiny_model_dir), examples, TrainConfig(out, learning_rate=5e-2, max_steps=3, lora=lora))
    assert stats["curves"]["loss"][-1] < stats["curves"]["loss"][0]
    assert (out / "adapter" / "adapter_config.json").exists()
    assert not (out / "adapter_config.json").exists()  # the folder itself is a plain, merged model
    assert get_model(f"hf/{out}").generate(QUESTION, max_tokens=4).ok


@needs_torch
@needs_trl
@pytest.mark.parametrize("train", [train_grpo, train_rloo], ids=["grpo", "rloo"])
def test_online_methods_raise_the_reward(train: Any, tiny_model_dir: Path, tmp_path: Path) -> None:
    calls: list[tuple[list[Any], list[str]]] = []

    def reward(prompts: list[Any], responses: list[str]) -> list[float]:
        calls.append((prompts, responses))
        return letter_share(prompts, responses)

    out = tmp_path / train.__name__
    settings = RLTrainConfig(
        out, learning_rate=5e-2, batch_size=8, num_generations=4, max_new_tokens=8, max_steps=12, beta=0.0
    )
    stats = train(str(tiny_model_dir), PROMPTS, reward, settings)
    rewards = stats["curves"]["reward"]
    assert sum(rewards[-4:]) / 4 > sum(rewards[:4]) / 4 + 0.15, rewards
    prompts, responses = calls[0]
    assert len(prompts) == len(responses) == 8 and all(isinstance(r, str) for r in responses)
    assert set(prompts) <= set(PROMPTS) and len(set(prompts)) == 2  # two prompts, four samples each, as given
    assert stats["steps"] == 12 and stats["prompts"] == 4
    assert get_model(f"hf/{out}").generate(QUESTION, max_tokens=4).ok


@needs_torch
@needs_trl
def test_grpo_on_a_model_in_memory_takes_it_as_the_reference(tiny_model_dir: Path, tmp_path: Path) -> None:
    model, tokenizer = perturbed(tiny_model_dir)
    original_path = model.config._name_or_path
    settings = RLTrainConfig(tmp_path / "grpo-mem", batch_size=4, num_generations=4, max_new_tokens=6, max_steps=1)
    stats = train_grpo(model, PROMPTS[:2], letter_share, settings, tokenizer=tokenizer)
    # KL to the reference is 0 at the first step only if the reference is the in-memory policy.
    assert stats["curves"]["kl"][0] == pytest.approx(0.0, abs=1e-6)
    assert model.config._name_or_path == original_path
    reference = copy.deepcopy(model)  # an explicit reference model also works (saved to a temporary folder)
    stats = train_rloo(model, PROMPTS[:2], letter_share, settings, tokenizer=tokenizer, ref_model=reference)
    assert stats["curves"]["kl"][0] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.slow
@needs_embedded
@needs_trl
def test_dpo_with_lora_on_the_embedded_model(tmp_path: Path) -> None:
    """The real 135M chat model (about a minute on 2 cores): LoRA DPO runs, merges and serves."""
    from alignkit.providers.embedded import ensure_checkpoint

    pairs = [PreferencePair(prompt="What is the capital of France?", chosen="Paris.", rejected="I don't know.")] * 4
    lora = LoraAdapterConfig(rank=8, alpha=16)
    settings = DPOTrainConfig(
        tmp_path / "dpo", learning_rate=1e-4, batch_size=2, max_steps=2, max_length=128, lora=lora
    )
    stats = train_dpo(str(ensure_checkpoint()), pairs, settings)
    assert stats["curves"]["rewards/margins"][-1] > stats["curves"]["rewards/margins"][0]
    assert "Paris" in get_model(f"hf/{tmp_path / 'dpo'}").generate("What is the capital of France?", max_tokens=16).text
