"""Screenshot of the lifecycle demo's page (``make demo`` writes ``.alignkit/demo/index.html``), taken with
Debian's headless chromium through playwright, for docs/.

    python scripts/screenshot_demo.py [.alignkit/demo/index.html] [docs/lifecycle-demo.png]
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright


def main() -> None:
    page_path = Path(sys.argv[1] if len(sys.argv) > 1 else ".alignkit/demo/index.html").resolve()
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "docs/lifecycle-demo.png")
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("needs Debian's chromium: apt-get install chromium")
    if not page_path.is_file():
        raise SystemExit(f"{page_path} does not exist: run `make demo` first")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900}, device_scale_factor=1)
            page.goto(page_path.as_uri())
            tmp = out.with_suffix(".tmp.png")
            page.screenshot(path=str(tmp), full_page=True)
            tmp.replace(out)
        finally:
            browser.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
