"""The queries an agent app runs on the read model, as named constants.

Each is SQL with `{schema}` where the read model's schema goes (`Query.render(schema)`) and
positional parameters `$1, $2...` typed in the SQL, so asyncpg needs no hints. The same
constants are shown in docs/read-model.md (its "Queries" section is `markdown()`, printed
by `python -m streams.projections.queries`) and run by tests/integration/test_migrations.py
against a freshly migrated schema: the page, the code and the schema cannot drift apart.

Each query is shaped for an index of 0001_read_model.sql (named in its `uses`).

An agent app runs them as a member of `acolhe_agent_app`, under row-level security
(0003_access.sql): each transaction first names its agent with `SET_AGENT`, and then sees
only what that agent may see (the same query returns less for an agent of another team).
Pure data: no Postgres, no I/O.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Final

from streams.projections.sqltext import render


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    sql_type: str
    doc: str
    example: object


@dataclass(frozen=True, slots=True)
class Query:
    name: str
    title: str
    question: str
    sql: str
    params: tuple[Param, ...]
    uses: str

    def render(self, schema: str) -> str:
        return render(self.sql, schema)

    @property
    def example_args(self) -> tuple[object, ...]:
        return tuple(p.example for p in self.params)


def _sql(text: str) -> str:
    return textwrap.dedent(text).strip()


SET_AGENT: Final = "SELECT set_config('acolhe.agent_id', $1::text, true)"
"""The first statement of every transaction of an agent app: names the agent whose access
applies until the transaction ends (`true`: transaction-local, so a pooled connection
carries nothing over). Without it the app sees no rows."""

AGENT = Param("agent_id", "text", "the agent using the app", "agent-1")
QUEUES = Param(
    "queue_ids", "text[]", "the queues the agent serves", ["familia-capital", "saude-urgente"]
)

MY_ACCESS: Final = Query(
    name="MY_ACCESS",
    title="My queues",
    question=(
        "The queues I see, their team, and whether I see their confidential cases (I am of "
        "that team): the queue ids the other queries and the live updates take."
    ),
    sql=_sql(
        """
        SELECT a.queue_id, a.team_id, a.sees_confidential
          FROM {schema}.my_access() AS a
         ORDER BY a.queue_id
        """
    ),
    params=(),
    uses="agent_queues_pkey, agent_teams_pkey (function my_access, as the agent set by SET_AGENT)",
)

MY_OPEN_CASES: Final = Query(
    name="MY_OPEN_CASES",
    title="My open cases",
    question="My open cases, the most urgent first, then the oldest.",
    sql=_sql(
        """
        SELECT c.case_id, c.status, c.area, c.priority, c.urgency_flags, c.channel,
               c.queue_id, c.confidential, c.opened_at, c.hold_reason, c.hold_until,
               c.last_message_at,
               coalesce(c.last_citizen_message_at
                        > coalesce(c.last_agent_message_at, '-infinity'), false)
                   AS awaiting_reply
          FROM {schema}.cases AS c
         WHERE c.agent_id = $1::text
           AND c.status <> 'closed'
         ORDER BY c.priority_rank, c.opened_at, c.case_id
        """
    ),
    params=(AGENT,),
    uses="cases_agent_open_idx",
)

NEXT_CASE_IN_MY_QUEUES: Final = Query(
    name="NEXT_CASE_IN_MY_QUEUES",
    title="The next case in my queues",
    question=(
        "The next case waiting in my queues (to take it the app sends ClaimCase; the "
        "router decides)."
    ),
    sql=_sql(
        """
        SELECT w.case_id, w.queue_id, w.priority, w.area, w.region, w.urgency_flags,
               w.channel, w.confidential, w.queued_at, now() - w.queued_at AS waiting_for
          FROM unnest($1::text[]) AS q (queue_id)
         CROSS JOIN LATERAL (
               SELECT c.*
                 FROM {schema}.cases AS c
                WHERE c.status = 'queued'
                  AND c.queue_id = q.queue_id
                ORDER BY c.priority_rank, c.queued_at, c.case_id
                LIMIT 1) AS w
         ORDER BY w.priority_rank, w.queued_at, w.case_id
         LIMIT 1
        """
    ),
    params=(QUEUES,),
    uses="cases_waiting_idx, one index probe per queue",
)

MY_QUEUE_WAITING: Final = Query(
    name="MY_QUEUE_WAITING",
    title="A queue's waiting cases",
    question="The cases waiting in one of my queues, in queue order.",
    sql=_sql(
        """
        SELECT qc.position, qc.case_id, qc.priority, qc.area, qc.region, qc.urgency_flags,
               qc.channel, qc.confidential, qc.queued_at, qc.waiting_for
          FROM {schema}.queue_cases AS qc
         WHERE qc.queue_id = $1::text
         ORDER BY qc.position
         LIMIT $2::integer
        """
    ),
    params=(
        Param("queue_id", "text", "the queue", "familia-capital"),
        Param("limit", "integer", "how many to show", 50),
    ),
    uses="cases_waiting_idx (view queue_cases)",
)

CASE_TIMELINE: Final = Query(
    name="CASE_TIMELINE",
    title="A case's timeline",
    question="A case's timeline: every message both ways, in order, with delivery.",
    sql=_sql(
        """
        SELECT m.message_id, m.occurred_at, m.direction, m.sender_kind, m.agent_id,
               m.channel, m.kind, m.text, m.email_subject, m.attachments, m.template_name,
               m.delivery_status, m.delivery_status_at, m.delivery_error,
               m.redacted_at IS NOT NULL AS redacted
          FROM {schema}.case_messages AS m
         WHERE m.case_id = $1::text
         ORDER BY m.occurred_at, m.message_id
        """
    ),
    params=(Param("case_id", "text", "the case", "case-1"),),
    uses="case_messages_case_idx",
)

MY_QUEUE_COUNTS: Final = Query(
    name="MY_QUEUE_COUNTS",
    title="My queues' counts",
    question="My queues' counts: waiting per priority, in service, the longest wait.",
    sql=_sql(
        """
        SELECT q.queue_id, q.waiting, q.waiting_urgent, q.waiting_high, q.waiting_normal,
               q.waiting_low, q.in_service, q.oldest_queued_at, q.longest_wait
          FROM {schema}.queues AS q
         WHERE q.queue_id = ANY($1::text[])
         ORDER BY q.queue_id
        """
    ),
    params=(QUEUES,),
    uses="cases_queue_open_idx (view queues); a queue with no open case has no row",
)

SLA_AT_RISK_TODAY: Final = Query(
    name="SLA_AT_RISK_TODAY",
    title="SLA cases at risk today",
    question=(
        "SLA cases at risk today in my queues: running clocks due before the office day "
        "ends, the nearest deadline first, with who holds the case."
    ),
    sql=_sql(
        """
        SELECT s.clock_id, s.case_id, s.metric, s.queue_id, s.priority, s.deadline_at,
               s.deadline_at - now() AS time_left, s.warned_at IS NOT NULL AS warned,
               c.status AS case_status, c.agent_id
          FROM {schema}.sla_clocks AS s
          LEFT JOIN {schema}.cases AS c ON c.case_id = s.case_id
         WHERE s.status = 'running'
           AND s.queue_id = ANY($1::text[])
           AND s.deadline_at < {schema}.office_day_start({schema}.office_day(now()) + 1)
         ORDER BY s.deadline_at, s.clock_id
        """
    ),
    params=(QUEUES,),
    uses="sla_clocks_running_idx",
)

SLA_BOARD_TODAY: Final = Query(
    name="SLA_BOARD_TODAY",
    title="Today's SLA board",
    question="Today's SLA board for my queues: at risk, warned, breached, met.",
    sql=_sql(
        """
        SELECT b.queue_id, b.at_risk, b.warned, b.breached, b.met, b.met_within_target
          FROM {schema}.sla_board AS b
         WHERE b.day = {schema}.office_day(now())
           AND b.queue_id = ANY($1::text[])
         ORDER BY b.queue_id
        """
    ),
    params=(QUEUES,),
    uses="sla_clocks_running_idx, sla_clocks_breached_day_idx, sla_clocks_met_day_idx",
)

ALL: Final = (
    MY_ACCESS,
    MY_OPEN_CASES,
    NEXT_CASE_IN_MY_QUEUES,
    MY_QUEUE_WAITING,
    CASE_TIMELINE,
    MY_QUEUE_COUNTS,
    SLA_AT_RISK_TODAY,
    SLA_BOARD_TODAY,
)


def markdown() -> str:
    """The "Queries" section of docs/read-model.md, from the constants above."""
    parts = []
    for q in ALL:
        params = "; ".join(
            f"`${i}` {p.name} ({p.sql_type}): {p.doc}" for i, p in enumerate(q.params, start=1)
        )
        params = params or "none"
        parts.append(
            f"### {q.title}\n\n{q.question}\n\n"
            f"`streams.projections.queries.{q.name}`; parameters: {params}. Index: {q.uses}.\n\n"
            f"```sql\n{q.sql}\n```\n"
        )
    return "\n".join(parts)


if __name__ == "__main__":
    print(markdown(), end="")
