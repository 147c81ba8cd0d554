"""Contracts every red-team plugin keeps, checked over the registries themselves (a new converter or
attack is covered the moment it registers) and over every built-in probe. Detectors and providers:
tests/test_contracts.py, whose hostile texts are used here too.

Each builds from its defaults (plugins that need a model get the mock one), has a docstring,
round-trips its configuration, and handles empty and hostile text without crashing or hanging.
No network and no learned model: the mock provider answers and the judge uses rule detectors."""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from alignkit.core.errors import ConfigError
from alignkit.core.model import Model
from alignkit.detectors import get_detector
from alignkit.providers import get_model
from alignkit.redteam import (
    CATEGORIES,
    Attack,
    AttackConfig,
    Converter,
    Judge,
    Probe,
    RunStore,
    ScanConfig,
    attacks,
    builtin_probes,
    converters,
    get_attack,
    get_converter,
    plan,
    run_scan,
)
from tests.test_contracts import HOSTILE_TEXTS

# Plugins that cannot run without a model, and the argument that takes it (the mock model here).
MODEL_ARGS = {"translate": "model", "pair": "attacker"}
SECONDS = 10.0  # far above what any built-in needs for 100k characters: more means it hangs


def mock() -> Model:
    return get_model("mock/echo")


def with_models(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """``args`` (as a plugin records them, models by spec) with the model argument a real model again."""
    arg = MODEL_ARGS.get(name)
    return {**args, arg: mock()} if arg else dict(args)


def cheap_judge() -> Judge:
    banned = get_detector("banned_words", words=["step 1"])
    return Judge(harm=[banned], request=banned)


# -- converters and attacks ------------------------------------------------------------------------
KINDS: dict[str, tuple[Any, Any, type]] = {
    "converter": (converters, get_converter, Converter),
    "attack": (attacks, get_attack, Attack),
}
PLUGINS = [(kind, name) for kind, (registry, _, _) in KINDS.items() for name in registry.names()]


@pytest.mark.parametrize(("kind", "name"), PLUGINS)
def test_plugin_builds_from_its_defaults_and_has_a_docstring(kind: str, name: str) -> None:
    registry, build, base = KINDS[kind]
    assert registry.entry(name).description, f"{kind} {name} has no docstring or description"
    built = build(name, **with_models(name, {}))
    assert isinstance(built, base) and built.name == name and built.spec.startswith(name)
    if name in MODEL_ARGS:  # without its model, the error names the argument to pass
        with pytest.raises(ConfigError, match=MODEL_ARGS[name]):
            build(name)


# Non-default arguments for every converter that takes any; a new one adds a line here.
TUNED: dict[str, dict[str, Any]] = {
    "base64": {"instruct": False},
    "rot13": {"instruct": False},
    "leetspeak": {"rate": 0.3},
    "confusables": {"rate": 0.2},
    "zero_width": {"rate": 0.9},
    "payload_split": {"parts": 4},
    "roleplay": {"template": "novelist"},
    "prefix_injection": {"prefix": "OK:"},
    "many_shot": {"shots": 3},
    "translate": {"language": "Zulu", "max_tokens": 64},
}


@pytest.mark.parametrize("name", converters.names())
def test_converter_config_round_trips(name: str) -> None:
    conv = get_converter(name, **with_models(name, {}))
    assert get_converter(name, **with_models(name, conv.args)).spec == conv.spec
    params = inspect.signature(converters.get(name)).parameters.values()
    takes = {p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD} - set(MODEL_ARGS.values())
    assert takes == set(TUNED.get(name, {})), f"add {name}'s arguments to TUNED"
    tuned = get_converter(name, **with_models(name, TUNED.get(name, {})))
    assert {k: v for k, v in tuned.args.items() if k not in MODEL_ARGS.values()} == TUNED.get(name, {})
    again = get_converter(name, **with_models(name, tuned.args))
    assert again.spec == tuned.spec and again.args == tuned.args


@pytest.mark.parametrize("kind", HOSTILE_TEXTS)
@pytest.mark.parametrize("name", converters.names())
def test_converter_handles_empty_and_hostile_text(name: str, kind: str) -> None:
    conv = get_converter(name, **with_models(name, {}))
    text = HOSTILE_TEXTS[kind]
    start = time.perf_counter()
    out = conv.convert(text, random.Random(0))
    converted = asyncio.run(asyncio.wait_for(conv.aconvert(text, random.Random(0)), SECONDS))
    assert isinstance(out, str) and out == converted  # the async path is the same conversion
    assert time.perf_counter() - start < SECONDS


# -- attacks ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", attacks.names())
def test_attack_config_round_trips(name: str) -> None:
    tuned = AttackConfig(turns=2, budget=3, attacker_max_tokens=64)
    assert get_attack(name, **with_models(name, {})).config == AttackConfig()
    built = get_attack(name, **with_models(name, {"config": tuned}))
    assert AttackConfig(**asdict(built.config)) == tuned
    config = {k: v for k, v in built.args.items() if k != "attacker"}
    again = get_attack(name, **with_models(name, {"config": AttackConfig(**config)}))
    assert again.spec == built.spec and "turns=2" in built.spec


@pytest.mark.parametrize("name", attacks.names())
def test_attack_handles_empty_and_hostile_probes(name: str, tmp_path: Path) -> None:
    probes = [Probe(id=f"cyber.{kind}", prompt=text, category="cyber") for kind, text in HOSTILE_TEXTS.items()]
    attack = get_attack(name, **with_models(name, {"config": AttackConfig(turns=2, budget=2)}))
    attempts = plan(probes, ["none", "base64"], attacks=[attack])
    store = RunStore(tmp_path / "runs.db")
    scan = run_scan(mock(), attempts, judge=cheap_judge(), store=store, run_id="hostile", config=ScanConfig(retries=0))
    result = asyncio.run(asyncio.wait_for(scan, 60))
    assert len(result.rows) == len(attempts) > 0
    assert all(r.status in {"ok", "empty", "echo"} for r in result.rows), [r.reason for r in result.rows]
    assert not any(r.success for r in result.rows if not r.response), "an empty answer is never a success"


# -- built-in probes --------------------------------------------------------------------------------
def test_every_builtin_probe_keeps_the_probe_contract() -> None:
    assert Probe.__doc__ and Probe(id="x.y", prompt="", category="cyber").expected == "refuse"  # defaults
    probes = builtin_probes()
    assert len({p.id for p in probes}) == len(probes)
    for p in probes:
        assert Probe.model_validate_json(p.model_dump_json()) == p, p.id
        assert p.category in CATEGORIES and p.prompt.strip() and p.id.startswith(p.category), p.id
        assert (p.goal is not None) == p.harmful, p.id  # harmful probes say what success obtains


def test_every_builtin_probe_runs_under_every_offline_converter(tmp_path: Path) -> None:
    offline, probes = [n for n in converters.names() if n not in MODEL_ARGS], builtin_probes()
    attempts = plan(probes, offline, seed=0)  # stack by stack, each over every probe
    assert all(a.prompt for a in attempts) and len(attempts) == len(offline) * len(probes)
    sample = [attempts[(i % len(offline)) * len(probes) + i] for i in range(len(probes))]  # each probe once
    assert {a.probe.id for a in sample} == {p.id for p in probes} and len({a.converter for a in sample}) == len(offline)
    result = asyncio.run(run_scan(mock(), sample, judge=cheap_judge(), store=RunStore(tmp_path / "r.db"), run_id="p"))
    assert len(result.rows) == len(sample) and not any(r.status == "error" for r in result.rows)
