"""An agent's files in a reply: given the descriptors the upload answered, when the agents'
app posts a reply naming them, then SendReply carries them as Attachments (text optional);
and every malformed descriptor is refused field by field, never quoting a value."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from connectors.common.media import storage_ref
from connectors.gateway.auth import AgentClaims
from connectors.gateway.commands import InvalidRequest, Problem, command_from_request
from connectors.gateway.files import (
    MAX_ATTACHMENTS,
    attachment_id_for,
    file_name_problem,
    normalized_media_type,
)
from schemas.events import Attachment, SendReply

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ANA = AgentClaims(agent_id="ana", issued_at=T0, expires_at=T0 + timedelta(hours=8))
KEY = "7f1c9a52-3b7e-4c1a-9d55-0e6f2a8b4c11"
REPLY = {"case_id": "case-1", "contact_id": "whatsapp-1", "subject_id": "citizen-1"}
PDF = b"%PDF-1.7 procuracao"
SHA = hashlib.sha256(PDF).hexdigest()
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def uploaded(content: bytes = PDF, **changes: Any) -> dict[str, Any]:
    """The descriptor POST /v1/cases/case-1/files answers for `content`."""
    sha = hashlib.sha256(content).hexdigest()
    described = {
        "attachment_id": attachment_id_for("case-1", sha),
        "sha256": sha,
        "size_bytes": len(content),
        "media_type": "application/pdf",
        "file_name": "procuracao.pdf",
        "storage_ref": storage_ref("citizen-1", sha),
    }
    return described | changes


def reply(**body: Any) -> SendReply | InvalidRequest:
    outcome = command_from_request(
        "reply", orjson.dumps(REPLY | body), agent=ANA, idempotency_key=KEY, received_at=T0
    )
    assert not isinstance(outcome, InvalidRequest) or outcome.problems
    return outcome  # type: ignore[return-value]


def problems(outcome: SendReply | InvalidRequest) -> set[Problem]:
    assert isinstance(outcome, InvalidRequest), outcome
    return set(outcome.problems)


def test_a_reply_with_a_file_and_no_text_carries_the_file_as_an_attachment() -> None:
    outcome = reply(attachments=[uploaded()])

    assert isinstance(outcome, SendReply)
    assert outcome.text is None
    assert outcome.attachments == (
        Attachment(
            attachment_id=attachment_id_for("case-1", SHA),
            media_type="application/pdf",
            size_bytes=len(PDF),
            sha256=SHA,
            storage_ref=storage_ref("citizen-1", SHA),
            file_name="procuracao.pdf",
        ),
    )


def test_text_and_files_go_together() -> None:
    outcome = reply(text="Segue a procuração.", attachments=[uploaded(), uploaded(b"\x89PNG")])

    assert isinstance(outcome, SendReply)
    assert outcome.text == "Segue a procuração."
    assert [a.sha256 for a in outcome.attachments] == [SHA, hashlib.sha256(b"\x89PNG").hexdigest()]


def test_a_reply_without_text_template_or_files_is_refused_naming_text() -> None:
    assert {p.field for p in problems(reply())} == {"text"}
    assert {p.field for p in problems(reply(attachments=[]))} == {"attachments"}


def test_files_with_a_template_are_refused() -> None:
    template = {"name": "aviso_audiencia", "language": "pt_BR"}

    assert problems(reply(template=template, attachments=[uploaded()])) == {
        Problem("attachments", "a template goes alone: no files with it")
    }


ALL_FIELDS = "an object: attachment_id, sha256, size_bytes, media_type, file_name, storage_ref"


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ("att-1", Problem("attachments[0]", ALL_FIELDS)),
        (
            uploaded(sha256="A" * 64),
            Problem("attachments[0].sha256", "64 lowercase hexadecimal digits"),
        ),
        (
            uploaded(attachment_id=attachment_id_for("case-2", SHA)),
            Problem("attachments[0].attachment_id", "not a file uploaded to this case"),
        ),
        (
            uploaded(size_bytes=0),
            Problem(
                "attachments[0].size_bytes", "the size the upload answered: a positive integer"
            ),
        ),
        (
            uploaded(size_bytes="10"),
            Problem(
                "attachments[0].size_bytes", "the size the upload answered: a positive integer"
            ),
        ),
        (
            uploaded(media_type="PDF"),
            Problem("attachments[0].media_type", "a media type such as application/pdf"),
        ),
        (
            uploaded(media_type="multipart/mixed"),
            Problem("attachments[0].media_type", "a media type such as application/pdf"),
        ),
        (
            uploaded(file_name="../etc/passwd"),
            Problem(
                "attachments[0].file_name",
                "a file name: no path separator (/ or \\) nor control character",
            ),
        ),
        (
            uploaded(storage_ref="/etc/passwd"),
            Problem("attachments[0].storage_ref", "the storage_ref the upload answered"),
        ),
        (uploaded(caption="x"), Problem("attachments[0].caption", "unknown field")),
    ],
)
def test_a_malformed_file_is_refused_naming_its_field(item: object, problem: Problem) -> None:
    assert problems(reply(text="Segue.", attachments=[item])) == {problem}


def test_every_problem_of_every_file_is_reported_at_once_without_its_value() -> None:
    secret_name = "laudo_maria_da_silva\x00.pdf"
    outcome = reply(
        attachments=[uploaded(file_name=secret_name), uploaded(b"x", sha256="0", media_type=7)]
    )

    found = problems(outcome)
    assert {p.field for p in found} == {
        "attachments[0].file_name",
        "attachments[1].sha256",
        "attachments[1].media_type",
    }
    assert all("maria" not in p.reason for p in found)


def test_at_most_a_few_files_and_never_the_same_twice() -> None:
    many = [uploaded(bytes([n])) for n in range(MAX_ATTACHMENTS + 1)]

    assert problems(reply(attachments=many)) == {
        Problem("attachments", f"at most {MAX_ATTACHMENTS} files")
    }
    assert problems(reply(attachments=[uploaded(), uploaded()])) == {
        Problem("attachments", "the same file twice")
    }
    assert isinstance(reply(attachments=many[:MAX_ATTACHMENTS]), SendReply)


@pytest.mark.parametrize(
    ("name", "refused"),
    [
        ("peticao.pdf", False),
        ("Petição inicial (v2).pdf", False),
        ("a" * 255, False),
        ("a" * 256, True),
        ("", True),
        ("  ", True),
        ("..", True),
        ("dir/peticao.pdf", True),
        ("dir\\peticao.pdf", True),
        ("peticao\r\n.pdf", True),
        (None, True),
    ],
)
def test_an_upload_is_named_by_a_bounded_file_name_without_a_path(
    name: str | None, refused: bool
) -> None:
    assert (file_name_problem(name) is not None) is refused


@pytest.mark.parametrize(
    ("declared", "media_type"),
    [
        ("application/pdf", "application/pdf"),
        ("Image/JPEG; charset=binary", "image/jpeg"),
        (DOCX, DOCX),
        ("multipart/form-data; boundary=x", None),
        ("message/rfc822", None),
        ("pdf", None),
        ("", None),
        (None, None),
    ],
)
def test_an_upload_s_media_type_is_its_content_type_without_parameters(
    declared: str | None, media_type: str | None
) -> None:
    assert normalized_media_type(declared) == media_type


def test_the_same_file_for_the_same_case_is_the_same_attachment() -> None:
    assert attachment_id_for("case-1", SHA) == attachment_id_for("case-1", SHA)
    assert attachment_id_for("case-1", SHA) != attachment_id_for("case-2", SHA)
