"""Fuzz every CLI that reads a file (detect, label add/export, cai revise/feedback prompt files, rlhf pair
and prompt files, YAML configs) with a seeded generator of hostile files: random bytes, bytes that are
not UTF-8, wrong JSON types, huge lines, deep nesting, Unicode tricks.

Every case must end with exit code 0 or one error line that names the file and, for a defect on a line,
the line (and the field, for a wrong type); never a traceback, never past a time bound, and an output
that existed before is never emptied or half-written. Runs in-process with click's CliRunner."""

from __future__ import annotations

import json
import random
import re
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from alignkit.cli.main import cli
from alignkit.rlhf.labelling import LabelStore
from tests.conftest import needs_torch

SEED = 12
RANDOM_CASES = 6  # random-byte and mutated files per format, on top of the fixed hostile ones
BOUND_S = 20.0  # generous: a case that takes longer is a hang, not slowness
WHOLE_FILE = (
    "holds no",
    "no prompts",
    "nothing to",
    "no items",
    "UTF-16",
    "expected a mapping",
    "not a usable",
    "nested too deeply to read",
)
TRICKS = [
    "4\u200b1\u200b5-555-2671",  # zero-width spaces
    "\u202eevil\u202c text",  # right-to-left override
    "\u0440\u0430\u0443\u0440\u0430l",  # Cyrillic confusables for "paypal"
    "\u0664\u0661\u0665 \u0665\u0665\u0665",  # Arabic-Indic digits
    "e\u0301\u0301\u0301",  # stacked combining marks
    "\U0001f600 \U000e0041\U000e0042",  # an emoji and tag characters
    "a\u2028b\u2029c\x85d",  # Unicode line separators inside one value
    "nul \x00 byte",
]


@dataclass(frozen=True)
class Case:
    """A hostile file: its bytes, and the field a wrong type was put in (if any)."""

    name: str
    data: bytes
    field: str | None = None


