"""The files a visitor sends: given an upload's name, type and bytes, when the web chat
checks them, then the media type or the refusal (status, code) the widget gets; given a
frame's descriptor, then the attachment or the first field that is wrong; and a descriptor
names only a file the visitor itself could have uploaded."""

from __future__ import annotations

import hashlib

import pytest

from connectors.common.files import descriptor
from connectors.common.media import storage_ref
from connectors.webchat.files import (
    DEFAULT_FILE_TYPES,
    FileRefused,
    attachment_id_for,
    check_upload_body,
    check_upload_header,
    content_disposition,
    content_matches,
    foreign_field,
    read_descriptor,
)
from schemas.events import Attachment

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 16
HEIC = b"\x00\x00\x00\x18ftypheic" + b"\x00" * 16
PDF = b"%PDF-1.7\n" + b"\x00" * 16
CONTACT, SUBJECT = "contact-1", "subject-1"


def uploaded(content: bytes = PNG, **changes: object) -> Attachment:
    sha = hashlib.sha256(content).hexdigest()
    fields: dict[str, object] = {
        "attachment_id": attachment_id_for(CONTACT, sha),
        "media_type": "image/png",
        "size_bytes": len(content),
        "sha256": sha,
        "storage_ref": storage_ref(SUBJECT, sha),
        "file_name": "rg frente.png",
    }
    return Attachment(**{**fields, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("media_type", "content"),
    [
        ("image/png", PNG),
        ("image/jpeg", JPEG),
        ("image/webp", WEBP),
        ("image/heic", HEIC),
        ("application/pdf", PDF),
    ],
)
def test_each_type_the_office_takes_by_default_is_recognized_by_its_bytes(
    media_type: str, content: bytes
) -> None:
    assert check_upload_header("doc", media_type, accepted=DEFAULT_FILE_TYPES) == media_type
    assert check_upload_body(content, media_type) is None


def test_a_content_type_with_parameters_and_capitals_is_its_bare_type() -> None:
    assert check_upload_header("rg.jpg", "Image/JPEG; q=1", accepted=DEFAULT_FILE_TYPES) == (
        "image/jpeg"
    )


@pytest.mark.parametrize(
    ("name", "content_type", "status", "code", "field"),
    [
        (None, "image/png", 400, "invalid_field", "name"),
        ("  ", "image/png", 400, "invalid_field", "name"),
        ("../etc/passwd", "image/png", 400, "invalid_field", "name"),
        ("a\x00.png", "image/png", 400, "invalid_field", "name"),
        ("x" * 256, "image/png", 400, "invalid_field", "name"),
        ("rg.png", None, 400, "invalid_field", "Content-Type"),
        ("rg.png", "not a type", 400, "invalid_field", "Content-Type"),
        ("page.html", "text/html", 415, "unsupported_type", None),
        ("rg.gif", "image/gif", 415, "unsupported_type", None),  # recognized, not taken
        ("x.exe", "application/octet-stream", 415, "unsupported_type", None),
    ],
)
def test_an_upload_the_office_does_not_take_is_refused_before_its_body_is_read(
    name: str | None, content_type: str | None, status: int, code: str, field: str | None
) -> None:
    refused = check_upload_header(name, content_type, accepted=DEFAULT_FILE_TYPES)

    assert isinstance(refused, FileRefused)
    assert (refused.status, refused.code, refused.field) == (status, code, field)


def test_the_unsupported_type_refusal_lists_what_the_office_takes() -> None:
    refused = check_upload_header("a.txt", "text/plain", accepted=DEFAULT_FILE_TYPES)

    assert isinstance(refused, FileRefused)
    assert all(t in refused.reason for t in DEFAULT_FILE_TYPES)


@pytest.mark.parametrize(
    ("content", "media_type"),
    [
        (b"<html><script>alert(1)</script>", "image/png"),
        (b"MZ\x90\x00 a program", "image/jpeg"),
        (PNG, "application/pdf"),
        (JPEG, "image/png"),
        (b"RIFF\x10\x00\x00\x00WAVEfmt ", "image/webp"),
    ],
)
def test_bytes_that_are_not_the_declared_type_are_refused_415(
    content: bytes, media_type: str
) -> None:
    refused = check_upload_body(content, media_type)

    assert refused == FileRefused(
        415, "type_mismatch", f"the file is not a {media_type}: send the file as it is"
    )


def test_an_empty_upload_is_refused_400() -> None:
    assert check_upload_body(b"", "image/png") == FileRefused(
        400, "invalid_field", "body: empty: send the file's bytes", "body"
    )


def test_a_type_not_recognized_never_matches() -> None:
    assert not content_matches("text/plain", b"hello")


def test_a_descriptor_as_the_upload_answered_reads_back_as_the_attachment() -> None:
    attachment = uploaded()

    assert read_descriptor(descriptor(attachment), "attachments[0]") == attachment


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"attachment_id": "not-an-id"}, "attachments[0].attachment_id"),
        ({"sha256": "AB" * 32}, "attachments[0].sha256"),
        ({"size_bytes": 0}, "attachments[0].size_bytes"),
        ({"size_bytes": True}, "attachments[0].size_bytes"),
        ({"size_bytes": "12"}, "attachments[0].size_bytes"),
        ({"media_type": "IMAGE/PNG"}, "attachments[0].media_type"),
        ({"file_name": "a/b.png"}, "attachments[0].file_name"),
        ({"storage_ref": "/etc/passwd"}, "attachments[0].storage_ref"),
        ({"path": "x"}, "attachments[0].path"),
    ],
)
def test_each_field_of_a_descriptor_is_checked(changes: dict[str, object], field: str) -> None:
    item = {**descriptor(uploaded()), **changes}

    problem = read_descriptor(item, "attachments[0]")

    assert isinstance(problem, tuple)
    assert problem[0] == field


