"""``alignkit rag index|ask|list|delete|eval``: answers with checked citations from your documents."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from alignkit.cli.options import config_from_options, generation_options, load_model
from alignkit.cli.rag_eval import eval_command, make_cli_scorer, scorer_options
from alignkit.core.errors import ConfigError
from alignkit.rag import ChunkOptions, Loaded, LoadOptions, RagAnswer, RagConfig, RagStore, answer, load_paths
from alignkit.rag.answer import RETRIEVAL_MODES
from alignkit.rag.store import is_under

STATUS_MARK = {"supported": "ok", "unsupported": "UNSUPPORTED", "uncited": "UNCITED", "bad_citation": "BAD CITATION"}


@click.group()
def rag() -> None:
    """Retrieval-augmented answers whose citations are checked: index documents, ask, evaluate."""


rag.add_command(eval_command)

store_option = click.option(
    "--store", required=True, type=click.Path(dir_okay=False), help="The SQLite file of the index (e.g. kb.sqlite)."
)


def open_existing(store: str) -> RagStore:
    """The store at ``store``; a ConfigError when there is none (asking an empty new file finds nothing)."""
    if not Path(store).is_file():
        raise ConfigError(f"no store at {store}; build one with `alignkit rag index PATHS... --store {store}`")
    return RagStore(store)


@rag.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@store_option
@click.option("--chunk-size", default=1000, show_default=True, help="Most characters per chunk.")
@click.option("--overlap", default=150, show_default=True, help="Characters a chunk shares with the one before.")
@click.option("--dense", is_flag=True, help="Also embed chunks (all-MiniLM-L6-v2) for --retrieval dense/hybrid.")
@click.option("--text-field", default="text", show_default=True, help="JSONL: the field holding the text.")
@click.option("--id-field", default="id", show_default=True, help="JSONL: the field naming each record.")
@click.option("--title-field", default="title", show_default=True, help="JSONL: the field holding the title.")
@click.option("--max-file-mb", default=50.0, show_default=True, help="Larger files are skipped (and reported).")
@click.option("--prune", is_flag=True, help="Remove documents under PATHS that are gone (deleted files, records).")
@click.option("--strict", is_flag=True, help="Exit 1 when any file or line was skipped.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def index(
    paths: tuple[str, ...],
    store: str,
    chunk_size: int,
    overlap: int,
    dense: bool,
    text_field: str,
    id_field: str,
    title_field: str,
    max_file_mb: float,
    prune: bool,
    strict: bool,
    as_json: bool,
) -> None:
    """Index files and folders (text, Markdown, PDF text, JSONL) into STORE.

    Unchanged documents are left as they are, changed ones replaced. Every file or JSONL line that is
    not indexed is listed with the reason (binary, not UTF-8, too large, no text layer, bad line...).

    \b
    Examples:
      alignkit rag index docs/ handbook.pdf --store kb.sqlite
      alignkit rag index faq.jsonl --text-field answer --id-field qid --store kb.sqlite --dense
    """
    chunking = ChunkOptions(chunk_size, overlap)
    options = LoadOptions(int(max_file_mb * 2**20), text_field, id_field, title_field)
    loaded = load_paths(paths, options)
    with RagStore(store) as kb:
        report = kb.index(loaded.documents, chunking, dense=dense)
        pruned = kb.prune([absolute(p) for p in paths], keep_after(kb, loaded)) if prune else []
        stats = kb.stats()
    for uri in pruned:
        click.echo(f"removed {uri}: no longer there", err=True)
    for s in loaded.skipped:
        click.echo(f"skipped {s.path}: {s.reason}", err=True)
    for uri in report.empty:
        click.echo(f"empty {uri}: no text to index (recorded, no chunks)", err=True)
    if as_json:
        row = {**asdict(report), "skipped": [asdict(s) for s in loaded.skipped], "store": stats}
        click.echo(json.dumps(row))
    else:
        click.echo(
            f"{report.added} added, {report.replaced} replaced, {report.unchanged} unchanged, "
            f"{len(loaded.skipped)} skipped; {report.chunks} chunks written, {report.vectors} embedded "
            f"in {report.seconds:.1f} s. {store}: {stats['documents']} documents, {stats['chunks']} chunks"
        )
    sys.exit(1 if strict and loaded.skipped else 0)


def absolute(path: str) -> str:
    """A path as the loader writes document uris: absolute, with forward slashes."""
    return Path(os.path.abspath(path)).as_posix()


def keep_after(kb: RagStore, loaded: Loaded) -> list[str]:
    """What a prune keeps: the documents just read, and every document of a file (or JSONL file with a
    line) that was skipped: an unreadable file's old text is kept, not taken for deleted."""
    skipped = [
        absolute(s.path.rsplit(":", 1)[0] if s.path.rsplit(":", 1)[-1].isdigit() else s.path) for s in loaded.skipped
    ]
    old = [u for u, *_ in kb.documents() if any(is_under(u, root) for root in skipped)]
    return [d.uri for d in loaded.documents] + old


