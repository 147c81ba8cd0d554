"""Training logs: one CSV row per step (flushed at once, appended on resume), TensorBoard scalars
when the ``tensorboard`` package is installed, and an SVG plot of chosen columns with no plotting
library."""

from __future__ import annotations

import csv
import html
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from alignkit.core.errors import ConfigError, MissingDependencyError
from alignkit.core.files import write_text_atomic
from alignkit.core.jsonl import iter_lines, repair_tail

LOG_FILE = "log.csv"


class TrainLog:
    """Append-only step log in ``folder``: ``log.csv`` and, with ``tensorboard=True``, event files."""

    def __init__(self, folder: str | Path, *, tensorboard: bool = False) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / LOG_FILE
        self.columns: list[str] | None = None
        repair_tail(self.path)  # a row a kill cut short is dropped; resuming writes that step again
        if self.path.exists() and self.path.stat().st_size:
            self.columns = next(csv.reader(line for _, line in iter_lines(self.path)), None)
        self.tb: Any = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as e:  # torch present, tensorboard not
                raise MissingDependencyError("TensorBoard logs", "tensorboard", "rlhf") from e
            self.tb = SummaryWriter(str(self.folder / "tensorboard"))

    def truncate_after(self, step: int) -> None:
        """Drop rows after ``step`` (resuming from an earlier checkpoint than the last logged step)."""
        if not self.path.exists():
            return
        rows = read_log(self.path)
        keep = [r for r in rows if r.get("step", 0) <= step]
        if len(keep) != len(rows) and self.columns:
            write_text_atomic(self.path, _csv_text(self.columns, keep))

    def write(self, step: int, stats: Mapping[str, Any]) -> None:
        """Append the numbers in ``stats`` as the row of ``step`` (flushed at once)."""
        row = {"step": step, **{k: v for k, v in stats.items() if isinstance(v, int | float)}}
        if self.columns is None:
            self.columns = list(row)
            write_text_atomic(self.path, _csv_text(self.columns, []))
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, fieldnames=self.columns, extrasaction="ignore").writerow(row)
        if self.tb is not None:
            for k, v in row.items():
                if k != "step":
                    self.tb.add_scalar(k, v, step)
            self.tb.flush()

    def close(self) -> None:
        """Close the TensorBoard writer, if any (the CSV is closed after every row)."""
        if self.tb is not None:
            self.tb.close()


def read_log(path: str | Path) -> list[dict[str, float]]:
    """Rows of a ``log.csv`` as floats (empty cells are skipped)."""
    path = Path(path)
    if path.is_dir():
        path = path / LOG_FILE
    if not path.exists():
        raise ConfigError(f"{path}: no training log here; pass the run's output folder or its log.csv")
    reader = csv.DictReader(line for _, line in iter_lines(path))
    rows = []
    try:
        for row in reader:
            rows.append({str(k): float(v) for k, v in row.items() if v not in ("", None) and isinstance(v, str)})
    except ValueError as e:
        raise ConfigError(f"{path}:{reader.line_num}: not a number ({e}); is this a training log?") from None
    except csv.Error as e:
        raise ConfigError(f"{path}:{reader.line_num}: not valid CSV ({e})") from None
    return rows


def _csv_text(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    """A CSV file's text: the header, then ``rows``."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def plot_log(
    rows: Sequence[Mapping[str, float]], columns: Sequence[str], out: str | Path, *, title: str = "training"
) -> Path:
    """One small line chart per column, stacked, as a standalone SVG file."""
    missing = [c for c in columns if not any(c in r for r in rows)]
    if missing:
        known = sorted({k for r in rows for k in r})
        raise ConfigError(f"no column {missing} in the log; columns are: {', '.join(known)}")
    W, H, pad = 520, 150, 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H * len(columns) + 30}" font-family="sans-serif"'
        f' font-size="11"><text x="8" y="18" font-size="14">{html.escape(title)}</text>'
    ]
    for i, col in enumerate(columns):
        pts = [(r["step"], r[col]) for r in rows if col in r and math.isfinite(r[col])]
        top = 30 + i * H
        parts.append(f'<text x="8" y="{top + 14}">{html.escape(col)}</text>')
        if not pts:
            continue
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
        y0, y1 = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1

        def sx(x: float, x0: float = x0, x1: float = x1) -> float:
            return pad + (x - x0) / (x1 - x0) * (W - 2 * pad)

        def sy(y: float, y0: float = y0, y1: float = y1, top: int = top) -> float:
            return top + H - 25 - (y - y0) / (y1 - y0) * (H - 50)

        line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        parts.append(
            f'<rect x="{pad}" y="{top + 20}" width="{W - 2 * pad}" height="{H - 40}" fill="none" stroke="#ccc"/>'
            f'<polyline points="{line}" fill="none" stroke="#1f6feb" stroke-width="1.5"/>'
            f'<text x="{pad}" y="{top + H - 8}">step {x0:g}</text>'
            f'<text x="{W - pad}" y="{top + H - 8}" text-anchor="end">{x1:g}</text>'
            f'<text x="{W - pad + 2}" y="{top + 28}">{y1:.3g}</text>'
            f'<text x="{W - pad + 2}" y="{top + H - 22}">{y0:.3g}</text>'
        )
    parts.append("</svg>")
    out = Path(out)
    write_text_atomic(out, "".join(parts))
    return out
