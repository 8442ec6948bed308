"""The agents' gateway's HTTP API (aiohttp): an agent's authenticated request becomes a
command event, durable in Kafka before the answer.

Routes (docs/connectors.md, "Agents' gateway"): POST /v1/cases/{case_id}/reply, /transfer,
/hold, /resume, /close, /claim; PUT /v1/agents/me/presence, /v1/agents/me/capacity; and POST
/v1/cases/{case_id}/typing, which is no command: steps 1-3, then connectors.gateway.indicator;
and POST /v1/cases/{case_id}/files, an agent's file for a reply: steps 1-2, then
connectors.gateway.uploads.

A request's steps, in order (each refusal in the connectors' JSON shape, connectors.common.http):
1. authenticate the bearer token (connectors.gateway.auth) -> 401 with WWW-Authenticate;
2. take one from the agent's rate-limit bucket -> 429 with Retry-After;
3. a Content-Type other than JSON -> 415; read the body, at most 64 KiB -> 413;
4. shape it for the pure layer: the path's case_id goes in (a body naming another -> a
   problem), and for reply and transfer `subject_id` is the gateway's to fill (a body
   naming one -> a problem); then `commands.command_from_request` -> 400 with every problem;
5. reply and transfer: look the case up in the read model -> 404 unknown, 403 when its
   citizen is blocked (connectors.gateway.refusals), 409 when the body's contact is not
   the case's; its citizen becomes the command's subject_id, whose
   data key seals the personal fields (a reply's text or template parameters, a
   transfer's note) when step 7 publishes;
6. remember the Idempotency-Key with the request's fingerprint -> 422 when the key was used
   for another request; a retry of an accepted request -> 202 as before, nothing published;
7. publish with Inbound.accept (acks=all), bounded by the publish timeout -> 503 with
   Retry-After when Kafka (or Postgres) cannot take it; 410 when the citizen was erased;
8. note the key as accepted (best effort: a retry would publish the same event id again,
   which the processors drop), then 202 with the command's event id.
A processor may still refuse the command later: CommandRefused on acolhe.commands names
this event id. Steps 4-5 decide nothing about the case itself: the processors do.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Final, TypeVar

import asyncpg
import orjson
from aiohttp import web
from aiokafka.errors import KafkaError

from connectors.common.http import (
    ACCEPT_SECONDS,
    base_app,
    read_body,
    refusal,
    requests_counter,
    too_many,
)
from connectors.common.inbound import Inbound
from connectors.common.media import storage_ref
from connectors.gateway import refusals as case_refusals
from connectors.gateway.auth import AgentClaims, AuthRefused, authenticate
from connectors.gateway.commands import (
    MAX_BODY_BYTES,
    Action,
    GatewayCommand,
    InvalidRequest,
    Problem,
    command_from_request,
    fingerprint,
    normalized_idempotency_key,
)
from connectors.gateway.config import GatewaySettings
from connectors.gateway.indicator import PATH as TYPING_PATH
from connectors.gateway.indicator import TypingIndicator, typing_from_body
from connectors.gateway.store import CaseDirectory, IdempotencyKeys, KeyState
from connectors.gateway.uploads import PATH as FILES_PATH
from connectors.gateway.uploads import FileIntake
from connectors.webchat.limits import RateLimited, RateLimiter
from schemas.events import SendReply, TransferCase
from streams.cases.commands import reply_message_id
from streams.shared.errors import RetriableInfrastructureError
from streams.shared.keystore import SubjectErased

log = logging.getLogger(__name__)
CONNECTOR: Final = "gateway"
REALM: Final = 'Bearer realm="acolhe-gateway"'
UNRESOLVED: Final = "unresolved"
"""The subject_id the pure layer sees for reply and transfer, replaced in step 5."""
RETRY_AFTER_S: Final = 5
_T = TypeVar("_T")
ROUTES: Final[tuple[tuple[str, str, Action], ...]] = (
    ("POST", "/v1/cases/{case_id}/reply", "reply"),
    ("POST", "/v1/cases/{case_id}/transfer", "transfer"),
    ("POST", "/v1/cases/{case_id}/hold", "hold"),
    ("POST", "/v1/cases/{case_id}/resume", "resume"),
    ("POST", "/v1/cases/{case_id}/close", "close"),
    ("POST", "/v1/cases/{case_id}/claim", "claim"),
    ("PUT", "/v1/agents/me/presence", "presence"),
    ("PUT", "/v1/agents/me/capacity", "capacity"),
)
_LOOKED_UP: Final = frozenset({"reply", "transfer"})
_AUTH_CODES: Final = {
    "missing": "missing_token",
    "not_bearer": "not_bearer",
    "malformed": "malformed_token",
    "bad_signature": "bad_signature",
    "not_yet_valid": "token_not_yet_valid",
    "expired": "token_expired",
}
_HTTP_CODES: Final = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


class Unavailable(Exception):
    """Kafka or Postgres could not take the command now (503)."""


@dataclass
class Gateway:
    """What the handlers need; the service builds it, tests too."""

    settings: GatewaySettings
    inbound: Inbound
    keys: IdempotencyKeys
    cases: CaseDirectory
    limiter: RateLimiter
    indicator: TypingIndicator
    files: FileIntake
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    monotonic: Callable[[], float] = time.monotonic

    async def command(self, request: web.Request, action: Action) -> web.Response:
        """Steps 1-8 of the module docstring."""
        arrived = time.perf_counter()
        now = self.clock()
        claims = self.admit(request, now)
        if isinstance(claims, web.Response):
            return claims
        body = await read_body(request, MAX_BODY_BYTES)
        if isinstance(body, web.Response):
            return body
        shaped, extra = shape_body(action, body, request.match_info.get("case_id"))
        header = request.headers.get("Idempotency-Key")
        outcome = command_from_request(
            action, shaped, agent=claims, idempotency_key=header, received_at=now
        )
        problems = (outcome.problems if isinstance(outcome, InvalidRequest) else ()) + extra
        if problems:
            return _invalid(problems)
        assert not isinstance(outcome, InvalidRequest)
        try:
            answer = await self._accept(outcome, normalized_idempotency_key(header), now)
        except Unavailable as exc:
            return refusal(
                503, "unavailable", str(exc), headers={"Retry-After": str(RETRY_AFTER_S)}
            )
        if answer.status == 202:
            ACCEPT_SECONDS.labels(CONNECTOR).observe(time.perf_counter() - arrived)
        return answer

    async def typing(self, request: web.Request) -> web.Response:
        """Steps 1-3, the body `{"active": bool}` (400), then connectors.gateway.indicator."""
        claims = self.admit(request, self.clock())
        if isinstance(claims, web.Response):
            return claims
        body = await read_body(request, MAX_BODY_BYTES)
        if isinstance(body, web.Response):
            return body
        active = typing_from_body(body)
        if not isinstance(active, bool):
            return _invalid(active)
        case_id = request.match_info["case_id"]
        try:
            return await self.indicator.show(claims.agent_id, case_id, active)
        except RetriableInfrastructureError as exc:
            return refusal(
                503,
                "unavailable",
                f"{exc}; nothing was shown: retry",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )

    async def file(self, request: web.Request) -> web.Response:
        """Steps 1-2, then connectors.gateway.uploads (the body is the file, of any type)."""
        claims = self.admit(request, self.clock(), json=False)
        if isinstance(claims, web.Response):
            return claims
        try:
            taken = await self.files.take(request)
        except RetriableInfrastructureError as exc:
            return refusal(
                503,
                "unavailable",
                f"{exc}; nothing was stored: retry",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        return _invalid(taken) if isinstance(taken, tuple) else taken

    def admit(
        self, request: web.Request, now: datetime, *, json: bool = True
    ) -> AgentClaims | web.Response:
        """Steps 1-3 up to the body: who asks, within their rate, in JSON (unless not)."""
        claims = authenticate(
            request.headers.get("Authorization"), keys=self.settings.token_keys, now=now
        )
        if isinstance(claims, AuthRefused):
            return _unauthorized(claims)
        limited = self.limiter.take(claims.agent_id, self.monotonic())
        if isinstance(limited, RateLimited):
            per_minute = round(self.settings.rate_per_s * 60)
            return too_many(
                f"agent {claims.agent_id} sent more than {self.settings.burst} commands at once "
                f"or {per_minute} a minute: wait Retry-After seconds",
                limited.retry_after,
            )
        if (
            json
            and "Content-Type" in request.headers
            and request.content_type != "application/json"
        ):
            return refusal(
                415, "unsupported_media_type", f"send application/json, not {request.content_type}"
            )
        return claims

    async def _accept(self, command: GatewayCommand, key: str, now: datetime) -> web.Response:
        """Steps 5-8."""
        asked = fingerprint(command)  # before step 5: what the client sent, no more
        if isinstance(command, SendReply | TransferCase):
            found = await self._with_subject(command)
            if isinstance(found, web.Response):
                return found
            command = found
        use = await _available(
            self.keys.remember(
                agent_id=command.agent_id,
                key=key,
                command=command.NAME,
                fingerprint=asked,
                event_id=command.event_id,
                correlation_id=command.correlation_id,
                now=now,
            )
        )
        if use.state is KeyState.CONFLICT:
            return refusal(
                422,
                "idempotency_key_reused",
                f"this Idempotency-Key was used at {use.first_seen_at.isoformat()} for another "
                f"request ({use.command}); send a fresh key with each new request",
            )
        if use.state is KeyState.ACCEPTED:
            return _accepted(command, use.correlation_id, replayed=True)
        command = replace(command, correlation_id=use.correlation_id)
        try:
            await asyncio.wait_for(self.inbound.accept([command]), self.settings.publish_timeout_s)
        except SubjectErased:
            return refusal(
                410,
                "citizen_erased",
                f"the citizen of case {getattr(command, 'case_id', '')} was erased; "
                "nothing new may be sent for them",
            )
        except (KafkaError, TimeoutError, OSError, asyncpg.PostgresError) as exc:
            log.warning(
                "command not accepted: Kafka did not acknowledge it",
                extra={"event_id": command.event_id, "command": command.NAME, "error": repr(exc)},
            )
            raise Unavailable(
                f"Kafka did not acknowledge the command within {self.settings.publish_timeout_s:g}"
                " s; nothing is lost: retry with the same Idempotency-Key"
            ) from exc
        try:
            await self.keys.mark_accepted(agent_id=command.agent_id, key=key, now=self.clock())
        except RetriableInfrastructureError:
            log.warning("could not note the command as accepted", exc_info=True)
        log.info(
            "command accepted",
            extra={
                "event_id": command.event_id,
                "command": command.NAME,
                "agent_id": command.agent_id,
            },
        )
        return _accepted(command, use.correlation_id, replayed=False)

    async def _with_subject(
        self, command: SendReply | TransferCase
    ) -> SendReply | TransferCase | web.Response:
        """Step 5: the command sealed under its case's citizen, or why not."""
        case = await _available(self.cases.find(command.case_id))
        if case is None:
            return case_refusals.unknown_case(command.case_id)
        if case.is_blocked:
            return case_refusals.citizen_blocked(command.case_id)
        if case.contact_id != command.contact_id:
            return refusal(
                409,
                "contact_mismatch",
                f"case {command.case_id} is contact {case.contact_id}'s, "
                f"not {command.contact_id}'s",
            )
        if isinstance(command, SendReply):
            foreign = tuple(
                Problem(
                    f"attachments[{n}].storage_ref",
                    "not a file uploaded for this case's citizen: upload it to this case first",
                )
                for n, a in enumerate(command.attachments)
                if a.storage_ref != storage_ref(case.citizen_id, a.sha256)
            )
            if foreign:
                return _invalid(foreign)
        return replace(command, subject_id=case.citizen_id)


