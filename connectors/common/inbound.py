"""The inbound half every connector shares: publish what a channel delivered as events,
durably, before the channel gets its answer; set aside what cannot be read, with why.

Steps of `accept`, in order (the provider's answer depends on them):
1. make sure every citizen named has a data key (a new contact gets one);
2. publish the events with the idempotent producer (acks=all) and wait for every
   acknowledgement: only then is the input accepted, and only then does the connector
   answer the provider (200 to a webhook, 250 to SMTP, an ack frame to the widget);
3. note when each contact last wrote (the WhatsApp 24-hour window), after the events; the
   ledger writes the notes of many requests at once, shortly after (`Ledger.note_inbound`):
   a failure there loses no message, and the next message notes it again.
A failure before step 2 completes raises: the connector answers with an error the
provider retries (5xx, 4xx SMTP), and the retry publishes the same event ids, which the
processors drop as redeliveries if the first attempt did get through.

`dead_letter` records an input that cannot become an event (a bad signature, malformed
JSON, hostile MIME) on acolhe.deadletter with the reason, its id derived from the input's
checksum, so the same bad input sent many times is set aside once (and identical retries
are cheap to tell apart from new ones).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from connectors.common.ledger import Ledger
from schemas.envelope import derive_event_id
from schemas.events import InputDeadLettered, InputHeader, MessageReceived
from streams.shared.contract import Contract
from streams.shared.events import EventRoute

log = logging.getLogger(__name__)
InputSource = Literal["http", "smtp", "imap", "websocket"]
_SECRET_HEADERS = frozenset(
    {"authorization", "cookie", "x-hub-signature", "x-hub-signature-256", "proxy-authorization"}
)


class Inbound:
    def __init__(
        self,
        contract: Contract,
        producer: Any,
        *,
        processor: str,
        ledger: Ledger | None = None,
        routes: Mapping[str, EventRoute] | None = None,
    ) -> None:
        """`routes` overrides the catalog's topics (tests: a fresh topic each)."""
        self._publisher = contract.publisher(producer, source=processor, routes=routes)
        self._ledger = ledger
        self.processor = processor

    async def accept(self, events: Sequence[Any]) -> None:
        """Steps 1-3 of the module docstring; returns once the events are durable."""
        if not events:
            return
        # Step 1 is the publisher's: it makes the keys of the subjects it seals for.
        await self._publisher.publish_many([(e.NAME, e.to_record()) for e in events])
        if self._ledger is not None:
            latest: dict[str, datetime] = {}
            for e in events:
                if isinstance(e, MessageReceived):
                    held = latest.get(e.contact_id)
                    latest[e.contact_id] = (
                        e.received_at if held is None else max(held, e.received_at)
                    )
            self._ledger.note_inbound(latest)

    async def dead_letter(
        self,
        *,
        source: InputSource,
        payload: bytes,
        error_type: str,
        reason: str,
        content_type: str | None = None,
        headers: Sequence[tuple[str, str | bytes]] = (),
    ) -> str:
        """Set aside an input that cannot become an event; returns the record's event id."""
        digest = hashlib.sha256(payload).hexdigest()
        event_id = derive_event_id(self.processor, source, error_type, digest)
        now = datetime.now(UTC)
        record = InputDeadLettered(
            event_id=event_id,
            occurred_at=now,
            correlation_id=event_id,
            causation_id=None,
            source=source,
            source_topic=None,
            source_partition=None,
            source_offset=None,
            source_key=None,
            source_headers=tuple(
                InputHeader(name=name, value=value if isinstance(value, bytes) else value.encode())
                for name, value in headers
                if name.lower() not in _SECRET_HEADERS
            ),
            content_type=content_type,
            payload=payload,
            payload_sha256=digest,
            error_type=error_type,
            reason=reason[:1000],
            processor=self.processor,
            dead_lettered_at=now,
        )
        await self._publisher.publish(record.NAME, record.to_record())
        log.info(
            "input dead-lettered",
            extra={"event_id": event_id, "error_type": error_type, "reason": reason[:200]},
        )
        return event_id
