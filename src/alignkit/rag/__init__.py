"""Layer 2: retrieval-augmented answers whose citations are checked, not trusted.

- :mod:`~alignkit.rag.documents`: plain text, Markdown, PDF text (pypdf, optional) and JSONL records,
  read with limits; every file not read is reported with the reason;
- :mod:`~alignkit.rag.chunking`: chunks at paragraph and sentence breaks, with character offsets;
- :mod:`~alignkit.rag.store`: one SQLite file: documents (re-indexing unchanged ones is a no-op), chunks,
  an FTS5 index ranked by BM25, optional vectors (:mod:`~alignkit.rag.dense`) for dense and hybrid search;
- :mod:`~alignkit.rag.answer`: retrieve, prompt with numbered ``<source>`` blocks, generate, then check
  every claim against the chunk it cites (:func:`alignkit.detectors.grounding.check_answer`);
- :mod:`~alignkit.rag.evaluate`: the pipeline on PubMedQA (retrieval on and off) and the check on HaluEval QA.

Models are passed in; only ``alignkit rag`` resolves model strings. Example::

    from alignkit.providers.mock import MockModel
    from alignkit.rag import Document, RagStore, answer

    with RagStore("kb.sqlite") as store:
        store.index([Document("/notes/tea.md", "Green tea is steeped at 80 C for two minutes.")])
        model = MockModel("fixed", text="Steep green tea at 80 C for two minutes [1].")
        result = answer(model, "How hot should green tea water be?", store)
        assert result.citations_hold
"""

from alignkit.rag.answer import RagAnswer, RagConfig, answer, answer_batch, as_sources, build_prompt
from alignkit.rag.chunking import Chunk, ChunkOptions, chunk_text
from alignkit.rag.documents import Document, Loaded, LoadOptions, Skipped, load_paths
from alignkit.rag.store import Hit, IndexReport, RagStore, fts_query

__all__ = [
    "Chunk",
    "ChunkOptions",
    "Document",
    "Hit",
    "IndexReport",
    "LoadOptions",
    "Loaded",
    "RagAnswer",
    "RagConfig",
    "RagStore",
    "Skipped",
    "answer",
    "answer_batch",
    "as_sources",
    "build_prompt",
    "chunk_text",
    "fts_query",
    "load_paths",
]
