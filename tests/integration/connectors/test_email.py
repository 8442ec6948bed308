"""The email connector against the real broker and database: real SMTP sessions (smtplib)
with the listener, an IMAP stand-in that follows RFC 3501, and a relay stand-in (aiosmtpd)
for the office's replies. What a mail becomes on Kafka, what each bad mail is answered,
and how the office's replies go out (threading headers, 4xx retried, 5xx failed)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import email
import email.policy
import hashlib
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka.errors import KafkaConnectionError
from aiosmtpd.smtp import SMTP
from prometheus_client.parser import text_string_to_metric_families

from connectors.common.identity import ContactIds
from connectors.common.inbound import Inbound
from connectors.email import tree
from connectors.email.compose import outbound_message_id
from connectors.email.mapping import received_event_id
from connectors.email.quoting import split_reply
from connectors.email.smtp_in import MailHandler, listen, listening_port
from schemas.events import Attachment, MessageSent
from streams.shared.contract import Contract
from streams.shared.events import Received, read_topic
from streams.shared.kafka import make_producer
from streams.shared.settings import Settings
from tests.integration.connectors.email_rig import (
    CITIZEN,
    LIMITS,
    OFFICE,
    WAIT_S,
    RelayStandIn,
    Rig,
    accepts,
    deliver_until,
    free_ports,
    open_rig,
    routes,
    running_service,
    send,
    serving,
    smtp_session,
    start_service,
)
from tests.standins.imap import Mailbox, standin_imap
from tests.unit.connectors.email.helpers import mail_bytes

pytestmark = pytest.mark.timeout(180)
PDF = b"%PDF-1.7\n" + "certidão de nascimento ".encode() * 40


@pytest.fixture
async def rig(
    settings: Settings, contract: Contract, topic: str, pg_schema: str, tmp_path: Path
) -> AsyncIterator[Rig]:
    async with open_rig(settings, contract, topic, pg_schema, tmp_path / "media") as opened:
        yield opened


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def latin1_reply(message_id: str = "latin1-reply-1@example.com.br") -> bytes:
    """A Portuguese reply from a Latin-1 mailer: 8-bit body, quoted history, a PDF."""
    body = (
        "Bom dia. Segue a certidão de nascimento das crianças.\r\n"
        "\r\n"
        "Em seg., 2 de mar. de 2026 às 09:00, Defensoria Pública <"
        f"{OFFICE}> escreveu:\r\n"
        "> Envie a certidão, por favor.\r\n"
        "> Atenciosamente, Defensoria Pública\r\n"
    ).encode("latin-1")
    pdf = base64.encodebytes(PDF).replace(b"\n", b"\r\n")
    return (
        (
            f"From: =?iso-8859-1?q?Maria_Concei=E7=E3o_Souza?= <{CITIZEN}>\r\n"
            f"To: =?iso-8859-1?q?Defensoria_P=FAblica?= <{OFFICE}>\r\n"
            "Subject: =?iso-8859-1?q?Re:_Pens=E3o_aliment=EDcia?=\r\n"
            f"Message-ID: <{message_id}>\r\n"
            "In-Reply-To: <parent-1@defensoria.sp.def.br>\r\n"
            "References: <root-1@example.com.br> <parent-1@defensoria.sp.def.br>\r\n"
            "Date: Mon, 2 Mar 2026 10:15:02 -0300\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="b1"\r\n'
            "\r\n"
            "--b1\r\n"
            "Content-Type: text/plain; charset=iso-8859-1\r\n"
            "Content-Transfer-Encoding: 8bit\r\n"
            "\r\n"
        ).encode()
        + body
        + (
            b"--b1\r\n"
            b'Content-Type: application/pdf; name="certidao.pdf"\r\n'
            b"Content-Disposition: attachment; filename*=iso-8859-1''certid%E3o.pdf\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"\r\n"
        )
        + pdf
        + b"--b1--\r\n"
    )


def plain(body: str, *, message_id: str, headers: str = "", sender: str = CITIZEN) -> bytes:
    return (
        f"From: {sender}\r\nTo: {OFFICE}\r\nSubject: Ajuda\r\nMessage-ID: <{message_id}>\r\n"
        f"Date: Mon, 2 Mar 2026 10:00:00 -0300\r\n{headers}MIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


# --- inbound over SMTP ----------------------------------------------------------------------


async def test_a_latin1_reply_with_history_becomes_one_message_received_with_its_file(
    rig: Rig,
) -> None:
    answer = await send(rig.port, latin1_reply())

    event_id = received_event_id("latin1-reply-1@example.com.br")
    assert answer == (250, f"2.0.0 OK: accepted as {event_id}")
    (record,) = await rig.of("MessageReceived")
    assert record["event_id"] == event_id
    assert record["contact_id"] == rig.citizen.contact_id
    assert record["contact_address"] == CITIZEN
    assert record["channel_account_id"] == OFFICE
    assert record["sender_name"] == "Maria Conceição Souza"
    assert record["email_subject"] == "Re: Pensão alimentícia"
    assert record["thread_id"] == "root-1@example.com.br"
    assert record["correlation_id"] == received_event_id("root-1@example.com.br")
    assert record["reply_to_provider_message_id"] == "parent-1@defensoria.sp.def.br"
    split = split_reply(record["text"])
    assert split.new_text == "Bom dia. Segue a certidão de nascimento das crianças."
    assert split.has_history
    (attachment,) = record["attachments"]
    assert attachment["file_name"] == "certidão.pdf"
    assert attachment["media_type"] == "application/pdf"
    assert (attachment["sha256"], attachment["size_bytes"]) == (sha(PDF), len(PDF))
    key = rig.contract.keys.decryption_key(rig.citizen.subject_id)
    assert key is not None
    assert await rig.media.get(key, attachment["storage_ref"]) == PDF


async def test_the_same_mail_sent_twice_gets_the_same_event_id_and_its_files_are_kept_once(
    rig: Rig,
) -> None:
    raw = mail_bytes("attachments.eml").replace(b"\n", b"\r\n")  # on the wire: CRLF

    first = await send(rig.port, raw)
    second = await send(rig.port, raw)

    assert first == second
    assert first[0] == 250
    records = await rig.of("MessageReceived")
    assert len(records) == 2  # at-least-once: the processors drop the second by its id
    assert {r["event_id"] for r in records} == {
        received_event_id("CAOr1gAttach0001@mail.gmail.com")
    }
    assert records[0]["attachments"] == records[1]["attachments"]
    assert len(rig.stored_files()) == len(records[0]["attachments"]) == 3


async def test_mail_for_any_address_but_the_offices_is_refused_no_open_relay(rig: Rig) -> None:
    raw = plain("oi", message_id="relay-1@example.com")

    foreign = await smtp_session(rig.port, raw, rcpts=("someone@gmail.com",))
    same_domain = await smtp_session(rig.port, raw, rcpts=("diretoria@defensoria.sp.def.br",))
    mixed = await smtp_session(rig.port, raw, rcpts=("someone@gmail.com", OFFICE.upper()))

    for session in (foreign, same_domain):
        assert session.rcpts[0][0] == 550
        assert "5.7.1 Relaying denied" in session.rcpts[0][1]
        assert session.data is None
    assert [code for code, _ in mixed.rcpts] == [550, 250]
    assert mixed.data is not None
    assert mixed.data[0] == 250
    (record,) = await rig.of("MessageReceived")
    assert record["channel_account_id"] == OFFICE


async def test_an_oversized_mail_is_refused_552_declared_or_streamed(rig: Rig) -> None:
    raw = plain(("y" * 998 + "\r\n") * 2200, message_id="big-1@example.com")
    assert len(raw) > LIMITS.max_raw_bytes

    declared = await smtp_session(rig.port, raw, mail_options=(f"SIZE={len(raw)}",))
    streamed = await smtp_session(rig.port, raw)

    assert f"SIZE {LIMITS.max_raw_bytes}" in declared.ehlo[1]
    assert declared.mail[0] == 552
    assert streamed.data is not None
    assert streamed.data[0] == 552
    assert await rig.events() == []


def _nested(levels: int) -> bytes:
    return b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
        for i in range(levels)
    )


HOSTILE: dict[str, tuple[bytes, str, str]] = {
    # name: (what follows the From/To/Message-ID headers, reason, SMTP reply)
    "100,000 parts": (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        + b"--b\r\n\r\nx\r\n" * 100_000
        + b"--b--\r\n",
        "too_many_parts",
        "550 5.6.0 Message refused: too_many_parts: more than 100 MIME parts",
    ),
    "nesting 10,000 deep": (
        _nested(10_000),
        "too_deep",
        "550 5.6.0 Message refused: too_deep: MIME nesting deeper than 10",
    ),
    "huge attachment": (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(b"%PDF" + b"\0" * (LIMITS.max_attachment_bytes + 1)).replace(
            b"\n", b"\r\n"
        )
        + b"--b--\r\n",
        "attachment_too_large",
        "550 5.6.0 Message refused: attachment_too_large: an attachment of",
    ),
    "header injection": (
        b"Subject: =?utf-8?q?oi=0D=0ABcc:_vitima@example.com?=\r\n\r\noi\r\n",
        "header_injection",
        "550 5.6.0 Message refused: header_injection: the Subject header decodes to text "
        "with a line break",
    ),
    "malformed base64": (
        b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"JVBERi0x!!!NAo=\r\n",
        "malformed_base64",
        "550 5.6.0 Message refused: malformed_base64:",
    ),
}


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many MIME entities the parser has built (the work done on a mail)."""
    count = [0]

    class Counting(tree.BoundedMessage):
        def __init__(self, *args: Any) -> None:
            count[0] += 1
            super().__init__(*args)

    monkeypatch.setattr(tree, "BoundedMessage", Counting)
    return count


