"""The outbound half every connector shares: deliver the office's messages (MessageSent of
the connector's channel, from acolhe.outbound, the catalog's copy of every MessageSent
written to acolhe.conversations) to the channel, with retries and
backoff, and record how each went as a DeliveryStatusChanged.

Steps for each message, in order (a restart at any point neither loses nor repeats one):
1. skip it when the ledger says it was settled (sent or failed) before: its status event
   is already durable (step 4 comes before step 5);
2. note the attempt in the ledger (`sending`);
3. hand it to the channel (`Deliverer.deliver`): sent (with the provider's id), refused
   (a permanent error, with the provider's code and reason), or retry later (a transient
   error: rate limit, 5xx, timeout) with exponential backoff, up to `max_attempts`, after
   which it is failed with the reason;
4. publish its DeliveryStatusChanged (sent or failed) and wait for the acknowledgement;
5. settle it in the ledger.
Each settled message counts in `acolhe_connector_deliveries_total` (by channel and status,
sent or failed), each transient failure retried in `acolhe_connector_delivery_retries_total`:
an operator sees replies failing, or piling up behind a provider's rate limit, before
citizens say so.
The batch's offsets are committed after every message of it went through steps 1-5 (a batch
with none of the channel's messages, at most every `COMMIT_IDLE_S`). A
crash between 3 and 5 sends the message again on restart (at-least-once: a duplicate is
better than a loss; email and web chat dedupe by the message id they carry).

Messages of one contact go out in log order; different contacts' messages go out
concurrently (`concurrency`), so one slow or rate-limited contact does not hold up the rest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from prometheus_client import Counter

from connectors.common.ledger import Ledger
from schemas.envelope import derive_event_id
from schemas.events import DeliveryError, DeliveryStatusChanged, MessageSent
from streams.shared.contract import Contract
from streams.shared.events import EventRoute
from streams.shared.kafka import make_consumer

log = logging.getLogger(__name__)
TOPIC: Final = "acolhe.outbound"
"""The catalog's copy of every MessageSent: the office's outgoing messages and nothing else."""
COMMIT_IDLE_S: Final = 5.0
FETCH_WAIT_MS: Final = 100
DELIVERIES = Counter(
    "acolhe_connector_deliveries_total",
    "Outbound messages a connector settled, by channel and status (sent, failed).",
    ["channel", "status"],
)
DELIVERY_RETRIES = Counter(
    "acolhe_connector_delivery_retries_total",
    "Deliveries that failed for now (rate limit, 5xx, timeout) and wait for a retry, by channel.",
    ["channel"],
)


@dataclass(frozen=True)
class Sent:
    provider_message_id: str


@dataclass(frozen=True)
class Refused:
    """A permanent refusal: sending again would not help."""

    code: str
    title: str
    detail: str | None = None


@dataclass(frozen=True)
class RetryLater:
    """A transient failure: try again after `after_s` seconds (None: the backoff decides)."""

    reason: str
    after_s: float | None = None


Outcome = Sent | Refused | RetryLater


class Deliverer(Protocol):
    """A channel's way out (Graph API, SMTP, the web chat's live connections)."""

    channel: str

    async def deliver(self, message: MessageSent) -> Outcome: ...


@dataclass(frozen=True)
class Backoff:
    first_s: float = 1.0
    factor: float = 2.0
    max_s: float = 60.0
    max_attempts: int = 8

    def delay(self, attempt: int, advised: float | None) -> float:
        computed = min(self.max_s, self.first_s * self.factor ** max(0, attempt - 1))
        return max(computed, min(advised, self.max_s)) if advised is not None else computed


def status_event(
    message: MessageSent,
    status: str,
    *,
    provider_message_id: str,
    errors: tuple[DeliveryError, ...] = (),
    at: datetime,
) -> DeliveryStatusChanged:
    """The connector's own report on a message it handed over (or gave up on)."""
    return DeliveryStatusChanged(
        event_id=derive_event_id("connectors", message.channel, message.message_id, status),
        occurred_at=at,
        correlation_id=message.correlation_id,
        causation_id=message.event_id,
        channel=message.channel,
        contact_id=message.contact_id,
        case_id=message.case_id,
        message_id=message.message_id,
        provider_message_id=provider_message_id,
        status=status,  # type: ignore[arg-type]
        status_at=at,
        errors=errors,
        provider_timestamp=None,
    )


