"""``alignkit models``: which providers are registered and which local models exist."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from alignkit.core.errors import ModelNotFoundError
from alignkit.providers import SHORTCUTS, providers
from alignkit.providers.embedded import EMBEDDED_NAME, INSTALL_HINT, cached_checkpoint, gguf_path


def hf_hub_cache() -> Path:
    """The Hugging Face hub cache folder, as huggingface_hub resolves it."""
    if env := os.environ.get("HF_HUB_CACHE"):
        return Path(env).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def cached_hub_models(cache: Path) -> list[str]:
    """Hub ids with a snapshot in the local cache (usable offline as hf/<id>)."""
    if not cache.is_dir():
        return []
    out = []
    for d in sorted(cache.glob("models--*")):
        if any((d / "snapshots").glob("*/config.json")):
            out.append(d.name.removeprefix("models--").replace("--", "/"))
    return out


def inventory() -> dict[str, Any]:
    """What ``alignkit models`` shows, JSON-able: providers, shortcuts, the embedded model, the hub cache."""
    try:
        gguf: str | None = str(gguf_path())
    except ModelNotFoundError:
        gguf = None
    ckpt = cached_checkpoint() if gguf else None
    cache = hf_hub_cache()
    return {
        "providers": [
            {"name": e.name, "aliases": list(e.aliases), "description": e.description, "module": e.module}
            for e in providers
        ],
        "shortcuts": SHORTCUTS,
        "embedded": {
            "spec": f"embedded/{EMBEDDED_NAME}",
            "gguf": gguf,
            "installed": gguf is not None,
            "checkpoint": str(ckpt) if ckpt else None,
            "hint": None if gguf else INSTALL_HINT,
        },
        "hf_cache": {"folder": str(cache), "models": [f"hf/{m}" for m in cached_hub_models(cache)]},
    }


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the inventory as JSON.")
def models(as_json: bool) -> None:
    """List model providers, the embedded default and models cached on this machine."""
    inv = inventory()
    if as_json:
        click.echo(json.dumps(inv, indent=2))
        return
    console = Console()
    table = Table(title="Providers (model strings are provider/name)")
    for col in ("provider", "aliases", "what"):
        table.add_column(col)
    for p in inv["providers"]:
        table.add_row(p["name"], ", ".join(p["aliases"]), p["description"])
    console.print(table)

    emb = inv["embedded"]
    console.print(f"\n[bold]Embedded default[/bold] ({', '.join(inv['shortcuts'])} -> {emb['spec']})")
    if not emb["installed"]:
        console.print(f"  not installed: {emb['hint']}")
    else:
        console.print(f"  GGUF file:  {emb['gguf']}")
        console.print(f"  checkpoint: {emb['checkpoint'] or 'not built yet (built on first use, about 30 s)'}")
    hub = inv["hf_cache"]
    console.print(f"\n[bold]Hugging Face cache[/bold] ({hub['folder']})")
    if hub["models"]:
        for m in hub["models"]:
            console.print(f"  {m}")
    else:
        console.print("  no cached models")
