"""The refusals about a case that several gateway routes give alike (a command, a file, a
typing indicator): the case is not in the read model, or its citizen is blocked.

A blocked citizen (LGPD bloqueio, docs/privacy.md "Blocking") has their processing
suspended: agents see none of their cases through the read model, and the gateway takes
nothing an agent would send them (a reply, a transfer with its note, a file, typing) until
the block is lifted. Must not depend on Kafka or Postgres.
"""

from __future__ import annotations

from aiohttp import web

from connectors.common.http import refusal


def unknown_case(case_id: str) -> web.Response:
    return refusal(
        404,
        "unknown_case",
        f"case {case_id} is not in the read model: check the id (a case opened "
        "a moment ago may not be there yet: retry shortly)",
    )


def citizen_blocked(case_id: str) -> web.Response:
    return refusal(
        403,
        "citizen_blocked",
        f"the citizen of case {case_id} is blocked (LGPD): nothing is sent for them until "
        "the block is lifted (acolhe unblock)",
    )
