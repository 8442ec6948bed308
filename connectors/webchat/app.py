"""The web chat's HTTP and WebSocket face (aiohttp), for the widget on the office's pages.

- `POST /webchat/session`: a signed, expiring visitor token (a new visitor, or the same
  visitor and session when the body is `{"token": <the old one>}`); Origin checked, rate
  limited per client address.
- `GET /webchat/ws`: the WebSocket. The browser cannot set headers on it, so the token
  travels as a subprotocol: `new WebSocket(url, ["acolhe.webchat.v1", "acolhe.token." +
  token])` (never in the URL, which proxies log). Origin refused -> 403 before the upgrade;
  a token refused, or expiring while connected -> close 4401 with the reason (the widget
  renews its token and reconnects); a server stopping -> close 1001.
- `POST /webchat/messages` (a message frame as the body, `Authorization: Bearer <token>`):
  the fallback for sending where WebSockets do not pass; `GET /webchat/messages?after_seq=N`:
  the session's messages after N.
- `POST /webchat/files?name=<file name>`: a visitor's upload; `GET
  /webchat/files/{attachment_id}`: a file of the visitor's sessions, as a download. Their
  handlers, and the steps of an upload, are in connectors.webchat.file_routes.
- `GET /webchat/widget.html|.js|.css`: the embeddable widget.

What the HTTP routes share (the Origin check, CORS, the bearer token, error answers) is in
connectors.webchat.http_common.

For each WebSocket frame, in order: the visitor's frame rate; `parse_client_frame`;
then by type: `resume` -> exactly the messages after the last seen number; `message` ->
connectors.webchat.chat's steps, then the ack, and the message to the session's other
sockets in this process (those held by other replicas hear of it through the session
store's notice: connectors.webchat.listener); `read` -> read receipts; `typing` -> told to
the agent holding the contact's open case, on their live-updates channel
(connectors.webchat.indicators; no event, no answer frame).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

import orjson
from aiohttp import WSMsgType, web

from connectors.common.http import base_app, read_body, refusal, too_many
from connectors.webchat.chat import WebChat
from connectors.webchat.file_routes import get_file, post_file
from connectors.webchat.http_common import (
    CHAT,
    _bearer,
    _cors,
    _error_response,
    _origin,
    _token_refusal,
)
from connectors.webchat.limits import RateLimited
from connectors.webchat.live import Connection, Hub
from connectors.webchat.protocol import (
    ClientMessage,
    ClientRead,
    ClientResume,
    ClientTyping,
    ServerError,
    ServerMessage,
    is_seq,
    parse_client_frame,
    serialize_server_frame,
)
from connectors.webchat.resume import ResumeGap, ack_for
from connectors.webchat.signing import DEFAULT_LEEWAY
from connectors.webchat.tokens import VisitorClaims, VisitorTokenRefused

log = logging.getLogger(__name__)
SUBPROTOCOL: Final = "acolhe.webchat.v1"
TOKEN_PROTOCOL_PREFIX: Final = "acolhe.token."  # noqa: S105 (a prefix, not a secret)
CLOSE_UNAUTHORIZED: Final = 4401
CLOSE_INTERNAL: Final = 1011
CLOSE_GOING_AWAY: Final = 1001
STATIC: Final = Path(__file__).parent / "static"
_STATIC_FILES: Final = {
    "widget.html": "text/html; charset=utf-8",
    "widget.js": "text/javascript; charset=utf-8",
    "widget.css": "text/css; charset=utf-8",
}
HUB: Final = web.AppKey("webchat_hub", Hub)
FILES: Final = web.AppKey("webchat_files", dict[str, bytes])


def create_app(chat: WebChat, hub: Hub) -> web.Application:
    # every route reads its body with read_body and its own limit; aiohttp's cap is the largest
    app = base_app(
        client_max_size=max(64 * 1024, chat.settings.max_frame_bytes, chat.settings.max_file_bytes)
    )
    app[CHAT] = chat
    app[HUB] = hub
    app[FILES] = {name: (STATIC / name).read_bytes() for name in _STATIC_FILES}
    app.router.add_post("/webchat/session", create_session)
    app.router.add_get("/webchat/ws", websocket)
    app.router.add_post("/webchat/messages", post_message)
    app.router.add_get("/webchat/messages", get_messages)
    app.router.add_post("/webchat/files", post_file)
    app.router.add_get("/webchat/files/{attachment_id}", get_file)
    for path in (
        "/webchat/session",
        "/webchat/messages",
        "/webchat/files",
        "/webchat/files/{attachment_id}",
    ):
        app.router.add_route("OPTIONS", path, preflight)
    for name in _STATIC_FILES:
        app.router.add_get(f"/webchat/{name}", static_file)
    app.on_shutdown.append(_close_sockets)
    return app


# -- tokens -----------------------------------------------------------------------------


async def create_session(request: web.Request) -> web.StreamResponse:
    chat = request.app[CHAT]
    origin = _origin(request)
    if isinstance(origin, web.Response):
        return origin
    address = client_address(
        request.remote, request.headers.getall("X-Forwarded-For", []), chat.settings.trusted_proxies
    )
    limited = chat.session_limits.take(address, chat.monotonic())
    if isinstance(limited, RateLimited):
        reason = "too many new sessions from this address"
        return _cors(too_many(reason, limited.retry_after), origin)
    body = await read_body(request, limit=4096)
    if isinstance(body, web.Response):
        return _cors(body, origin)
    previous = _previous_token(body)
    if isinstance(previous, web.Response):
        return _cors(previous, origin)
    issued = chat.issue(previous)
    if isinstance(issued, VisitorTokenRefused):
        return _cors(_token_refusal(issued), origin)
    claims = issued.claims
    return _cors(
        web.json_response(
            {
                "token": issued.token,
                "session_id": claims.session_id,
                "expires_at": claims.expires_at.isoformat().replace("+00:00", "Z"),
                "websocket_path": "/webchat/ws",
                "subprotocol": SUBPROTOCOL,
                "max_message_bytes": chat.settings.max_message_bytes,
            },
            status=200 if issued.renewed else 201,
        ),
        origin,
    )


def _previous_token(body: bytes) -> str | web.Response | None:
    if not body.strip():
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return refusal(400, "malformed_json", 'the body is empty or {"token": "<old token>"}')
    if not isinstance(data, dict) or set(data) - {"token"}:
        return refusal(400, "invalid_field", 'the body is empty or {"token": "<old token>"}')
    token = data.get("token")
    if token is not None and not isinstance(token, str):
        return refusal(400, "invalid_field", "token is a string")
    return token


# -- WebSocket --------------------------------------------------------------------------


async def websocket(request: web.Request) -> web.StreamResponse:
    chat, hub = request.app[CHAT], request.app[HUB]
    origin = _origin(request)
    if isinstance(origin, web.Response):
        return origin
    ws = web.WebSocketResponse(
        protocols=(SUBPROTOCOL,),
        heartbeat=30.0,
        max_msg_size=4 * chat.settings.max_frame_bytes,
        decode_text=False,  # invalid UTF-8 gets an error frame, not a dropped connection
    )
    await ws.prepare(request)
    claims = chat.verify(_token_from_protocols(request.headers.get("Sec-WebSocket-Protocol")))
    if isinstance(claims, VisitorTokenRefused):
        await ws.close(code=CLOSE_UNAUTHORIZED, message=_close_reason(claims))
        return ws
    try:
        connection = Connection(ws, await chat.open_session(claims), chat.store)
    except Exception:
        log.exception("could not open a web chat session")
        await ws.close(code=CLOSE_INTERNAL, message=b"could not open the session: reconnect")
        return ws
    hub.add(connection)
    try:
        await connection.position()
        await _converse(chat, hub, connection, claims)
    finally:
        hub.remove(connection)
    return ws


async def _converse(chat: WebChat, hub: Hub, conn: Connection, claims: VisitorClaims) -> None:
    ws = conn.ws
    while not ws.closed:
        left = (claims.expires_at - chat.clock()).total_seconds() + DEFAULT_LEEWAY.total_seconds()
        if left <= 0:
            expired = VisitorTokenRefused("expired", "the token expired: ask for a new one")
            await ws.close(code=CLOSE_UNAUTHORIZED, message=_close_reason(expired))
            return
        try:
            msg = await ws.receive(timeout=left)
        except TimeoutError:
            continue
        if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            return  # closed, closing or a protocol error aiohttp answered already
        try:
            await _frame(chat, hub, conn, claims, msg.data)
        except Exception:
            log.exception("web chat frame failed", extra={"session_id": conn.session.session_id})
            await ws.close(code=CLOSE_INTERNAL, message=b"could not record: reconnect, resend")
            return


async def _frame(
    chat: WebChat, hub: Hub, conn: Connection, claims: VisitorClaims, raw: bytes | str
) -> None:
    limited = chat.take_frame(claims)
    if limited is not None:
        await conn.send(limited)
        return
    frame = parse_client_frame(
        raw,
        max_frame_bytes=chat.settings.max_frame_bytes,
        max_text_bytes=chat.settings.max_message_bytes,
    )
    if isinstance(frame, ServerError):
        await conn.send(frame)
    elif isinstance(frame, ClientResume):
        gap = await conn.resume(frame.last_seen_seq)
        if gap is not None:
            await conn.send(gap.to_error())
    elif isinstance(frame, ClientMessage):
        recorded = await conn.acknowledge(chat.accept_message(claims, conn.session, frame))
        if isinstance(recorded, ServerMessage):
            # the visitor's other tabs here at once; those on other replicas by its notice
            await hub.push(conn.session.session_id, recorded, skip=conn)
    elif isinstance(frame, ClientRead):
        await chat.report_read(conn.session, frame.up_to_message_id)
    elif isinstance(frame, ClientTyping):
        await chat.report_typing(conn.session, frame.active)


def client_address(remote: str | None, forwarded: list[str], trusted: frozenset[str]) -> str:
    """The address a request came from, for the per-address limit: behind the office's own
    reverse proxies (`trusted`), the right-most X-Forwarded-For hop they did not add; never
    a hop the client could have written itself."""
    address = remote or "unknown"
    hops = [h.strip() for header in forwarded for h in header.split(",") if h.strip()]
    while address in trusted and hops:
        address = hops.pop()
    return address


def _token_from_protocols(header: str | None) -> str | None:
    for offered in (header or "").split(","):
        name = offered.strip()
        if name.startswith(TOKEN_PROTOCOL_PREFIX):
            return name.removeprefix(TOKEN_PROTOCOL_PREFIX)
    return None


def _close_reason(refused: VisitorTokenRefused) -> bytes:
    """`<reason>: <detail>`, within the 123 bytes a close frame's reason may hold."""
    return f"{refused.reason}: {refused.detail}".encode()[:123]