@pytest.mark.parametrize("case", list(HOSTILE))
async def test_hostile_mail_is_refused_550_with_the_reason_in_a_dead_letter_record(
    rig: Rig, built: list[int], case: str
) -> None:
    rest, reason, reply = HOSTILE[case]
    raw = (
        f"From: ataque@example.com\r\nTo: {OFFICE}\r\nMessage-ID: <hostile@example.com>\r\n"
    ).encode() + rest

    first = await send(rig.port, raw)
    again = await send(rig.port, raw)  # a sending server that retries anyway

    assert first == again
    assert f"{first[0]} {first[1]}".startswith(reply)
    assert built[0] <= 2 * (LIMITS.max_parts + 1)  # two sessions, each stopped at the limits
    events = await rig.events()
    assert [kind for kind, _ in events] == ["InputDeadLettered"] * 2
    records = [r for _, r in events]
    assert records[0]["event_id"] == records[1]["event_id"]  # set aside once, by checksum
    record = records[0]
    assert (record["source"], record["error_type"]) == ("smtp", "MailQuarantined")
    assert record["reason"].startswith(f"{reason}: ")
    assert record["content_type"] == "message/rfc822"
    assert raw.startswith(record["payload"])
    assert rig.stored_files() == []


async def test_automated_mail_is_taken_250_and_kept_aside_unpublished(rig: Rig) -> None:
    auto_reply = plain(
        "Estou fora do escritório.",
        message_id="ooo-1@example.com",
        headers="Auto-Submitted: auto-replied\r\n",
    )
    bounce = plain("Delivery failed", message_id="dsn-1@example.com", sender="mailer-daemon@x.com")

    answers = [
        await send(rig.port, auto_reply),
        await send(rig.port, bounce, mail_from="<>"),
    ]

    assert answers == [(250, "2.0.0 OK: kept aside (AutomatedMail)")] * 2
    events = await rig.events()
    assert [kind for kind, _ in events] == ["InputDeadLettered"] * 2
    reasons = sorted(r["reason"] for _, r in events)
    assert reasons[0].startswith("a delivery report (null reverse path)")
    assert reasons[1].startswith("automated mail")


