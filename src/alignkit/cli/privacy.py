"""``alignkit privacy``: memorization tests. canaries (insert secrets into SFT data), exposure (rank and
extraction of each canary by a trained model), membership (loss-based membership inference AUROC).

DP training itself is an option of the training commands: ``--dp-epsilon`` on ``rlhf train-reward``,
``rlhf sft`` and ``cai train``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from alignkit.cli.options import load_model
from alignkit.cli.rlhf_common import config_option, model_path, seeded_sample
from alignkit.core.errors import ConfigError
from alignkit.core.files import check_not_input, write_text_atomic
from alignkit.core.jsonl import read_jsonl, write_jsonl
from alignkit.core.records import SFTExample
from alignkit.privacy.canaries import Canary, CanarySpec, insert_canaries, make_canaries
from alignkit.privacy.memorization import exposure, extract, membership
from alignkit.providers.hf import HFModel


@click.group()
def privacy() -> None:
    """Privacy leaks: canaries, exposure and membership inference (DP training: --dp-epsilon on training commands).

    Every command also reads its options from YAML: --config run.yaml."""


@privacy.command()
@config_option
@click.argument("data", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The SFT file with canaries inserted.")
@click.option("--canaries-out", required=True, type=click.Path(dir_okay=False), help="The canary list (JSONL).")
@click.option("--repeats", default="0,1,4,16", show_default=True, help="Comma-separated repetition counts (0: unseen).")
@click.option("--per-count", type=click.IntRange(1, 100), default=2, show_default=True, help="Canaries per count.")
@click.option("--digits", type=click.IntRange(1, 12), default=6, show_default=True, help="Digits per secret.")
@click.option("--prompt", default=CanarySpec.prompt, show_default=True, help="The user turn each canary answers.")
@click.option("--prefix", default=CanarySpec.prefix, show_default=True, help="The text before the secret.")
@click.option("--seed", type=int, help="Reproducible secrets (default: from the OS's secure generator).")
def canaries(
    data: str, out: str, canaries_out: str, repeats: str, per_count: int, digits: int, prompt: str, prefix: str,
    seed: int | None,
) -> None:  # fmt: skip
    """Insert random secrets (canaries) into the SFT examples in DATA, each repeated as asked; the
    canary list goes to --canaries-out, never into the training file."""
    check_not_input(out, [data], flag="--out")
    check_not_input(canaries_out, [data, out], flag="--canaries-out")
    try:
        counts = tuple(int(x) for x in repeats.split(",") if x.strip())
        spec = CanarySpec(repeats=counts, per_count=per_count, digits=digits, prompt=prompt, prefix=prefix)
    except ValueError as e:
        raise click.BadParameter(f"--repeats takes comma-separated counts like 0,1,4,16 ({e})") from None
    examples = list(read_jsonl(data, SFTExample))
    made = make_canaries(spec, seed=seed)
    mixed = insert_canaries(examples, made, seed=seed or 0)
    write_jsonl(out, mixed)
    write_jsonl(canaries_out, made)
    click.echo(
        f"wrote {out}: {len(examples)} examples + {len(mixed) - len(examples)} canary rows "
        f"({len(made)} canaries, repeats {','.join(map(str, counts))}); the list in {canaries_out}"
    )


def _hf(spec: str, model_args: tuple[str, ...]) -> HFModel:
    """A transformers model for a spec or folder; memorization tests need its token likelihoods."""
    model = load_model(spec if "/" in spec and not Path(spec).exists() else f"hf/{model_path(spec)}", model_args)
    if not isinstance(model, HFModel):
        raise click.BadParameter(f"{spec} is not a transformers model; give a folder, hf/NAME or smollm2")
    return model


@privacy.command("exposure")
@config_option
@click.argument("model")
@click.option("--canaries", "canary_file", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--candidates", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@click.option("--no-extract", is_flag=True, help="Skip extraction by greedy decoding from the prefix.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the report as JSON.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("-M", "--model-arg", "model_args", multiple=True, metavar="KEY=VALUE")
def exposure_command(
    model: str, canary_file: str, candidates: int, no_extract: bool, out: str | None, seed: int,
    model_args: tuple[str, ...],
) -> None:  # fmt: skip
    """Exposure of each canary in MODEL (log2 |R| - log2 rank among candidate secrets) and whether
    greedy decoding from its prefix extracts it; a summary per repetition count."""
    if out:
        check_not_input(out, [canary_file], flag="--out")
    listed = list(read_jsonl(canary_file, Canary))
    if not listed:
        raise click.BadParameter(f"{canary_file} lists no canaries; write one with `alignkit privacy canaries`")
    hf = _hf(model, model_args)
    rows: list[dict[str, Any]] = []
    for c in listed:
        row = exposure(hf.model, hf.tokenizer, c, candidates=candidates, seed=seed)
        if not no_extract:
            row["extracted"] = extract(hf.model, hf.tokenizer, c)["extracted"]
        rows.append(row)
    report = {"model": model, "canaries": rows, "by_repeats": _by_repeats(rows)}
    if out:
        write_text_atomic(out, json.dumps(report, indent=1))
    click.echo(json.dumps(report["by_repeats"], indent=1))


def _by_repeats(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    groups: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["repeats"], []).append(r)
    return {
        str(k): {
            "canaries": len(g),
            "mean_exposure": sum(r["exposure"] for r in g) / len(g),
            "max_exposure": g[0]["max_exposure"],
            **({"extracted": sum(bool(r["extracted"]) for r in g)} if "extracted" in g[0] else {}),
        }
        for k, g in sorted(groups.items())
    }


@privacy.command("membership")
@config_option
@click.argument("model")
@click.option("--members", required=True, type=click.Path(exists=True, dir_okay=False), help="SFT examples trained on.")
@click.option("--non-members", required=True, type=click.Path(exists=True, dir_okay=False), help="Held-out examples.")
@click.option("--limit", type=click.IntRange(2), help="Use a random subset of this many of each.")
@click.option("--max-length", type=click.IntRange(8), default=512, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="Write the report as JSON.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("-M", "--model-arg", "model_args", multiple=True, metavar="KEY=VALUE")
def membership_command(
    model: str, members: str, non_members: str, limit: int | None, max_length: int, out: str | None, seed: int,
    model_args: tuple[str, ...],
) -> None:  # fmt: skip
    """Loss-based membership inference on MODEL: AUROC of members' against non-members' answer loss
    (0.5: no signal; 1.0: every member has a lower loss than every non-member)."""
    if out:
        check_not_input(out, [members, non_members], flag="--out")
    inside = seeded_sample(list(read_jsonl(members, SFTExample)), limit, seed)
    outside = seeded_sample(list(read_jsonl(non_members, SFTExample)), limit, seed)
    overlap = {e.to_json() for e in inside} & {e.to_json() for e in outside}
    if overlap:
        raise click.BadParameter(f"{len(overlap)} examples are in both --members and --non-members; remove them")
    hf = _hf(model, model_args)
    try:
        report = {"model": model, **membership(hf.model, hf.tokenizer, inside, outside, max_length=max_length)}
    except ConfigError as e:
        raise click.BadParameter(str(e)) from None
    if out:
        write_text_atomic(out, json.dumps(report, indent=1))
    click.echo(json.dumps(report, indent=1))
