"""The web chat's file routes (aiohttp), registered by connectors.webchat.app's `create_app`.

- `POST /webchat/files?name=<file name>` (the file's bytes as the body, its media type as
  Content-Type, `Authorization: Bearer <token>`): the file sealed in the media store, 201
  with its descriptor, which a `message` frame then names (nothing is published for the
  upload itself);
- `GET /webchat/files/{attachment_id}`: a file of a message of the visitor's sessions, as
  a download (404 for any other: connectors.webchat.files).

An upload, in order: Origin (403); token (401); the visitor's upload rate (429); the name
and Content-Type (400), the type among those the office takes (415 with the list); the
declared size (413, before a byte is read), the body read up to the limit (413), empty
(400), bytes that are not of the declared type (415); then chat.keep_file (410 when the
visitor's citizen was erased).

Must not depend on connectors.webchat.app (which imports it) nor on the WebSocket side
(connectors.webchat.live); what it shares with the other routes is in
connectors.webchat.http_common.
"""

from __future__ import annotations

import logging

from aiohttp import web

from connectors.common.files import descriptor
from connectors.common.http import read_body, refusal, too_many
from connectors.common.media import MediaTooLarge
from connectors.webchat.files import (
    FileRefused,
    check_upload_body,
    check_upload_header,
    content_disposition,
)
from connectors.webchat.http_common import CHAT, _bearer, _cors, _error_response, _origin
from connectors.webchat.origins import OriginAllowed
from streams.shared.keystore import SubjectErased

log = logging.getLogger(__name__)


async def post_file(request: web.Request) -> web.StreamResponse:
    origin = _origin(request)
    if isinstance(origin, web.Response):
        return origin
    return _cors(await _post_file(request), origin)


async def _post_file(request: web.Request) -> web.Response:
    """The steps of the module's docstring for an upload."""
    chat = request.app[CHAT]
    claims = _bearer(chat, request)
    if isinstance(claims, web.Response):
        return claims
    limited = chat.take_upload(claims)
    if limited is not None:
        return too_many("too many files: wait before sending another", limited.retry_after)
    upload = await _upload(request, chat.settings.file_types, chat.settings.max_file_bytes)
    if isinstance(upload, web.Response):
        return upload
    name, media_type, content = upload
    try:
        attachment = await chat.keep_file(claims, name, media_type, content)
    except SubjectErased:
        return refusal(410, "erased", "this conversation was erased: start a new one")
    except MediaTooLarge:
        return refusal(413, "too_large", f"a file is at most {chat.settings.max_file_bytes} bytes")
    log.info("web chat file stored", extra={"attachment_id": attachment.attachment_id})
    return web.json_response(descriptor(attachment), status=201)


async def _upload(
    request: web.Request, accepted: tuple[str, ...], max_bytes: int
) -> tuple[str, str, bytes] | web.Response:
    """The upload's name, media type and bytes, each checked (connectors.webchat.files)."""
    name = request.query.get("name")
    media_type = check_upload_header(name, request.headers.get("Content-Type"), accepted=accepted)
    if isinstance(media_type, FileRefused):
        return _file_refusal(media_type, accepted)
    content = await read_body(request, limit=max_bytes)
    if isinstance(content, web.Response):
        return content
    refused = check_upload_body(content, media_type)
    if refused is not None:
        return _file_refusal(refused, accepted)
    return str(name), media_type, content


def _file_refusal(refused: FileRefused, accepted: tuple[str, ...]) -> web.Response:
    error: dict[str, object] = {"code": refused.code, "reason": refused.reason}
    if refused.field is not None:
        error["field"] = refused.field
    if refused.status == 415:
        error["accepted"] = list(accepted)
    return web.json_response({"error": error}, status=refused.status)


async def get_file(request: web.Request) -> web.StreamResponse:
    """A file of a message of the visitor's sessions, as a download; 404 for any other,
    whether it is someone else's or none at all. Origin: a browser leaves it out of a
    same-origin GET, so only a present one is checked (a foreign page cannot send the
    token's header without a preflight, which the allow-list refuses)."""
    chat = request.app[CHAT]
    origin = _origin(request) if "Origin" in request.headers else OriginAllowed(None)
    if isinstance(origin, web.Response):
        return origin
    claims = _bearer(chat, request)
    if isinstance(claims, web.Response):
        return _cors(claims, origin)
    limited = chat.take_frame(claims)
    if limited is not None:
        return _cors(_error_response(limited), origin)
    found = await chat.file_for(claims, request.match_info["attachment_id"])
    if found is None:
        return _cors(refusal(404, "not_found", "no such file in this conversation"), origin)
    attachment, content = found
    response = web.Response(body=content, headers={"Content-Type": attachment.media_type})
    response.headers["Content-Disposition"] = content_disposition(str(attachment.file_name))
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return _cors(response, origin)
