"""A stand-in for Meta's Graph API (graph.facebook.com) as the WhatsApp Cloud API uses it,
for tests only; and builders of webhook payloads exactly as Meta sends them.

Endpoints, per Meta's Cloud API reference:

- `POST /{version}/{phone_number_id}/messages`: checks the bearer token (else code 190,
  HTTP 401), the phone number id (else code 100, subcode 33: "Unsupported post request.
  Object with ID ... does not exist"), and the body as Meta does (messaging_product
  "whatsapp", to, a known type, that type's object); answers
  `{"messaging_product", "contacts": [{"input", "wa_id"}], "messages": [{"id": "wamid..."}]}`.
- `POST /{version}/{phone_number_id}/media`: an upload, multipart/form-data with the fields
  `messaging_product` ("whatsapp"), `type` (the MIME type) and `file` (the bytes, with a
  filename and a content type); answers `{"id": "<media id>"}`. A missing field, or a type
  not among Meta's supported media types, is code 100 ("Param file must be a file with one
  of the following types: ..."); a file above its type's limit is code 131053 (media upload
  error). An uploaded file can then be read back like any media (GET below).
- `GET /{version}/{media_id}`: `{"messaging_product", "url", "mime_type", "sha256",
  "file_size", "id"}` (file_size as text, as in Meta's example); the url answers the bytes
  to a request with the bearer token.

Errors are Meta's: `{"error": {"message", "type", "code", "error_subcode"?, "error_data":
{"messaging_product", "details"}?, "fbtrace_id"}}`; WhatsApp errors carry error_data and
no subcode (v16.0+), Graph errors (190, 100/33) the reverse. HTTP statuses follow Meta's
error-code table: the rate limits 4, 80007, 130429 and 131056 come with 400, not 429.

Switches tests flip on `StandInGraph`: `rate_limit_next(n, code)`, `fail_next(code, n)`,
`fail_next_upload(code, n)`,
`close_window(wa_id)` (free-form messages to that number fail with 131047 at once; Meta
may instead accept and report a failed status by webhook: build that with `status(...)`).
`requests` records every request (a multipart body as None); `sent` every accepted
message; `uploads` every accepted upload, its bytes as they arrived.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from aiohttp import BodyPartReader, web

from connectors.whatsapp.signature import SIGNATURE_HEADER, sign

TOKEN: Final = "EAAG-stand-in-token"
PHONE_NUMBER_ID: Final = "106540352242922"
DISPLAY_PHONE_NUMBER: Final = "15550783881"
WABA_ID: Final = "102290129340398"
MESSAGE_TYPES: Final = frozenset(
    {"text", "image", "audio", "video", "document", "sticker", "location", "contacts"}
    | {"interactive", "template", "reaction"}
)
_FREE_FORM_EXEMPT: Final = frozenset({"template", "reaction"})
_VERSION: Final = r"{version:v[0-9]+\.[0-9]+}"

# code -> (HTTP status, title, details); titles and details as in Meta's error-code table
ERRORS: Final[Mapping[int, tuple[int, str, str]]] = {
    4: (400, "Application request limit reached", "This app has reached its API call limit."),
    10: (403, "Application does not have permission for this action", "Permission denied."),
    100: (400, "Invalid parameter", "Invalid parameter."),
    80007: (400, "Rate limit issues", "The WhatsApp Business Account has reached its rate limit."),
    130429: (400, "Rate limit hit", "Cloud API message throughput has been reached."),
    131000: (500, "Something went wrong", "Message failed to send due to an unknown error."),
    131026: (400, "Message undeliverable", "Message failed to send because of an unknown error."),
    131030: (
        400,
        "Recipient phone number not in allowed list",
        "Recipient phone number not in allowed list: Add recipient phone number to recipient "
        "list and try again.",
    ),
    131047: (
        400,
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number.",
    ),
    131051: (400, "Unsupported message type", "Unsupported message type."),
    131056: (
        400,
        "(Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone "
        "number to the same phone number in a short period of time.",
    ),
    131053: (400, "Media upload error", "Unable to upload the media used in the message."),
    132001: (404, "Template name does not exist in the translation", "Template does not exist."),
}
_MB: Final = 1_000_000
_DOCUMENT: Final = 100 * _MB
UPLOAD_TYPES: Final[Mapping[str, int]] = {
    "audio/aac": 16 * _MB,
    "audio/amr": 16 * _MB,
    "audio/mpeg": 16 * _MB,
    "audio/mp4": 16 * _MB,
    "audio/ogg": 16 * _MB,
    "text/plain": _DOCUMENT,
    "application/pdf": _DOCUMENT,
    "application/vnd.ms-powerpoint": _DOCUMENT,
    "application/msword": _DOCUMENT,
    "application/vnd.ms-excel": _DOCUMENT,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": _DOCUMENT,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": _DOCUMENT,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": _DOCUMENT,
    "image/jpeg": 5 * _MB,
    "image/png": 5 * _MB,
    "image/webp": 500_000,
    "video/mp4": 16 * _MB,
    "video/3gpp": 16 * _MB,
}
"""Meta's "Supported media types" for uploads, type -> largest file, as Meta states them."""


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    authorization: str | None
    body: Any


