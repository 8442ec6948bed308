"""Given hostile or broken mail, when parsed, then it is quarantined with the exact reason,
and the work done before refusing is bounded by the limits, not by what the mail claims.

Work is measured by counting the MIME entities the parser builds (each is a Python object
and a step of the parser's recursion), never with a clock.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from connectors.email import tree
from connectors.email.mime import DEFAULT_LIMITS, MailLimits, parse_mail
from tests.unit.connectors.email.helpers import parsed, quarantined, simple_mail

FROM = b"From: ataque@example.com\r\n"


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many MIME entities the parser has built so far (one counter, in a list)."""
    count = [0]

    class Counting(tree.BoundedMessage):
        def __init__(self, *args: Any) -> None:
            count[0] += 1
            super().__init__(*args)

    monkeypatch.setattr(tree, "BoundedMessage", Counting)
    return count


def test_mail_above_the_raw_limit_is_refused_before_any_parsing(built: list[int]) -> None:
    raw = FROM + b"\r\n" + b"x" * DEFAULT_LIMITS.max_raw_bytes
    outcome = quarantined(parse_mail(raw))
    assert outcome.reason == "too_large"
    assert built[0] == 0


def test_hundred_thousand_parts_stop_at_the_part_limit(built: list[int]) -> None:
    # Given a mail that claims 100,000 parts (about 1 MB, far below the size limit)
    raw = (
        FROM
        + b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        + b"--b\r\n\r\nx\r\n" * 100_000
        + b"--b--\r\n"
    )
    # When it is parsed
    outcome = quarantined(parse_mail(raw))
    # Then it is refused for its parts, having built no more than the limit allows
    assert (outcome.reason, outcome.detail) == ("too_many_parts", "more than 100 MIME parts")
    assert built[0] <= DEFAULT_LIMITS.max_parts + 1  # + 1: the stdlib probes its factory once


def test_multipart_nested_ten_thousand_deep_stops_at_the_depth_limit(built: list[int]) -> None:
    raw = FROM + b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
        for i in range(10_000)
    )
    outcome = quarantined(parse_mail(raw))
    assert (outcome.reason, outcome.detail) == ("too_deep", "MIME nesting deeper than 10")
    assert built[0] <= DEFAULT_LIMITS.max_depth + 3  # probe, root, one level too many


def test_forwarded_messages_nested_ten_thousand_deep_stop_at_the_depth_limit(
    built: list[int],
) -> None:
    raw = FROM + b"Content-Type: message/rfc822\r\n\r\n" * 10_000 + b"fim"
    assert quarantined(parse_mail(raw)).reason == "too_deep"
    assert built[0] <= DEFAULT_LIMITS.max_depth + 3  # probe, root, one level too many


def test_delivery_report_with_endless_header_blocks_stops_at_the_part_limit(
    built: list[int],
) -> None:
    raw = FROM + b"Content-Type: message/delivery-status\r\n\r\n" + b"X-A: 1\r\n\r\n" * 50_000
    assert quarantined(parse_mail(raw)).reason == "too_many_parts"
    assert built[0] <= DEFAULT_LIMITS.max_parts + 1


def test_too_many_header_fields() -> None:
    raw = FROM + b"X-Spam: 1\r\n" * 200 + b"\r\nbody"
    outcome = quarantined(parse_mail(raw))
    assert (outcome.reason, outcome.detail) == ("too_many_headers", "more than 200 header fields")


def test_too_many_header_fields_in_a_nested_part() -> None:
    part = b"--b\r\n" + b"X-A: 1\r\n" * 201 + b"\r\nx\r\n--b--\r\n"
    raw = simple_mail(part, content_type=b"multipart/mixed; boundary=b")
    assert quarantined(parse_mail(raw)).reason == "too_many_headers"


def test_header_line_too_long() -> None:
    raw = FROM + b"Subject: " + b"a" * 5000 + b"\r\n\r\nbody"
    outcome = quarantined(parse_mail(raw))
    assert (outcome.reason, outcome.detail) == (
        "header_line_too_long",
        "header line of 5009 bytes (limit 4000)",
    )


def test_header_field_too_long_even_when_folded() -> None:
    folded = b"\r\n ".join([b"<x@example.com>" * 60] * 40)
    raw = FROM + b"References: " + folded + b"\r\n\r\nbody"
    assert quarantined(parse_mail(raw)).reason == "header_too_long"


def test_address_header_above_its_limit() -> None:
    folded = b"\r\n ".join([b"a" * 70] * 70)
    raw = b"From: " + folded + b" <a@example.com>\r\n\r\nbody"
    assert quarantined(parse_mail(raw)).reason == "header_too_long"


@pytest.mark.parametrize(
    ("content_type", "detail"),
    [
        (
            b"multipart/mixed; boundary=" + b"z" * 500,
            "multipart boundary of 500 characters (must be 1 to 100 ASCII)",
        ),
        (
            b'multipart/mixed; boundary=""',
            "multipart boundary of 0 characters (must be 1 to 100 ASCII)",
        ),
        (b"multipart/mixed", "a multipart part has no boundary"),
    ],
)
def test_absurd_or_missing_boundary(content_type: bytes, detail: str) -> None:
    raw = simple_mail(b"--zz\r\n\r\nx\r\n", content_type=content_type)
    outcome = quarantined(parse_mail(raw))
    assert (outcome.reason, outcome.detail) == ("bad_boundary", detail)


