"""An in-memory stand-in for the Confluent Schema Registry, for tests only.

The schema registry is an outside service (the one the office may run: Confluent, Karapace,
Apicurio or Redpanda). This aiohttp application follows Confluent's documented REST API for the
endpoints acolhe uses, so the client can be tested on loopback without it:

- `POST /subjects/{subject}/versions`, `POST /subjects/{subject}`,
  `GET /subjects/{subject}/versions`, `GET /subjects/{subject}/versions/{version}`,
  `GET /schemas/ids/{id}`, `POST /compatibility/subjects/{subject}/versions/{version}`,
  `GET|PUT /config`, `GET|PUT /config/{subject}`.
- One global id per distinct schema (the same schema under two subjects has one id); versions
  per subject from 1; registering a schema the subject already has returns its id, no version.
- Errors as `{"error_code": n, "message": "..."}`: 40401 subject, 40402 version, 40403 schema
  not found, 40408 no subject-level config, 409 incompatible, 42201 invalid schema, 42202
  invalid version, 42203 invalid compatibility level, 401 when credentials are required.
- Compatibility levels NONE, BACKWARD (default), FORWARD, FULL and their _TRANSITIVE forms,
  decided by the Apache Avro reference implementation's reader/writer checker.

Only Avro is supported; schema references, deletion, modes and contexts are not. Every request
is recorded in `StandInRegistry.requests` so tests can count what reached the "server".
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

import avro.schema
import orjson
from aiohttp import web
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from fastavro import parse_schema

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
LEVELS: Final = frozenset(
    {
        "NONE",
        "BACKWARD",
        "BACKWARD_TRANSITIVE",
        "FORWARD",
        "FORWARD_TRANSITIVE",
        "FULL",
        "FULL_TRANSITIVE",
    }
)
MAX_VERSION = 2**31 - 1


@dataclass
class StandInRegistry:
    """The registry's whole state; `requests` lists (method, path) of every request received."""

    username: str | None = None
    password: str | None = None
    global_level: str = "BACKWARD"
    schemas: list[str] = field(default_factory=list)  # id - 1 -> canonical schema
    ids_by_schema: dict[str, int] = field(default_factory=dict)
    versions: dict[str, list[int]] = field(default_factory=dict)  # subject -> ids, version - 1
    subject_levels: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r == (method, path))

    def level_of(self, subject: str) -> str:
        return self.subject_levels.get(subject, self.global_level)


REGISTRY: Final = web.AppKey("registry", StandInRegistry)


class RegistryHTTPError(Exception):
    def __init__(self, status: int, error_code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.error_code, self.message = status, error_code, message


def _fail(status: int, error_code: int, message: str) -> RegistryHTTPError:
    return RegistryHTTPError(status, error_code, message)


def _reply(body: Any) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type=CONTENT_TYPE)


# --- compatibility (Avro reader/writer rules) ---------------------------------------------


def _reader_failures(reader: str, writer: str) -> list[str]:
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]  # avro: untyped
    result = checker.get_compatibility(avro.schema.parse(reader), avro.schema.parse(writer))
    if result.compatibility is not SchemaCompatibilityType.incompatible:
        return []
    kinds = ", ".join(sorted(k.name.upper() for k in result.incompatibilities))
    where = ", ".join(sorted(result.locations))
    what = "; ".join(sorted(result.messages))
    return [f"{kinds} at {where}: {what}"]


def incompatibilities(new: str, previous: list[tuple[int, str]], level: str) -> list[str]:
    """Why `new` may not follow `previous` (version, schema), oldest first, under `level`."""
    if level == "NONE" or not previous:
        return []
    against = list(reversed(previous)) if level.endswith("_TRANSITIVE") else previous[-1:]
    messages: list[str] = []
    for version, old in against:
        if level.startswith(("BACKWARD", "FULL")):
            messages += [
                f"{m} (the new schema cannot read data written with version {version}; {level})"
                for m in _reader_failures(reader=new, writer=old)
            ]
        if level.startswith(("FORWARD", "FULL")):
            messages += [
                f"{m} (version {version} cannot read data written with the new schema; {level})"
                for m in _reader_failures(reader=old, writer=new)
            ]
    return messages