@dataclass(frozen=True)
class AcceptedMessage:
    wamid: str
    phone_number_id: str
    to: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Upload:
    """One accepted upload: the form's fields and the file as it arrived."""

    phone_number_id: str
    media_id: str
    messaging_product: str
    type: str
    file_name: str | None
    content_type: str | None
    content: bytes


@dataclass
class StandInGraph:
    token: str = TOKEN
    phone_number_ids: set[str] = field(default_factory=lambda: {PHONE_NUMBER_ID})
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    sent: list[AcceptedMessage] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)  # codes for the next sends, in order
    upload_failures: list[int] = field(default_factory=list)  # for the next uploads
    uploads: list[Upload] = field(default_factory=list)
    closed_windows: set[str] = field(default_factory=set)
    counter: int = 0

    def add_media(self, content: bytes, mime_type: str) -> str:
        self.counter += 1
        media_id = f"{1_000_000_000_000_000 + self.counter}"
        self.media[media_id] = (content, mime_type)
        return media_id

    def rate_limit_next(self, n: int, code: int = 130429) -> None:
        self.fail_next(code, n)

    def fail_next(self, code: int, n: int = 1) -> None:
        self.failures += [code] * n

    def fail_next_upload(self, code: int, n: int = 1) -> None:
        self.upload_failures += [code] * n

    def close_window(self, wa_id: str) -> None:
        self.closed_windows.add(_digits(wa_id))

    def sends(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/messages")]

    def trace(self) -> str:
        self.counter += 1
        return f"A{self.counter:022d}"


GRAPH: Final = web.AppKey("graph", StandInGraph)


class GraphHTTPError(Exception):
    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.status, self.error = status, error


def whatsapp_error(code: int, details: str | None = None) -> GraphHTTPError:
    status, title, default = ERRORS.get(code, (400, "Error", "Error."))
    return GraphHTTPError(
        status,
        {
            "message": f"(#{code}) {title}",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details or default},
        },
    )


def no_such_object(method: str, object_id: str) -> GraphHTTPError:
    return GraphHTTPError(
        400,
        {
            "message": f"Unsupported {method} request. Object with ID '{object_id}' does not "
            "exist, cannot be loaded due to missing permissions, or does not support this "
            "operation. Please read the Graph API documentation at "
            "https://developers.facebook.com/docs/graph-api",
            "type": "GraphMethodException",
            "code": 100,
            "error_subcode": 33,
        },
    )


def bad_token() -> GraphHTTPError:
    return GraphHTTPError(
        401,
        {
            "message": "Invalid OAuth access token - Cannot parse access token",
            "type": "OAuthException",
            "code": 190,
        },
    )


async def send_message(request: web.Request) -> web.Response:
    state = request.app[GRAPH]
    phone_number_id = request.match_info["phone_number_id"]
    if phone_number_id not in state.phone_number_ids:
        raise no_such_object("post", phone_number_id)
    body = _parsed(await request.read())  # aiohttp keeps the body read by the middleware
    kind = _validate(body)
    to = body["to"]
    if state.failures:
        raise whatsapp_error(state.failures.pop(0))
    if kind not in _FREE_FORM_EXEMPT and _digits(to) in state.closed_windows:
        raise whatsapp_error(131047)
    state.counter += 1
    wamid = "wamid." + base64.b64encode(f"{_digits(to)}:{state.counter:020d}".encode()).decode()
    state.sent.append(AcceptedMessage(wamid, phone_number_id, to, body))
    message: dict[str, Any] = {"id": wamid}
    if kind == "template":
        message["message_status"] = "accepted"
    return _reply(
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": _digits(to)}],
            "messages": [message],
        }
    )


