"""The labelling web app: one page and a small JSON API over a :class:`LabelStore`.

``create_app(store)`` returns a FastAPI app (fastapi is imported here, on call, so ``import alignkit``
stays light). The page shows a prompt and two answers side by side, with buttons and keyboard
shortcuts; every label is a POST that the store commits before answering.

API (JSON; with a token, every ``/api`` call needs ``Authorization: Bearer TOKEN``):

=========================  ==================================================================
``GET /api/next``          ``?annotator=NAME``: the next item for NAME (or ``null``) and progress
``POST /api/label``        ``{"item_id", "annotator", "choice": "left"|"right"|"tie"|"skip"}``
``GET /api/progress``      ``?annotator=NAME``: that annotator's progress
``GET /api/stats``         progress of everyone, agreement, position bias
=========================  ==================================================================

Model outputs are hostile input: the page renders them with ``textContent`` only, and a strict
Content-Security-Policy allows no inline script. Request bodies are capped, annotator names checked
against a short charset, and the token is kept only as a SHA-256 digest and compared in constant time.
"""

import hashlib
import hmac
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from alignkit.core.errors import ConfigError, MissingDependencyError
from alignkit.rlhf.labelling.store import LabelStore, StoredItem, check_annotator

if TYPE_CHECKING:  # fastapi is imported on call (the serve extra); these names are for the type checker
    from fastapi import APIRouter, FastAPI

Scope = MutableMapping[str, Any]
AsgiMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[AsgiMessage]]
Send = Callable[[AsgiMessage], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_BODY_BYTES = 16 * 1024  # a label is ~150 bytes; anything near this is not from the page
STATIC_FILES = {"app.js": "text/javascript", "app.css": "text/css"}
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        b"base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


class LabelIn(BaseModel):
    """One label as the page sends it: the side of the screen, not the answer id."""

    model_config = ConfigDict(extra="forbid")

    item_id: str = Field(min_length=1, max_length=64)
    annotator: str = Field(max_length=200)  # checked against the annotator rule in the handler
    choice: Literal["left", "right", "tie", "skip"]


def token_digest(token: str) -> bytes:
    """What the app keeps of an access token: its SHA-256 digest."""
    return hashlib.sha256(token.encode()).digest()


def static_text(name: str) -> str:
    """A file of the page (``index.html``, ``app.js``, ``app.css``) from the package."""
    return (resources.files("alignkit.rlhf.labelling") / "static" / name).read_text(encoding="utf-8")


class _Guard:
    """ASGI middleware: rejects request bodies over the cap (declared or streamed) and adds security headers."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app, self.limit = app, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from fastapi import HTTPException
        from fastapi.responses import JSONResponse

        too_large = f"request body over {self.limit} bytes; a label is a few hundred"

        async def send_with_headers(message: AsgiMessage) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await JSONResponse({"detail": too_large}, status_code=413)(scope, receive, send_with_headers)
            return
        received = 0

        async def limited_receive() -> AsgiMessage:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(status_code=413, detail=too_large)
            return message

        await self.app(scope, limited_receive, send_with_headers)


def _item_json(item: StoredItem | None) -> dict[str, Any] | None:
    if item is None:
        return None
    left, right = item.shown()
    # Blind: no model names and no answer ids, only what the annotator needs to judge.
    return {"id": item.id, "prompt": [m.to_dict() for m in item.prompt], "left": left, "right": right}


def create_app(
    store: LabelStore,
    *,
    token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    allowed_hosts: Sequence[str] | None = None,
    title: str = "alignkit labelling",
) -> Any:
    """A FastAPI app serving the labelling page and API over ``store``.

    ``token``: when set, every API call must carry it (``Authorization: Bearer TOKEN``); the page reads
    it once from the URL fragment (``/#token=...``, never sent to servers or logs) into session storage.
    ``allowed_hosts``: Host header values to accept (guards a loopback server against DNS rebinding);
    None accepts any.
    """
    try:
        from fastapi import FastAPI
        from starlette.middleware.trustedhost import TrustedHostMiddleware
    except ImportError as e:
        raise MissingDependencyError("the labelling app", "fastapi and uvicorn", "serve") from e
    if max_body_bytes < 256:
        raise ConfigError(f"max_body_bytes must be at least 256 to fit a label; got {max_body_bytes}")
    if token is not None and len(token) < 8:
        raise ConfigError("the access token is too short: use at least 8 characters (e.g. from `openssl rand -hex 16`)")
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)
    _add_page(app)
    app.include_router(_api(store, _token_check(token)))
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.add_middleware(_Guard, max_body_bytes=max_body_bytes)
    return app


def _token_check(token: str | None) -> Callable[..., None]:
    """A FastAPI dependency that demands ``Authorization: Bearer TOKEN`` (anything passes without a token)."""
    from fastapi import Header, HTTPException

    digest = token_digest(token) if token is not None else None

    def check_token(authorization: str | None = Header(default=None)) -> None:
        if digest is None:
            return
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token_digest(given.strip()), digest):
            raise HTTPException(
                status_code=401,
                detail="this labelling server needs its access token: open the URL that `alignkit label serve` "
                "printed (it ends in #token=...)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return check_token


def _add_page(app: "FastAPI") -> None:
    """The page, its static files, and request errors that say which field is wrong."""
    from fastapi import HTTPException, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse, Response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in err['loc'] if x != 'body') or 'body'}: {err['msg']}" for err in exc.errors()
        )
        return JSONResponse({"detail": f"invalid request: {problems}"}, status_code=422)

    @app.get("/", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        return HTMLResponse(static_text("index.html"))

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC_FILES:
            raise HTTPException(status_code=404, detail="no such file")
        return Response(static_text(name), media_type=STATIC_FILES[name])


def _api(store: LabelStore, check_token: Callable[..., None]) -> "APIRouter":
    """The JSON API of the module docstring, every call behind ``check_token``."""
    from fastapi import APIRouter, Depends, HTTPException

    api = APIRouter(prefix="/api", dependencies=[Depends(check_token)])

    def annotator_or_400(name: str | None) -> str:
        try:
            return check_annotator(name or "")
        except ConfigError as e:
            raise HTTPException(status_code=400, detail=str(e)) from None

    @api.get("/next")
    def next_item(annotator: str | None = None) -> dict[str, Any]:
        name = annotator_or_400(annotator)
        item = store.next_item(name)
        return {"item": _item_json(item), "progress": store.progress_of(name).to_dict()}

    @api.post("/label")
    def label(body: LabelIn) -> dict[str, Any]:
        name = annotator_or_400(body.annotator)
        try:
            item = store.item(body.item_id)
        except KeyError:
            raise HTTPException(status_code=404, detail="no such item; reload the page") from None
        saved = store.record_label(item.id, name, item.choice_for(body.choice))
        progress = store.progress_of(name).to_dict()
        return {"saved": {"item_id": saved.item_id, "choice": body.choice}, "progress": progress}

    @api.get("/progress")
    def progress(annotator: str | None = None) -> dict[str, Any]:
        return store.progress_of(annotator_or_400(annotator)).to_dict()

    @api.get("/stats")
    def stats() -> dict[str, Any]:
        return store.stats()

    return api