async def _close_sockets(app: web.Application) -> None:
    await app[HUB].close_all(CLOSE_GOING_AWAY, b"server restarting: reconnect")


# -- HTTP fallback ----------------------------------------------------------------------


async def post_message(request: web.Request) -> web.StreamResponse:
    origin = _origin(request)
    if isinstance(origin, web.Response):
        return origin
    return _cors(await _post_message(request), origin)


async def _post_message(request: web.Request) -> web.Response:
    chat, hub = request.app[CHAT], request.app[HUB]
    claims = _bearer(chat, request)
    if isinstance(claims, web.Response):
        return claims
    body = await read_body(request, limit=chat.settings.max_frame_bytes)
    if isinstance(body, web.Response):
        return body
    frame = chat.take_frame(claims) or parse_client_frame(
        body,
        max_frame_bytes=chat.settings.max_frame_bytes,
        max_text_bytes=chat.settings.max_message_bytes,
    )
    if not isinstance(frame, ClientMessage):
        if isinstance(frame, ServerError):
            return _error_response(frame)
        return refusal(400, "unknown_type", "over HTTP only message frames: use the WebSocket")
    session = await chat.open_session(claims)
    recorded = await chat.accept_message(claims, session, frame)
    if isinstance(recorded, ServerError):
        return _error_response(recorded)
    await hub.push(session.session_id, recorded)
    return _frame_response(serialize_server_frame(ack_for(recorded)))


