"""``alignkit serve``: the safety gateway, an OpenAI-compatible server with guards, limits, logs, review,
incidents and feedback (see :mod:`alignkit.gateway`)."""

from __future__ import annotations

import os

import click

from alignkit.core.errors import ConfigError
from alignkit.gateway.app import Gateway, create_app
from alignkit.gateway.config import GatewayConfig
from alignkit.gateway.server import run

CONFIG_ENV = "ALIGNKIT_GATEWAY_CONFIG"


def load_config(
    path: str | None, host: str | None = None, port: int | None = None, model: str | None = None
) -> GatewayConfig:
    """The config file (or the default: the embedded model behind the default guard), with overrides."""
    config = GatewayConfig.from_file(path) if path else GatewayConfig.default()
    if model is not None:
        if path:
            raise ConfigError("--model serves one model without a config file; with --config, list models there")
        config = GatewayConfig.default(models=[{"name": model, "model": model}])
    updates = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if updates:
        config = GatewayConfig.model_validate({**config.model_dump(), **updates})
    return config


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    envvar=CONFIG_ENV,
    help=f"Gateway config (YAML); also read from ${CONFIG_ENV}. Default: the embedded model behind "
    "the default guard on 127.0.0.1, without keys.",
)
@click.option("--host", default=None, help="Address to bind (overrides the config's host).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (overrides the config's port).")
@click.option("--model", default=None, help="Serve this one model string behind the default guard (no config file).")
def serve(config_path: str | None, host: str | None, port: int | None, model: str | None) -> None:
    """Serve models behind the guard as an OpenAI-compatible API, with limits, logs, review and feedback.

    Endpoints: /v1/chat/completions, /v1/completions, /v1/models, /v1/moderations, /v1/feedback,
    /health, /ready, /metrics; the reviewer page at /review and the dashboard at /dashboard.

    \b
    Examples:
      alignkit serve                              # smollm2 behind the default guard, 127.0.0.1:8000
      alignkit serve --config gateway.yaml
      alignkit keys create alice --scope user --config gateway.yaml
    """
    config = load_config(config_path, host, port, model)
    gw = Gateway(config)
    if config.auth == "keys" and not gw.keys.list():
        click.echo("note: no API keys yet; create one with `alignkit keys create NAME --config ...`", err=True)
    app = create_app(gw)
    shown = f"[{config.host}]" if ":" in config.host else config.host
    names = ", ".join(gw.upstreams.names())
    click.echo(
        f"alignkit gateway: {names} at http://{shown}:{config.port}/v1  (pid {os.getpid()}, Ctrl+C to stop)", err=True
    )
    run(app, config)
