"""The email connector wired for one integration test: the real broker (a fresh topic for
every event the connector writes or reads), the real Postgres (a fresh schema for the
ledger and the IMAP positions), the SMTP listener on a free port, a relay stand-in
(aiosmtpd, recording what it is given and answering as told) and, when asked, the IMAP
stand-in (`tests/standins/imap.py`). `running_service` runs `acolhe run email`'s `serve`
instead, configured from the environment as an operator does, with its SMTP listener and
its HTTP face (/healthz, /metrics) on free ports.

SMTP clients are the stdlib's `smtplib`, run in a worker thread, as a sending server would
talk to the office."""

from __future__ import annotations

import asyncio
import os
import smtplib
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import asyncpg
from aiosmtpd.smtp import SMTP, Envelope, Session

from connectors.common.identity import ContactIds, ContactRef
from connectors.common.inbound import Inbound
from connectors.common.ledger import Ledger
from connectors.common.media import FileMediaStore
from connectors.common.outbound import Backoff, Outbound
from connectors.email import service
from connectors.email.config import EmailSettings, ImapSettings, RelaySettings
from connectors.email.deliver import EmailDeliverer
from connectors.email.imap_poll import ImapPoller, Positions
from connectors.email.intake import MailIntake
from connectors.email.mime import MailLimits
from connectors.email.smtp_in import MailHandler, listen, listening_port
from connectors.email.smtp_out import SmtpRelay
from schemas.events import MessageSent
from streams.shared.contract import Contract
from streams.shared.events import Received, TopicRoute, read_topic
from streams.shared.kafka import make_producer
from streams.shared.settings import Secret, Settings
from tests.standins import imap

OFFICE: Final = "atendimento@defensoria.sp.def.br"
CITIZEN: Final = "maria.souza@example.com.br"
WAIT_S: Final = 60.0
EVENTS: Final = ("MessageReceived", "MessageSent", "DeliveryStatusChanged", "InputDeadLettered")
LIMITS: Final = MailLimits(max_raw_bytes=2 * 1024 * 1024, max_attachment_bytes=256 * 1024)
Reply = tuple[int, str]


def routes(topic: str) -> dict[str, TopicRoute]:
    """Every event the connector writes or reads, on the test's own topic."""
    keys = {"InputDeadLettered": "processor"}
    return {name: TopicRoute(topic, keys.get(name, "contact_id")) for name in EVENTS}


@dataclass
class RelayStandIn:
    """An SMTP relay (aiosmtpd handler) that records each mail it takes; `answers` are
    given, in order, to the next DATA commands instead of 250 (e.g. "451 4.3.0 busy")."""

    received: list[Envelope] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    attempts: int = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.attempts += 1
        if self.answers:
            return self.answers.pop(0)
        self.received.append(envelope)
        return "250 2.0.0 OK queued"


