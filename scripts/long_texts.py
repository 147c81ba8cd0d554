"""Long and degenerate texts for the learned detectors (issue 12: benign documents over ~2 KB were refused).

Training (:func:`training_rows`, added by ``scripts/train_detectors.py`` to each detector's training part
after the held-out split, so nothing here can leak into the held-out figures):

* long benign documents: passages of about a dozen windows of the pinned training files (Debian copyright files,
  the transformers package's source; ``training_documents.json``), of other Python packages' source
  (pip, setuptools, numpy, scipy, scikit-learn; pinned in ``training_code.json``, ``--pin`` redraws it)
  and long synthetic application logs.
  A passage spans several windows and the detector keeps its highest window, so these teach a window of
  ordinary prose or code to stay low wherever it sits;
* degenerate texts: one character repeated, a phrase repeated, long hex and base64 blobs, rulers;
* for the detectors whose positives can sit inside a document (``EMBEDDED`` in train_detectors.py), a
  sample of training positives, each embedded at a random sentence boundary of such a document, with the
  positive as its ``payload``: only the windows that cover it are positive (as for
  prompt_injection's inserted injections), so the document's own words are learned as neutral while
  the positive still fires inside a long text.

Held out (:func:`held_out_documents`, :func:`held_out_degenerate`, :func:`embed`): what the tests and
``bench/bench_long_texts.py`` measure on: the licence texts, standard-library source and
system logs read from the machine (never trained on), benign phrases and one character repeated
(lengths and phrases not in the training set), and held-out positives embedded in long documents.
"""

from __future__ import annotations

import base64
import glob
import json
import random
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import contrast_data
from detector_data import Example, insert

DOC_CHARS_PER_WINDOW_TOKEN = 40  # a training document spans about a dozen windows (6 characters a token)
EMBED_CHARS_PER_WINDOW_TOKEN = (15, 60)  # the documents a training positive is embedded in: 2 to 20 windows
EMBEDDED_PER_DETECTOR = 600  # training positives embedded (a seeded sample)
PER_KIND = 150  # long documents per kind (licence, python_source, python_packages)
CODE_PACKAGES = ("pip", "setuptools", "numpy", "scipy", "sklearn")  # every training environment has them
CODE_PIN = Path(__file__).with_name("training_code.json")

# Phrases repeated in training: none of the held-out ones below.
TRAIN_PHRASES = (
    "thank you",
    "lorem ipsum dolor sit amet",
    "the quick brown fox jumps over the lazy dog",
    "foo bar baz",
    "test",
    "ok",
    "TODO",
    "null",
    "N/A",
    "see page 3",
    "all work and no play makes jack a dull boy",
    "row row row your boat",
)
HELD_OUT_PHRASES = ("hello world", "good morning", "the cat sat on the mat", "please wait", "1 2 3")
HELD_OUT_PARAGRAPH = (
    "Photosynthesis converts light energy into chemical energy stored in glucose. In the light-dependent "
    "reactions water is split and oxygen is released, while ATP and NADPH are produced for the Calvin "
    "cycle, which fixes carbon dioxide into three-carbon sugars in the stroma of the chloroplast."
)


