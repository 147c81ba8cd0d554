"""Layer 3: the safety gateway (issue 13): an OpenAI-compatible server that puts any model behind the
guard, with rate limits, logs, monitoring, human escalation, incident response and user feedback.

It builds on what is below it and adds no second way to do their jobs: requests become models through
:func:`alignkit.providers.get_model` (strings are resolved here, at the edge), policies are
:class:`alignkit.guard.GuardSpec` files, verdicts come from :mod:`alignkit.detectors`, and its state lives
in SQLite through :mod:`alignkit.core.sqlite` (PostgreSQL and Redis where a deployment outgrows one
machine). ``alignkit serve`` starts it; nothing here is imported by the layers below.

    from alignkit.gateway import Gateway, GatewayConfig, create_app

    gw = Gateway(GatewayConfig.from_file("gateway.yaml"))   # or GatewayConfig.default()
    app = create_app(gw)                                     # a FastAPI app: serve it with uvicorn
"""

from alignkit.gateway.app import Gateway, create_app
from alignkit.gateway.config import GatewayConfig

__all__ = ["Gateway", "GatewayConfig", "create_app"]