def _validate(body: object) -> str:
    """The message type, or Meta's code 100 naming the parameter that is wrong."""
    if not isinstance(body, dict):
        raise whatsapp_error(100, "The request body must be a JSON object.")
    if body.get("messaging_product") != "whatsapp":
        raise whatsapp_error(100, "The parameter messaging_product is required.")
    if not isinstance(body.get("to"), str) or not _digits(body["to"]):
        raise whatsapp_error(100, "The parameter to is required.")
    kind = body.get("type", "text")
    if kind not in MESSAGE_TYPES:
        raise whatsapp_error(100, f"Param type must be one of {sorted(MESSAGE_TYPES)}.")
    content = body.get(kind)
    if not isinstance(content, dict | list):
        raise whatsapp_error(100, f"The parameter {kind} is required.")
    if kind == "text" and not (isinstance(content, dict) and isinstance(content.get("body"), str)):
        raise whatsapp_error(100, "The parameter text['body'] is required.")
    if kind == "template" and not _is_template(content):
        raise whatsapp_error(100, "The parameter template['name'] and ['language'] are required.")
    if kind in ("image", "audio", "video", "document", "sticker") and not (
        isinstance(content, dict) and ("id" in content or "link" in content)
    ):
        raise whatsapp_error(100, f"The parameter {kind}['id'] or ['link'] is required.")
    return str(kind)


def _is_template(content: object) -> bool:
    if not isinstance(content, dict):
        return False
    language = content.get("language")
    return (
        isinstance(content.get("name"), str) and isinstance(language, dict) and "code" in language
    )


async def upload_media(request: web.Request) -> web.Response:
    state = request.app[GRAPH]
    phone_number_id = request.match_info["phone_number_id"]
    if phone_number_id not in state.phone_number_ids:
        raise no_such_object("post", phone_number_id)
    if request.content_type != "multipart/form-data":
        raise whatsapp_error(100, "The request must be multipart/form-data.")
    fields: dict[str, str] = {}
    file: tuple[str | None, str | None, bytes] | None = None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            raise whatsapp_error(100, "Unexpected part in the form.")
        if part.name == "file":
            content_type = part.headers.get("Content-Type")
            file = (part.filename, content_type, bytes(await part.read(decode=True)))
        else:
            fields[part.name] = await part.text()
    if fields.get("messaging_product") != "whatsapp":
        raise whatsapp_error(100, "The parameter messaging_product is required.")
    if file is None:
        raise whatsapp_error(100, "The parameter file is required.")
    kind = fields.get("type", "")
    limit = UPLOAD_TYPES.get(kind.split(";")[0].strip().lower())
    if limit is None:
        listed = ", ".join(UPLOAD_TYPES)
        raise whatsapp_error(
            100, f"Param file must be a file with one of the following types: {listed}."
        )
    if len(file[2]) > limit:
        raise whatsapp_error(
            131053, f"Media file size too big. Max file size we currently support: {limit} bytes."
        )
    if state.upload_failures:
        raise whatsapp_error(state.upload_failures.pop(0))
    media_id = state.add_media(file[2], kind)
    state.uploads.append(Upload(phone_number_id, media_id, "whatsapp", kind, *file))
    return _reply({"id": media_id})


async def get_media(request: web.Request) -> web.Response:
    state = request.app[GRAPH]
    media_id = request.match_info["media_id"]
    if media_id not in state.media:
        raise no_such_object("get", media_id)
    content, mime_type = state.media[media_id]
    url = f"{request.url.origin()}/whatsapp_business/attachments/?mid={media_id}"
    return _reply(
        {
            "messaging_product": "whatsapp",
            "url": url,
            "mime_type": mime_type,
            "sha256": hashlib.sha256(content).hexdigest(),
            "file_size": str(len(content)),
            "id": media_id,
        }
    )