class BrokerDown:
    """A producer whose broker cannot be reached."""

    async def send(self, *args: Any, **kwargs: Any) -> Any:
        raise KafkaConnectionError("the broker is unreachable")


async def test_a_kafka_failure_answers_451_and_the_senders_retry_is_accepted(
    rig: Rig, contract: Contract
) -> None:
    down = Inbound(contract, BrokerDown(), processor=rig.processor, routes=routes(rig.topic))
    broken = await listen(rig.config, MailHandler(rig.config, rig.intake_with(down)))
    raw = plain("Fui despejada hoje.", message_id="retry-1@example.com")
    try:
        refused = await send(listening_port(broken), raw)
    finally:
        broken.close()
        await broken.wait_closed()
    published_meanwhile = await rig.events()
    retried = await send(rig.port, raw)

    assert refused == (451, "4.3.0 Temporarily unable to accept the message; try again later")
    assert published_meanwhile == []
    assert retried[0] == 250
    (record,) = await rig.of("MessageReceived")
    assert record["event_id"] == received_event_id("retry-1@example.com")


# --- inbound over IMAP ----------------------------------------------------------------------


async def test_imap_polling_takes_new_mail_exactly_once_across_a_restart(rig: Rig) -> None:
    async with standin_imap(Mailbox()) as (box, port):
        box.put(plain("já lida antes", message_id="old@example.com"), seen=True)
        first = [
            box.put(plain(f"mensagem {i}", message_id=f"imap-{i}@example.com")) for i in (1, 2)
        ]

        before = await rig.poller(port).poll_once()
        again = await rig.poller(port).poll_once()
        third = box.put(plain("mensagem 3", message_id="imap-3@example.com"))
        read_in_webmail = box.put(plain("mensagem 4", message_id="imap-4@example.com"), seen=True)
        after_restart = await rig.poller(port).poll_once()  # a new poller: a restart
        box.renumber()  # the server rebuilt the folder: new UIDVALIDITY, new UIDs
        renumbered = await rig.poller(port).poll_once()

    assert before.taken == first
    assert again.taken == []
    assert after_restart.taken == [third, read_in_webmail]
    assert renumbered.taken == []
    records = await rig.of("MessageReceived")
    ids = sorted(r["provider_message_id"] for r in records)
    assert ids == [f"imap-{i}@example.com" for i in (1, 2, 3, 4)]  # each once, "old" never
    assert all("\\Seen" in m.flags for m in box.mails)
    fetches = [c for c in box.commands if " UID FETCH " in c and "BODY" in c]
    assert all("BODY.PEEK[]" in c for c in fetches)


