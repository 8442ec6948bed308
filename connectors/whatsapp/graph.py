"""The pure half of the Graph API client for WhatsApp Cloud API messages.

- `build_send_requests`: the JSON bodies to POST to /{version}/{phone_number_id}/messages
  for one MessageSent (a template; a text; media by WhatsApp media id, the text as the
  first caption when it fits). Every body carries `biz_opaque_callback_data` = our
  message id, which Meta echoes in the status webhooks, so statuses map back to it.
- `parse_send_response`: the wamid Meta assigned.
- uploads (a file the office sends that WhatsApp has no media id for yet, to POST
  /{version}/{phone_number_id}/media first): connectors.whatsapp.graph_upload.
- `classify_error`: what a Graph API error means for the outbound loop: retry later (rate
  limits, Meta's transient failures), refused for good (the message cannot be delivered
  as it is), or an operator must act (token, permissions, account standing). Meta asks
  clients to key on `error.code`, not on the HTTP status: the rate-limit codes come
  with HTTP 400.

No HTTP calls, no clock: the shell sends, waits and retries. Must not depend on
connectors.whatsapp.graph_upload (which imports it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final, Literal, TypeGuard

import orjson

from connectors.whatsapp._kinds import redact
from schemas.events import Attachment, MessageSent
from schemas.personal import Erased

MAX_TEXT: Final = 4096
MAX_CAPTION: Final = 1024
MAX_CALLBACK_DATA: Final = 512
PAIR_RATE_INTERVAL: Final = timedelta(seconds=6)
"""Meta: one message every 6 seconds to the same WhatsApp user (error 131056 beyond it)."""

_CAPTIONED: Final = frozenset({"image", "video", "document"})

ErrorAction = Literal["retry_later", "refused", "operator"]


@dataclass(frozen=True, slots=True)
class Unsendable:
    """The MessageSent cannot be turned into a WhatsApp request; `reason` says why."""

    reason: str


@dataclass(frozen=True, slots=True)
class SendAccepted:
    wamid: str
    wa_id: str | None
    message_status: str | None = None
    """For templates: accepted, held_for_quality_assessment or paused."""


class UnexpectedResponse(ValueError):
    """A 2xx answer without the documented `messages[0].id`."""


@dataclass(frozen=True, slots=True)
class GraphError:
    action: ErrorAction
    http_status: int
    code: int | None
    reason: str
    """What happened and, for the operator, what to do."""
    title: str | None = None
    details: str | None = None
    subcode: int | None = None
    fbtrace_id: str | None = None
    retry_after: timedelta | None = None
    """How long Meta says to wait, when it says; else the shell's own backoff applies."""


def messages_path(version: str, phone_number_id: str) -> str:
    return f"/{version}/{phone_number_id}/messages"


def media_path(version: str, media_id: str) -> str:
    return f"/{version}/{media_id}"


def media_upload_path(version: str, phone_number_id: str) -> str:
    return f"/{version}/{phone_number_id}/media"


def build_send_requests(
    message: MessageSent, media_ids: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], ...] | Unsendable:
    """The request bodies that deliver `message`, in order. `media_ids` maps an
    attachment_id to the WhatsApp media id the shell got by uploading the file (else the
    attachment's provider_media_id is used)."""
    to, text = message.contact_address, message.text
    if isinstance(to, Erased) or not to:
        return Unsendable("the contact's address is erased or empty")
    if len(message.message_id) > MAX_CALLBACK_DATA:
        return Unsendable(f"message_id is longer than {MAX_CALLBACK_DATA} characters")
    base: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    base |= {"to": to, "biz_opaque_callback_data": message.message_id}
    if message.template_name:
        return _template(message, base)
    bodies = _free_form(message, text, media_ids or {})
    if isinstance(bodies, Unsendable):
        return bodies
    if message.reply_to_provider_message_id:
        bodies[0]["context"] = {"message_id": message.reply_to_provider_message_id}
    return tuple(base | body for body in bodies)


