"""The Graph API over HTTP (aiohttp): send WhatsApp messages, upload the office's files,
read media metadata, download media with a byte limit enforced while streaming.

Every failure comes out as `GraphCallFailed` carrying the `GraphError` that
`graph.classify_error` made of Meta's answer (retry later, refused, or an operator must
act); a network failure or a timeout is a `retry_later` with HTTP status 0. A download
above the limit raises `MediaTooLarge` before more than `limit` bytes are held.

The access token goes in the Authorization header only, never in a URL or a log line.
Holds no rule of its own: the callers decide what an error means for a message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
import orjson

from connectors.common.media import MediaTooLarge
from connectors.whatsapp.graph import (
    GraphError,
    SendAccepted,
    UnexpectedResponse,
    classify_error,
    media_path,
    media_upload_path,
    messages_path,
    parse_send_response,
)
from connectors.whatsapp.graph_upload import UploadForm, parse_upload_response
from streams.shared.settings import Secret

log = logging.getLogger(__name__)
MAX_ANSWER_BYTES: Final = 1024 * 1024
"""A JSON answer from the Graph API is a few hundred bytes; anything near this is not one."""
_CHUNK: Final = 64 * 1024


class GraphCallFailed(Exception):
    """A Graph API call that did not succeed; `error.action` says what to do about it."""

    def __init__(self, error: GraphError) -> None:
        super().__init__(error.reason)
        self.error = error


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """GET /{version}/{media-id}: where to download a file (the URL lives 5 minutes)."""

    media_id: str
    url: str
    mime_type: str | None
    sha256: str | None
    file_size: int | None


def unreachable(what: str, exc: BaseException) -> GraphCallFailed:
    return GraphCallFailed(
        GraphError(
            action="retry_later",
            http_status=0,
            code=None,
            reason=f"the Graph API could not be reached ({what}): {type(exc).__name__}",
        )
    )


class GraphClient:
    """One connection pool to the Graph API, used by the webhook (media) and the outbound
    loop (sends). `start` before use, `close` at the end."""

    def __init__(
        self,
        base_url: str,
        version: str,
        access_token: Secret,
        *,
        timeout_s: float = 30.0,
        connections: int = 64,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.version = version
        self._token = access_token
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(10.0, timeout_s))
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=self._connections),
                raise_for_status=False,
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("GraphClient.start() was not awaited")
        return self._session

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token.reveal()}"}

    async def send(self, phone_number_id: str, body: dict[str, Any]) -> SendAccepted:
        """POST one message; its wamid, or `GraphCallFailed`."""
        url = self.base_url + messages_path(self.version, phone_number_id)
        answer = await self._call("POST", url, "send", data=orjson.dumps(body))
        try:
            return parse_send_response(answer)
        except UnexpectedResponse as exc:
            # Meta answered 2xx: the message may have gone; retrying risks a duplicate, which
            # is better than a loss.
            raise GraphCallFailed(
                GraphError(action="retry_later", http_status=200, code=None, reason=str(exc))
            ) from exc

    async def upload(self, phone_number_id: str, form: UploadForm) -> str:
        """POST one file as multipart/form-data; its WhatsApp media id, or `GraphCallFailed`
        (an answer without an id is retried: nothing reached the citizen)."""
        url = self.base_url + media_upload_path(self.version, phone_number_id)
        data = aiohttp.FormData(quote_fields=True)
        for name, value in form.fields:
            data.add_field(name, value)
        data.add_field("file", form.content, filename=form.file_name, content_type=form.media_type)
        answer = await self._call("POST", url, "upload", data=data)
        try:
            return parse_upload_response(answer)
        except UnexpectedResponse as exc:
            raise GraphCallFailed(
                GraphError(action="retry_later", http_status=200, code=None, reason=str(exc))
            ) from exc

    async def media_info(self, media_id: str) -> MediaInfo:
        url = self.base_url + media_path(self.version, media_id)
        answer = await self._call("GET", url, "media metadata")
        found = answer if isinstance(answer, dict) else {}
        link = found.get("url")
        if not isinstance(link, str) or not link.startswith(("https://", "http://")):
            raise GraphCallFailed(
                GraphError(
                    action="retry_later",
                    http_status=200,
                    code=None,
                    reason="the media metadata has no download url",
                )
            )
        size = found.get("file_size")
        return MediaInfo(
            media_id=media_id,
            url=link,
            mime_type=_text(found.get("mime_type")),
            sha256=_text(found.get("sha256")),
            file_size=_size(size),
        )

    async def download(self, url: str, *, limit: int) -> bytes:
        """The file at `url` (with the bearer token, as Meta requires), at most `limit`
        bytes: a declared or streamed size above it raises `MediaTooLarge`."""
        try:
            async with self.session.get(url, headers=self._headers()) as response:
                if response.status >= 300:
                    raise GraphCallFailed(
                        classify_error(response.status, await _json(response), response.headers)
                    )
                declared = response.content_length
                if declared is not None and declared > limit:
                    raise MediaTooLarge(f"file of {declared} bytes is above the {limit}-byte limit")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.content.iter_chunked(_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise MediaTooLarge(f"file is above the {limit}-byte limit")
                    chunks.append(chunk)
                return b"".join(chunks)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise unreachable("media download", exc) from exc

    async def fetch_media(self, media_id: str, *, limit: int) -> tuple[MediaInfo, bytes]:
        """Metadata, then the file; a declared size above `limit` is refused unread."""
        info = await self.media_info(media_id)
        if info.file_size is not None and info.file_size > limit:
            raise MediaTooLarge(f"file of {info.file_size} bytes is above the {limit}-byte limit")
        return info, await self.download(info.url, limit=limit)

    async def _call(
        self, method: str, url: str, what: str, *, data: bytes | aiohttp.FormData | None = None
    ) -> Any:
        headers = self._headers()
        if isinstance(data, bytes):  # a FormData sets its own multipart boundary
            headers["Content-Type"] = "application/json"
        try:
            async with self.session.request(method, url, data=data, headers=headers) as response:
                answer = await _json(response)
                if response.status >= 300:
                    raise GraphCallFailed(classify_error(response.status, answer, response.headers))
                return answer
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise unreachable(what, exc) from exc


async def _json(response: aiohttp.ClientResponse) -> Any:
    """The answer's JSON, or None when it has none (a proxy's HTML error page)."""
    if response.content_length is not None and response.content_length > MAX_ANSWER_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            return None
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _size(value: object) -> int | None:
    """Meta sends file_size as a number in some versions and as digits in text in others."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 16:
        return int(value)
    return None