async def _available(pending: Awaitable[_T]) -> _T:
    try:
        return await pending
    except RetriableInfrastructureError as exc:
        raise Unavailable(f"{exc}; nothing was accepted: retry later") from exc


def shape_body(action: str, body: bytes, case_id: str | None) -> tuple[bytes, tuple[Problem, ...]]:
    """Step 4: the body with the path's case_id and the placeholder subject_id put in, and
    the problems of a body that names them itself. A body that is not a JSON object goes
    through as it is: the pure layer says what is wrong with it."""
    if case_id is None and action not in _LOOKED_UP:
        return body, ()
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body, ()
    if not isinstance(data, dict):
        return body, ()
    problems: list[Problem] = []
    if case_id is not None:
        if data.get("case_id") not in (None, case_id):
            problems.append(Problem("case_id", "not the path's case: leave case_id out"))
        data["case_id"] = case_id
    if action in _LOOKED_UP:
        if "subject_id" in data:
            problems.append(
                Problem("subject_id", "the gateway looks up the case's citizen: remove subject_id")
            )
        data["subject_id"] = UNRESOLVED
    return orjson.dumps(data), tuple(problems)


def _accepted(command: GatewayCommand, correlation_id: str, *, replayed: bool) -> web.Response:
    answer = {
        "status": "accepted",
        "command": command.NAME,
        "event_id": command.event_id,
        "correlation_id": correlation_id,
    }
    if isinstance(command, SendReply):
        answer["message_id"] = reply_message_id(command.event_id)
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return web.json_response(answer, status=202, headers=headers)


