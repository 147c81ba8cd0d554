"""The checklist's report formats: each parses, counts what failed, and carries hostile text safely."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from alignkit.checklist.model import Evidence, ItemResult
from alignkit.checklist.report import FORMATS, render, to_html, to_json, to_junit, to_markdown, to_text, write_report

HOSTILE = "<script>alert('x')</script> | **bold** & \x07bell"


def results() -> list[ItemResult]:
    return [
        ItemResult("red_team", "Red team testing completed", "pass", "0% attack success", [Evidence("age", "2 days")]),
        ItemResult(
            "content_filters",
            "Content filters in place",
            "fail",
            f"model {HOSTILE}: no guard",
            [Evidence("model x", HOSTILE, "gateway.yaml")],
            fix="Put a guard in front of it.",
        ),
        ItemResult("audits", "Regular safety audits scheduled", "warn", "schedule sparser than period", [], "Run more"),
    ]


def test_json_loads_with_every_item_and_the_overall_status() -> None:
    doc = json.loads(to_json(results()))
    assert doc["status"] == "fail" and doc["counts"] == {"pass": 1, "warn": 1, "fail": 1}
    assert [i["id"] for i in doc["items"]] == ["red_team", "content_filters", "audits"]
    assert doc["items"][1]["evidence"][0] == {"what": "model x", "found": HOSTILE, "source": "gateway.yaml"}


def test_junit_is_valid_xml_failing_exactly_the_failed_items() -> None:
    root = ET.fromstring(to_junit(results()))
    suite = root.find("testsuite")
    assert suite is not None and root.get("failures") == suite.get("failures") == "1" and suite.get("tests") == "3"
    cases = {c.get("name", "").split(":")[0]: c for c in suite.iter("testcase")}
    assert cases["content_filters"].find("failure") is not None
    assert "alert" in (cases["content_filters"].find("failure").text or "")  # type: ignore[union-attr]
    warn = cases["audits"]
    assert warn.find("failure") is None and warn.find("error") is None  # a warning does not fail CI
    assert (warn.find("system-out").text or "").startswith("WARN: ")  # type: ignore[union-attr]
    assert {p.get("value") for p in warn.iter("property") if p.get("name") == "status"} == {"warn"}
    assert "\x07" not in to_junit(results())  # XML 1.0 cannot hold it


class Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_self_contained_and_escapes_hostile_text() -> None:
    page = to_html(results())
    parsed = Collector()
    parsed.feed(page)
    assert "script" not in parsed.tags and "<script>" not in page
    assert HOSTILE in "".join(parsed.text)  # shown as text, not run
    assert "default-src 'none'" in page and "http" not in page.replace("http-equiv", "")  # loads nothing
    for colour in ("#1e7e34", "#b26a00", "#c0392b"):
        assert colour in page
    assert 'class="fail"' in page and "Put a guard in front of it." in page and 'href="#content_filters"' in page


def test_markdown_keeps_its_table_whole() -> None:
    md = to_markdown(results())
    rows = [line for line in md.splitlines() if line.startswith("| ") and "Content filters" in line]
    assert len(rows) == 1 and rows[0].count(" | ") == 2  # the hostile "|" is escaped, not a new column
    assert "**Fix:** Put a guard in front of it." in md and "## Content filters in place: fail" in md


def test_text_lists_every_item_with_its_status() -> None:
    text = to_text(results())
    assert "checklist FAIL: 1 pass, 1 warn, 1 fail" in text
    for title in ("Red team testing completed", "Content filters in place", "Regular safety audits"):
        assert title in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_is_written_atomically(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "sub" / f"checklist.{fmt}"
    write_report(out, results(), fmt)  # type: ignore[arg-type]
    assert out.read_text(encoding="utf-8") == render(results(), fmt)  # type: ignore[arg-type]
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary file left behind
