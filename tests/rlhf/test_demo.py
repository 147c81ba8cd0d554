"""The RLHF demo end to end at toy sizes: a tiny model, a small HH-format file."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import needs_torch

pytestmark = needs_torch


def test_demo_runs_all_three_stages(tiny_model_dir: Path, tmp_path: Path) -> None:
    from alignkit.rlhf.demo import DemoConfig, run_demo

    data = tmp_path / "hh.jsonl"
    rows = [
        {
            "chosen": f"\n\nHuman: question {i} about the fox?\n\nAssistant: I can't help with that, sorry.",
            "rejected": f"\n\nHuman: question {i} about the fox?\n\nAssistant: sure, here is how {i}",
        }
        for i in range(40)
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    sizes = DemoConfig(train_pairs=16, eval_pairs=8, rm_layers=1, rm_max_length=48, rm_lr=1e-3, ppo_steps=2,
                      batch_size=4, mini_batch_size=2, ppo_epochs=1, max_new_tokens=4, lr=1e-3)  # fmt: skip
    lines: list[str] = []
    results = run_demo(tiny_model_dir, data, tmp_path / "out", sizes, device="cpu", say=lines.append)
    assert results["ppo"]["steps"] == 2 and len(results["examples"]) == 5
    assert 0.0 <= results["reward_model"]["held_out_after"]["pairwise_accuracy"] <= 1.0
    for name in ("report.md", "curves.svg", "results.json", "policy/config.json", "reward-model/config.json"):
        assert (tmp_path / "out" / name).exists(), name
    assert "Red-team prompts" in (tmp_path / "out" / "report.md").read_text()
    assert any(line.startswith("3/3") for line in lines)