@rag.command()
@click.argument("model")
@click.argument("question")
@store_option
@click.option("-k", "k", default=4, show_default=True, type=click.IntRange(1, 50), help="Chunks given to the model.")
@click.option(
    "--retrieval",
    type=click.Choice(RETRIEVAL_MODES),
    default="bm25",
    show_default=True,
    help="How chunks are found; off: no sources (checked against BM25's chunks).",
)
@scorer_options
@click.option("--fail-ungrounded", is_flag=True, help="Exit 1 when a claim is not supported by its source.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer record as JSON.")
@generation_options
def ask(
    model: str,
    question: str,
    store: str,
    k: int,
    retrieval: str,
    scorer: str,
    judge_model: str | None,
    nli_model: str | None,
    min_support: float | None,
    require_citations: bool,
    fail_ungrounded: bool,
    as_json: bool,
    model_args: tuple[str, ...],
    **gen: Any,
) -> None:
    """Ask MODEL a QUESTION about the documents in STORE; print the answer with every claim marked.

    Each sentence of the answer is checked against the source it cites: ok (the source says it),
    UNSUPPORTED (it cites a source that does not say it), UNCITED, BAD CITATION (no such source).

    \b
    Examples:
      alignkit rag ask smollm2 "How long is the warranty?" --store kb.sqlite
      alignkit rag ask openai/gpt-4o-mini "..." --store kb.sqlite --scorer judge --json
    """
    with open_existing(store) as kb:
        llm = load_model(model, model_args, quiet=as_json)
        check = make_cli_scorer(scorer, llm, judge_model, nli_model, model_args)
        defaults = RagConfig().generate
        cfg = RagConfig(
            k=k,
            retrieval=retrieval,
            min_support=min_support,
            require_citations=require_citations,
            generate=defaults.merge(config_from_options(**gen)),
        )
        result = answer(llm, question, kb, cfg, check)
    if as_json:
        click.echo(json.dumps(result.to_dict()))
    else:
        print_answer(result)
    sys.exit(1 if fail_ungrounded and not result.grounded else 0)


def print_answer(result: RagAnswer) -> None:
    """The answer claim by claim, each marked with its status and support, then the sources."""
    if result.error:
        click.echo(f"the model failed: {result.error}")
        return
    click.echo(result.answer.strip() or "(empty answer)")
    click.echo("\nChecked claims:")
    for c in result.report.checks:
        mark = STATUS_MARK.get(c.status, c.status)
        cites = f" [{', '.join(c.claim.cites)}]" if c.claim.cites else ""
        click.echo(f"  {mark:<12} {c.support:.2f}  {c.claim.text}{cites}")
        if not c.ok:
            click.echo(f"  {'':<12}       {c.reason}")
    if not result.report.checks:
        click.echo("  (no claims to check)")
    verdict = "grounded" if result.grounded else "NOT grounded"
    click.echo(f"\n{verdict}; citations {'hold' if result.citations_hold else 'do not hold'}")
    label = "Sources given" if result.retrieval != "off" else "Sources checked against (not given to the model)"
    click.echo(f"\n{label}:")
    for n, h in enumerate(result.sources, start=1):
        snippet = " ".join(h.text.split())
        click.echo(f"  [{n}] {h.ref}\n      {snippet[:160]}{'...' if len(snippet) > 160 else ''}")


@rag.command("list")
@store_option
def list_documents(store: str) -> None:
    """List the documents in STORE with their chunk counts."""
    with open_existing(store) as kb:
        for uri, title, kind, chunks in kb.documents():
            click.echo(f"{chunks:>6} chunks  {kind:<8}  {uri}" + (f"  ({title})" if title else ""))
        s = kb.stats()
    click.echo(f"{s['documents']} documents, {s['chunks']} chunks, {s['vectors']} vectors", err=True)


@rag.command()
@click.argument("uris", nargs=-1, required=True)
@store_option
def delete(uris: tuple[str, ...], store: str) -> None:
    """Remove documents from STORE: a file, a folder (everything under it) or a JSONL record (PATH#id=ID).

    Exits 1 when a name matched nothing."""
    missed = []
    with open_existing(store) as kb:
        for uri in uris:
            n = kb.delete(uri) or kb.delete(absolute(uri))
            click.echo(f"{uri}: {n} document(s) removed")
            if not n:
                missed.append(uri)
    if missed:
        raise ConfigError(f"nothing in {store} under {', '.join(missed)}; see `alignkit rag list --store {store}`")
