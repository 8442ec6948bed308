"""Files in the web chat against the real Kafka and PostgreSQL: a visitor uploads a photo of
a document, sealed in the media store under their citizen's key, then names it in a message,
which is published once as a MessageReceived with the Attachment; an agent's file reaches the
visitor's socket and only that visitor downloads it; every bad upload and every descriptor
that is not the visitor's own is refused with nothing stored or published
(docs/connectors.md, "Web chat", lists them with these tests)."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from connectors.common.media import FileMediaStore, storage_ref
from connectors.webchat.config import RateSettings
from connectors.webchat.files import DEFAULT_FILE_TYPES, attachment_id_for
from schemas.envelope import derive_event_id
from schemas.events import Attachment
from streams.shared.contract import Contract
from streams.shared.settings import Settings
from tests.integration.connectors.webchat_rig import (
    TopicReader,
    WebChatRig,
    next_frame,
    running_webchat,
    send,
    with_limits,
)

pytestmark = pytest.mark.timeout(120)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + os.urandom(200)
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n" + os.urandom(300)


async def upload(
    rig: WebChatRig,
    token: str | None,
    content: bytes,
    *,
    name: str = "rg frente.png",
    media_type: str = "image/png",
    origin: str | None = "",
    chunked: bool = False,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """POST /webchat/files as the widget does: status, JSON body and headers."""
    headers = {"Content-Type": media_type}
    if origin is not None:
        headers["Origin"] = origin or rig.origin
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"

    async def stream() -> AsyncIterator[bytes]:
        yield content

    async with rig.http.post(
        f"{rig.url}/webchat/files",
        params={"name": name},
        data=stream() if chunked else content,
        headers=headers,
    ) as response:
        return response.status, await response.json(), dict(response.headers)


async def download(
    rig: WebChatRig, token: str, attachment_id: str, origin: str | None = None
) -> tuple[int, bytes, dict[str, str]]:
    headers = {"Authorization": f"Bearer {token}"}
    if origin is not None:
        headers["Origin"] = origin
    async with rig.http.get(f"{rig.url}/webchat/files/{attachment_id}", headers=headers) as r:
        return r.status, await r.read(), dict(r.headers)


def stored_files(rig: WebChatRig) -> list[Path]:
    return [p for p in rig.media_dir.rglob("*") if p.is_file()]


async def opened(rig: WebChatRig, token: str) -> Any:
    ws = await rig.connect(token)
    await send(ws, {"type": "resume", "last_seen_seq": 0})
    return ws


def message_with(client_id: str, files: list[dict[str, Any]], text: str | None = None) -> Any:
    frame: dict[str, Any] = {"type": "message", "client_message_id": client_id}
    if text is not None:
        frame["text"] = text
    frame["attachments"] = files
    return frame


# -- inbound ----------------------------------------------------------------------------


async def test_an_uploaded_file_named_in_a_message_is_published_once_and_sealed_on_disk(
    settings: Settings, contract: Contract, topic: str, pg_schema: str
) -> None:
    async with (
        running_webchat(settings, contract, topic, pg_schema) as rig,
        TopicReader(settings, contract, topic) as log,
    ):
        token = await rig.new_token()
        contact = rig.chat.contact(rig.claims(token))
        ws = await opened(rig, token)

        status, described, _ = await upload(rig, token, PNG)
        again = await upload(rig, token, PNG)
        await log.settle()
        published_by_upload = len(log.events)
        on_disk = stored_files(rig)
        await send(ws, message_with("c-1", [described], "Segue meu RG"))
        ack = await next_frame(ws)
        await send(ws, message_with("c-1", [described], "Segue meu RG"))
        resent = await next_frame(ws)
        own = await download(rig, token, described["attachment_id"])
        await ws.close()

        sha = hashlib.sha256(PNG).hexdigest()
        assert status == 201
        assert described == {
            "attachment_id": attachment_id_for(contact.contact_id, sha),
            "sha256": sha,
            "size_bytes": len(PNG),
            "media_type": "image/png",
            "file_name": "rg frente.png",
            "storage_ref": storage_ref(contact.subject_id, sha),
        }
        assert again[:2] == (201, described)
        assert published_by_upload == 0
        assert [p.relative_to(rig.media_dir).as_posix() for p in on_disk] == [
            described["storage_ref"]
        ]
        sealed = on_disk[0].read_bytes()
        assert PNG[16:48] not in sealed
        assert b"IHDR" not in sealed
        assert ack["type"] == "ack"
        assert resent == ack
        await log.settle()
        [received] = log.of("MessageReceived")
        assert received["event_id"] == ack["message_id"]
        assert (received["kind"], received["text"]) == ("document", "Segue meu RG")
        assert received["attachments"] == [
            {**described, "provider_media_id": None, "caption": None}
        ]
        assert own[0] == 200
        assert own[1] == PNG


async def test_uploads_the_office_does_not_take_are_refused_and_nothing_is_stored(
    settings: Settings, contract: Contract, topic: str, pg_schema: str
) -> None:
    tune = with_limits(max_file_bytes=1024, files=RateSettings(per_minute=600, burst=50))
    async with (
        running_webchat(settings, contract, topic, pg_schema, tune=tune) as rig,
        TopicReader(settings, contract, topic) as log,
    ):
        token = await rig.new_token()
        big = PNG + b"\x00" * 1024
        answers = {
            "too large": await upload(rig, token, big),
            "too large, chunked": await upload(rig, token, big, chunked=True),
            "wrong type": await upload(
                rig, token, b"<html>", name="a.html", media_type="text/html"
            ),
            "not what it says": await upload(rig, token, b"<html><script>", media_type="image/png"),
            "empty": await upload(rig, token, b""),
            "bad name": await upload(rig, token, PNG, name="../../etc/rg.png"),
            "foreign origin": await upload(rig, token, PNG, origin="https://evil.example"),
            "no origin": await upload(rig, token, PNG, origin=None),
            "no token": await upload(rig, None, PNG),
            "not a token": await upload(rig, "abc", PNG),
        }
        await log.settle()

        codes = {k: (s, body["error"]["code"]) for k, (s, body, _) in answers.items()}
        assert codes == {
            "too large": (413, "too_large"),
            "too large, chunked": (413, "too_large"),
            "wrong type": (415, "unsupported_type"),
            "not what it says": (415, "type_mismatch"),
            "empty": (400, "invalid_field"),
            "bad name": (400, "invalid_field"),
            "foreign origin": (403, "origin_not_allowed"),
            "no origin": (403, "origin_missing"),
            "no token": (401, "token_malformed"),
            "not a token": (401, "token_malformed"),
        }
        assert answers["wrong type"][1]["error"]["accepted"] == list(DEFAULT_FILE_TYPES)
        assert answers["bad name"][1]["error"]["field"] == "name"
        assert "Access-Control-Allow-Origin" not in answers["foreign origin"][2]
        assert answers["no token"][2]["WWW-Authenticate"] == 'Bearer error="invalid_token"'
        assert stored_files(rig) == []
        assert log.events == []


async def test_a_flood_of_uploads_from_one_visitor_gets_429_with_retry_after(
    settings: Settings, contract: Contract, topic: str, pg_schema: str
) -> None:
    tune = with_limits(files=RateSettings(per_minute=1, burst=2))
    async with running_webchat(settings, contract, topic, pg_schema, tune=tune) as rig:
        token, other = await rig.new_token(), await rig.new_token()

        answers = [await upload(rig, token, PNG) for _ in range(3)]
        others = await upload(rig, other, PNG)

    assert [a[0] for a in answers] == [201, 201, 429]
    assert answers[2][1]["error"]["code"] == "rate_limited"
    assert int(answers[2][2]["Retry-After"]) >= 1
    assert others[0] == 201


async def test_a_message_naming_a_file_not_the_visitors_own_is_refused_and_nothing_published(
    settings: Settings, contract: Contract, topic: str, pg_schema: str
) -> None:
    async with (
        running_webchat(settings, contract, topic, pg_schema) as rig,
        TopicReader(settings, contract, topic) as log,
    ):
        ana, bia = await rig.new_token(), await rig.new_token()
        _, anas, _ = await upload(rig, ana, PNG)
        bias_contact = rig.chat.contact(rig.claims(bia))
        forged_id = {
            **anas,
            "attachment_id": attachment_id_for(bias_contact.contact_id, anas["sha256"]),
        }
        never = hashlib.sha256(b"never uploaded").hexdigest()
        made_up = {
            **anas,
            "sha256": never,
            "attachment_id": attachment_id_for(bias_contact.contact_id, never),
            "storage_ref": storage_ref(bias_contact.subject_id, never),
        }
        ws = await opened(rig, bia)
        errors = []
        for n, files in enumerate(([anas], [forged_id], [made_up])):
            await send(ws, message_with(f"c-{n}", files, "é meu"))
            errors.append(await next_frame(ws))
        await ws.close()
        async with rig.http.post(
            f"{rig.url}/webchat/messages",
            json=message_with("h-1", [anas]),
            headers={"Origin": rig.origin, "Authorization": f"Bearer {bia}"},
        ) as response:
            over_http = response.status, (await response.json())["error"]["field"]
        ana_downloads = (await download(rig, bia, anas["attachment_id"]))[0]
        await log.settle()

    assert [(e["type"], e["code"], e["field"]) for e in errors] == [
        ("error", "invalid_field", "attachments[0].attachment_id"),
        ("error", "invalid_field", "attachments[0].storage_ref"),
        ("error", "invalid_field", "attachments[0]"),
    ]
    assert over_http == (400, "attachments[0].attachment_id")
    assert ana_downloads == 404  # uploaded but in no message: not even Ana's to fetch here
    assert log.of("MessageReceived") == []


# -- outbound ---------------------------------------------------------------------------


async def test_an_agents_file_reaches_the_visitors_socket_and_only_that_visitor_downloads_it(
    settings: Settings, contract: Contract, topic: str, pg_schema: str
) -> None:
    async with (
        running_webchat(settings, contract, topic, pg_schema) as rig,
        TopicReader(settings, contract, topic) as log,
    ):
        token, stranger = await rig.new_token(), await rig.new_token()
        claims = rig.claims(token)
        contact = rig.chat.contact(claims)
        ws = await opened(rig, token)
        await send(ws, {"type": "message", "client_message_id": "c-1", "text": "Oi"})
        assert (await next_frame(ws))["type"] == "ack"
        # the gateway seals an agent's file under the case's citizen's key, in the same store
        await contract.keys.ensure([contact.subject_id])
        stored = await FileMediaStore(rig.media_dir).put(
            contract.keys.encryption_key(contact.subject_id), PDF
        )
        agents = Attachment(
            attachment_id=derive_event_id(
                "connectors.gateway", "attachment", "case-1", stored.sha256
            ),
            media_type="application/pdf",
            size_bytes=stored.size_bytes,
            sha256=stored.sha256,
            storage_ref=stored.storage_ref,
            file_name="petição inicial.pdf",
        )

        reply = await rig.reply_to(
            contact.contact_id,
            contact.subject_id,
            claims.visitor_id,
            claims.session_id,
            None,
            (agents,),
        )
        pushed = await next_frame(ws)
        [status] = await log.wait_for("DeliveryStatusChanged", message_id=reply.message_id)
        mine = await download(rig, token, agents.attachment_id, origin=rig.origin)
        theirs = await download(rig, stranger, agents.attachment_id)
        nothing = await download(rig, token, str(uuid.uuid4()))
        foreign = await download(rig, token, agents.attachment_id, origin="https://evil.example")
        await ws.close()
        again = await opened(rig, token)
        history = [await next_frame(again) for _ in range(2)]
        await again.close()

    shown = {
        "attachment_id": agents.attachment_id,
        "file_name": "petição inicial.pdf",
        "media_type": "application/pdf",
        "size_bytes": len(PDF),
    }
    assert (pushed["type"], pushed["message_id"], pushed["text"]) == (
        "message",
        reply.message_id,
        "",
    )
    assert pushed["attachments"] == [shown]
    assert status["status"] == "sent"
    assert mine[0] == 200
    assert mine[1] == PDF
    assert mine[2]["Content-Type"] == "application/pdf"
    assert mine[2]["Content-Disposition"] == (
        'attachment; filename="peti__o inicial.pdf"; '
        "filename*=UTF-8''peti%C3%A7%C3%A3o%20inicial.pdf"
    )
    assert mine[2]["X-Content-Type-Options"] == "nosniff"
    assert mine[2]["Cache-Control"] == "no-store"
    assert mine[2]["Access-Control-Allow-Origin"] == rig.origin
    assert theirs[0] == nothing[0] == 404
    assert theirs[1] == nothing[1]  # the same answer: nothing says the file exists
    assert foreign[0] == 403
    assert history[1]["attachments"] == [shown]