class Outbound:
    def __init__(
        self,
        settings: Any,
        contract: Contract,
        producer: Any,
        deliverer: Deliverer,
        ledger: Ledger,
        *,
        processor: str,
        topic: str = TOPIC,
        routes: Mapping[str, EventRoute] | None = None,
        backoff: Backoff = Backoff(),
        concurrency: int = 16,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self._contract = contract
        self._publisher = contract.publisher(producer, source=processor, routes=routes)
        self.topic = topic
        self._deliverer = deliverer
        self._ledger = ledger
        self._backoff = backoff
        self._slots = asyncio.Semaphore(concurrency)
        self._clock = clock
        self._sleep = sleep
        self.processor = processor
        self.group_id = f"{processor}.outbound"
        self.delivered = 0
        self.failed = 0
        self._consumer: Any = None
        self._committed_at = time.monotonic()

    async def start(self) -> None:
        self._consumer = make_consumer(
            self._settings.kafka,
            self.topic,
            group_id=self.group_id,
            max_poll_records=2000,
            # The topic carries every conversation's traffic, nearly all of it not ours: fetch
            # it in fewer, fuller round trips (a reply waits at most FETCH_WAIT_MS more).
            # Fetching as each record arrived took a WhatsApp connector a tenth of its CPU.
            fetch_min_bytes=256 * 1024,
            fetch_max_wait_ms=FETCH_WAIT_MS,
        )
        await self._consumer.start()

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.step()

    async def step(self, *, timeout_ms: int = 500) -> int:
        """Deliver one batch (steps 1-5 for each message), then commit it; returns how many
        messages of this channel it handled."""
        batches = await self._consumer.getmany(timeout_ms=timeout_ms)
        mine: list[MessageSent] = []
        for messages in batches.values():
            events, rejected = await self._contract.read(messages, {"MessageSent"})
            # Records that are not events are the processors' to dead-letter: the conversation
            # processor reads this topic too, and a connector must not hold up its channel.
            mine += [e for _, e in events if e.channel == self._deliverer.channel]
            if rejected:
                log.debug("skipped %d records that are not events", len(rejected))
        by_contact: dict[str, list[MessageSent]] = defaultdict(list)
        for message in mine:
            by_contact[message.contact_id].append(message)
        await asyncio.gather(*(self._in_order(queue) for queue in by_contact.values()))
        # A batch that held none of this channel's messages is committed lazily: reading it
        # again after a restart skips it again, and a commit per poll of a busy topic cost
        # a connector more than its own webhooks did (bench_webhooks, py-spy).
        due = time.monotonic() - self._committed_at >= COMMIT_IDLE_S
        if batches and (mine or due):
            await self._consumer.commit()
            self._committed_at = time.monotonic()
        return len(mine)

    async def _in_order(self, queue: list[MessageSent]) -> None:
        async with self._slots:
            for message in queue:
                await self.deliver(message)

    async def deliver(self, message: MessageSent) -> DeliveryStatusChanged | None:
        """Steps 1-5 for one message; returns the status recorded (None: settled before)."""
        held = await self._ledger.delivery(message.message_id)
        if held is not None and held.state != "sending":
            return None
        while True:
            attempt = await self._ledger.attempt(message.message_id)
            try:
                outcome = await self._deliverer.deliver(message)
            except Exception as exc:  # a channel's unexpected failure is retried, not fatal
                log.warning(
                    "delivery raised; retrying",
                    extra={"message_id": message.message_id, "error": repr(exc)[:300]},
                )
                outcome = RetryLater(f"{type(exc).__name__}: {exc}"[:300])
            if not isinstance(outcome, RetryLater):
                break
            if attempt.attempts >= self._backoff.max_attempts:
                outcome = Refused(
                    "gave_up",
                    f"not delivered after {attempt.attempts} attempts",
                    outcome.reason,
                )
                break
            DELIVERY_RETRIES.labels(message.channel).inc()
            await self._sleep(self._backoff.delay(attempt.attempts, outcome.after_s))
        now = self._clock()
        if isinstance(outcome, Sent):
            status = status_event(
                message, "sent", provider_message_id=outcome.provider_message_id, at=now
            )
        else:
            status = status_event(
                message,
                "failed",
                provider_message_id=held.provider_message_id or "" if held else "",
                errors=(
                    DeliveryError(code=outcome.code, title=outcome.title, detail=outcome.detail),
                ),
                at=now,
            )
        await self._publisher.publish(status.NAME, status.to_record())
        await self._ledger.settle(
            message.message_id,
            "sent" if isinstance(outcome, Sent) else "failed",
            provider_message_id=status.provider_message_id or None,
            reason=None if isinstance(outcome, Sent) else f"{outcome.code}: {outcome.title}",
        )
        DELIVERIES.labels(message.channel, status.status).inc()
        if isinstance(outcome, Sent):
            self.delivered += 1
        else:
            self.failed += 1
            log.info(
                "message not delivered",
                extra={"message_id": message.message_id, "code": outcome.code},
            )
        return status