# --- request helpers ----------------------------------------------------------------------


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        raise _fail(400, 400, f"Unexpected request body: {exc}") from exc
    if not isinstance(body, dict):
        raise _fail(400, 400, "Request body must be a JSON object")
    return body


async def _canonical_schema(request: web.Request) -> str:
    """The posted schema, whitespace-normalised, or 42201 if it is not a valid Avro schema."""
    body = await _json_body(request)
    schema_type = body.get("schemaType", "AVRO")
    if schema_type != "AVRO":
        raise _fail(422, 42201, f"Invalid schema type {schema_type}; this stand-in knows AVRO")
    text = body.get("schema")
    if not isinstance(text, str):
        raise _fail(422, 42201, "Invalid schema: the 'schema' field must be a string")
    try:
        parsed = orjson.loads(text)
        parse_schema(parsed)
        avro.schema.parse(text)
    except Exception as exc:
        raise _fail(422, 42201, f"Invalid schema {text}: {exc}") from exc
    return orjson.dumps(parsed).decode()


def _subject_ids(state: StandInRegistry, subject: str) -> list[int]:
    ids = state.versions.get(subject)
    if not ids:
        raise _fail(404, 40401, f"Subject '{subject}' not found.")
    return ids


def _version_index(raw: str, count: int) -> int | None:
    """0-based index of `raw` ("latest", -1 or 1..2^31-1), None if absent; 42202 if invalid."""
    if raw in ("latest", "-1"):
        return count - 1
    try:
        version = int(raw)
    except ValueError:
        version = 0
    if not 1 <= version <= MAX_VERSION:
        raise _fail(
            422,
            42202,
            f"The specified version '{raw}' is not a valid version id. Allowed values are "
            'between [1, 2^31-1] and the string "latest"',
        )
    return version - 1 if version <= count else None


def _version_body(state: StandInRegistry, subject: str, index: int) -> dict[str, Any]:
    schema_id = state.versions[subject][index]
    return {
        "subject": subject,
        "version": index + 1,
        "id": schema_id,
        "schema": state.schemas[schema_id - 1],
    }


# --- handlers -----------------------------------------------------------------------------


async def register(request: web.Request) -> web.Response:
    state = request.app[REGISTRY]
    subject = request.match_info["subject"]
    schema = await _canonical_schema(request)
    ids = state.versions.get(subject, [])
    existing = state.ids_by_schema.get(schema)
    if existing is not None and existing in ids:
        return _reply({"id": existing})
    previous = [(i + 1, state.schemas[sid - 1]) for i, sid in enumerate(ids)]
    problems = incompatibilities(schema, previous, state.level_of(subject))
    if problems:
        raise _fail(
            409,
            409,
            "Schema being registered is incompatible with an earlier schema for subject "
            f'"{subject}", details: [{"; ".join(problems)}]',
        )
    if existing is None:
        state.schemas.append(schema)
        existing = state.ids_by_schema[schema] = len(state.schemas)
    state.versions.setdefault(subject, []).append(existing)
    return _reply({"id": existing})


async def lookup(request: web.Request) -> web.Response:
    state = request.app[REGISTRY]
    subject = request.match_info["subject"]
    ids = _subject_ids(state, subject)
    schema = await _canonical_schema(request)
    schema_id = state.ids_by_schema.get(schema)
    if schema_id is None or schema_id not in ids:
        raise _fail(404, 40403, "Schema not found")
    return _reply(_version_body(state, subject, ids.index(schema_id)))


async def get_schema(request: web.Request) -> web.Response:
    state = request.app[REGISTRY]
    schema_id = int(request.match_info["id"])
    if not 1 <= schema_id <= len(state.schemas):
        raise _fail(404, 40403, f"Schema {schema_id} not found")
    return _reply({"schema": state.schemas[schema_id - 1]})


async def list_versions(request: web.Request) -> web.Response:
    state = request.app[REGISTRY]
    ids = _subject_ids(state, request.match_info["subject"])
    return _reply(list(range(1, len(ids) + 1)))


