"""The labelling store's file: versioned schema, stores from before versioning, concurrent labels."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from alignkit.core.messages import Message
from alignkit.core.sqlite import NewerSchemaError
from alignkit.rlhf.labelling import LabelItem, LabelStore
from alignkit.rlhf.labelling.store import MIGRATIONS, SCHEMA_V1


def test_a_store_from_before_versioning_is_adopted_with_its_labels(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:  # what LabelStore wrote before the schema had a version
        conn.executescript(SCHEMA_V1)
        conn.execute("INSERT INTO items VALUES (1, 'x', '[]', 'a', 'b', NULL, NULL, NULL, 'a', 0)")
        conn.execute("INSERT INTO labels VALUES ('x', 'alice', 'a', 'a', 0, 0)")
    with LabelStore(path) as store:
        assert store.db.version == len(MIGRATIONS)
        assert [(label.item_id, label.choice) for label in store.labels()] == [("x", "a")]


def test_a_store_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    LabelStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(NewerSchemaError, match="newer alignkit"):
        LabelStore(path)


def test_labels_from_many_threads_are_all_saved(tmp_path: Path) -> None:
    with LabelStore(tmp_path / "labels.sqlite") as store:
        store.add_items(LabelItem((Message("user", f"q{n}"),), f"a{n}", f"b{n}") for n in range(20))
        items = [i.id for i in store.items()]

        def annotate(who: str) -> None:
            for item_id in items:
                store.record_label(item_id, who, "a")

        threads = [threading.Thread(target=annotate, args=(f"user{k}",)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(store.labels()) == 8 * 20
