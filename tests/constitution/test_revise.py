from __future__ import annotations

import json
from pathlib import Path

import pytest

from alignkit.constitution import ReviseConfig, default_constitution, mix_prompts, run_revision
from alignkit.core import ProviderError, SFTExample, read_jsonl
from alignkit.providers.mock import MockModel
from tests.constitution.helpers import reviser

RED = [f"how do I do bad thing {i}?" for i in range(6)]
HELPFUL = [f"tell me a fact about the number {i}" for i in range(10)]


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_two_rounds_build_the_dataset_and_keep_the_trace(tmp_path: Path) -> None:
    c = default_constitution()
    progress: list[tuple[int, int]] = []
    result = run_revision(
        reviser(), c, RED, tmp_path, helpful=HELPFUL,
        settings=ReviseConfig(rounds=2, helpful_ratio=0.5, batch_size=4, few_shot=1),
        on_progress=lambda d, t: progress.append((d, t)),
    )  # fmt: skip
    assert (result.processed, result.already_done, result.failed) == (9, 0, 0)
    assert progress[0] == (0, 9) and progress[-1] == (9, 9)
    examples = list(read_jsonl(result.sft_path, SFTExample))
    red = [e for e in examples if e.metadata["kind"] == "redteam"]
    helpful = [e for e in examples if e.metadata["kind"] == "helpful"]
    assert len(red) == 6 and len(helpful) == 3  # 0.5 helpful prompts per red-team prompt
    for e in red:
        text = e.prompt[0].content
        # Round 2 revises round 1's revision; the "Revised answer:" label is not learned.
        assert e.completion == f"SAFE[SAFE[ANSWER[{text}]]]"
        assert e.metadata["revised"] and len(e.metadata["principles"]) == 2
    assert all(e.completion == f"ANSWER[{e.prompt[0].content}]" for e in helpful)  # plain answers as targets
    trace = {r["key"]: r for r in rows(result.trace_path)}
    one = trace[red[0].id]
    assert one["initial_answer"] == f"ANSWER[{red[0].prompt[0].content}]"
    step1, step2 = one["rounds"]
    principle = c.principle(step1["principle"])
    assert step1["critique_request"] in principle.critique and step1["revision_request"] in principle.revision
    assert (
        step1["critique"] == f"CRITIQUE[{one['initial_answer']}]"
        and step2["critique"] == f"CRITIQUE[{step1['revision']}]"
    )
    assert result.summary["by_kind"] == {"redteam": 6, "helpful": 3} and result.summary["rounds"] == 12
    assert sum(result.summary["principles_drawn"].values()) == 12


def test_requests_quote_the_conversation_and_few_shot_examples(tmp_path: Path) -> None:
    model = reviser()
    only = default_constitution().select(["ai-transparency"])  # a principle with an example
    run_revision(model, only, ["are you human?"], tmp_path, settings=ReviseConfig(few_shot=1))
    critique_request = model.calls[1][-1].content
    assert "Request: are you human?" in critique_request and "Answer: ANSWER[are you human?]" in critique_request
    assert critique_request.startswith("Example.\nRequest: Are you a real person?")
    assert "Revised answer: No, I'm an AI assistant" in model.calls[2][-1].content
    no_examples = reviser()
    run_revision(no_examples, only, ["x?"], tmp_path / "b", settings=ReviseConfig(few_shot=0))
    assert not no_examples.calls[1][-1].content.startswith("Example.")


def test_draws_do_not_depend_on_batching(tmp_path: Path) -> None:
    c = default_constitution()
    a = run_revision(reviser(), c, RED, tmp_path / "a", helpful=HELPFUL, settings=ReviseConfig(batch_size=1))
    b = run_revision(reviser(), c, RED, tmp_path / "b", helpful=HELPFUL, settings=ReviseConfig(batch_size=5))
    assert a.sft_path.read_text() == b.sft_path.read_text()
    other = run_revision(reviser(), c, RED, tmp_path / "c", settings=ReviseConfig(seed=7, helpful_ratio=0))
    draws = lambda r: [x["rounds"][0]["principle"] for x in rows(r.trace_path) if x["kind"] == "redteam"]  # noqa: E731
    assert sorted(draws(a)) != sorted(draws(other)) or draws(a) != draws(other)


def test_resume_after_a_crash_loses_nothing_and_redoes_nothing(tmp_path: Path) -> None:
    c = default_constitution()
    items = mix_prompts(RED, HELPFUL, 1.0, 0)
    crash_at = items[5][2][0].content  # the sixth prompt in processing order
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_revision(reviser(fail_on=crash_at), c, RED, tmp_path, helpful=HELPFUL, settings=ReviseConfig(batch_size=2))
    before = (tmp_path / "sft.jsonl").read_text()
    assert len(before.splitlines()) == 4  # two whole batches were written before the crash
    with (tmp_path / "sft.jsonl").open("a") as fh:
        fh.write('{"id": "torn line')  # the process died mid-write
    healthy = reviser()
    result = run_revision(healthy, c, RED, tmp_path, helpful=HELPFUL, settings=ReviseConfig(batch_size=2))
    assert (result.already_done, result.processed) == (4, 8)
    after = (tmp_path / "sft.jsonl").read_text()
    assert after.startswith(before)  # earlier rows untouched, torn line dropped
    ids = [r["id"] for r in rows(tmp_path / "sft.jsonl")]
    assert len(ids) == len(set(ids)) == 12
    answered = [m[-1].content for m in healthy.calls if not m[-1].content.startswith(("Here is", "Example."))]
    assert len(answered) == 8  # only the unfinished prompts were asked again
    # Everything done: a third run does nothing.
    assert run_revision(reviser(), c, RED, tmp_path, helpful=HELPFUL).processed == 0


def test_failed_answers_are_recorded_and_retried(tmp_path: Path) -> None:
    def flaky(text: str) -> str:
        if text == "bad?":
            raise ProviderError("boom")
        return "ok answer"

    one_by_one = ReviseConfig(batch_size=1)  # a provider error fails the whole batch it is in
    result = run_revision(
        MockModel.from_callable(flaky), default_constitution(), ["a?", "bad?"], tmp_path, settings=one_by_one
    )
    assert (result.processed, result.failed) == (1, 1)
    trace = rows(tmp_path / "trace.jsonl")
    assert [r["status"] for r in trace if r["prompt"][0]["content"] == "bad?"] == ["error"]
    again = run_revision(reviser(), default_constitution(), ["a?", "bad?"], tmp_path)
    assert (again.already_done, again.processed) == (1, 1)


def test_empty_revisions_keep_the_previous_answer(tmp_path: Path) -> None:
    def lazy(text: str) -> str:
        if "Write only the new answer" in text:
            return "Revised answer:"
        return "CRIT" if text.endswith("Write the critique only.") else "first answer"

    result = run_revision(MockModel.from_callable(lazy), default_constitution(), ["q?"], tmp_path)
    (example,) = read_jsonl(result.sft_path, SFTExample)
    assert example.completion == "first answer" and example.metadata["revised"] is False
    assert rows(result.trace_path)[0]["rounds"][0]["stopped"] is True


def test_settings_are_checked() -> None:
    from alignkit.core import ConfigError

    with pytest.raises(ConfigError, match="rounds"):
        ReviseConfig(rounds=0)
    with pytest.raises(ConfigError, match="helpful_target"):
        ReviseConfig(helpful_target="both")  # type: ignore[arg-type]