def test_a_descriptor_missing_a_field_or_not_an_object_is_refused() -> None:
    item = descriptor(uploaded())
    del item["sha256"]

    assert read_descriptor(item, "attachments[1]") == (
        "attachments[1].sha256",
        "required, as POST /webchat/files answered",
    )
    not_an_object = read_descriptor("media/abc", "attachments[0]")
    assert isinstance(not_an_object, tuple)
    assert not_an_object[0] == "attachments[0]"


def test_a_file_uploaded_by_the_visitor_is_its_own() -> None:
    assert (
        foreign_field(
            uploaded(),
            contact_id=CONTACT,
            subject_id=SUBJECT,
            accepted=DEFAULT_FILE_TYPES,
            max_bytes=1024,
        )
        is None
    )


@pytest.mark.parametrize(
    ("contact", "subject", "field"),
    [
        ("contact-2", SUBJECT, "attachment_id"),  # another visitor's descriptor
        (CONTACT, "subject-2", "storage_ref"),  # the id forged, the file another's
    ],
)
def test_another_visitors_file_is_not_the_visitors(contact: str, subject: str, field: str) -> None:
    wrong = foreign_field(
        uploaded(),
        contact_id=contact,
        subject_id=subject,
        accepted=DEFAULT_FILE_TYPES,
        max_bytes=1024,
    )

    assert wrong == (field, "not a file you uploaded")


def test_a_descriptor_of_a_type_or_size_the_office_does_not_take_is_refused() -> None:
    assert foreign_field(
        uploaded(media_type="text/html"),
        contact_id=CONTACT,
        subject_id=SUBJECT,
        accepted=DEFAULT_FILE_TYPES,
        max_bytes=1024,
    ) == ("media_type", f"one of {', '.join(DEFAULT_FILE_TYPES)}")
    assert foreign_field(
        uploaded(), contact_id=CONTACT, subject_id=SUBJECT, accepted=DEFAULT_FILE_TYPES, max_bytes=8
    ) == ("size_bytes", "at most 8")


def test_a_download_is_an_attachment_named_in_utf8_and_safe_ascii() -> None:
    assert content_disposition('petição "final".pdf') == (
        'attachment; filename="peti__o _final_.pdf"; '
        "filename*=UTF-8''peti%C3%A7%C3%A3o%20%22final%22.pdf"
    )
