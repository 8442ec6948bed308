"""A small async client of the Confluent Schema Registry REST API, and the Confluent wire format.

The registry is where producers publish the Avro schema of each topic and consumers fetch the
schema a record was written with. Confluent Schema Registry, Karapace, Apicurio (through its
`ccompat` API, e.g. `https://host/apis/ccompat/v7`) and Redpanda all speak this API.

What the client does:

- registers, looks up and fetches Avro schemas and subject versions, checks and sets
  compatibility levels;
- keeps an in-memory cache (schema id -> schema, (subject, schema) -> id): schema ids are
  immutable, so the same schema is registered or fetched over HTTP once per client;
- turns every failure into one error of the acolhe hierarchy (`SchemaRegistryError` and its
  subclasses), each message carrying the HTTP status, the registry's error code and message.

Framed records (`frame_confluent`, `parse_confluent`) are: magic byte 0, the schema id as a
4-byte big-endian integer, then the Avro binary body.

Depends only on aiohttp and orjson (and acolhe's error hierarchy); no Kafka, no fastavro.
The password never appears in `repr`, in logs or in error messages.
"""

from __future__ import annotations

import base64
import logging
import struct
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import aiohttp
import orjson

from streams.shared.errors import (
    AcolheError,
    BadInput,
    InfrastructureError,
    RetriableInfrastructureError,
)

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
MAGIC_BYTE = 0
HEADER_SIZE = 5
MAX_SCHEMA_ID = 2**31 - 1  # the registry's ids are Java ints

CompatibilityLevel = Literal[
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
]

_NOT_FOUND_CODES = frozenset({40401, 40402, 40403})
_HEADER = struct.Struct(">BI")


# --- errors -------------------------------------------------------------------------------


class SchemaRegistryError(AcolheError):
    """Any failure talking to the schema registry; subclasses say which branch it belongs to."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: int | None = None,
        registry_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.registry_message = registry_message


class RegistryUnavailable(SchemaRegistryError, RetriableInfrastructureError):
    """The registry cannot be reached, timed out, or answered 5xx/429; trying later may work."""


class SchemaNotFound(SchemaRegistryError, BadInput):
    """No such subject (40401), version (40402) or schema (40403)."""


class IncompatibleSchema(SchemaRegistryError, BadInput):
    """The schema breaks the subject's compatibility level (409)."""


class InvalidSchema(SchemaRegistryError, BadInput):
    """The registry refused the request as unprocessable (422: 42201 invalid schema, ...)."""


class RegistryError(SchemaRegistryError, InfrastructureError):
    """Any other refusal (400, 401, 403, unexpected 404...): configuration, not the data."""


class FramingError(BadInput):
    """Bytes that are not a Confluent-framed record (too short, or wrong magic byte)."""


# --- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisteredSchema:
    subject: str
    id: int
    version: int
    schema: str


@dataclass(frozen=True)
class CompatibilityResult:
    is_compatible: bool
    messages: list[str]


# --- client -------------------------------------------------------------------------------