async def get_messages(request: web.Request) -> web.StreamResponse:
    chat = request.app[CHAT]
    origin = _origin(request)
    if isinstance(origin, web.Response):
        return origin
    claims = _bearer(chat, request)
    if isinstance(claims, web.Response):
        return _cors(claims, origin)
    raw = request.query.get("after_seq", "0")
    after = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 16 else -1
    if not is_seq(after):
        return _cors(refusal(400, "invalid_field", "after_seq: an integer from 0"), origin)
    session = await chat.open_session(claims)
    latest = await chat.store.latest_seq(session.session_id)
    if after > latest:
        return _cors(_error_response(ResumeGap("ahead", 1, latest).to_error(), 409), origin)
    messages = await chat.store.after(session, after, up_to=latest)
    body = b'{"latest_seq":%d,"messages":[%s]}' % (
        latest,
        b",".join(serialize_server_frame(m) for m in messages),
    )
    return _cors(_frame_response(body), origin)


def _frame_response(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/json")


# -- preflight, static -----------------------------------------------------------------


async def preflight(request: web.Request) -> web.StreamResponse:
    origin = _origin(request)
    if isinstance(origin, web.Response):
        return origin
    response = web.Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST"
    response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
    response.headers["Access-Control-Max-Age"] = "600"
    return _cors(response, origin)


async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.path.rsplit("/", 1)[-1]
    response = web.Response(
        body=request.app[FILES][name], headers={"Content-Type": _STATIC_FILES[name]}
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    if name.endswith(".html"):
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'self'"
        )
    return response