async def get_version(request: web.Request) -> web.Response:
    state = request.app[REGISTRY]
    subject = request.match_info["subject"]
    ids = _subject_ids(state, subject)
    index = _version_index(request.match_info["version"], len(ids))
    if index is None:
        raise _fail(404, 40402, f"Version {request.match_info['version']} not found.")
    return _reply(_version_body(state, subject, index))


async def check_compatibility(request: web.Request) -> web.Response:
    state = request.app[REGISTRY]
    subject = request.match_info["subject"]
    ids = _subject_ids(state, subject)
    index = _version_index(request.match_info["version"], len(ids))
    if index is None:
        raise _fail(404, 40402, f"Version {request.match_info['version']} not found.")
    schema = await _canonical_schema(request)
    old = state.schemas[ids[index] - 1]
    # Against one named version, so the transitive forms reduce to their direction.
    level = state.level_of(subject).removesuffix("_TRANSITIVE")
    problems = incompatibilities(schema, [(index + 1, old)], level)
    body: dict[str, Any] = {"is_compatible": not problems}
    if request.query.get("verbose") == "true":
        body["messages"] = problems
    return _reply(body)


async def get_config(request: web.Request) -> web.Response:
    state = request.app[REGISTRY]
    subject = request.match_info.get("subject")
    if subject is None:
        return _reply({"compatibilityLevel": state.global_level})
    level = state.subject_levels.get(subject)
    if level is None and request.query.get("defaultToGlobal") == "true":
        level = state.global_level
    if level is None:
        raise _fail(
            404, 40408, f"Subject '{subject}' does not have subject-level compatibility configured"
        )
    return _reply({"compatibilityLevel": level})


async def put_config(request: web.Request) -> web.Response:
    state = request.app[REGISTRY]
    level = (await _json_body(request)).get("compatibility")
    if not isinstance(level, str) or level.upper() not in LEVELS:
        raise _fail(
            422,
            42203,
            f"Invalid compatibility level {level!r}. Valid values are {', '.join(sorted(LEVELS))}",
        )
    level = level.upper()
    subject = request.match_info.get("subject")
    if subject is None:
        state.global_level = level
    else:
        state.subject_levels[subject] = level
    return _reply({"compatibility": level})


# --- application --------------------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _record_and_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[REGISTRY]
    state.requests.append((request.method, request.path))
    try:
        if state.username is not None and not _is_authorised(request, state):
            raise _fail(401, 401, "Unauthorized")
        return await handler(request)
    except RegistryHTTPError as exc:
        return web.Response(
            status=exc.status,
            body=orjson.dumps({"error_code": exc.error_code, "message": exc.message}),
            content_type=CONTENT_TYPE,
        )


def _is_authorised(request: web.Request, state: StandInRegistry) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(token, validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return False
    return decoded == f"{state.username}:{state.password or ''}"


def create_app(state: StandInRegistry | None = None) -> web.Application:
    app = web.Application(middlewares=[_record_and_guard])
    app[REGISTRY] = state or StandInRegistry()
    subject = "/subjects/{subject}"
    app.router.add_post(f"{subject}/versions", register)
    app.router.add_get(f"{subject}/versions", list_versions)
    app.router.add_get(f"{subject}/versions/{{version}}", get_version)
    app.router.add_post(subject, lookup)
    app.router.add_get(r"/schemas/ids/{id:\d+}", get_schema)
    app.router.add_post("/compatibility/subjects/{subject}/versions/{version}", check_compatibility)
    for path in ("/config", "/config/{subject}"):
        app.router.add_get(path, get_config)
        app.router.add_put(path, put_config)
    return app


async def start_registry(
    *, username: str | None = None, password: str | None = None
) -> tuple[str, web.AppRunner]:
    """Serve a fresh registry on 127.0.0.1 (ephemeral port); return its URL and the runner.

    The caller calls `await runner.cleanup()`; `runner.app[REGISTRY]` is the state.
    """
    runner = web.AppRunner(create_app(StandInRegistry(username=username, password=password)))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return f"http://{host}:{port}", runner


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