def test_boundary_that_never_appears() -> None:
    raw = simple_mail(b"no parts here\r\n", content_type=b"multipart/mixed; boundary=q")
    assert quarantined(parse_mail(raw)).reason == "malformed_multipart"


def _attachments(count: int, size: int) -> bytes:
    parts = b"".join(
        b"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment;"
        b' filename="f%d.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        % i
        + base64.encodebytes(b"%PDF" + bytes([i % 256]) * size)
        for i in range(count)
    )
    return simple_mail(parts + b"--b--\r\n", content_type=b"multipart/mixed; boundary=b")


def test_twenty_attachments_pass_and_twenty_one_are_refused() -> None:
    assert len(parsed(parse_mail(_attachments(20, 10))).files) == 20
    outcome = quarantined(parse_mail(_attachments(21, 10)))
    assert (outcome.reason, outcome.detail) == ("too_many_attachments", "more than 20 attachments")


def test_attachment_above_the_size_limit() -> None:
    limits = MailLimits(max_attachment_bytes=1000)
    assert parsed(parse_mail(_attachments(1, 996), limits)).files[0].content_type
    outcome = quarantined(parse_mail(_attachments(1, 997), limits))
    assert (outcome.reason, outcome.detail) == (
        "attachment_too_large",
        "an attachment of 1001 bytes is above the 1000 limit",
    )


@pytest.mark.parametrize("body", [b"JVBERi0x!!!NAo=\r\n", b"JVBERi0xL\r\n"])
def test_malformed_base64(body: bytes) -> None:
    raw = simple_mail(body, content_type=b"application/pdf", cte=b"base64")
    assert quarantined(parse_mail(raw)).reason == "malformed_base64"


def test_base64_with_missing_padding_and_line_breaks_is_forgiven() -> None:
    raw = simple_mail(b"T2zD\r\noQ\r\n", cte=b"base64")
    assert parsed(parse_mail(raw)).text == "Olá"


@pytest.mark.parametrize(
    ("header", "what"),
    [
        (b"Subject: =?utf-8?q?oi=0D=0ABcc:_vitima@example.com?=\r\n", "the Subject header"),
        (b"Subject: =?utf-8?b?b2kKQmNjOiB4QHkuY29t?=\r\n", "the Subject header"),
    ],
)
def test_line_breaks_decoded_into_headers_are_header_injection(header: bytes, what: str) -> None:
    raw = simple_mail(b"x", headers=header).replace(b"Subject: teste\r\n", b"")
    outcome = quarantined(parse_mail(raw))
    assert (outcome.reason, outcome.detail) == (
        "header_injection",
        f"{what} decodes to text with a line break",
    )


def test_line_break_in_the_sender_name_is_header_injection() -> None:
    raw = simple_mail(b"x").replace(
        b"From: Cidad\xc3\xa3 <", b"From: =?utf-8?q?Ana=0ABcc=3A_x=40y=2Ecom?= <"
    )
    outcome = quarantined(parse_mail(raw))
    assert outcome.reason == "header_injection"
    assert outcome.detail == "the From header decodes to text with a line break"


def test_line_break_in_a_file_name_is_header_injection() -> None:
    part = (
        b"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment;"
        b" filename*=utf-8''a%0D%0AContent-Type%3A%20text%2Fhtml.pdf\r\n\r\n%PDF\r\n--b--\r\n"
    )
    raw = simple_mail(part, content_type=b"multipart/mixed; boundary=b")
    assert quarantined(parse_mail(raw)).reason == "header_injection"


def test_mail_without_sender() -> None:
    raw = b"To: atendimento@defensoria.sp.def.br\r\nSubject: oi\r\n\r\nsem remetente"
    assert quarantined(parse_mail(raw)).reason == "missing_from"


@pytest.mark.parametrize("sender", [b"undisclosed-recipients:;", b"sem arroba", b"<>"])
def test_sender_without_a_usable_address(sender: bytes) -> None:
    raw = b"From: " + sender + b"\r\n\r\nbody"
    assert quarantined(parse_mail(raw)).reason == "invalid_from"


def test_anything_the_stdlib_raises_becomes_unparseable(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(raw: bytes, limits: MailLimits) -> tree.BoundedMessage:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr("connectors.email.mime.parse_tree", broken)
    outcome = quarantined(parse_mail(simple_mail(b"x")))
    assert (outcome.reason, outcome.detail) == (
        "unparseable",
        "RecursionError while parsing the mail",
    )


def test_text_beyond_its_limit_is_cut_not_refused() -> None:
    mail = parsed(parse_mail(simple_mail(b"a" * 300), MailLimits(max_text_chars=100)))
    assert mail.text == "a" * 100
    assert mail.notes == ("text of 300 characters cut to 100",)


def test_html_with_endless_tags_is_cut_after_the_tag_limit() -> None:
    html = b"<p>comeco</p>" + b"<b>x</b>" * 60_000
    mail = parsed(parse_mail(simple_mail(html, content_type=b"text/html")))
    assert mail.text is not None
    assert mail.text.startswith("comeco")
    assert mail.text.count("x") < 60_000
    assert "body: HTML cut after too many tags" in mail.notes