@asynccontextmanager
async def serving(factory: Callable[[], Any]) -> AsyncIterator[int]:
    """An asyncio server of `factory` on a free local port; yields the port."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, "127.0.0.1", 0)
    try:
        yield listening_port(server)
    finally:
        server.close()
        await server.wait_closed()


def email_settings(relay_port: int, media_dir: Path, **overrides: Any) -> EmailSettings:
    fields: dict[str, Any] = {
        "mailboxes": (OFFICE,),
        "relay": RelaySettings(host="127.0.0.1", port=relay_port, starttls=False, timeout_s=10),
        "display_name": "Defensoria Pública",
        "smtp_host": "127.0.0.1",
        "smtp_port": 0,
        "limits": LIMITS,
        "media_dir": media_dir,
        "accept_timeout_s": 30,
    }
    return EmailSettings(**(fields | overrides))


@dataclass
class Rig:
    settings: Settings
    contract: Contract
    topic: str
    schema: str
    config: EmailSettings
    relay: RelayStandIn
    pool: Any
    ledger: Ledger
    media: FileMediaStore
    contacts: ContactIds
    producer: Any
    inbound: Inbound
    intake: MailIntake
    port: int
    processor: str
    slept: list[float] = field(default_factory=list)

    @property
    def citizen(self) -> ContactRef:
        return self.contacts.contact("email", CITIZEN)

    def intake_with(self, inbound: Inbound) -> MailIntake:
        return MailIntake(
            inbound=inbound,
            keys=self.contract.keys,
            contacts=self.contacts,
            media=self.media,
            limits=self.config.limits,
        )

    async def events(self) -> list[tuple[str, dict[str, Any]]]:
        """(type, record) of every event now in the topic, in no particular order."""
        got = await read_topic(self.settings.kafka, self.contract.decode, self.topic)
        assert all(isinstance(g, Received) for g in got), "the topic holds a non-event"
        return [(g.event.name, g.event.record) for g in got if isinstance(g, Received)]

    async def of(self, name: str) -> list[dict[str, Any]]:
        return [record for kind, record in await self.events() if kind == name]

    def stored_files(self) -> list[Path]:
        return sorted(p for p in self.media.root.rglob("*") if p.is_file())

    def poller(self, box_port: int, *, intake: MailIntake | None = None) -> ImapPoller:
        config = ImapSettings(
            host="127.0.0.1",
            port=box_port,
            use_ssl=False,
            username=imap.USER,
            password=Secret(imap.PASSWORD),
            mailbox=OFFICE,
            timeout_s=10,
        )
        return ImapPoller(
            config,
            intake or self.intake,
            Positions(self.pool, schema=self.schema),
            max_message_bytes=self.config.max_message_bytes,
        )

    def outbound(self, *, max_attempts: int = 8) -> Outbound:
        """An outbound loop on the test's topic; backoff waits are recorded in `slept`."""

        async def sleep(seconds: float) -> None:
            self.slept.append(seconds)

        deliverer = EmailDeliverer(
            self.config,
            SmtpRelay(self.config.relay, local_hostname="defensoria.sp.def.br"),
            self.ledger,
            keys=self.contract.keys,
            media=self.media,
        )
        return Outbound(
            self.settings,
            self.contract,
            self.producer,
            deliverer,
            self.ledger,
            processor=self.processor,
            topic=self.topic,
            routes=routes(self.topic),
            backoff=Backoff(max_attempts=max_attempts),
            sleep=sleep,
        )

    def reply(self, message_id: str, **overrides: Any) -> MessageSent:
        """An agent's reply to the citizen by email, unless overridden."""
        now = datetime.now(UTC).replace(microsecond=0)
        fields: dict[str, Any] = {
            "event_id": f"evt-{message_id}",
            "occurred_at": now,
            "correlation_id": f"flow-{message_id}",
            "subject_id": self.citizen.subject_id,
            "channel": "email",
            "contact_id": self.citizen.contact_id,
            "contact_address": CITIZEN,
            "channel_account_id": OFFICE,
            "message_id": message_id,
            "sender_kind": "agent",
            "agent_id": "agent-7",
            "email_subject": "Pensão alimentícia",
            "text": "Bom dia, Maria! Recebemos a certidão. Próximo passo: comprovante de renda.",
            "sent_at": now,
        }
        return MessageSent(**(fields | overrides))

    async def publish(self, *messages: MessageSent) -> None:
        await self.contract.keys.ensure({m.subject_id for m in messages})
        publisher = self.contract.publisher(
            self.producer, source="/acolhe/test", routes=routes(self.topic)
        )
        await publisher.publish_many([(m.NAME, m.to_record()) for m in messages])


async def deliver_until(outbound: Outbound, done: Callable[[], bool]) -> None:
    """Run the loop's batches until `done()` holds (or the test's wait runs out)."""
    async with asyncio.timeout(WAIT_S):
        while not done():
            await outbound.step(timeout_ms=200)


@asynccontextmanager
async def open_rig(
    settings: Settings, contract: Contract, topic: str, schema: str, media_dir: Path
) -> AsyncIterator[Rig]:
    relay = RelayStandIn()
    async with (
        serving(lambda: SMTP(relay, hostname="relay.test")) as relay_port,
        asyncpg.create_pool(settings.postgres.dsn.reveal(), min_size=1, max_size=4) as pool,
    ):
        config = email_settings(relay_port, media_dir)
        ledger = Ledger(pool, "email", schema=schema)
        await ledger.create_tables()
        await Positions(pool, schema=schema).create_tables()
        producer = make_producer(settings.kafka)
        await producer.start()
        processor = f"connectors.email.test-{uuid.uuid4().hex[:8]}"
        inbound = Inbound(
            contract, producer, processor=processor, ledger=ledger, routes=routes(topic)
        )
        media = FileMediaStore(media_dir, max_bytes=config.limits.max_attachment_bytes)
        contacts = ContactIds(os.urandom(32))
        intake = MailIntake(
            inbound=inbound,
            keys=contract.keys,
            contacts=contacts,
            media=media,
            limits=config.limits,
        )
        server = await listen(config, MailHandler(config, intake))
        try:
            yield Rig(
                settings,
                contract,
                topic,
                schema,
                config,
                relay,
                pool,
                ledger,
                media,
                contacts,
                producer,
                inbound,
                intake,
                listening_port(server),
                processor,
            )
        finally:
            server.close()
            await server.wait_closed()
            await producer.stop()


