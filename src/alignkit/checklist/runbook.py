"""Reading an incident response runbook for its owner and contacts.

A runbook is a text or Markdown file. It names its owner and contacts in either form (case does not
matter; Markdown bold and list markers around the label are fine):

    Owner: Jane Doe (ML platform)            # a labelled line
    Contacts: #ml-oncall, oncall@example.com, +1 555 0100

    ## Owner                                 # or a section: the lines under the heading, up to the next
    Jane Doe (ML platform)
    ## Contacts
    - #ml-oncall (Slack)
    - oncall@example.com

``Contact:`` and ``On-call:`` count as contacts; a labelled line with nothing after the colon starts a
section like a heading does. Each non-empty line of a section, and each comma- or semicolon-separated
part of a labelled line, is one entry. A placeholder (``TBD``, ``TODO``, ``<name>``, ``?``, ``n/a``)
is not an entry: a runbook that names nobody names nobody.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

LABELS = {"owner": "owner", "owners": "owner", "contact": "contacts", "contacts": "contacts", "on-call": "contacts"}
_LABEL = r"(owners?|contacts?|on-call)"
LABELLED = re.compile(rf"^\s*(?:[-*+]\s+)?(?:\*\*|__)?{_LABEL}(?:\*\*|__)?\s*:\s*(?:\*\*|__)?\s*(.*?)\s*$", re.I)
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
PLACEHOLDER = re.compile(r"^(?:tbd|tba|todo|fixme|xxx|n/?a|none|-+|\?+|<[^>]*>|\[[^\]]*\])$", re.I)


@dataclass
class Runbook:
    """What a runbook names: its owners and contacts (placeholders left out, and counted apart)."""

    owners: list[str] = field(default_factory=list)
    contacts: list[str] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)

    def add(self, label: str, text: str, *, split: bool) -> None:
        parts = re.split(r"[,;]", text) if split else [text]
        for part in (p.strip().strip("*_").strip() for p in parts):
            if not part:
                continue
            if PLACEHOLDER.match(part):
                self.placeholders.append(f"{label}: {part}")
            else:
                (self.owners if label == "owner" else self.contacts).append(part)


def parse_runbook(text: str) -> Runbook:
    """The owners and contacts ``text`` names, in either form the module describes."""
    book = Runbook()
    section: str | None = None  # the label whose entries the next lines are
    until_blank = False  # a section opened by "Label:" ends at a blank line after its entries
    entries, in_code = 0, False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        heading = None if in_code else HEADING.match(line)
        labelled = None if in_code or heading else LABELLED.match(line)
        if heading:
            section, until_blank = LABELS.get(heading.group(1).strip().strip("*_:").strip().lower()), False
        elif labelled and labelled.group(2):
            book.add(LABELS[labelled.group(1).lower()], labelled.group(2), split=True)
            section = None
        elif labelled:
            section, until_blank = LABELS[labelled.group(1).lower()], True
        elif section and not in_code and line.strip():
            book.add(section, LIST_MARKER.sub("", line), split=False)
            entries += 1
            continue
        elif section and until_blank and entries and not line.strip():
            section = None
        entries = 0 if heading or labelled else entries
    return book
