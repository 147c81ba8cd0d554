"""Who is calling: the bearer key of each request, checked against the key store, and OpenAI-shaped errors.

``require(gw, "user")`` (or ``"reviewer"``, ``"admin"``) is a FastAPI dependency that returns the caller's
:class:`~alignkit.gateway.keys.ApiKey`, or None when the gateway runs with ``auth: none`` (loopback only,
where the caller is the machine's own user and may do everything). A missing or unknown key gets 401, a
key without the scope 403; the key itself never reaches a log or an error body.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import JSONResponse

from alignkit.gateway.keys import ApiKey

if TYPE_CHECKING:
    from alignkit.gateway.app import Gateway


class ApiError(Exception):
    """An error answered in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        code: str | None = None,
        *,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type_, code, param
        self.headers = headers or {}

    def response(self, request_id: str | None = None) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}
        headers = dict(self.headers)
        if request_id:
            headers["x-request-id"] = request_id
        return JSONResponse(body, status_code=self.status, headers=headers)


def bearer(request: Request) -> str | None:
    """The key from ``Authorization: Bearer ...`` (or ``api-key:``, as Azure clients send it)."""
    value = request.headers.get("authorization")
    if value:
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return request.headers.get("api-key") or None


def require(gw: Gateway, scope: str) -> Callable[[Request], Awaitable[ApiKey | None]]:
    """A dependency: the caller's key, which must have ``scope`` (admin has every scope)."""

    async def check(request: Request) -> ApiKey | None:
        if gw.config.auth == "none":
            return None
        token = bearer(request)
        if token is None:
            raise ApiError(
                401,
                "missing API key: send `Authorization: Bearer ak-...` (alignkit keys create)",
                "authentication_error",
                "missing_api_key",
            )
        key = gw.keys.verify_cached(token)
        if key is None:
            raise ApiError(401, "invalid or revoked API key", "authentication_error", "invalid_api_key")
        if not key.allows(scope):
            raise ApiError(403, f"this key lacks the {scope!r} scope", "permission_error", "insufficient_scope")
        request.state.key_id = key.key_id
        return key

    return check


def key_id(key: ApiKey | None) -> str | None:
    return None if key is None else key.key_id


def describe(key: ApiKey | None) -> dict[str, Any]:
    return {"key_id": None, "scopes": ["admin"], "auth": "none"} if key is None else key.to_dict()
