"""What every HTTP route of the web chat shares: the app's WebChat key, the Origin check and
the CORS headers on an answer, the visitor token from `Authorization: Bearer`, and the
JSON error answers (a refused token, an error frame as an HTTP answer).

The message and session routes (connectors.webchat.app) and the file routes
(connectors.webchat.file_routes) both use it; it must not depend on either (nor on the
WebSocket side: connectors.webchat.live).
"""

from __future__ import annotations

from typing import Final

import orjson
from aiohttp import web

from connectors.common.http import refusal
from connectors.webchat.chat import WebChat
from connectors.webchat.origins import OriginAllowed
from connectors.webchat.protocol import ServerError, serialize_server_frame
from connectors.webchat.tokens import VisitorClaims, VisitorTokenRefused

_HTTP_STATUS: Final = {"oversized": 413, "rate_limited": 429, "unauthorized": 401}
CHAT: Final = web.AppKey("webchat", WebChat)


def _bearer(chat: WebChat, request: web.Request) -> VisitorClaims | web.Response:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    claims = chat.verify(token.strip() if scheme.lower() == "bearer" else None)
    if isinstance(claims, VisitorTokenRefused):
        return _token_refusal(claims)
    return claims


def _token_refusal(refused: VisitorTokenRefused) -> web.Response:
    response = refusal(401, f"token_{refused.reason}", refused.detail)
    response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


def _error_response(error: ServerError, status: int | None = None) -> web.Response:
    body = orjson.loads(serialize_server_frame(error))
    del body["type"]
    response = web.json_response(
        {"error": body}, status=status or _HTTP_STATUS.get(error.code, 400)
    )
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(max(1, -(-int(error.retry_after * 1000) // 1000)))
    return response


# -- Origin, CORS -----------------------------------------------------------------------


def _origin(request: web.Request) -> OriginAllowed | web.Response:
    checked = request.app[CHAT].settings.origins.check(request.headers.get("Origin"))
    if isinstance(checked, OriginAllowed):
        return checked
    return refusal(403, f"origin_{checked.reason}", checked.detail)


def _cors(response: web.Response, origin: OriginAllowed) -> web.Response:
    """Let the allowed page read the answer (its refusals too: the widget shows why)."""
    if origin.origin is not None:
        response.headers["Access-Control-Allow-Origin"] = str(origin.origin)
        response.headers["Access-Control-Expose-Headers"] = "Retry-After, Content-Disposition"
        response.headers["Vary"] = "Origin"
    return response
