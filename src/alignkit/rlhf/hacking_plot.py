"""The over-optimization curve (Gao et al. 2022): proxy and gold against KL to the reference, read
from the monitor's ``hacking.jsonl``, drawn as a standalone SVG (no plotting library)."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from alignkit.core.errors import ConfigError
from alignkit.core.files import write_text_atomic
from alignkit.core.jsonl import iter_json_objects
from alignkit.rlhf.hacking import EVENTS_FILE

__all__ = ["plot_overoptimization", "read_events"]


def read_events(run: str | Path) -> list[dict[str, Any]]:
    """The monitor's events of a run (its folder or its ``hacking.jsonl``), in order."""
    path = Path(run)
    if path.is_dir():
        path = path / EVENTS_FILE
    if not path.exists():
        raise ConfigError(f"{path}: no monitor events here; run training with a gold signal (--gold) first")
    return [row for _, row in iter_json_objects(path)]


def plot_overoptimization(
    events: Sequence[Mapping[str, Any]], out: str | Path, *, title: str = "over-optimization"
) -> Path:
    """Proxy (blue) and gold (orange) means of every evaluation against its mean KL, each on its own
    scale (left: proxy, right: gold); alarms as red marks, a rollback's step as a green one."""
    evals = [e for e in events if e.get("event") == "evaluation" and _num(e.get("kl")) and _num(e.get("proxy"))]
    if not evals:
        raise ConfigError("no evaluation with a measured KL and proxy to plot")
    alarm_steps = {e.get("step") for e in events if e.get("event") == "alarm"}
    back = [e.get("best_step") for e in events if e.get("event") == "rollback"]
    W, H, pad = 560, 320, 60
    xs = [float(e["kl"]) for e in evals]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">'
        f'<text x="8" y="18" font-size="14">{html.escape(title)}</text>'
        f'<rect x="{pad}" y="30" width="{W - 2 * pad}" height="{H - 80}" fill="none" stroke="#ccc"/>'
        f'<text x="{W / 2}" y="{H - 12}" text-anchor="middle">KL to the reference (nats), {x0:.3g} .. {x1:.3g}</text>'
    ]

    def sx(x: float) -> float:
        return pad + (x - x0) / (x1 - x0) * (W - 2 * pad)

    for key, colour, side in (("proxy", "#1f6feb", "left"), ("gold", "#d9730d", "right")):
        pts = [(float(e["kl"]), float(e[key]), e.get("step")) for e in evals if _num(e.get(key))]
        if not pts:
            continue
        lo, hi = min(p[1] for p in pts), max(p[1] for p in pts)
        hi = hi if hi > lo else lo + 1

        def sy(y: float, lo: float = lo, hi: float = hi) -> float:
            return 30 + (H - 80) - (y - lo) / (hi - lo) * (H - 80)

        line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y, _ in pts)
        tx, anchor = (pad - 4, "end") if side == "left" else (W - pad + 4, "start")
        parts.append(
            f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="1.5"/>'
            f'<text x="{tx}" y="38" fill="{colour}" text-anchor="{anchor}">{hi:.3g}</text>'
            f'<text x="{tx}" y="{H - 50}" fill="{colour}" text-anchor="{anchor}">{lo:.3g}</text>'
            f'<text x="{tx}" y="{H / 2}" fill="{colour}" text-anchor="{anchor}">{key}</text>'
        )
        for x, y, step in pts:
            mark = "#d1242f" if step in alarm_steps else "#1a7f37" if step in back else colour
            parts.append(
                f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="{4 if mark != colour else 2.5}" fill="{mark}"/>'
            )
    parts.append("</svg>")
    out = Path(out)
    write_text_atomic(out, "".join(parts))
    return out


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and math.isfinite(v)