def _free_form(
    message: MessageSent, text: str | Erased | None, media_ids: Mapping[str, str]
) -> list[dict[str, Any]] | Unsendable:
    """A text, then one request per attachment; the text rides as the first caption when
    the first file can carry one and the text fits WhatsApp's caption limit."""
    if isinstance(text, Erased):
        return Unsendable("the message text is erased")
    if text is not None and len(text) > MAX_TEXT:
        return Unsendable(f"the text has {len(text)} characters, above WhatsApp's {MAX_TEXT}")
    media = []
    for attachment in message.attachments:
        media_id = media_ids.get(attachment.attachment_id) or attachment.provider_media_id
        if not media_id:
            return Unsendable(f"attachment {attachment.attachment_id} has no WhatsApp media id")
        if isinstance(attachment.file_name, Erased) or isinstance(attachment.caption, Erased):
            return Unsendable(f"attachment {attachment.attachment_id} is erased")
        media.append(_media_body(attachment, media_id))
    bodies: list[dict[str, Any]] = []
    caption_fits = text is not None and len(text) <= MAX_CAPTION
    if media and caption_fits and media[0][0] in _CAPTIONED:
        media[0][1]["caption"] = text
    elif text:
        bodies.append({"type": "text", "text": {"preview_url": False, "body": text}})
    bodies += [{"type": kind, kind: body} for kind, body in media]
    if not bodies:
        return Unsendable("the message has neither text, attachments nor a template")
    return bodies


def _template(message: MessageSent, base: dict[str, Any]) -> tuple[dict[str, Any]] | Unsendable:
    if message.text is not None or message.attachments:
        return Unsendable("a template message carries no text or attachments of its own")
    if not message.template_language:
        return Unsendable("template_language is missing")
    template: dict[str, Any] = {
        "name": message.template_name,
        "language": {"code": message.template_language},
    }
    raw = message.template_parameters
    if isinstance(raw, Erased):
        return Unsendable("the template parameters are erased")
    if raw is not None:
        try:
            values = orjson.loads(raw)
        except orjson.JSONDecodeError:
            values = None
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            return Unsendable("template_parameters is not a JSON array of strings")
        if values:
            parameters = [{"type": "text", "text": v} for v in values]
            template["components"] = [{"type": "body", "parameters": parameters}]
    return (base | {"type": "template", "template": template},)


def _media_body(attachment: Attachment, media_id: str) -> tuple[str, dict[str, Any]]:
    """(WhatsApp type, its object): JPEG and PNG are images, WebP a sticker, audio/* and
    video/* what they say; anything else goes as a document, with its file name."""
    mime = attachment.media_type.split(";")[0].strip().lower()
    body: dict[str, Any] = {"id": media_id}
    if mime in ("image/jpeg", "image/png"):
        kind = "image"
    elif mime == "image/webp":
        kind = "sticker"
    elif mime.startswith("audio/"):
        kind = "audio"
    elif mime.startswith("video/"):
        kind = "video"
    else:
        kind = "document"
        if attachment.file_name:
            body["filename"] = attachment.file_name
    if attachment.caption and kind in _CAPTIONED:
        body["caption"] = attachment.caption
    return kind, body


def parse_send_response(body: object) -> SendAccepted:
    """The wamid (and the recipient's wa_id) from a 2xx answer to a send."""
    answer = body if isinstance(body, dict) else {}
    first = _first(answer.get("messages"))
    wamid = first.get("id")
    if not isinstance(wamid, str) or not wamid:
        raise UnexpectedResponse("the send response has no messages[0].id (wamid)")
    return SendAccepted(
        wamid=wamid,
        wa_id=_str(_first(answer.get("contacts")).get("wa_id")),
        message_status=_str(first.get("message_status")),
    )


def _first(items: object) -> Mapping[str, Any]:
    first = items[0] if isinstance(items, list) and items else None
    return first if isinstance(first, dict) else {}


