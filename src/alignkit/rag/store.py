"""The embedded store: documents, their chunks and an FTS5 index (BM25) in one SQLite file, with
optional chunk vectors for dense and hybrid retrieval.

* ``documents``: one row per document ``uri``, with the hash of its text and of the chunk options. Indexing
  an unchanged document is a no-op; a changed one is replaced whole (its chunks, index rows and vectors
  go with it, by cascade and trigger), in one transaction with its new chunks.
* ``chunks`` and ``chunks_fts``: an external-content FTS5 table over the chunks' text (porter stemming,
  unicode61), kept in step by triggers; ranked with ``bm25()``.
* ``vectors``: a float32 unit vector per chunk when dense retrieval is on (:mod:`alignkit.rag.dense`).

User text never reaches FTS5 as syntax: :func:`fts_query` keeps its words, each one quoted, joined by
``OR``, so a query of quotes, ``NEAR``, ``*`` or column filters is searched as words, never parsed.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from alignkit.core.errors import ConfigError
from alignkit.core.sqlite import Database
from alignkit.detectors.encoder import Embedder, shared_encoder
from alignkit.detectors.support import content_words, words
from alignkit.rag import dense
from alignkit.rag.chunking import Chunk, ChunkOptions, chunk_text
from alignkit.rag.documents import Document

Mode = Literal["bm25", "dense", "hybrid"]
MODES: tuple[str, ...] = ("bm25", "dense", "hybrid")
MAX_QUERY_CHARS = 4000  # a question longer than this is cut: its head says what it asks
MAX_QUERY_TERMS = 32  # OR-ing more terms slows BM25 and adds little
MAX_K = 200  # more chunks than this is not a prompt any more
WRITE_BATCH = 64  # documents per transaction: one commit per document is slow, one for all holds the lock long

HIT_COLUMNS = "SELECT c.id, d.uri, d.title, c.start, c.stop, c.text FROM chunks c JOIN documents d ON d.id = c.doc_id"

MIGRATIONS = [
    # 1: documents, chunks, the FTS5 index kept by triggers, vectors, meta.
    """
    CREATE TABLE IF NOT EXISTS documents (
        id INTEGER PRIMARY KEY,
        uri TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        kind TEXT NOT NULL,
        hash TEXT NOT NULL,
        chars INTEGER NOT NULL,
        indexed REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS chunks (
        id INTEGER PRIMARY KEY,
        doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        start INTEGER NOT NULL,
        stop INTEGER NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
    CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
        text, content='chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
        INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    CREATE TABLE IF NOT EXISTS vectors (
        chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
        vec BLOB NOT NULL
    );
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
]


@dataclass(frozen=True, slots=True)
class Hit:
    """A retrieved chunk: where it is, its text and its retrieval score (higher is better)."""

    chunk_id: int
    uri: str
    title: str
    start: int
    end: int
    text: str
    score: float

    @property
    def ref(self) -> str:
        """``URI#chars=START-END`` (``&chars=`` when the uri already has a fragment)."""
        return f"{self.uri}{'&' if '#' in self.uri else '#'}chars={self.start}-{self.end}"


@dataclass
class IndexReport:
    """What one :meth:`RagStore.index` call did."""

    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    chunks: int = 0  # chunks written
    vectors: int = 0  # chunk vectors computed
    empty: list[str] = field(default_factory=list)  # documents with no text to index (recorded, no chunks)
    seconds: float = 0.0


def fts_query(text: str) -> str | None:
    """An FTS5 query matching any content word of ``text`` (each quoted); None when it has no words."""
    found = words(text[:MAX_QUERY_CHARS])
    terms = list(dict.fromkeys(w for w in found if content_words(w))) or list(dict.fromkeys(found))
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms[:MAX_QUERY_TERMS])


def document_hash(doc: Document, chunking: ChunkOptions) -> str:
    """The text's hash with the chunk options: either changing means the document is chunked again."""
    return hashlib.sha256(f"{doc.sha256}|{chunking.key()}".encode()).hexdigest()


