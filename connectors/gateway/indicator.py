"""`POST /v1/cases/{case_id}/typing`: an agent typing (or stopping) in a case shows on the
visitor's web chat widget.

Typing is ephemeral: it decides nothing, so it is no command, no event, nothing in Kafka and
no Idempotency-Key; it travels by PostgreSQL NOTIFY on the web chat's channel
(connectors.webchat.notices), which every web chat replica LISTENs on. Steps of `show`,
after the gateway's own (authentication, rate limit, JSON body: connectors.gateway.app,
steps 1-3) and `typing_from_body` (400 with the problems), in order:
1. look the case up in the read model -> 404 `unknown_case`; its citizen blocked -> 403
   `citizen_blocked`;
2. the case must be held by the token's agent (as the processors require of a reply) ->
   403 `not_your_case`: an agent cannot make a colleague's case show typing;
3. the case's channel must be the web chat (WhatsApp and email show no typing from here)
   -> 422 `typing_not_shown` naming the channel;
4. the contact's latest web chat session -> 404 `no_web_chat_session`;
5. NOTIFY `{"session_id", "typing"}` (no person named) and answer 202.
Postgres failing in 1, 4 or 5 raises `RetriableInfrastructureError` (the gateway answers 503).

`typing_from_body` is pure; `TypingIndicator` is the shell.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from connectors.common.http import refusal
from connectors.gateway import refusals
from connectors.gateway.commands import Problem, json_object
from connectors.gateway.store import CaseDirectory, WebChatSessions
from connectors.webchat.mapping import CHANNEL as WEB_CHAT

PATH: Final = "/v1/cases/{case_id}/typing"


def typing_from_body(body: bytes) -> bool | tuple[Problem, ...]:
    """`active` of a body `{"active": true|false}`, or every problem with it."""
    problems: list[Problem] = []
    data = json_object(body, problems)
    if data is None:
        return tuple(problems)
    problems.extend(Problem(name, "unknown field") for name in data if name != "active")
    active = data.get("active")
    if "active" not in data:
        problems.append(Problem("active", "required: true or false"))
    elif not isinstance(active, bool):
        problems.append(Problem("active", "true or false"))
    if problems or not isinstance(active, bool):
        return tuple(problems)
    return active


class TypingIndicator:
    """Steps 1-5 of the module's docstring."""

    def __init__(self, cases: CaseDirectory, sessions: WebChatSessions) -> None:
        self._cases = cases
        self._sessions = sessions

    async def show(self, agent_id: str, case_id: str, active: bool) -> web.Response:
        case = await self._cases.find(case_id)
        if case is None:
            return refusals.unknown_case(case_id)
        if case.is_blocked:
            return refusals.citizen_blocked(case_id)
        if case.agent_id != agent_id:
            return refusal(
                403,
                "not_your_case",
                f"case {case_id} is not held by agent {agent_id}: only its holder's typing shows",
            )
        if case.channel != WEB_CHAT:
            return refusal(
                422,
                "typing_not_shown",
                f"case {case_id} is on channel {case.channel}, which shows no typing: "
                "only the web chat does",
            )
        session_id = await self._sessions.latest(case.contact_id)
        if session_id is None:
            return refusal(
                404,
                "no_web_chat_session",
                f"the contact of case {case_id} has no web chat session (left long ago, or "
                "never opened one): there is no widget to show typing on",
            )
        await self._sessions.show_typing(session_id, active)
        return web.json_response({"status": "sent", "active": active}, status=202)