# --- the service ----------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free on this machine now (all bound at once, then released)."""
    with ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]


async def accepts(port: int) -> bool:
    """Whether a TCP connection to the port on this machine is taken."""
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


@dataclass
class RunningService:
    settings: Settings
    """The settings the service was started with (its environment included)."""
    smtp_port: int
    http_port: int
    stop: asyncio.Event
    task: asyncio.Task[None]


def start_service(
    settings: Settings, contract: Contract, topic: str, schema: str, env: Mapping[str, str]
) -> RunningService:
    """`service.serve` in a task, with the test's settings and `env` (the ACOLHE_EMAIL_*
    variables; the SMTP listener and the HTTP face on free ports unless it names them),
    every event on `topic`, the ledger and the IMAP positions in `schema`."""
    smtp_port, http_port = free_ports(2)
    configured = Settings.from_env(
        dict(settings.env)
        | {"ACOLHE_EMAIL_SMTP_PORT": str(smtp_port), "ACOLHE_EMAIL_HTTP_PORT": str(http_port)}
        | dict(env)
    )
    config = EmailSettings.from_env(configured.env, state_dir=configured.stack.state_dir)
    stop = asyncio.Event()
    task = asyncio.create_task(
        service.serve(
            configured,
            contract,
            stop,
            routes=routes(topic),
            topic=topic,
            ledger_schema=schema,
            email_schema=schema,
            processor=f"connectors.email.service-{time.monotonic_ns()}",
        )
    )
    return RunningService(configured, config.smtp_port, config.http_port, stop, task)


@asynccontextmanager
async def running_service(
    settings: Settings, contract: Contract, topic: str, schema: str, env: Mapping[str, str]
) -> AsyncIterator[RunningService]:
    """`start_service`, yielding once both ports take connections; on the way out it tells
    the service to stop and waits until it has (a failure of the service is raised)."""
    running = start_service(settings, contract, topic, schema, env)
    try:
        async with asyncio.timeout(WAIT_S):
            while not (await accepts(running.smtp_port) and await accepts(running.http_port)):
                assert not running.task.done(), running.task.exception()
                await asyncio.sleep(0.05)  # polling until the ports open: no signal exists
        yield running
    finally:
        running.stop.set()
        async with asyncio.timeout(WAIT_S):
            await running.task


# --- SMTP clients ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpTranscript:
    """What a sending server was answered, command by command (None: not reached)."""

    ehlo: Reply
    mail: Reply
    rcpts: tuple[Reply, ...]
    data: Reply | None


def _session(
    port: int,
    raw: bytes,
    mail_from: str,
    rcpts: Sequence[str],
    mail_options: Sequence[str],
) -> SmtpTranscript:
    with smtplib.SMTP("127.0.0.1", port, local_hostname="mx.example.com.br", timeout=30) as c:
        code, text = c.ehlo()
        ehlo = (code, text.decode())
        mail = _reply(c.mail(mail_from, list(mail_options)))
        answers = tuple(_reply(c.rcpt(r)) for r in rcpts)
        data = None
        if mail[0] == 250 and any(a[0] == 250 for a in answers):
            data = _reply(c.data(raw))
        else:
            c.rset()
        return SmtpTranscript(ehlo, mail, answers, data)


def _reply(answer: tuple[int, bytes]) -> Reply:
    return answer[0], answer[1].decode("utf-8", "replace")


async def smtp_session(
    port: int,
    raw: bytes,
    *,
    mail_from: str = CITIZEN,
    rcpts: Sequence[str] = (OFFICE,),
    mail_options: Sequence[str] = ("BODY=8BITMIME",),
) -> SmtpTranscript:
    """One SMTP transaction against the listener, without SIZE unless given in options."""
    return await asyncio.to_thread(_session, port, raw, mail_from, rcpts, mail_options)


async def send(port: int, raw: bytes, **kwargs: Any) -> Reply:
    """The answer to DATA of a one-recipient transaction that got that far."""
    session = await smtp_session(port, raw, **kwargs)
    assert session.data is not None, f"the transaction did not reach DATA: {session}"
    return session.data