_RETRY: Final[Mapping[int, str]] = {
    1: "Meta reported an unknown error (invalid request or a possible server error)",
    2: "the API is temporarily down or overloaded",
    4: "the app reached its Graph API call rate limit",
    80007: "the WhatsApp Business Account reached its rate limit",
    130429: "the phone number reached its message throughput",
    131000: "something went wrong at Meta while sending",
    131016: "the service is temporarily unavailable",
    131056: "too many messages to this citizen in a short time (pair rate limit)",
    131057: "the business account is in maintenance mode",
    133004: "the server is temporarily unavailable",
}
_REFUSED: Final[Mapping[int, str]] = {
    100: "a parameter of the request is invalid or unsupported",
    130472: "the citizen's number is part of a Meta experiment; the message was not sent",
    131008: "a required parameter is missing",
    131009: "a parameter value is not valid",
    131021: "the recipient is the sender itself",
    131026: "the message is undeliverable (not a WhatsApp number, an old app, or terms "
    "not accepted)",
    131030: "the recipient is not in the test number's allowed list",
    131047: "more than 24 hours since the citizen's last message: only an approved "
    "template may be sent",
    131049: "Meta chose not to deliver the message (ecosystem engagement)",
    131050: "the citizen stopped marketing messages from the office",
    131051: "the message type is not supported",
    131052: "the media could not be downloaded",
    131053: "the media could not be uploaded",
    135000: "a generic user error",
}
_OPERATOR: Final[Mapping[int, str]] = {
    0: "Meta could not authenticate the app: issue a new access token",
    3: "the app lacks the capability or permission: check its permissions",
    10: "permission denied: grant whatsapp_business_messaging to the app's system user",
    33: "the business phone number was deleted: check the configured phone_number_id",
    190: "the access token expired or is invalid: issue a new system-user token in Meta "
    "Business Settings and update the connector's setting",
    368: "the account is temporarily blocked for policy violations: see WhatsApp Manager",
    131005: "access denied: check the token's permissions",
    131031: "the business account is locked: see WhatsApp Manager",
    131042: "a payment problem on the business account: fix the payment method",
    131045: "the phone number's certificate is incorrect: register the number again",
    131048: "messages are limited for spam signals: check the number's quality rating",
    133010: "the business phone number is not registered with the Cloud API",
}


_TABLES: Final[tuple[tuple[ErrorAction, Mapping[int, str]], ...]] = (
    ("retry_later", _RETRY),
    ("refused", _REFUSED),
    ("operator", _OPERATOR),
)


def classify_error(
    http_status: int, body: object, headers: Mapping[str, str] | None = None
) -> GraphError:
    """What to do about a non-2xx Graph API answer (`body` is its parsed JSON, if any)."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code, subcode = _int(error.get("code")), _int(error.get("error_subcode"))
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else None
    title = error.get("message")
    action, reason = _decide(http_status, code, subcode)
    return GraphError(
        action=action,
        http_status=http_status,
        code=code,
        reason=reason,
        title=redact(title) if isinstance(title, str) else None,
        details=redact(details) if isinstance(details, str) else None,
        subcode=subcode,
        fbtrace_id=_str(error.get("fbtrace_id")),
        retry_after=_retry_after(code, headers or {}) if action == "retry_later" else None,
    )


def _decide(http_status: int, code: int | None, subcode: int | None) -> tuple[ErrorAction, str]:
    if code == 100 and subcode == 33:
        return "operator", (
            "the phone_number_id does not exist or the token cannot see it: check the "
            "configured phone_number_id and the token's WhatsApp Business Account"
        )
    for action, table in _TABLES:
        if code is not None and code in table:
            return action, table[code]
    if code is not None and 132000 <= code <= 132999:
        return "refused", "the template or its parameters were refused"
    if code is not None and 200 <= code <= 299:
        return "operator", "permission not granted or removed: check the app's permissions"
    return _by_http_status(http_status, code)


def _by_http_status(http_status: int, code: int | None) -> tuple[ErrorAction, str]:
    """For codes Meta does not document (or no JSON body at all, e.g. a proxy's 502)."""
    if http_status >= 500 or http_status == 429:
        return "retry_later", f"HTTP {http_status} from the Graph API"
    if http_status in (401, 403):
        return "operator", f"HTTP {http_status}: check the access token and its permissions"
    return "refused", f"the Graph API refused the request (HTTP {http_status}, code {code})"


def _retry_after(code: int | None, headers: Mapping[str, str]) -> timedelta | None:
    """The wait Meta states: a Retry-After header in seconds, the business use case
    header's estimated_time_to_regain_access (minutes), or the pair rate interval."""
    lower = {k.lower(): v for k, v in headers.items()}
    waits = []
    retry_after = lower.get("retry-after", "").strip()
    if retry_after.isdigit():
        waits.append(timedelta(seconds=int(retry_after)))
    waits += _regain_access(lower.get("x-business-use-case-usage"))
    if code == 131056:
        waits.append(PAIR_RATE_INTERVAL)
    return max(waits) if waits else None


def _regain_access(header: str | None) -> list[timedelta]:
    try:
        usage = orjson.loads(header) if header else None
    except orjson.JSONDecodeError:
        return []
    waits = []
    for entries in usage.values() if isinstance(usage, dict) else ():
        for entry in entries if isinstance(entries, list) else ():
            minutes = entry.get("estimated_time_to_regain_access") if isinstance(entry, dict) else 0
            if _is_number(minutes) and 0 < minutes < 24 * 60:
                waits.append(timedelta(minutes=minutes))
    return waits


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
