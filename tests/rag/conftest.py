"""Fixtures for the RAG tests: a small corpus on disk, a store over it, a tiny embedder, a PDF written here."""

from __future__ import annotations

import hashlib
import math
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from alignkit.detectors.support import words
from alignkit.rag import Document, RagStore

TEA = "Green tea is steeped at 80 degrees for two minutes. It keeps its colour when the water is not boiling."
COFFEE = "Espresso is brewed at nine bars of pressure. A shot takes about twenty five seconds."
BREAD = "Sourdough bread rises with a wild yeast starter. The dough proves overnight in a cool room."


class HashingEmbedder:
    """A tiny deterministic encoder: bag of words hashed into 64 dimensions, one window per text."""

    path = None
    dim = 64

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> list[list[list[float]]]:
        self.calls += 1
        out = []
        for t in texts:
            v = [0.0] * self.dim
            for w in words(t):
                v[int(hashlib.md5(w.encode()).hexdigest(), 16) % self.dim] += 1.0
            norm = math.sqrt(sum(x * x for x in v)) or 1.0
            out.append([[x / norm for x in v]])
        return out


@pytest.fixture
def docs() -> list[Document]:
    return [Document("/kb/tea.md", TEA, "Tea"), Document("/kb/coffee.md", COFFEE), Document("/kb/bread.txt", BREAD)]


@pytest.fixture
def store(tmp_path: Path, docs: list[Document]) -> Iterator[RagStore]:
    with RagStore(tmp_path / "kb.sqlite", embedder=HashingEmbedder()) as s:
        s.index(docs)
        yield s


def write_pdf(path: Path, pages: Sequence[str]) -> Path:
    """A minimal, valid PDF with one line of Helvetica text per page (written byte by byte, no library)."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    font = 3 + 2 * len(pages)
    for i, text in enumerate(pages):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = zlib.compress(f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode("latin-1"))
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        objects.append(f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode() + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
    return path