async def test_imap_mail_that_cannot_be_made_durable_stays_unseen_for_the_next_poll(
    rig: Rig, contract: Contract
) -> None:
    down = Inbound(contract, BrokerDown(), processor=rig.processor, routes=routes(rig.topic))
    async with standin_imap(Mailbox()) as (box, port):
        uid = box.put(plain("Meu filho foi preso.", message_id="imap-down@example.com"))
        hostile = box.put(
            b"From: ataque@example.com\r\nMessage-ID: <imap-hostile@example.com>\r\n" + _nested(50)
        )

        failed = await rig.poller(port, intake=rig.intake_with(down)).poll_once()
        unseen_after_failure = "\\Seen" not in box.flags(uid)
        retried = await rig.poller(port).poll_once()

    assert failed.stopped_early
    assert failed.taken == []
    assert unseen_after_failure
    assert retried.taken == [uid, hostile]
    events = await rig.events()
    kinds = sorted(kind for kind, _ in events)
    assert kinds == ["InputDeadLettered", "MessageReceived"]
    (dead,) = [r for kind, r in events if kind == "InputDeadLettered"]
    assert (dead["source"], dead["error_type"]) == ("imap", "MailQuarantined")
    assert dead["reason"].startswith("too_deep: ")
    assert all("\\Seen" in m.flags for m in box.mails)


# --- outbound -------------------------------------------------------------------------------


async def test_a_reply_goes_out_through_the_relay_with_threading_headers(rig: Rig) -> None:
    await rig.contract.keys.ensure([rig.citizen.subject_id])
    key = rig.contract.keys.encryption_key(rig.citizen.subject_id)
    stored = await rig.media.put(key, PDF)
    attachment = Attachment(
        attachment_id="att-1",
        provider_media_id=None,
        media_type="application/pdf",
        size_bytes=stored.size_bytes,
        sha256=stored.sha256,
        storage_ref=stored.storage_ref,
        file_name="orientações.pdf",
    )
    reply = rig.reply(
        "msg-out-1",
        reply_to_provider_message_id="latin1-reply-1@example.com.br",
        thread_id="root-1@example.com.br",
        attachments=(attachment,),
    )
    await rig.publish(reply)
    outbound = rig.outbound()
    await outbound.start()
    try:
        await deliver_until(outbound, lambda: outbound.delivered == 1)
    finally:
        await outbound.stop()

    (envelope,) = rig.relay.received
    assert (envelope.mail_from, envelope.rcpt_tos) == (OFFICE, [CITIZEN])
    assert isinstance(envelope.original_content, bytes)
    mail = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    message_id = outbound_message_id("msg-out-1", "defensoria.sp.def.br")
    assert mail["Message-ID"] == f"<{message_id}>"
    assert mail["In-Reply-To"] == "<latin1-reply-1@example.com.br>"
    assert mail["References"] == "<root-1@example.com.br> <latin1-reply-1@example.com.br>"
    assert mail["Subject"] == "Re: Pensão alimentícia"
    body = mail.get_body(("plain",))
    assert body is not None
    assert "Recebemos a certidão" in body.get_content()
    (file,) = list(mail.iter_attachments())
    assert file.get_filename() == "orientações.pdf"
    assert file.get_content() == PDF
    (status,) = await rig.of("DeliveryStatusChanged")
    assert (status["status"], status["provider_message_id"]) == ("sent", message_id)