class SchemaRegistryClient:
    """An async client of one schema registry; use as `async with SchemaRegistryClient(url):`.

    A session passed in is borrowed and left open; otherwise the client opens its own on
    first use and closes it in `close()`. Credentials written in the URL
    (`https://user:pass@host`) are moved to basic auth unless `username` is given.
    """

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        base, url_user, url_password = _split_credentials(url)
        if username is None and url_user is not None:
            username, password = url_user, url_password
        self._url = base.rstrip("/")
        self._username = username
        # The header is built once and kept private: it encodes the password.
        self._authorization = (
            _basic_authorization(username, password or "") if username is not None else None
        )
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._timeout_s = timeout_s
        self._session = session
        self._owns_session = session is None
        self._schemas_by_id: dict[int, str] = {}
        self._ids_by_subject_schema: dict[tuple[str, str], int] = {}

    def __repr__(self) -> str:
        return (
            f"SchemaRegistryClient(url={self._url!r}, username={self._username!r}, "
            f"timeout_s={self._timeout_s!r})"
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    # --- subjects and schemas ---

    async def register(self, subject: str, schema_str: str) -> int:
        """Register `schema_str` under `subject` (idempotent) and return its global id."""
        cached = self._ids_by_subject_schema.get((subject, schema_str))
        if cached is not None:
            return cached
        body = await self._request(
            "POST", f"/subjects/{_q(subject)}/versions", json=_schema_body(schema_str)
        )
        schema_id = _int_field(body, "id")
        self._remember(subject, schema_str, schema_id)
        logger.debug("schema registered", extra={"subject": subject, "schema_id": schema_id})
        return schema_id

    async def lookup(self, subject: str, schema_str: str) -> RegisteredSchema:
        """Return the id and version `schema_str` has under `subject`; SchemaNotFound if none."""
        body = await self._request(
            "POST", f"/subjects/{_q(subject)}", json=_schema_body(schema_str)
        )
        found = _registered(body, subject)
        self._remember(subject, schema_str, found.id)
        return found

    async def get_schema(self, schema_id: int) -> str:
        """Return the schema with this global id (the id a framed record carries)."""
        cached = self._schemas_by_id.get(schema_id)
        if cached is not None:
            return cached
        body = await self._request("GET", f"/schemas/ids/{int(schema_id)}")
        schema = _str_field(body, "schema")
        self._schemas_by_id[schema_id] = schema
        return schema

    async def get_version(
        self, subject: str, version: int | Literal["latest"] = "latest"
    ) -> RegisteredSchema:
        body = await self._request("GET", f"/subjects/{_q(subject)}/versions/{_v(version)}")
        found = _registered(body, subject)
        self._schemas_by_id.setdefault(found.id, found.schema)
        return found

    async def list_versions(self, subject: str) -> list[int]:
        body = await self._request("GET", f"/subjects/{_q(subject)}/versions")
        if not isinstance(body, list) or not all(isinstance(v, int) for v in body):
            raise _unexpected("a list of versions", body)
        return list(body)

    # --- compatibility ---

    async def check_compatibility(
        self, subject: str, schema_str: str, version: int | Literal["latest"] = "latest"
    ) -> CompatibilityResult:
        """Ask whether `schema_str` may follow `version` of `subject` under its level."""
        body = await self._request(
            "POST",
            f"/compatibility/subjects/{_q(subject)}/versions/{_v(version)}",
            json=_schema_body(schema_str),
            params={"verbose": "true"},
        )
        if not isinstance(body, dict) or not isinstance(body.get("is_compatible"), bool):
            raise _unexpected("an is_compatible answer", body)
        messages = body.get("messages") or []
        return CompatibilityResult(body["is_compatible"], [str(m) for m in messages])

    async def set_compatibility(
        self, level: CompatibilityLevel, subject: str | None = None
    ) -> None:
        """Set the global compatibility level, or the level of one subject."""
        await self._request("PUT", _config_path(subject), json={"compatibility": level})

    async def get_compatibility(self, subject: str | None = None) -> CompatibilityLevel:
        """The global level, or the level in force for `subject` (its own, else the global)."""
        params = {"defaultToGlobal": "true"} if subject is not None else None
        body = await self._request("GET", _config_path(subject), params=params)
        if isinstance(body, dict):
            level = body.get("compatibilityLevel", body.get("compatibility"))
            if isinstance(level, str):
                return level  # type: ignore[return-value]  # the registry's closed set
        raise _unexpected("a compatibility level", body)

    # --- plumbing ---

    def _remember(self, subject: str, schema_str: str, schema_id: int) -> None:
        self._ids_by_subject_schema[(subject, schema_str)] = schema_id
        self._schemas_by_id.setdefault(schema_id, schema_str)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        data = orjson.dumps(json) if json is not None else None
        headers = {"Accept": CONTENT_TYPE}
        if self._authorization is not None:
            headers["Authorization"] = self._authorization
        if data is not None:
            headers["Content-Type"] = CONTENT_TYPE
        where = f"{method} {self._url}{path}"
        try:
            async with self._session.request(
                method,
                self._url + path,
                data=data,
                params=params,
                headers=headers,
                timeout=self._timeout,
            ) as response:
                status = response.status
                raw = await response.read()
        except TimeoutError as exc:
            raise RegistryUnavailable(
                f"schema registry did not answer {where} within {self._timeout_s}s; "
                "check that it is running and reachable (ACOLHE_SCHEMA_REGISTRY_URL)"
            ) from exc
        except aiohttp.ClientError as exc:
            raise RegistryUnavailable(
                f"schema registry unreachable for {where}: {exc.__class__.__name__}: {exc}; "
                "check that it is running and reachable (ACOLHE_SCHEMA_REGISTRY_URL)"
            ) from exc
        if 200 <= status < 300:
            try:
                return orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError as exc:
                raise RegistryError(
                    f"schema registry answered {where} with HTTP {status} but not JSON; "
                    "check that ACOLHE_SCHEMA_REGISTRY_URL points at the registry's API",
                    status=status,
                ) from exc
        raise _error_for(where, status, raw)


# --- wire format --------------------------------------------------------------------------


def frame_confluent(schema_id: int, body: bytes) -> bytes:
    """Prefix an Avro binary body with magic byte 0 and the 4-byte big-endian schema id."""
    if not 0 <= schema_id <= MAX_SCHEMA_ID:
        raise FramingError(f"schema id {schema_id} is outside 0..{MAX_SCHEMA_ID}")
    return _HEADER.pack(MAGIC_BYTE, schema_id) + body


def parse_confluent(data: bytes | bytearray | memoryview) -> tuple[int, memoryview]:
    """Split a framed record into (schema id, Avro body) without copying the body."""
    view = memoryview(data)
    if len(view) < HEADER_SIZE:
        raise FramingError(
            f"record is {len(view)} bytes; a Confluent-framed record has at least "
            f"{HEADER_SIZE} (magic byte 0 and a 4-byte schema id)"
        )
    magic, schema_id = _HEADER.unpack_from(view)
    if magic != MAGIC_BYTE:
        raise FramingError(
            f"magic byte is 0x{magic:02x}, expected 0x00: not a Confluent-framed Avro record"
        )
    return schema_id, view[HEADER_SIZE:]


# --- helpers ------------------------------------------------------------------------------


def _q(segment: str) -> str:
    return quote(segment, safe="")


def _v(version: int | str) -> str:
    return "latest" if version == "latest" else str(int(version))


def _config_path(subject: str | None) -> str:
    return "/config" if subject is None else f"/config/{_q(subject)}"


def _schema_body(schema_str: str) -> dict[str, Any]:
    return {"schema": schema_str, "schemaType": "AVRO"}


def _basic_authorization(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _split_credentials(url: str) -> tuple[str, str | None, str | None]:
    parts = urlsplit(url)
    if parts.username is None:
        return url, None, None
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    bare = urlunsplit(parts._replace(netloc=netloc))
    password = unquote(parts.password) if parts.password is not None else None
    return bare, unquote(parts.username), password


def _registered(body: Any, subject: str) -> RegisteredSchema:
    return RegisteredSchema(
        subject=str(body.get("subject", subject)) if isinstance(body, dict) else subject,
        id=_int_field(body, "id"),
        version=_int_field(body, "version"),
        schema=_str_field(body, "schema"),
    )


def _int_field(body: Any, name: str) -> int:
    value = body.get(name) if isinstance(body, dict) else None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _unexpected(f"an integer {name!r}", body)
    return value


def _str_field(body: Any, name: str) -> str:
    value = body.get(name) if isinstance(body, dict) else None
    if not isinstance(value, str):
        raise _unexpected(f"a string {name!r}", body)
    return value


def _unexpected(expected: str, body: Any) -> RegistryError:
    return RegistryError(
        f"schema registry answer lacks {expected}: {str(body)[:200]!r}; "
        "check that ACOLHE_SCHEMA_REGISTRY_URL points at a Confluent-compatible API"
    )


def _error_for(where: str, status: int, raw: bytes) -> SchemaRegistryError:
    code: int | None = None
    text = raw.decode("utf-8", "replace")[:500]
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        if isinstance(body.get("error_code"), int):
            code = body["error_code"]
        if isinstance(body.get("message"), str):
            text = body["message"]
    detail = f"{where}: HTTP {status}, error_code {code}: {text}"
    kind, lead, advice = _classify(status, code)
    message = f"{lead}, {detail}" + (f"; {advice}" if advice else "")
    return kind(message, status=status, error_code=code, registry_message=text)


_CREDENTIALS_ADVICE = (
    "check the ACOLHE_SCHEMA_REGISTRY credentials (username and password) "
    "and their permissions on the subject"
)
_BY_STATUS: dict[int, tuple[type[SchemaRegistryError], str, str]] = {
    409: (IncompatibleSchema, "incompatible schema", ""),
    422: (InvalidSchema, "schema registry refused the request as unprocessable", ""),
    401: (RegistryError, "schema registry denied access", _CREDENTIALS_ADVICE),
    403: (RegistryError, "schema registry denied access", _CREDENTIALS_ADVICE),
    404: (
        RegistryError,
        "schema registry has no such endpoint",
        "check ACOLHE_SCHEMA_REGISTRY_URL (for Apicurio it ends in /apis/ccompat/v7)",
    ),
}


def _classify(status: int, code: int | None) -> tuple[type[SchemaRegistryError], str, str]:
    """The error type for an HTTP failure, how its message opens, and what to do about it."""
    if status >= 500 or status == 429:
        return RegistryUnavailable, "schema registry failed", "retry later"
    if status == 404 and code in _NOT_FOUND_CODES:
        return SchemaNotFound, "not found in schema registry", ""
    return _BY_STATUS.get(status, (RegistryError, "schema registry refused the request", ""))
