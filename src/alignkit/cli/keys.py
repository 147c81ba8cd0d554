"""``alignkit keys``: the gateway's API keys. A key is shown once, when it is created; the store keeps
only its hash."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from alignkit.cli.serve import CONFIG_ENV, load_config
from alignkit.gateway.config import LimitConfig
from alignkit.gateway.db import open_database
from alignkit.gateway.keys import SCOPES, KeyStore
from alignkit.gateway.schema import MIGRATIONS

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    envvar=CONFIG_ENV,
    help=f"Gateway config whose database holds the keys (also ${CONFIG_ENV}); default: ./gateway.sqlite.",
)


def _store(config_path: str | None) -> KeyStore:
    return KeyStore(open_database(load_config(config_path).database, MIGRATIONS))


@click.group()
def keys() -> None:
    """The gateway's API keys: create (shown once), list, revoke.

    \b
    Examples:
      alignkit keys create alice --scope user --model smollm2 --config gateway.yaml
      alignkit keys create ops --scope admin --config gateway.yaml
      alignkit keys list --config gateway.yaml
      alignkit keys revoke 3f9c0a1b2c3d4e5f --config gateway.yaml
    """


@keys.command()
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(SCOPES),
    default=("user",),
    show_default=True,
    help="What the key may do (repeatable): user calls models, reviewer reviews, admin does all.",
)
@click.option("--model", "models", multiple=True, help="A model the key may call (repeatable); default: all.")
@click.option(
    "--rpm", type=click.IntRange(1), default=None, help="Its own requests per minute (default: the config's)."
)
@click.option("--tpm", type=click.IntRange(1), default=None, help="Its own tokens per minute.")
@click.option("--concurrent", type=click.IntRange(1), default=None, help="Its own concurrent requests.")
@config_option
def create(
    name: str,
    scopes: tuple[str, ...],
    models: tuple[str, ...],
    rpm: int | None,
    tpm: int | None,
    concurrent: int | None,
    config_path: str | None,
) -> None:
    """Create a key for NAME and print it once (store it now: it cannot be shown again)."""
    limits = None
    if rpm or tpm or concurrent:
        limits = LimitConfig(requests_per_min=rpm, tokens_per_min=tpm, concurrent=concurrent)
    rec, token = _store(config_path).create(name, scopes, list(models) or None, limits)
    click.echo(
        f"created key {rec.key_id} for {rec.name} ({', '.join(rec.scopes)}); it is shown only this once:", err=True
    )
    click.echo(token)


@keys.command(name="list")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked keys.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
@config_option
def list_keys(include_revoked: bool, as_json: bool, config_path: str | None) -> None:
    """List keys (ids, names, scopes, models; never the keys themselves)."""
    found = _store(config_path).list(include_revoked=include_revoked)
    if as_json:
        for k in found:
            click.echo(json.dumps(k.to_dict()))
        return
    table = Table("key id", "name", "scopes", "models", "limits", "revoked")
    for k in found:
        limits = "" if k.limits is None else json.dumps(k.limits.model_dump(exclude_none=True))
        table.add_row(
            k.key_id,
            k.name,
            ",".join(k.scopes),
            "all" if k.models is None else ",".join(k.models),
            limits,
            "yes" if k.revoked else "",
        )
    Console().print(table)


@keys.command()
@click.argument("key_id")
@config_option
def revoke(key_id: str, config_path: str | None) -> None:
    """Revoke a key by its id (or the whole key); it stops working at once."""
    rec = _store(config_path).revoke(key_id)
    click.echo(f"revoked key {rec.key_id} ({rec.name})")