async def download_media(request: web.Request) -> web.Response:
    state = request.app[GRAPH]
    media_id = request.query.get("mid", "")
    if media_id not in state.media:
        return web.Response(status=404)
    content, mime_type = state.media[media_id]
    return web.Response(body=content, content_type=mime_type.split(";")[0])


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _record_and_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[GRAPH]
    # a multipart body is left for the handler to stream (an upload may be 100 MB)
    multipart = request.content_type.startswith("multipart/")
    body = None if multipart else _parsed(await request.read())
    authorization = request.headers.get("Authorization")
    state.requests.append(RecordedRequest(request.method, request.path, authorization, body))
    try:
        if authorization != f"Bearer {state.token}":
            raise bad_token()
        return await handler(request)
    except GraphHTTPError as exc:
        return web.Response(
            status=exc.status,
            body=orjson.dumps({"error": exc.error | {"fbtrace_id": state.trace()}}),
            content_type="application/json",
        )


def create_app(state: StandInGraph | None = None) -> web.Application:
    # room for Meta's largest upload (a 100 MB document) and its form
    app = web.Application(middlewares=[_record_and_guard], client_max_size=101 * 1024 * 1024)
    app[GRAPH] = state or StandInGraph()
    app.router.add_post(f"/{_VERSION}/{{phone_number_id}}/messages", send_message)
    app.router.add_post(f"/{_VERSION}/{{phone_number_id}}/media", upload_media)
    app.router.add_get("/whatsapp_business/attachments/", download_media)
    app.router.add_get(f"/{_VERSION}/{{media_id}}", get_media)
    return app


def _parsed(raw: bytes) -> Any:
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return raw


def _reply(body: Any) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def _digits(text: str) -> str:
    return re.sub(r"[^0-9]", "", text)


# --- webhook payloads, as Meta sends them -------------------------------------------------


def webhook(
    *,
    messages: Iterable[dict[str, Any]] = (),
    statuses: Iterable[dict[str, Any]] = (),
    contacts: Iterable[dict[str, Any]] = (),
    phone_number_id: str = PHONE_NUMBER_ID,
) -> dict[str, Any]:
    """One `messages` webhook for one business phone number."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": DISPLAY_PHONE_NUMBER,
            "phone_number_id": phone_number_id,
        },
    }
    for key, items in (("contacts", contacts), ("messages", messages), ("statuses", statuses)):
        if listed := list(items):
            value[key] = listed
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": "messages"}]}],
    }


def profile(wa_id: str, name: str) -> dict[str, Any]:
    return {"profile": {"name": name}, "wa_id": wa_id}


def message(
    kind: str,
    content: Any,
    *,
    wamid: str,
    sender: str,
    timestamp: str = "1739321024",
    context: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A message object: `content` goes under the key named by `kind`, as Meta does."""
    item: dict[str, Any] = {"from": sender, "id": wamid, "timestamp": timestamp, "type": kind}
    if context is not None:
        item["context"] = dict(context)
    item[kind] = content
    return item


def media_content(
    kind: str,
    media_id: str,
    mime_type: str,
    sha256: str,
    *,
    caption: str | None = None,
    filename: str | None = None,
) -> dict[str, Any]:
    content: dict[str, Any] = {"mime_type": mime_type, "sha256": sha256, "id": media_id}
    if caption is not None:
        content["caption"] = caption
    if filename is not None:
        content["filename"] = filename
    if kind == "audio":
        content["voice"] = True
    if kind == "sticker":
        content["animated"] = False
    return content


def status(
    wamid: str,
    state: str,
    recipient_id: str,
    *,
    timestamp: str = "1739321030",
    message_id: str | None = None,
    errors: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A status object; `message_id` is echoed as biz_opaque_callback_data (sent,
    delivered, read); conversation and pricing as Meta includes them."""
    item: dict[str, Any] = {
        "id": wamid,
        "status": state,
        "timestamp": timestamp,
        "recipient_id": recipient_id,
    }
    if message_id is not None:
        item["biz_opaque_callback_data"] = message_id
    if state != "failed":
        item["conversation"] = {
            "id": "a34a10abd87c7badad4d1fc5bafadd71",
            "origin": {"type": "service"},
        }
        item["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "service"}
    if listed := [dict(e) for e in errors]:
        item["errors"] = listed
    return item


def status_error(code: int, details: str | None = None) -> dict[str, Any]:
    _, title, default = ERRORS.get(code, (400, "Error", "Error."))
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details or default},
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
    }


def signed(payload: Any, app_secret: bytes) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers of a webhook POST signed as Meta signs it."""
    body = orjson.dumps(payload)
    return body, {SIGNATURE_HEADER: sign(app_secret, body), "Content-Type": "application/json"}