# -- training ---------------------------------------------------------------------------------------------
def degenerate_texts(rng: random.Random, n: int = 240) -> list[str]:
    """Texts with almost no distinct content: a character or a phrase repeated, blobs, rulers."""
    chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&*+-./:;=?@_~éß…😀"
    out = []
    for i in range(n):
        kind = i % 5
        reps = rng.choice((20, 200, 2000))
        if kind == 0:
            out.append(rng.choice(chars) * reps * rng.choice((1, 5)))
        elif kind == 1:
            out.append((rng.choice(chars) + rng.choice((" ", "\n"))) * reps)
        elif kind == 2:
            out.append(rng.choice((" ", ". ", "\n", ", ")).join([rng.choice(TRAIN_PHRASES)] * reps))
        elif kind == 3:
            blob = rng.randbytes(rng.choice((32, 300, 3000)))
            out.append(base64.b64encode(blob).decode() if rng.random() < 0.5 else blob.hex())
        else:
            out.append(
                "\n".join(rng.choice(("=", "-", "#", "*", "~")) * rng.choice((40, 80)) for _ in range(reps // 20))
            )
    return out


def _code_population() -> tuple[Path, list[str]]:
    """Python files of :data:`CODE_PACKAGES` in this environment, 2,000 characters or more."""
    root = Path(sysconfig.get_paths()["purelib"])
    paths = sorted(p for pkg in CODE_PACKAGES for p in (root / pkg).rglob("*.py") if p.stat().st_size >= 2000)
    return root, [str(p.relative_to(root)) for p in paths]


def pin_code(seed: int = 0) -> dict[str, str]:
    """Draw :data:`PER_KIND` files of :data:`CODE_PACKAGES` and write their pin (path -> digest)."""
    root, population = _code_population()
    rng = random.Random(f"{seed}:code-pin")  # noqa: S311 - sampling data, not secrets
    pin = {rel: contrast_data._file_digest(root / rel) for rel in rng.sample(population, PER_KIND)}
    tmp = CODE_PIN.with_suffix(".tmp")
    tmp.write_text(json.dumps(pin, indent=1) + "\n")
    tmp.replace(CODE_PIN)
    return pin


def pinned_code(seed: int, size: int) -> list[str]:
    """A ``size``-character passage of each pinned file; a missing or changed file stops training."""
    root = Path(sysconfig.get_paths()["purelib"])
    rng = random.Random(f"{seed}:code")  # noqa: S311 - sampling data, not secrets
    out = []
    for rel, digest in json.loads(CODE_PIN.read_text()).items():
        if not (root / rel).is_file() or contrast_data._file_digest(root / rel) != digest:
            raise SystemExit(
                f"training file {root / rel} is missing or differs from {CODE_PIN.name}; install the train extra's"
                " versions, or re-pin with `python scripts/long_texts.py --pin` and retrain every detector"
            )
        out.append(contrast_data._chunk((root / rel).read_text(encoding="utf-8", errors="replace"), size, rng))
    return out


def long_documents(seed: int, size: int) -> list[Example]:
    """The long benign training documents (see the module docstring), all ``split="train"``."""
    rng = random.Random(f"{seed}:long-documents")  # noqa: S311 - sampling data, not secrets
    docs = contrast_data.training_documents(n_per_kind=PER_KIND, size=size, seed=seed)
    # Sources "long:...": not the 1,500-character "document:..." look-alikes the default threshold is picked on
    docs = [replace(d, source=d.source.replace("document:", "long:")) for d in docs if "system_log" not in d.source]
    logs = [contrast_data.synthetic_log(rng, lines=size // 60) for _ in range(PER_KIND // 2)]
    docs += [Example(t, 0, "long:system_log", split="train") for t in logs]
    docs += [Example(t, 0, "long:python_source", split="train") for t in pinned_code(seed, size) if t.strip()]
    docs += [Example(t, 0, "long:degenerate", split="train") for t in degenerate_texts(rng)]
    return docs


def training_rows(train: Sequence[Example], seed: int, window: int, embed: bool = True) -> list[Example]:
    """Rows to add to a detector's training part: long benign documents, degenerate texts, and a sample
    of its training positives embedded in documents (``payload`` set; the positive's group kept, so
    cross-validation never splits a positive from its embedded copy)."""
    rng = random.Random(f"{seed}:embedded")  # noqa: S311 - sampling data, not secrets
    docs = long_documents(seed, DOC_CHARS_PER_WINDOW_TOKEN * window)
    first_group = max((r.group for r in train), default=0) + 1
    added = [replace(d, group=first_group + i) for i, d in enumerate(docs)]
    bases = [d.text for d in docs if d.source != "long:degenerate"]
    positives = [r for r in train if r.label == 1 and r.payload is None] if embed else []
    for ex in rng.sample(positives, min(EMBEDDED_PER_DETECTOR, len(positives))):
        doc = rng.choice(bases)
        size = rng.randrange(*(window * k for k in EMBED_CHARS_PER_WINDOW_TOKEN))
        start = rng.randrange(max(1, len(doc) - size))
        text = insert(doc[start : start + size], ex.text, rng)
        added.append(replace(ex, text=text, source=f"{ex.source}+document", payload=ex.text, split="train"))
    return added


# -- held out ---------------------------------------------------------------------------------------------
STDLIB_FILES = ("argparse.py", "typing.py", "inspect.py", "subprocess.py", "dataclasses.py", "pathlib.py")


def held_out_documents(max_chars: int | None = None) -> dict[str, str]:
    """Long benign texts nobody wrote for a detector, whole: every licence in /usr/share/common-licenses,
    a few large standard-library modules, and a system-style log (absent kinds are skipped)."""
    out: dict[str, str] = {}
    for p in sorted(glob.glob("/usr/share/common-licenses/*")):
        if Path(p).is_file():
            out[f"licence:{Path(p).name}"] = Path(p).read_text(encoding="utf-8", errors="replace")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for name in STDLIB_FILES:
        if (stdlib / name).is_file():
            out[f"python:{name}"] = (stdlib / name).read_text(encoding="utf-8", errors="replace")
    out["log"] = held_out_log()
    out["paper x100"] = " ".join([HELD_OUT_PARAGRAPH] * 100)
    return {k: v[:max_chars] for k, v in out.items()} if max_chars else out


def held_out_log(lines: int = 800) -> str:
    """Syslog-style lines, unlike the training logs' ISO timestamps and events."""
    rng = random.Random(12)  # noqa: S311 - fixed text, not secrets
    units = ("cron", "sshd", "systemd", "kernel", "nginx", "postgres")
    events = (
        "Started session {n} of user deploy.",
        "Accepted publickey for deploy from 10.1.{m}.{n} port {p}",
        "GET /static/app.{m}.js HTTP/1.1 200 {p}",
        "checkpoint complete: wrote {n} buffers ({m}.0%)",
        "usb 1-{m}: new high-speed USB device number {n}",
        "Finished backup job {n} in {p} ms",
    )
    out = []
    for i in range(lines):
        event = rng.choice(events).format(n=rng.randrange(1, 999), m=rng.randrange(1, 99), p=rng.randrange(1000, 65000))
        out.append(f"Dec {1 + i // 100:2d} 10:{i % 60:02d}:{rng.randrange(60):02d} host {rng.choice(units)}: {event}")
    return "\n".join(out)


def held_out_degenerate() -> dict[str, str]:
    """Held-out phrases repeated 100 to 10,000 times and one character repeated 10^3 to 10^6 times."""
    out = {f"{p!r} x{k}": " ".join([p] * k) for p in HELD_OUT_PHRASES for k in (100, 1000, 10_000)}
    out |= {f"{c!r} x{k}": c * k for c in ("a", "x", "!") for k in (1000, 100_000, 1_000_000)}
    out |= {f"'a ' x{k}": "a " * k for k in (1000, 100_000)}
    return out


def embed(payload: str, documents: Sequence[str], rng: random.Random, size: int = 20_000) -> str:
    """``payload`` on its own line at a random line boundary of a ``size``-character benign text made of
    ``documents`` (each repeated as needed)."""
    text = ""
    while len(text) < size:
        text += rng.choice(documents) + "\n"
    start = rng.randrange(len(text) - size + 1)
    body = text[start : start + size]
    cut = body.rfind("\n", 0, rng.randrange(len(body) + 1)) + 1
    return f"{body[:cut]}{payload}\n{body[cut:]}"


if __name__ == "__main__":
    if sys.argv[1:] == ["--pin"]:
        print(f"pinned {len(pin_code())} files of {', '.join(CODE_PACKAGES)} in {CODE_PIN.name}")
