"""The labelling store: comparison items and every human label, in one SQLite file.

Each label is committed the moment it is recorded (:class:`~alignkit.core.sqlite.Database`: WAL,
``synchronous=FULL``, one transaction per label), so a crash of the server, the browser or the machine
loses at most the label in flight; labels cost human time, so durability wins over the few
milliseconds of fsync.

Items are deduplicated by a hash of their content (prompt and the two answers, in either order). Which
answer is shown on the left is drawn once per item from the store's seed and stored, so every annotator
sees the same layout and position bias can be measured afterwards. Choices are stored in *answer* terms
(``a``, ``b``, ``tie``, ``skip``) together with the side ``a`` was shown on.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from alignkit.core.errors import ConfigError
from alignkit.core.messages import Message
from alignkit.core.records import PreferencePair
from alignkit.core.sqlite import Database, Migration
from alignkit.rlhf.labelling.agreement import AgreementReport, PositionBias, agreement_report, position_bias

Choice = Literal["a", "b", "tie", "skip"]
Side = Literal["left", "right", "tie", "skip"]
ExportMode = Literal["majority", "each"]
CHOICES: tuple[str, ...] = get_args(Choice)
SIDES: tuple[str, ...] = get_args(Side)

ANNOTATOR_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
ANNOTATOR_RULE = "1 to 64 characters: letters, digits, '.', '_', '@' or '-', starting with a letter or digit"

# Schema version 1. CREATE ... IF NOT EXISTS adopts stores written before the schema was versioned.
SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    prompt TEXT NOT NULL,
    answer_a TEXT NOT NULL,
    answer_b TEXT NOT NULL,
    model_a TEXT,
    model_b TEXT,
    source TEXT,
    left_answer TEXT NOT NULL CHECK (left_answer IN ('a', 'b')),
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS labels (
    item_id TEXT NOT NULL REFERENCES items(id),
    annotator TEXT NOT NULL,
    choice TEXT NOT NULL CHECK (choice IN ('a', 'b', 'tie', 'skip')),
    left_answer TEXT NOT NULL CHECK (left_answer IN ('a', 'b')),
    created REAL NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (item_id, annotator)
);
CREATE INDEX IF NOT EXISTS labels_by_annotator ON labels(annotator);
"""
MIGRATIONS: list[Migration] = [SCHEMA_V1]  # append new steps; never edit a released one


def check_annotator(name: str) -> str:
    """``name`` if it is a valid annotator id, else a :class:`ConfigError` that gives the rule."""
    if not isinstance(name, str) or not ANNOTATOR_RE.fullmatch(name):
        raise ConfigError(f"invalid annotator name: use {ANNOTATOR_RULE}")
    return name


