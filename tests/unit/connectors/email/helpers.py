"""Reading fixture mails and asserting on parse outcomes."""

from __future__ import annotations

from pathlib import Path

from connectors.email.mime import ParsedMail, ParseOutcome, Quarantined

MAILS = Path(__file__).parent / "mails"


def mail_bytes(name: str) -> bytes:
    return (MAILS / name).read_bytes()


def parsed(outcome: ParseOutcome) -> ParsedMail:
    assert isinstance(outcome, ParsedMail), f"expected a parsed mail, got {outcome}"
    return outcome


def quarantined(outcome: ParseOutcome) -> Quarantined:
    assert isinstance(outcome, Quarantined), f"expected a quarantine, got {outcome}"
    return outcome


def simple_mail(
    body: bytes,
    *,
    headers: bytes = b"",
    content_type: bytes = b"text/plain; charset=utf-8",
    cte: bytes | None = None,
) -> bytes:
    """A minimal well-formed mail around `body`, with extra `headers` (CRLF-terminated)."""
    encoding = b"Content-Transfer-Encoding: " + cte + b"\r\n" if cte else b""
    return (
        b"From: Cidad\xc3\xa3 <cidada@example.com>\r\n"
        b"To: atendimento@defensoria.sp.def.br\r\n"
        b"Subject: teste\r\n"
        b"Message-ID: <simple-1@example.com>\r\n"
        b"Date: Mon, 2 Mar 2026 10:00:00 -0300\r\n"
        + headers
        + b"MIME-Version: 1.0\r\nContent-Type: "
        + content_type
        + b"\r\n"
        + encoding
        + b"\r\n"
        + body
    )
