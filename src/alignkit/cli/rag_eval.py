"""``alignkit rag eval MODEL --dataset pubmedqa|halueval``, and the support-scorer options ``rag`` shares."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from alignkit.cli.options import config_from_options, generation_options, load_model
from alignkit.core.errors import ConfigError
from alignkit.core.jsonl import write_jsonl
from alignkit.core.model import Model
from alignkit.detectors.support import SupportScorer, make_scorer
from alignkit.rag import RagConfig, RagStore
from alignkit.rag.evaluate import (
    HALUEVAL_FILE,
    PUBMEDQA_FILE,
    eval_halueval,
    eval_pubmedqa,
    load_halueval,
    load_pubmedqa,
    pubmedqa_documents,
)

F = TypeVar("F", bound=Callable[..., Any])


def scorer_options(fn: F) -> F:
    """``--scorer --judge-model --nli-model --min-support --require-citations`` on a command."""
    for opt in reversed(
        [
            click.option(
                "--scorer",
                type=click.Choice(["lexical", "nli", "judge"]),
                default="lexical",
                show_default=True,
                help="How support is scored: word overlap, an NLI model (--nli-model) or an LLM judge.",
            ),
            click.option("--judge-model", help="The judge for --scorer judge (default: MODEL itself)."),
            click.option("--nli-model", help="A local folder of an NLI classifier, for --scorer nli."),
            click.option("--min-support", type=click.FloatRange(0, 1), help="Support a claim needs (scorer default)."),
            click.option("--require-citations", is_flag=True, help="An uncited claim fails even if a source says it."),
        ]
    ):
        fn = opt(fn)
    return fn


def make_cli_scorer(
    kind: str, model: Model | None, judge_model: str | None, nli_model: str | None, model_args: tuple[str, ...]
) -> SupportScorer:
    """The scorer the options name; the judge is ``--judge-model`` when given, else ``model``."""
    judge = load_model(judge_model, model_args) if kind == "judge" and judge_model else model
    return make_scorer(kind, model=judge, nli_model=nli_model)


def data_file(data: str | None, relative: str) -> Path:
    """``relative`` inside the data folder (``--data``, else $ALIGNKIT_DATA), checked to exist."""
    root = data or os.environ.get("ALIGNKIT_DATA")
    if not root:
        raise ConfigError("give --data DIR (the folder holding pubmedqa-labeled/ and halueval/) or set ALIGNKIT_DATA")
    path = Path(root) / relative
    if not path.is_file():
        raise ConfigError(f"{path} does not exist; --data must be the folder that holds {relative}")
    return path


@click.command("eval")
@click.argument("model")
@click.option("--dataset", type=click.Choice(["pubmedqa", "halueval"]), required=True, help="What to evaluate on.")
@click.option("--data", type=click.Path(file_okay=False), help="The data folder (default: $ALIGNKIT_DATA).")
@click.option("--sample", type=click.IntRange(1), default=50, show_default=True, help="Questions drawn (seeded).")
@click.option("--sample-seed", default=0, show_default=True, help="Seed of the sample.")
@click.option("-k", "k", default=4, show_default=True, type=click.IntRange(1, 50), help="Chunks per question.")
@click.option(
    "--retrieval",
    "modes",
    multiple=True,
    type=click.Choice(["bm25", "dense", "hybrid", "off"]),
    help="Retrieval modes to compare (repeatable; default: bm25 and off).",
)
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(1), help="Questions per batch.")
@click.option("--store", type=click.Path(dir_okay=False), help="Keep the PubMedQA index here (default: temporary).")
@click.option("--output", type=click.Path(dir_okay=False), help="Write one JSON line per question here.")
@scorer_options
@generation_options
def eval_command(
    model: str,
    dataset: str,
    data: str | None,
    sample: int,
    sample_seed: int,
    k: int,
    modes: tuple[str, ...],
    batch_size: int,
    store: str | None,
    output: str | None,
    scorer: str,
    judge_model: str | None,
    nli_model: str | None,
    min_support: float | None,
    require_citations: bool,
    model_args: tuple[str, ...],
    **gen: Any,
) -> None:
    """Evaluate the pipeline on PubMedQA or its check on HaluEval QA; print a JSON summary.

    \b
    pubmedqa: a sample's abstracts are the corpus; each question is answered by MODEL with each
      --retrieval mode; reports the retrieval hit rate (own abstract in the top k), and the rates of
      answers whose citations hold and that are grounded. off = no sources in the prompt.
    halueval: the check on the right vs the hallucinated answer, the knowledge as the source: grounded
      rates and the AUROC of the weakest claim's support. MODEL is loaded only for --scorer judge.

    \b
    Example:
      alignkit rag eval smollm2 --dataset pubmedqa --data ../shared/data --sample 50 -M batch_size=8
    """
    if dataset == "halueval":
        items = load_halueval(data_file(data, HALUEVAL_FILE), sample, sample_seed)
        llm = load_model(model, model_args) if scorer == "judge" and not judge_model else None
        check = make_cli_scorer(scorer, llm, judge_model, nli_model, model_args)
        summary, rows = eval_halueval(items, check, min_support=min_support)
        summaries: list[dict[str, Any]] = [summary]
    else:
        questions = load_pubmedqa(data_file(data, PUBMEDQA_FILE), sample, sample_seed)
        llm = load_model(model, model_args)
        check = make_cli_scorer(scorer, llm, judge_model, nli_model, model_args)
        generate = RagConfig().generate.merge(config_from_options(**gen))
        configs = [
            RagConfig(k=k, retrieval=m, min_support=min_support, require_citations=require_citations, generate=generate)
            for m in modes or ("bm25", "off")
        ]
        summaries, rows = _pubmedqa(llm, questions, configs, check, store, batch_size)
    if output:
        write_jsonl(output, rows)
    click.echo(json.dumps({"dataset": dataset, "sample_seed": sample_seed, "results": summaries}, indent=2))


def _pubmedqa(
    llm: Model,
    questions: list[Any],
    configs: list[RagConfig],
    check: SupportScorer,
    store: str | None,
    batch_size: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Index the sample's abstracts (into ``store`` or a temporary file), then ask with each config."""
    with tempfile.TemporaryDirectory() as tmp:
        path = store or str(Path(tmp) / "pubmedqa.sqlite")
        dense = any(c.retrieval in ("dense", "hybrid") for c in configs)
        with RagStore(path) as kb:
            report = kb.index(pubmedqa_documents(questions), dense=dense)
            click.echo(
                f"indexed {len(questions)} abstracts: {report.chunks} chunks in {report.seconds:.1f} s", err=True
            )
            summaries, rows = [], []
            for cfg in configs:
                start = time.perf_counter()

                def progress(done: int, total: int, mode: str = cfg.retrieval) -> None:
                    click.echo(f"{mode}: {done}/{total} answered", err=True)

                summary, got = eval_pubmedqa(llm, questions, kb, cfg, check, batch_size=batch_size, progress=progress)
                summaries.append({**summary, "seconds": round(time.perf_counter() - start, 1)})
                rows += got
    return summaries, rows