@dataclass(frozen=True)
class LabelItem:
    """A comparison to label: a prompt and two answers, with where they came from."""

    prompt: tuple[Message, ...]
    answer_a: str
    answer_b: str
    model_a: str | None = None  # what produced answer_a (a model spec), when known
    model_b: str | None = None
    source: str | None = None  # the file or generation run the item came from

    @property
    def key(self) -> str:
        """A content hash; the same prompt with the two answers swapped gets the same key."""
        body = json.dumps(
            [[m.to_dict() for m in self.prompt], sorted([self.answer_a, self.answer_b])],
            ensure_ascii=False,
            sort_keys=True,
        )
        return hashlib.sha256(body.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class StoredItem(LabelItem):
    """An item as stored: its id and which answer is shown on the left."""

    id: str = ""
    left: Literal["a", "b"] = "a"

    def shown(self) -> tuple[str, str]:
        """The texts shown on the (left, right)."""
        return (self.answer_a, self.answer_b) if self.left == "a" else (self.answer_b, self.answer_a)

    def choice_for(self, side: str) -> Choice:
        """Translate a screen side (left, right, tie, skip) into an answer choice (a, b, tie, skip)."""
        if side not in SIDES:
            raise ConfigError(f"unknown choice {side!r}; use one of: {', '.join(SIDES)}")
        if side in ("tie", "skip"):
            return side  # type: ignore[return-value]
        right: Choice = "b" if self.left == "a" else "a"
        return self.left if side == "left" else right


@dataclass(frozen=True)
class Label:
    """One annotator's latest judgement of one item."""

    item_id: str
    annotator: str
    choice: Choice
    left: Literal["a", "b"]  # the answer that was on the left when it was given
    created: float
    updated: float


@dataclass(frozen=True)
class AddReport:
    """What :meth:`LabelStore.add_items` stored and what it passed over."""

    added: int = 0
    duplicates: int = 0  # already in the store, or twice in the input
    identical: int = 0  # both answers the same text: nothing to compare


@dataclass(frozen=True)
class AnnotatorProgress:
    """How far one annotator has got."""

    annotator: str
    labelled: int  # items judged (a, b or tie)
    skipped: int
    total: int  # items in the store

    @property
    def done(self) -> int:
        """Items labelled or skipped."""
        return self.labelled + self.skipped

    def to_dict(self) -> dict[str, Any]:
        """The fields and ``done``, JSON-able."""
        return {**asdict(self), "done": self.done}


class LabelStore:
    """A SQLite file of comparison items and labels; safe to share between a web server's threads."""

    def __init__(self, path: str | Path, *, seed: int = 0) -> None:
        self.seed = seed
        # synchronous=FULL: every label is fsynced before the page hears it was saved.
        self.db = Database(path, MIGRATIONS, what="label store", synchronous="FULL")
        self.path = self.db.path

    def close(self) -> None:
        """Close the file."""
        self.db.close()

    def __enter__(self) -> LabelStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- items ---------------------------------------------------------------------------------------

    def _left_for(self, item_id: str) -> Literal["a", "b"]:
        # Seeded per item, so the layout does not depend on insertion order or on other items.
        digest = hashlib.sha256(f"{self.seed}:{item_id}".encode()).digest()
        return "a" if digest[0] & 1 else "b"

    def add_items(self, items: Iterable[LabelItem]) -> AddReport:
        """Store new items, all in one transaction; duplicates (by content) and items whose answers are
        identical are counted, not stored."""
        added = duplicates = identical = 0
        batch = list(items)  # read the source before taking the write lock
        with self.db.transaction() as conn:
            for item in batch:
                if item.answer_a.strip() == item.answer_b.strip():
                    identical += 1
                    continue
                key = item.key
                cur = conn.execute(
                    "INSERT OR IGNORE INTO items (id, prompt, answer_a, answer_b, model_a, model_b, source, "
                    "left_answer, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        key,
                        json.dumps([m.to_dict() for m in item.prompt], ensure_ascii=False),
                        item.answer_a,
                        item.answer_b,
                        item.model_a,
                        item.model_b,
                        item.source,
                        self._left_for(key),
                        time.time(),
                    ),
                )
                if cur.rowcount:
                    added += 1
                else:
                    duplicates += 1
        return AddReport(added, duplicates, identical)

    _ITEMS = "SELECT i.id, i.prompt, i.answer_a, i.answer_b, i.model_a, i.model_b, i.source, i.left_answer FROM items i"

    @staticmethod
    def _item(row: Sequence[Any]) -> StoredItem:
        return StoredItem(
            id=row[0],
            prompt=tuple(Message.from_dict(m) for m in json.loads(row[1])),
            answer_a=row[2],
            answer_b=row[3],
            model_a=row[4],
            model_b=row[5],
            source=row[6],
            left=row[7],
        )

    def item(self, item_id: str) -> StoredItem:
        """The stored item ``item_id``; a KeyError if there is none."""
        rows = self.db.read(self._ITEMS + " WHERE i.id = ?", (item_id,))
        if not rows:
            raise KeyError(f"no item {item_id!r} in {self.path}")
        return self._item(rows[0])

    def items(self) -> list[StoredItem]:
        """Every item, oldest first."""
        return [self._item(r) for r in self.db.read(self._ITEMS + " ORDER BY i.seq")]

    def count_items(self) -> int:
        """How many items the store holds."""
        return int(self.db.read("SELECT COUNT(*) FROM items")[0][0])

    def next_item(self, annotator: str) -> StoredItem | None:
        """An item ``annotator`` has not labelled (or skipped) yet: the least-labelled first, then the oldest."""
        check_annotator(annotator)
        rows = self.db.read(
            "SELECT i.id, i.prompt, i.answer_a, i.answer_b, i.model_a, i.model_b, i.source, i.left_answer "
            "FROM items i LEFT JOIN labels l ON l.item_id = i.id AND l.choice != 'skip' "
            "WHERE NOT EXISTS (SELECT 1 FROM labels m WHERE m.item_id = i.id AND m.annotator = ?) "
            "GROUP BY i.id ORDER BY COUNT(l.item_id), i.seq LIMIT 1",
            (annotator,),
        )
        return self._item(rows[0]) if rows else None

    # -- labels --------------------------------------------------------------------------------------

    def record_label(self, item_id: str, annotator: str, choice: str) -> Label:
        """Save (or replace: relabelling updates) ``annotator``'s choice for an item, committed at once."""
        check_annotator(annotator)
        if choice not in CHOICES:
            raise ConfigError(f"unknown choice {choice!r}; use one of: {', '.join(CHOICES)}")
        item = self.item(item_id)
        now = time.time()
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO labels (item_id, annotator, choice, left_answer, created, updated) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (item_id, annotator) DO UPDATE SET "
                "choice = excluded.choice, left_answer = excluded.left_answer, updated = excluded.updated",
                (item_id, annotator, choice, item.left, now, now),
            )
            row = conn.execute(
                "SELECT created FROM labels WHERE item_id = ? AND annotator = ?", (item_id, annotator)
            ).fetchone()
        return Label(item_id, annotator, choice, item.left, float(row[0]), now)  # type: ignore[arg-type]

    def labels(self, *, include_skips: bool = True) -> list[Label]:
        """Every annotator's latest label, oldest first."""
        rows = self.db.read(
            "SELECT item_id, annotator, choice, left_answer, created, updated FROM labels "
            "WHERE ? OR choice != 'skip' ORDER BY created, annotator",
            (include_skips,),
        )
        return [Label(*r) for r in rows]

    def progress(self) -> dict[str, AnnotatorProgress]:
        """Per annotator: items labelled and skipped, out of all items."""
        total = self.count_items()
        rows = self.db.read(
            "SELECT annotator, SUM(choice != 'skip'), SUM(choice = 'skip') FROM labels GROUP BY annotator ORDER BY 1"
        )
        return {r[0]: AnnotatorProgress(r[0], int(r[1]), int(r[2]), total) for r in rows}

    def progress_of(self, annotator: str) -> AnnotatorProgress:
        """:meth:`progress` of one annotator (zeros for a newcomer)."""
        check_annotator(annotator)
        return self.progress().get(annotator) or AnnotatorProgress(annotator, 0, 0, self.count_items())

    def _by_item(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for label in self.labels(include_skips=False):
            out.setdefault(label.item_id, {})[label.annotator] = label.choice
        return out

    def agreement(self) -> AgreementReport:
        """Percent agreement and Cohen's kappa per annotator pair, Fleiss' kappa overall; skips excluded."""
        return agreement_report(self._by_item())

    def position_bias(self, annotator: str | None = None) -> PositionBias:
        """How often the left answer won (over a/b labels, optionally of one annotator)."""
        return position_bias(
            [
                label.choice == label.left
                for label in self.labels(include_skips=False)
                if label.choice != "tie" and (annotator is None or label.annotator == annotator)
            ]
        )

    def stats(self) -> dict[str, Any]:
        """Everything the stats command and page show, JSON-able."""
        progress = self.progress()
        return {
            "items": self.count_items(),
            "labels": sum(p.labelled for p in progress.values()),
            "progress": [p.to_dict() for p in progress.values()],
            "agreement": self.agreement().to_dict(),
            "position_bias": self.position_bias().to_dict(),
            "position_bias_by_annotator": {name: self.position_bias(name).to_dict() for name in progress},
        }

    # -- export --------------------------------------------------------------------------------------

    def export(self, mode: ExportMode = "majority") -> list[PreferencePair]:
        """Labels as preference pairs, for reward-model training.

        ``majority`` (the default) gives one pair per labelled item: the answer most annotators chose;
        a draw between a and b, or ties in the majority, give ``tie=True``. When annotators disagreed,
        ``chosen_prob`` is the share of votes for the chosen answer (a tie vote counts half for each),
        so reward training sees the disagreement. ``each`` gives one pair per label, for per-annotator
        analysis. Tie pairs carry ``chosen_prob=0.5`` so a trainer that ignores ``tie`` learns no
        preference from them. Skips are never exported.
        """
        if mode not in ("majority", "each"):
            raise ConfigError(f"unknown export mode {mode!r}; use 'majority' or 'each'")
        items = {item.id: item for item in self.items()}
        by_item: dict[str, list[Label]] = {}
        for label in self.labels(include_skips=False):
            by_item.setdefault(label.item_id, []).append(label)
        pairs = []
        for item_id, labels in by_item.items():
            item = items[item_id]
            if mode == "each":
                for label in labels:
                    votes = {"a": 0, "b": 0, "tie": 0, label.choice: 1}
                    pairs.append(_pair(item, votes, [label.annotator], f"{item_id}/{label.annotator}"))
            else:
                votes = {c: sum(label.choice == c for label in labels) for c in ("a", "b", "tie")}
                pairs.append(_pair(item, votes, sorted(label.annotator for label in labels), item_id))
        return pairs


def _pair(item: StoredItem, votes: dict[str, int], annotators: list[str], record_id: str) -> PreferencePair:
    """One preference pair from an item and its vote counts."""
    total = sum(votes.values())
    top = max(votes.values())
    winners = [c for c, n in votes.items() if n == top]
    tie = winners != ["a"] and winners != ["b"]
    chosen_is_a = tie or winners == ["a"]
    chosen, rejected = (item.answer_a, item.answer_b) if chosen_is_a else (item.answer_b, item.answer_a)
    prob: float | None = 0.5
    if not tie:
        prob = (votes["a" if chosen_is_a else "b"] + votes["tie"] / 2) / total
        prob = None if prob == 1.0 else prob  # None means certain
    model_chosen, model_rejected = (item.model_a, item.model_b) if chosen_is_a else (item.model_b, item.model_a)
    metadata: dict[str, Any] = {"votes": votes, "left": item.left}
    if model_chosen or model_rejected:
        metadata.update(model_chosen=model_chosen, model_rejected=model_rejected)
    return PreferencePair(
        id=record_id,
        source=item.source,
        metadata=metadata,
        prompt=item.prompt,
        chosen=chosen,
        rejected=rejected,
        tie=tie,
        chosen_prob=prob,
        annotator=",".join(annotators),
    )