def _unauthorized(refused: AuthRefused) -> web.Response:
    challenge = REALM
    if refused.reason != "missing":  # RFC 6750 s3: no error code when no token was sent
        challenge += f', error="invalid_token", error_description="{refused.detail}"'
    return refusal(
        401, _AUTH_CODES[refused.reason], refused.detail, headers={"WWW-Authenticate": challenge}
    )


def _invalid(problems: tuple[Problem, ...]) -> web.Response:
    error = {
        "code": "invalid_request",
        "reason": "; ".join(f"{p.field}: {p.reason}" for p in problems),
        "problems": [{"field": p.field, "reason": p.reason} for p in problems],
    }
    return web.json_response({"error": error}, status=400)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def refusals(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own errors (unknown route, wrong method) and unexpected failures in the
    connectors' JSON shape; every answer counted."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        code = _HTTP_CODES.get(exc.status, "http_error")
        response = refusal(exc.status, code, exc.reason, headers=allow)
    except Exception:
        log.exception("request failed", extra={"path": request.path})
        response = refusal(
            500,
            "internal",
            "the gateway failed; retry with the same Idempotency-Key (an accepted command is "
            "never recorded twice)",
        )
    route = request.match_info.route.resource
    name = route.canonical if route is not None else "unmatched"
    requests_counter(CONNECTOR, name, response.status).inc()
    return response


def make_app(gateway: Gateway) -> web.Application:
    # read_body bounds each route's body itself (a declared length before a byte is read)
    app = base_app(client_max_size=max(MAX_BODY_BYTES, gateway.settings.max_file_bytes))
    app.middlewares.append(refusals)
    for method, path, action in ROUTES:
        app.router.add_route(method, path, _handler(gateway, action))
    app.router.add_post(TYPING_PATH, gateway.typing)
    app.router.add_post(FILES_PATH, gateway.file)
    return app


def _handler(gateway: Gateway, action: Action) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        return await gateway.command(request, action)

    return handle
