"""WhatsApp's way out for the outbound loop: a `connectors.common.outbound.Deliverer` that
sends the office's messages through the Graph API.

Steps of `deliver`, in order:
1. the account: the message's `channel_account_id`, else the first configured; one the
   office does not run here is refused (an operator adds it to the settings);
2. the requests (`graph.build_send_requests`): a message that cannot become one (erased
   address, text too long, an attachment without a WhatsApp media id) is refused with why;
3. a single-request message whose wamid the ledger already holds went out before a
   restart: it is reported sent with that wamid and not sent again;
4. the 24-hour window (`window.decide_send`) from when the contact last wrote (the
   ledger's `last_inbound`): outside it only templates go out; anything else is refused
   with the reason and nothing reaches Meta;
5. each request in order; the first wamid is noted in the ledger as soon as Meta answers
   (a status report finds our message id by it; a restart does not send again);
6. a Graph API error: retried later (rate limits, Meta's transient failures, a network
   failure, and what an operator must fix, such as an expired token: the message waits
   for the fix within the loop's attempts) or refused with Meta's code and title.

A message of several requests (a text and files) that a rate limit interrupts resumes
after the parts already sent, within this process; after a crash in the middle it is sent
whole again (a duplicate is better than a loss).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

from connectors.common.ledger import Ledger
from connectors.common.outbound import Outcome, Refused, RetryLater, Sent
from connectors.whatsapp.graph import GraphError, Unsendable, build_send_requests
from connectors.whatsapp.graph_client import GraphCallFailed, GraphClient
from connectors.whatsapp.mapping import CHANNEL
from connectors.whatsapp.window import SendRefused, decide_send
from schemas.events import MessageSent

log = logging.getLogger(__name__)
OUTSIDE_WINDOW: Final = "outside_window"
UNSENDABLE: Final = "unsendable"
UNKNOWN_ACCOUNT: Final = "unknown_account"
_MAX_IN_PROGRESS: Final = 10_000


class WhatsAppDeliverer:
    channel = CHANNEL

    def __init__(
        self,
        graph: GraphClient,
        ledger: Ledger,
        phone_number_ids: tuple[str, ...],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        window_margin: timedelta = timedelta(0),
    ) -> None:
        if not phone_number_ids:
            raise ValueError("at least one phone number id is needed to send")
        self._graph = graph
        self._ledger = ledger
        self._accounts = phone_number_ids
        self._clock = clock
        self._margin = window_margin
        self._in_progress: dict[str, list[str]] = {}  # message id -> wamids of parts sent

    async def deliver(self, message: MessageSent) -> Outcome:
        """Steps 1-6 of the module docstring."""
        account = message.channel_account_id or self._accounts[0]
        if account not in self._accounts:
            return Refused(
                UNKNOWN_ACCOUNT,
                f"phone number id {account} is not one this connector runs",
                "add it to ACOLHE_WHATSAPP_PHONE_NUMBER_IDS, or send from a configured number",
            )
        requests = build_send_requests(message)
        if isinstance(requests, Unsendable):
            return Refused(UNSENDABLE, requests.reason)
        if len(requests) == 1:
            held = await self._ledger.delivery(message.message_id)
            if held is not None and held.provider_message_id:
                return Sent(held.provider_message_id)
        last = await self._ledger.last_inbound(message.contact_id)
        decision = decide_send(message, last, self._clock(), self._margin)
        if isinstance(decision, SendRefused):
            return Refused(OUTSIDE_WINDOW, decision.reason)
        sent = self._in_progress.setdefault(message.message_id, [])
        for body in requests[len(sent) :]:
            try:
                accepted = await self._graph.send(account, body)
            except GraphCallFailed as exc:
                return self._failed(message, exc.error)
            sent.append(accepted.wamid)
            if len(sent) == 1:
                await self._ledger.note_provider_id(message.message_id, accepted.wamid)
        self._forget(message.message_id)
        return Sent(sent[0])

    def _failed(self, message: MessageSent, error: GraphError) -> Outcome:
        if error.action == "refused":
            self._forget(message.message_id)
            code = str(error.code) if error.code is not None else f"http_{error.http_status}"
            detail = error.reason + (f" ({error.details})" if error.details else "")
            return Refused(code, error.title or error.reason, detail)
        if error.action == "operator":
            log.error(
                "the Graph API refused the connector itself; an operator must act",
                extra={
                    "message_id": message.message_id,
                    "code": error.code,
                    "reason": error.reason,
                    "fbtrace_id": error.fbtrace_id,
                },
            )
        if len(self._in_progress) > _MAX_IN_PROGRESS:  # messages the loop gave up on
            self._in_progress.pop(next(iter(self._in_progress)))
        after = error.retry_after.total_seconds() if error.retry_after is not None else None
        code = f"code {error.code}: " if error.code is not None else ""
        return RetryLater(f"{code}{error.reason}", after)

    def _forget(self, message_id: str) -> None:
        self._in_progress.pop(message_id, None)