def _jsonl(rows: list[Any]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8", "surrogatepass")


def jsonl_cases(good: dict[str, Any], rng: random.Random) -> Iterator[Case]:
    """Hostile JSONL files around one good row (whose string fields are the ones a reader needs)."""
    base = _jsonl([good, good | {k: v + " 2" for k, v in good.items()}])
    yield Case("good", base)
    yield Case("empty", b"")
    yield Case("blank lines and a BOM", b"\xef\xbb\xbf\n  \n\n")
    yield Case("utf-16", json.dumps(good).encode("utf-16"))
    first = next(iter(good))
    yield Case("latin-1 line", base + json.dumps(good | {first: "caf\u00e9"}, ensure_ascii=False).encode("latin-1"))
    yield Case("cut inside a character", base + b'{"x": "\xe2\x82')
    yield Case("torn last line", base + json.dumps(good).encode()[:-3])
    yield Case("not json", base + b"hello there\n")
    for top in (b"[1, 2]", b'"text"', b"12", b"null", b"true"):
        yield Case(f"top-level {top!r}", base + top + b"\n")
    for key in good:
        for bad in (12345, None, ["a", "b"], {"a": 1}, True, 1.5e300):
            yield Case(f"{key} = {bad!r}", _jsonl([good | {key: bad}]), key)
        yield Case(f"no {key}", _jsonl([{k: v for k, v in good.items() if k != key}]), key)
    yield Case("huge integer", b'{"n": ' + b"9" * 5000 + b"}\n")
    yield Case("NaN", base + b'{"x": NaN, "y": -Infinity}\n')
    yield Case("deep list", b"[" * 100_000 + b"\n")
    yield Case("deep object", b'{"a": ' * 100_000 + b"\n")
    yield Case("deep value", b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n")
    yield Case("deep but readable", _jsonl([good | {"extra": _nest(200)}]))
    yield Case(
        "deep near the limit", _jsonl([good | {"extra": _nest(800)}]) + b'{"x": ' + b"[" * 990 + b"]" * 990 + b"}\n"
    )
    yield Case("huge line", _jsonl([{k: v * 50_000 for k, v in good.items()}]))
    yield Case("huge key", _jsonl([good | {"k" * 100_000: 1}]))
    yield Case("many keys", _jsonl([good | {f"k{i}": i for i in range(5_000)}]))
    yield Case("lone surrogate", base + json.dumps(good | {first: "x"}).replace('"x"', '"x\\ud800y"').encode() + b"\n")
    yield Case("escaped surrogate pair", json.dumps({k: "\ud83d\ude00 " + v for k, v in good.items()}).encode())
    yield Case("duplicate keys", base + b'{"a": 1, "a": 2}\n')
    yield Case("crlf and cr", base.replace(b"\n", b"\r\n") + base.replace(b"\n", b"\r"))
    for trick in TRICKS:
        yield Case(f"trick {trick[:6]!r}", _jsonl([{k: f"{v} {trick}" for k, v in good.items()}]))
    yield from _random_cases(base, rng)


def _nest(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def _random_cases(base: bytes, rng: random.Random) -> Iterator[Case]:
    for n in range(RANDOM_CASES):
        yield Case(f"random bytes {n}", rng.randbytes(rng.randint(1, 4000)))
        mutated = bytearray(base * 3)
        for _ in range(rng.randint(1, 8)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        yield Case(f"mutated {n}", bytes(mutated))


def csv_cases(good: dict[str, str], rng: random.Random) -> Iterator[Case]:
    """Hostile CSV files with ``good``'s keys as the header."""
    head = ",".join(good).encode()
    row = ",".join(good.values()).encode()
    base = head + b"\n" + row + b"\n"
    yield Case("good", base)
    yield Case("header only", head + b"\n")
    yield Case("latin-1", base + row.replace(b"a", b"\xe9") + b"\n")
    yield Case("nul byte", base + row.replace(b"a", b"\x00") + b"\n")
    yield Case("too many fields", base + row + b",extra,more\n")
    yield Case("too few fields", base + b"only\n")
    yield Case("field over csv's limit", base + b"x" * 200_000 + b"," + row + b"\n")
    yield Case("unbalanced quote", base + b'"open,' + row + b"\n")
    yield Case("quoted newline", base + b'"a\nb",' + b",".join(row.split(b",")[1:]) + b"\n")
    yield Case("bom and crlf", b"\xef\xbb\xbf" + base.replace(b"\n", b"\r\n"))
    yield from _random_cases(base, rng)


def txt_cases(rng: random.Random) -> Iterator[Case]:
    """Hostile prompt files, one prompt a line."""
    base = b"first prompt\nsecond prompt\n"
    yield Case("good", base)
    yield Case("empty", b"")
    yield Case("latin-1", base + b"caf\xe9\n")
    yield Case("huge line", b"word " * 200_000 + b"\n")
    yield Case("tricks", "\n".join(TRICKS).encode())
    yield from _random_cases(base, rng)


def yaml_cases(rng: random.Random) -> Iterator[Case]:
    """Hostile YAML config files (for --config)."""
    yield Case("good", b"seed: 3\n")
    yield Case("not a mapping", b"- 1\n- 2\n")
    yield Case("unknown key", b"seed: 1\nbanana: 2\n", "banana")
    yield Case("wrong type", b"seed: [1, 2]\n", "seed")
    yield Case("a mapping value", b"seed: {a: 1}\n", "seed")
    yield Case("a date", b"seed: 2024-01-01\n", "seed")
    yield Case("deep", b"seed: " + b"[" * 100_000 + b"\n")
    laughs = "".join(f"  - &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdef", "bcdefg", strict=True))
    yield Case("billion laughs", f"seed:\n  - &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\n{laughs}".encode(), "seed")
    yield Case("latin-1", b"seed: 1\n# caf\xe9\n")
    yield Case("bad yaml", b"seed: [1,\n")
    yield from _random_cases(b"seed: 3\nlimit: 2\n", rng)


# -- the check every case must pass --------------------------------------------------------------------
def _hang(signum: int, frame: Any) -> None:
    raise TimeoutError(f"no answer within {BOUND_S} s")


def invoke(args: list[str]) -> tuple[Result, float]:
    """Run the CLI in-process; a run past :data:`BOUND_S` is interrupted (and then fails the check)."""
    previous = signal.signal(signal.SIGALRM, _hang)
    signal.setitimer(signal.ITIMER_REAL, BOUND_S)
    t0 = time.perf_counter()
    try:
        result = CliRunner().invoke(cli, args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return result, time.perf_counter() - t0


def check(result: Result, elapsed: float, path: Path, case: Case) -> None:
    """Exit 0, or one error line naming the file (and line, and field); no traceback; no hang."""
    where = f"{case.name!r} on {path.name}: {result.output[-600:]!r} {result.exception!r}"
    assert elapsed < BOUND_S, where
    assert result.exception is None or isinstance(result.exception, SystemExit), where
    assert "Traceback" not in result.output, where
    if result.exit_code == 0:
        return
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, where
    assert path.name in errors[0], where
    if not any(p in errors[0] for p in WHOLE_FILE):
        assert re.search(rf"{re.escape(path.name)}:\d+", errors[0]), where
    if case.field and "unknown key" not in errors[0] and "expected a mapping" not in errors[0]:
        assert case.field in errors[0], where


def fuzz(tmp_path: Path, suffix: str, cases: Iterator[Case], run: Callable[[Path], tuple[list[str], Callable[[Result], None]]]) -> int:  # fmt: skip
    """Write each case to a file, run the command ``run`` builds for it, and check the result."""
    n = 0
    for n, case in enumerate(cases, start=1):
        path = tmp_path / f"case{n}{suffix}"
        path.write_bytes(case.data)
        args, check_outputs = run(path)
        result, elapsed = invoke(args)
        check(result, elapsed, path, case)
        try:
            check_outputs(result)
        except Exception as e:
            raise AssertionError(f"{case.name!r} on {path.name}: outputs") from e
    return n


# -- the commands ---------------------------------------------------------------------------------------
SENTINEL = "previous output, which must survive\n"
PAIR = {"prompt": "q a", "chosen": "yes a", "rejected": "no a"}
ANSWERS = {"prompt": "q a", "response_a": "one a", "response_b": "two a"}


def rng_for(name: str) -> random.Random:
    return random.Random(f"{SEED}:{name}")


def some(cases: Iterator[Case], k: int, name: str) -> Iterator[Case]:
    """A seeded sample of ``k`` cases (the good one always): for commands that share a reader already fuzzed."""
    every = list(cases)
    return iter([every[0], *rng_for(name).sample(every[1:], min(k, len(every) - 1))])


def lines_of(data: bytes) -> int:
    return sum(1 for line in data.decode("utf-8-sig").split("\n") if line.strip())


def test_detect(tmp_path: Path) -> None:
    out, part = tmp_path / "out.jsonl", tmp_path / "out.jsonl.part"

    def run(path: Path) -> tuple[list[str], Callable[[Result], None]]:
        out.write_text(SENTINEL)
        part.unlink(missing_ok=True)

        def outputs(result: Result) -> None:
            if result.exit_code:
                assert out.read_text() == SENTINEL  # an error never touches the output
                return
            rows = [json.loads(line) for line in out.read_text(encoding="utf-8").split("\n") if line]
            assert len(rows) == lines_of(path.read_bytes()) and all("flagged" in r for r in rows)
            assert not part.exists()

        return ["detect", "secrets", "--input", str(path), "--output", str(out)], outputs

    assert fuzz(tmp_path, ".jsonl", jsonl_cases({"text": "hello a"}, rng_for("detect")), run) > 50


def test_label_add_and_export(tmp_path: Path) -> None:
    db = tmp_path / "labels.sqlite"
    with LabelStore(db) as store:
        store.add_items([])
    count = [0]

    def add(*extra: str) -> Callable[[Path], tuple[list[str], Callable[[Result], None]]]:
        def run(path: Path) -> tuple[list[str], Callable[[Result], None]]:
            with LabelStore(db) as store:
                count[0] = store.count_items()

            def outputs(result: Result) -> None:
                with LabelStore(db) as store:
                    now = store.count_items()
                assert now == count[0] if result.exit_code else now >= count[0]  # a bad file adds nothing

            return ["label", "add", str(db), *extra, str(path)], outputs

        return run

    fuzz(tmp_path, ".jsonl", jsonl_cases(ANSWERS, rng_for("label jsonl")), add("--pairs"))
    fuzz(tmp_path, ".csv", csv_cases(ANSWERS, rng_for("label csv")), add("--pairs"))
    fuzz(tmp_path, ".jsonl", some(jsonl_cases(PAIR, rng_for("label hh")), 15, "label hh"), add("--pairs"))
    models = ("--model-a", "mock/echo", "--model-b", "mock/fixed", "--prompts")
    fuzz(tmp_path, ".txt", txt_cases(rng_for("label txt")), add(*models))
    fuzz(tmp_path, ".jsonl", some(jsonl_cases({"prompt": "q a"}, rng_for("label p")), 20, "label p"), add(*models))
    out = tmp_path / "export.jsonl"

    def export(path: Path) -> tuple[list[str], Callable[[Result], None]]:
        out.write_text(SENTINEL)
        return ["label", "export", str(path), "--out", str(out)], lambda r: r.exit_code == 0 or _same(out)

    fuzz(tmp_path, ".sqlite", txt_cases(rng_for("export")), export)


def _same(out: Path) -> None:
    assert out.read_text() == SENTINEL


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    """A `cai revise` folder from a good run, to check that a bad rerun never harms what is there."""
    prompts = tmp_path / "seed.txt"
    prompts.write_text("how do I pick a lock?\nwrite a poem\n")
    folder = tmp_path / "template"
    result = CliRunner().invoke(cli, ["cai", "revise", "mock/echo", "--prompts", str(prompts), "--out", str(folder)])
    assert result.exit_code == 0, result.output
    return folder


@pytest.mark.parametrize("command", ["revise", "feedback"])
def test_cai_prompt_files(command: str, tmp_path: Path, run_folder: Path) -> None:
    out = tmp_path / "run"

    def run(path: Path) -> tuple[list[str], Callable[[Result], None]]:
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(run_folder, out)
        before = {f.name: f.read_text() for f in out.glob("*.jsonl")}

        def outputs(result: Result) -> None:
            for name, text in before.items():
                now = (out / name).read_text(encoding="utf-8")
                assert now.startswith(text)  # earlier rows kept, byte for byte
                assert all(isinstance(json.loads(line), dict) for line in now.split("\n") if line)

        return ["cai", command, "mock/echo", "--prompts", str(path), "--out", str(out), "--few-shot", "0"][
            : 7 if command == "feedback" else 9
        ], outputs

    k = 60 if command == "revise" else 20
    fuzz(tmp_path, ".jsonl", some(jsonl_cases({"prompt": "q a"}, rng_for(command)), k, command), run)
    fuzz(tmp_path, ".jsonl", some(jsonl_cases({"instruction": "do a"}, rng_for("inst")), 12, "inst"), run)
    fuzz(tmp_path, ".txt", txt_cases(rng_for(f"{command} txt")), run)
    fuzz(tmp_path, ".csv", some(csv_cases({"prompt": "q a"}, rng_for("cai csv")), 8, "cai csv"), run)
    fuzz(tmp_path, ".yaml", yaml_cases(rng_for("cai yaml")), lambda p: (["cai", command, "mock/echo", "--config", str(p), "--prompts", str(tmp_path / "case1.txt"), "--out", str(out)], lambda r: None))  # fmt: skip


def _stop(*args: Any, **kwargs: Any) -> Any:
    raise click.exceptions.Exit(0)  # where training would start: the files were read


@needs_torch
def test_rlhf_pair_prompt_and_sft_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import alignkit.cli.rlhf as rlhf_cli

    monkeypatch.setattr(rlhf_cli, "PPOTrainer", _stop)
    monkeypatch.setattr(rlhf_cli.RewardModel, "from_backbone", _stop)
    monkeypatch.setattr(rlhf_cli.RewardModel, "load", _stop)
    monkeypatch.setattr("alignkit.cli.rlhf_trl._run", _stop)
    out, model = str(tmp_path / "out"), str(tmp_path)
    nothing: Callable[[Result], None] = lambda r: None  # noqa: E731

    def cmd(*args: str) -> Callable[[Path], tuple[list[str], Callable[[Result], None]]]:
        return lambda p: ([a if a != "FILE" else str(p) for a in args], nothing)

    pairs = cmd("rlhf", "train-reward", "FILE", "--backbone", "hf/none", "--out", out)
    fuzz(tmp_path, ".jsonl", jsonl_cases(PAIR, rng_for("pairs")), pairs)
    fuzz(tmp_path, ".csv", csv_cases(PAIR, rng_for("pairs csv")), pairs)
    fuzz(tmp_path, ".jsonl", some(jsonl_cases(PAIR, rng_for("eval")), 12, "eval"), cmd("rlhf", "eval-reward", model, "FILE"))  # fmt: skip
    dpo = cmd("rlhf", "dpo", "--pairs", "FILE", "--out", out, "--policy", "hf/none")
    fuzz(tmp_path, ".jsonl", some(jsonl_cases(PAIR, rng_for("dpo")), 12, "dpo"), dpo)
    ppo = cmd("rlhf", "ppo", "--policy", "hf/none", "--prompts", "FILE", "--reward", "detector:secrets", "--out", out)
    fuzz(tmp_path, ".txt", txt_cases(rng_for("ppo txt")), ppo)
    fuzz(tmp_path, ".jsonl", some(jsonl_cases({"prompt": "q a"}, rng_for("ppo")), 25, "ppo"), ppo)
    rloo = cmd("rlhf", "rloo", "--prompts", "FILE", "--reward", "detector:secrets", "--out", out, "--policy", "hf/x")
    fuzz(tmp_path, ".jsonl", some(jsonl_cases(PAIR, rng_for("rloo")), 12, "rloo"), rloo)
    sft = cmd("rlhf", "sft", "--data", "FILE", "--out", out, "--policy", "hf/none")
    fuzz(tmp_path, ".jsonl", jsonl_cases({"prompt": "q a", "completion": "a a"}, rng_for("sft")), sft)
    good = tmp_path / "case1.jsonl"
    good.write_text(json.dumps(PAIR) + "\n")
    config = cmd("rlhf", "dpo", "--config", "FILE", "--pairs", str(good), "--out", out, "--policy", "hf/none")
    fuzz(tmp_path, ".yaml", yaml_cases(rng_for("rlhf yaml")), config)
