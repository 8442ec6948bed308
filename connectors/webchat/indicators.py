"""A visitor typing in the web chat, told to the agent who holds the visitor's open case:
the agent's app hears it on its live-updates channel (streams.projections.live) as a
`typing` change, beside the read model's own changes.

Typing is ephemeral: it decides nothing, so it is no event and goes nowhere near Kafka.
`tell` runs one statement against the read model (the widget's frames are rate-limited per
visitor, so one round trip per frame bounds what a visitor costs the database). In it:
1. the contact's latest case not closed (`cases_contact_idx`);
2. only if an agent holds it: NOTIFY that agent's channel in the read model's schema
   (`live_channel`, the same name as `streams.projections.live.channel`), with the payload
   `{"change": "typing", "schema", "case_id", "active"}` that `live.parse` reads. NOTIFY is
   not access-controlled: the payload holds the case id and a boolean, nothing personal;
3. no such case, nobody holds it, or its citizen is blocked (agents see nothing of their
   cases: docs/privacy.md, "Blocking"; `is_citizen_blocked`, migration 0005): nothing is
   sent.
The NOTIFY is sent when the statement's implicit transaction commits, at once.

A database failure is logged and swallowed: a lost typing indicator harms nobody, and the
visitor's socket must not close for it. Must not depend on aiohttp or Kafka.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import asyncpg

from streams.projections.sqltext import render

log = logging.getLogger(__name__)
_TELL: Final = """
SELECT c.case_id,
       pg_notify(
           {schema}.live_channel($2::text, 'agent', c.agent_id),
           json_build_object(
               'change', 'typing', 'schema', $2::text, 'case_id', c.case_id,
               'active', $3::boolean
           )::text
       )
  FROM (SELECT case_id, agent_id, citizen_id
          FROM {schema}.cases
         WHERE contact_id = $1::text AND status <> 'closed'
         ORDER BY opened_at DESC
         LIMIT 1) AS c
 WHERE c.agent_id IS NOT NULL
   AND NOT {schema}.is_citizen_blocked(c.citizen_id)
"""
_ERRORS: Final = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


class AgentTyping:
    """Tells the agent holding a contact's open case that the visitor types (steps above)."""

    def __init__(self, pool: Any, *, read_model_schema: str) -> None:
        self._pool = pool
        self._schema = read_model_schema
        self._sql = render(_TELL, read_model_schema)

    async def tell(self, contact_id: str, active: bool) -> str | None:
        """The case whose agent was told, or None (no open case held by an agent, or the
        database failed: logged)."""
        try:
            case_id: str | None = await self._pool.fetchval(
                self._sql, contact_id, self._schema, active
            )
        except _ERRORS:
            log.warning("web chat: could not tell the agent the visitor is typing", exc_info=True)
            return None
        return case_id
