"""Human preference labelling: a store of comparisons, where they come from, and the web app.

- :mod:`~alignkit.rlhf.labelling.store`: items and labels in SQLite, agreement, export to
  :class:`~alignkit.core.PreferencePair` records;
- :mod:`~alignkit.rlhf.labelling.sources`: items from pair files or from models answering prompts;
- :mod:`~alignkit.rlhf.labelling.agreement`: Cohen's and Fleiss' kappa, position bias;
- :mod:`~alignkit.rlhf.labelling.app`: the FastAPI app behind ``alignkit label serve`` (fastapi is
  imported only when :func:`create_app` is called).
"""

from __future__ import annotations

from alignkit.rlhf.labelling.agreement import AgreementReport, PairAgreement, PositionBias
from alignkit.rlhf.labelling.app import create_app
from alignkit.rlhf.labelling.sources import generate_items, item_from_row, items_from_file, read_prompts
from alignkit.rlhf.labelling.store import (
    AddReport,
    AnnotatorProgress,
    Label,
    LabelItem,
    LabelStore,
    StoredItem,
    check_annotator,
)

__all__ = [
    "AddReport",
    "AgreementReport",
    "AnnotatorProgress",
    "Label",
    "LabelItem",
    "LabelStore",
    "PairAgreement",
    "PositionBias",
    "StoredItem",
    "check_annotator",
    "create_app",
    "generate_items",
    "item_from_row",
    "items_from_file",
    "read_prompts",
]
