"""PPO on a tiny model built from a config: the guide's sample runs, a toy task is learned, and a
resumed run continues exactly where the interrupted one stopped."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from alignkit.core import ConfigError
from tests.conftest import needs_torch

pytestmark = needs_torch

PROMPTS = [f"question {i}: tell me about the {w}" for i in range(16) for w in ("fox", "dog", "guard", "paris")]


def vowel_fraction(prompts: list[Any], responses: list[str]) -> list[float]:
    """A dense toy reward: the share of the answer's characters that are vowels."""
    return [sum(c in "aeiou" for c in r) / max(1, len(r)) for r in responses]


def tiny_trainer(model_dir: Path, **overrides: Any) -> Any:
    from alignkit.rlhf.ppo import PPOConfig, PPOTrainer

    settings: dict[str, Any] = dict(
        learning_rate=1e-3, batch_size=16, mini_batch_size=8, max_new_tokens=8, init_kl_coef=0.01, device="cpu"
    )
    settings.update(overrides)
    return PPOTrainer(PPOConfig(model_name=str(model_dir), **settings))


def test_guide_sample_runs_as_written(tiny_model_dir: Path) -> None:
    """The guide's loop, with the import changed to alignkit and the names it assumes bound here."""
    import torch
    from torch.utils.data import DataLoader

    from alignkit.rlhf import AutoModelForCausalLMWithValueHead

    model = AutoModelForCausalLMWithValueHead.from_pretrained(tiny_model_dir, device="cpu")
    ref_model = AutoModelForCausalLMWithValueHead.from_pretrained(tiny_model_dir, device="cpu")
    tokenizer = model.tokenizer
    dataloader = DataLoader([{"query": p} for p in PROMPTS[:32]], batch_size=16)

    def reward_model(queries: list[str], responses: list[str]) -> Any:
        return torch.tensor(vowel_fraction(queries, responses))

    steps: list[dict[str, float]] = []
    namespace = dict(
        model=model, ref_model=ref_model, tokenizer=tokenizer, dataloader=dataloader, reward_model=reward_model
    )
    sample = """
from alignkit.rlhf import PPOTrainer, PPOConfig
config = PPOConfig(
    model_name="gpt2",
    learning_rate=1e-5,
    batch_size=16
)
trainer = PPOTrainer(config, model, ref_model, tokenizer)
for batch in dataloader:
    response = model.generate(batch["query"])
    reward = reward_model(batch["query"], response)
    steps.append(trainer.step(batch["query"], response, reward))
"""
    exec(sample, {**namespace, "steps": steps})
    assert len(steps) == 2
    for stats in steps:
        assert {"env/reward_mean", "objective/kl", "ppo/policy/clipfrac", "ppo/loss/value"} <= set(stats)
        assert all(math.isfinite(v) for v in stats.values())
    assert isinstance(model.generate("one question"), str)


def test_ppo_learns_a_toy_task(tiny_model_dir: Path, tmp_path: Path) -> None:
    trainer = tiny_trainer(tiny_model_dir, output_dir=str(tmp_path / "run"))
    history = trainer.train(PROMPTS, vowel_fraction, steps=30)
    first = sum(h["env/reward_mean"] for h in history[:5]) / 5
    last = sum(h["env/reward_mean"] for h in history[-5:]) / 5
    assert last > first + 0.1, (first, last)
    assert history[-1]["objective/kl"] > 0  # it moved away from the reference, and the KL says so
    # the log, a plot of it, and a policy any provider loads
    from alignkit.rlhf.trainlog import plot_log, read_log

    rows = read_log(tmp_path / "run")
    assert [r["step"] for r in rows] == list(range(1, 31))
    svg = plot_log(rows, ["env/reward_mean", "objective/kl"], tmp_path / "curves.svg").read_text()
    assert svg.count("<polyline") == 2
    trainer.save_pretrained(tmp_path / "policy")
    from alignkit.providers import get_model

    assert get_model(f"hf/{tmp_path / 'policy'}", device="cpu").generate("hello").ok


def test_resume_continues_the_same_run(tiny_model_dir: Path, tmp_path: Path) -> None:
    whole = tiny_trainer(tiny_model_dir).train(PROMPTS, vowel_fraction, steps=6)

    first = tiny_trainer(tiny_model_dir, output_dir=str(tmp_path / "run"))
    first.train(PROMPTS, vowel_fraction, steps=3)  # "interrupted" after step 3 (checkpoint-3 written)
    assert (tmp_path / "run" / "checkpoint-3" / "trainer_state.pt").exists()
    second = tiny_trainer(tiny_model_dir, output_dir=str(tmp_path / "run"))
    resumed = second.train(PROMPTS, vowel_fraction, steps=6, resume_from="latest")
    assert len(resumed) == 6
    for a, b in zip(whole[3:], resumed[3:], strict=True):
        for key in ("env/reward_mean", "objective/kl", "ppo/loss/policy"):
            assert a[key] == pytest.approx(b[key], abs=1e-4), key
    from alignkit.rlhf.trainlog import read_log

    assert [r["step"] for r in read_log(tmp_path / "run")] == [1, 2, 3, 4, 5, 6]