async def test_a_4xx_answer_is_retried_with_backoff_then_the_mail_is_sent_once(rig: Rig) -> None:
    rig.relay.answers.append("451 4.3.0 Greylisted, try again later")
    await rig.publish(rig.reply("msg-out-2"))
    outbound = rig.outbound()
    await outbound.start()
    try:
        await deliver_until(outbound, lambda: outbound.delivered == 1)
    finally:
        await outbound.stop()

    assert rig.relay.attempts == 2
    assert len(rig.relay.received) == 1
    assert rig.slept == [1.0]
    (status,) = await rig.of("DeliveryStatusChanged")
    assert status["status"] == "sent"
    assert status["provider_message_id"] == outbound_message_id("msg-out-2", "defensoria.sp.def.br")


async def test_a_5xx_answer_fails_the_message_with_the_smtp_code_and_no_address(
    rig: Rig,
) -> None:
    rig.relay.answers.append(f"550 5.1.1 <{CITIZEN}>: Recipient address rejected: unknown user")
    await rig.publish(rig.reply("msg-out-3"))
    outbound = rig.outbound()
    await outbound.start()
    try:
        await deliver_until(outbound, lambda: outbound.failed == 1)
    finally:
        await outbound.stop()

    assert rig.relay.received == []
    assert rig.slept == []
    (status,) = await rig.of("DeliveryStatusChanged")
    assert status["status"] == "failed"
    (error,) = status["errors"]
    assert error["code"] == "550"
    assert error["title"] == "5.1.1 <address>: Recipient address rejected: unknown user"
    assert CITIZEN not in str(status)


async def test_an_unreachable_relay_is_retried_then_the_message_fails_with_why(
    rig: Rig,
) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: connection refused
    rig.config = dataclasses.replace(
        rig.config, relay=dataclasses.replace(rig.config.relay, port=port)
    )
    await rig.publish(rig.reply("msg-out-4"))
    outbound = rig.outbound(max_attempts=3)
    await outbound.start()
    try:
        await deliver_until(outbound, lambda: outbound.failed == 1)
    finally:
        await outbound.stop()

    assert rig.slept == [1.0, 2.0]
    (status,) = await rig.of("DeliveryStatusChanged")
    (error,) = status["errors"]
    assert (error["code"], error["title"]) == ("gave_up", "not delivered after 3 attempts")
    assert error["detail"].startswith("ConnectionRefusedError")


# --- the service ----------------------------------------------------------------------------


async def test_the_service_takes_mail_polls_imap_delivers_replies_and_stops_when_told(
    settings: Settings, contract: Contract, topic: str, pg_schema: str, tmp_path: Path
) -> None:
    relay = RelayStandIn()
    async with (
        serving(lambda: SMTP(relay, hostname="relay.test")) as relay_port,
        standin_imap(Mailbox()) as (box, imap_port),
    ):
        box.put(plain("pela caixa IMAP", message_id="svc-imap@example.com"))
        env = relayed_to(relay_port, tmp_path) | {
            "ACOLHE_EMAIL_IMAP_HOST": "127.0.0.1",
            "ACOLHE_EMAIL_IMAP_PORT": str(imap_port),
            "ACOLHE_EMAIL_IMAP_SSL": "false",
            "ACOLHE_EMAIL_IMAP_USERNAME": "atendimento",
            "ACOLHE_EMAIL_IMAP_PASSWORD": "senha-do-imap",
        }
        async with running_service(settings, contract, topic, pg_schema, env) as running:
            port = running.smtp_port
            answer = await send(port, plain("pelo SMTP", message_id="svc-smtp@example.com"))
            assert answer[0] == 250
            contact = ContactIds(running.settings.contact_id_key()).contact("email", CITIZEN)
            await _publish_reply(settings, contract, topic, contact.contact_id, contact.subject_id)
            async with asyncio.timeout(WAIT_S):
                while len(await _of(settings, contract, topic)) < 2 or not relay.received:
                    assert not running.task.done(), running.task.exception()
    received = await _of(settings, contract, topic)
    assert sorted(r["provider_message_id"] for r in received) == [
        "svc-imap@example.com",
        "svc-smtp@example.com",
    ]
    assert relay.received[0].rcpt_tos == [CITIZEN]
    assert not await accepts(port)
    assert not await accepts(running.http_port)