class RagStore:
    """Documents, chunks, the BM25 index and optional vectors in one SQLite file (see the module docstring).

    ``embedder``: what embeds chunks and queries for dense retrieval; the installed all-MiniLM-L6-v2 when
    None (loaded on first use)."""

    def __init__(self, path: str | Path, *, embedder: Embedder | None = None) -> None:
        self.db = Database(path, MIGRATIONS, what="RAG store")
        self._embedder = embedder

    @property
    def embedder(self) -> Embedder:
        """The encoder for dense retrieval (loaded on first use)."""
        if self._embedder is None:
            self._embedder = shared_encoder()
        return self._embedder

    def close(self) -> None:
        """Close the file."""
        self.db.close()

    def __enter__(self) -> RagStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------------------
    def index(
        self, documents: Iterable[Document], chunking: ChunkOptions | None = None, *, dense: bool = False
    ) -> IndexReport:
        """Add new documents, replace changed ones, leave unchanged ones; with ``dense``, also embed every
        chunk that has no vector yet (those of documents indexed before without it included)."""
        opts = chunking or ChunkOptions()
        report, start = IndexReport(), time.perf_counter()
        known = {uri: h for uri, h in self.db.read("SELECT uri, hash FROM documents")}
        pending: list[tuple[Document, str, list[Chunk]]] = []
        for doc in documents:
            digest = document_hash(doc, opts)
            if known.get(doc.uri) == digest:
                report.unchanged += 1
                continue
            if doc.uri in known:
                report.replaced += 1
            else:
                report.added += 1
            known[doc.uri] = digest
            chunks = chunk_text(doc.text, opts)
            if not chunks:
                report.empty.append(doc.uri)
            pending.append((doc, digest, chunks))
            if len(pending) >= WRITE_BATCH:
                report.chunks += self._write(pending)
                pending = []
        report.chunks += self._write(pending)
        if dense:
            report.vectors = self.embed_missing()
        report.seconds = time.perf_counter() - start
        return report

    def _write(self, batch: Sequence[tuple[Document, str, list[Chunk]]]) -> int:
        now, written = time.time(), 0
        with self.db.transaction() as conn:
            for doc, digest, chunks in batch:
                conn.execute("DELETE FROM documents WHERE uri = ?", (doc.uri,))  # chunks and vectors cascade
                cur = conn.execute(
                    "INSERT INTO documents (uri, title, kind, hash, chars, indexed) VALUES (?, ?, ?, ?, ?, ?)",
                    (doc.uri, doc.title, doc.kind, digest, len(doc.text), now),
                )
                conn.executemany(
                    "INSERT INTO chunks (doc_id, idx, start, stop, text) VALUES (?, ?, ?, ?, ?)",
                    [(cur.lastrowid, c.index, c.start, c.end, c.text) for c in chunks],
                )
                written += len(chunks)
        return written

    def embed_missing(self, batch: int = 256) -> int:
        """Embed every chunk without a vector; returns how many were embedded."""
        self._check_encoder()
        done = 0
        while rows := self.db.read(
            "SELECT c.id, c.text FROM chunks c LEFT JOIN vectors v ON v.chunk_id = c.id "
            "WHERE v.chunk_id IS NULL ORDER BY c.id LIMIT ?",
            (batch,),
        ):
            vectors = dense.embed(self.embedder, [t for _, t in rows])
            self.db.write_many(
                "INSERT OR REPLACE INTO vectors (chunk_id, vec) VALUES (?, ?)",
                [(cid, v) for (cid, _), v in zip(rows, vectors, strict=True)],
            )
            done += len(rows)
        return done

    def _check_encoder(self) -> None:
        """Record which encoder made the vectors; a store's vectors all come from one."""
        name = encoder_name(self.embedder)
        row = self.db.read_one("SELECT value FROM meta WHERE key = 'encoder'")
        if row is None:
            self.db.write("INSERT INTO meta (key, value) VALUES ('encoder', ?)", (name,))
        elif row[0] != name:
            raise ConfigError(
                f"{self.db.path}: its vectors were made by {row[0]}, not {name}; use that encoder or a new store"
            )

    def delete(self, uri: str) -> int:
        """Remove the document ``uri`` and everything under it (a folder's files, a JSONL file's records);
        returns how many documents were removed."""
        base = uri.rstrip("/") or uri
        pattern = base.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return self.db.write(
            "DELETE FROM documents WHERE uri = ? OR uri LIKE ? ESCAPE '\\' OR uri LIKE ? ESCAPE '\\'",
            (base, pattern + "/%", pattern + "#%"),
        )

    def prune(self, roots: Sequence[str], keep: Iterable[str]) -> list[str]:
        """Remove the documents under ``roots`` (as :meth:`delete` matches them) that are not in ``keep``:
        those of files deleted since, or JSONL records no longer in their file. Returns their uris."""
        kept = set(keep)
        gone = [u for u, *_ in self.documents() if u not in kept and any(is_under(u, r) for r in roots)]
        with self.db.transaction() as conn:
            conn.executemany("DELETE FROM documents WHERE uri = ?", [(u,) for u in gone])
        return gone

    # -- reading -------------------------------------------------------------------------------------
    def stats(self) -> dict[str, int]:
        """How many documents, chunks and vectors the store holds."""
        return {
            table: int(self.db.read_one(f"SELECT count(*) FROM {table}")[0])  # noqa: S608 (fixed names)
            for table in ("documents", "chunks", "vectors")
        }

    def documents(self) -> list[tuple[str, str, str, int]]:
        """Every document: (uri, title, kind, number of chunks), by uri."""
        rows = self.db.read(
            "SELECT d.uri, d.title, d.kind, count(c.id) FROM documents d LEFT JOIN chunks c ON c.doc_id = d.id "
            "GROUP BY d.id ORDER BY d.uri"
        )
        return [(str(u), str(t), str(k), int(n)) for u, t, k, n in rows]

    def search(self, query: str, k: int = 4, mode: str = "bm25") -> list[Hit]:
        """The ``k`` chunks that best match ``query``: BM25, dense (cosine) or hybrid (rank fusion of both)."""
        if not 1 <= k <= MAX_K:
            raise ConfigError(f"k must be 1-{MAX_K}; got {k}")
        if mode == "bm25":
            ranked = self._bm25(query, k)
        elif mode == "dense":
            ranked = self._dense(query, k)
        elif mode == "hybrid":
            wide = max(4 * k, 20)  # fusion needs each list deeper than k
            bm, dn = self._bm25(query, wide), self._dense(query, wide)
            ranked = dense.reciprocal_rank_fusion([[i for i, _ in bm], [i for i, _ in dn]], k)
        else:
            raise ConfigError(f"unknown retrieval mode {mode!r}; use {', '.join(MODES)}")
        return self._hits(ranked)

    def _bm25(self, query: str, k: int) -> list[tuple[int, float]]:
        match = fts_query(query)
        if match is None:
            return []
        try:
            rows = self.db.read(
                "SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? "
                "ORDER BY bm25(chunks_fts) LIMIT ?",
                (match, k),
            )
        except sqlite3.OperationalError as e:  # not expected: every term is quoted
            raise ConfigError(f"the search for {query[:80]!r} failed in SQLite ({e})") from None
        return [(int(i), -float(s)) for i, s in rows]  # bm25() is lower-is-better

    def _dense(self, query: str, k: int) -> list[tuple[int, float]]:
        counts = self.stats()
        if counts["vectors"] < counts["chunks"]:
            raise ConfigError(
                f"{counts['chunks'] - counts['vectors']} of {counts['chunks']} chunks have no vector; "
                f"run `alignkit rag index --dense ... --store {self.db.path}` first"
            )
        if not query.strip() or not counts["chunks"]:
            return []
        self._check_encoder()
        rows = self.db.read("SELECT chunk_id, vec FROM vectors")
        q = dense.embed(self.embedder, [query[:MAX_QUERY_CHARS]])[0]
        return dense.top_by_cosine(q, [r[0] for r in rows], [r[1] for r in rows], k)

    def _hits(self, ranked: Sequence[tuple[int, float]]) -> list[Hit]:
        if not ranked:
            return []
        marks = ",".join("?" * len(ranked))
        sql = f"{HIT_COLUMNS} WHERE c.id IN ({marks})"  # only "?" placeholders are formatted in
        by_id = {r[0]: r for r in self.db.read(sql, [i for i, _ in ranked])}
        return [
            Hit(int(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4]), str(r[5]), s)
            for i, s in ranked
            if (r := by_id.get(i)) is not None
        ]


def is_under(uri: str, root: str) -> bool:
    """Whether ``uri`` is ``root``, a file in folder ``root``, or a record of file ``root``."""
    base = root.rstrip("/") or root
    return uri == base or uri.startswith((base + "/", base + "#"))


def encoder_name(embedder: Embedder) -> str:
    """What identifies an encoder's vectors: its class and, for the shipped encoder, its model folder."""
    path = getattr(embedder, "path", None)
    return f"{type(embedder).__name__}:{Path(path).name}" if path is not None else type(embedder).__name__