def test_step_takes_tokens_and_texts_and_checks_its_input(tiny_model_dir: Path) -> None:
    import torch

    trainer = tiny_trainer(tiny_model_dir, batch_size=2, mini_batch_size=1, max_new_tokens=4)
    tok = trainer.tokenizer
    queries = [torch.tensor(tok.encode("the fox")), torch.tensor(tok.encode("a dog"))]
    responses = [torch.tensor([*tok.encode(" runs"), tok.eos_token_id, 5, 6]), torch.tensor(tok.encode(" sits"))]
    stats = trainer.step(queries, responses, torch.tensor([1.0, -1.0]))
    assert stats["tokens/eos_fraction"] == 0.5  # the first stopped at EOS (tokens after it dropped), the second not
    assert stats["tokens/response_len_mean"] == pytest.approx(
        (len(tok.encode(" runs")) + 1 + len(tok.encode(" sits"))) / 2
    )
    stats = trainer.step(["the fox", "a dog"], ["runs", "sits"], [0.5, 0.2])  # texts: complete answers
    assert stats["tokens/eos_fraction"] == 1.0
    with pytest.raises(ConfigError, match=r"2 rewards for 1 responses|1 queries but 2 responses"):
        trainer.step(["q"], ["a", "b"], [1.0, 2.0])
    with pytest.raises(ConfigError, match="one per answer"):
        trainer.step(["a", "b"], ["x", "y"], [1.0])
    with pytest.raises(ConfigError, match="NaN"):
        trainer.step(["a", "b"], ["x", "y"], [1.0, float("nan")])


def test_missing_eos_penalty_and_config_errors(tiny_model_dir: Path) -> None:
    import torch

    from alignkit.rlhf.ppo import PPOConfig, PPOTrainer

    trainer = tiny_trainer(tiny_model_dir, batch_size=2, mini_batch_size=2, missing_eos_penalty=1.0)
    tok = trainer.tokenizer
    q = [torch.tensor(tok.encode("the fox"))] * 2
    r = [torch.tensor([*tok.encode(" runs"), tok.eos_token_id]), torch.tensor(tok.encode(" runs"))]
    stats = trainer.step(q, r, [1.0, 1.0])
    assert stats["env/reward_mean"] == 1.0  # raw scores are reported ...
    assert stats["objective/score_minus_kl"] < 0.51  # ... the penalised ones are trained on (1 and 0)
    with pytest.raises(ConfigError, match="mini_batch_size"):
        PPOConfig(batch_size=4, mini_batch_size=8).check()
    with pytest.raises(ConfigError, match="temperature"):
        PPOConfig(temperature=0)  # checked when built ...
    config = PPOConfig(model_name=str(tiny_model_dir))
    config.ppo_epochs = 0
    with pytest.raises(ConfigError, match="ppo_epochs"):
        PPOTrainer(config)  # ... and again when used, since fields may change
    with pytest.raises(ConfigError, match="model_name"):
        PPOTrainer(PPOConfig())
    with pytest.raises(ConfigError, match="prompts for batch_size"):
        trainer.train(["only one"], vowel_fraction, steps=1)


@pytest.mark.network
def test_guide_sample_with_gpt2_raises_the_reward() -> None:
    """The guide's sample with the real gpt2 from the hub (run with -m network): the reward goes up."""
    import torch
    from torch.utils.data import DataLoader

    from alignkit.rlhf import AutoModelForCausalLMWithValueHead, PPOConfig, PPOTrainer

    model = AutoModelForCausalLMWithValueHead.from_pretrained("gpt2", device="cpu")
    ref_model = AutoModelForCausalLMWithValueHead.from_pretrained("gpt2", device="cpu")
    tokenizer = model.tokenizer
    dataloader = DataLoader([{"query": p} for p in PROMPTS] * 4, batch_size=16, shuffle=True)

    def reward_model(queries: list[str], responses: list[str]) -> Any:
        return torch.tensor(vowel_fraction(queries, responses))

    config = PPOConfig(model_name="gpt2", learning_rate=1e-5, batch_size=16)
    trainer = PPOTrainer(config, model, ref_model, tokenizer)
    rewards = []
    for batch in dataloader:
        response = model.generate(batch["query"])
        reward = reward_model(batch["query"], response)
        rewards.append(trainer.step(batch["query"], response, reward)["env/reward_mean"])
    k = len(rewards) // 3
    assert sum(rewards[-k:]) / k > sum(rewards[:k]) / k


def test_separate_critic_from_a_reward_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    from alignkit.rlhf.reward import RewardModel

    RewardModel.from_backbone(str(tiny_model_dir), device="cpu").save(tmp_path / "rm")
    trainer = tiny_trainer(tiny_model_dir, output_dir=str(tmp_path / "run"))
    from alignkit.rlhf.ppo import PPOTrainer

    trainer = PPOTrainer(trainer.config, critic=str(tmp_path / "rm"))
    head = trainer.policy.v_head.weight.clone()
    critic_before = [p.clone() for p in trainer.critic.parameters()]
    history = trainer.train(PROMPTS, vowel_fraction, steps=2)
    assert all(math.isfinite(v) for h in history for v in h.values())
    assert any(not (a == b).all() for a, b in zip(critic_before, trainer.critic.parameters(), strict=True))
    assert (trainer.policy.v_head.weight == head).all()  # the unused head is not trained
    resumed = PPOTrainer(trainer.config, critic=str(tmp_path / "rm"))
    resumed.load_checkpoint(tmp_path / "run" / "checkpoint-2")
    for a, b in zip(trainer.critic.parameters(), resumed.critic.parameters(), strict=True):
        assert (a == b).all()