async def test_the_service_answers_healthz_and_serves_its_metrics_over_http_while_it_runs(
    settings: Settings, contract: Contract, topic: str, pg_schema: str, tmp_path: Path
) -> None:
    relay = RelayStandIn()
    async with serving(lambda: SMTP(relay, hostname="relay.test")) as relay_port:
        env = relayed_to(relay_port, tmp_path)
        async with (
            running_service(settings, contract, topic, pg_schema, env) as running,
            aiohttp.ClientSession(f"http://127.0.0.1:{running.http_port}") as http,
        ):
            async with http.get("/healthz") as health:
                assert (health.status, await health.json()) == (200, {"status": "ok"})
            async with http.get("/webhook") as elsewhere:  # no route but those two
                assert elsewhere.status == 404
            async with http.get("/metrics") as metrics:
                assert metrics.status == 200
                assert metrics.content_type == "text/plain"
                text = await metrics.text()
            # the service's own registry: the 404 it just answered is counted in it
            (refused,) = [
                sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples
                if sample.name == "acolhe_connector_requests_total"
                and sample.labels == {"connector": "email", "route": "http", "status": "404"}
            ]
            assert refused >= 1
    assert not await accepts(running.http_port)


async def test_the_service_does_not_start_half_up_when_its_http_port_is_taken(
    settings: Settings, contract: Contract, topic: str, pg_schema: str, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        (relay_port,) = free_ports(1)
        env = relayed_to(relay_port, tmp_path)
        env["ACOLHE_EMAIL_HTTP_PORT"] = str(taken.getsockname()[1])
        running = start_service(settings, contract, topic, pg_schema, env)
        with pytest.raises(ExceptionGroup) as failed:  # never told to stop: it stops itself
            async with asyncio.timeout(WAIT_S):
                await running.task
    assert failed.group_contains(OSError)
    assert not await accepts(running.smtp_port), "the SMTP listener outlived the HTTP face"


def relayed_to(relay_port: int, tmp_path: Path) -> dict[str, str]:
    """The variables of a service for the office's mailbox, replying through the relay
    stand-in on `relay_port`."""
    return {
        "ACOLHE_EMAIL_MAILBOXES": OFFICE,
        "ACOLHE_EMAIL_RELAY_HOST": "127.0.0.1",
        "ACOLHE_EMAIL_RELAY_PORT": str(relay_port),
        "ACOLHE_EMAIL_RELAY_STARTTLS": "false",
        "ACOLHE_EMAIL_MEDIA_DIR": str(tmp_path / "media"),
    }


async def _publish_reply(
    settings: Settings, contract: Contract, topic: str, contact_id: str, subject_id: str
) -> None:
    now = datetime.now(UTC)
    reply = MessageSent(
        event_id="evt-svc",
        occurred_at=now,
        correlation_id="flow-svc",
        subject_id=subject_id,
        channel="email",
        contact_id=contact_id,
        contact_address=CITIZEN,
        message_id="msg-svc",
        sender_kind="agent",
        text="Recebemos sua mensagem.",
        sent_at=now,
    )
    await contract.keys.ensure([subject_id])
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        publisher = contract.publisher(producer, source="/acolhe/test", routes=routes(topic))
        await publisher.publish(reply.NAME, reply.to_record())
    finally:
        await producer.stop()


async def _of(settings: Settings, contract: Contract, topic: str) -> list[dict[str, Any]]:
    got = await read_topic(settings.kafka, contract.decode, topic)
    return [
        g.event.record for g in got if isinstance(g, Received) and g.event.name == "MessageReceived"
    ]
