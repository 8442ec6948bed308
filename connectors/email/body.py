"""A parsed MIME tree -> the mail's plain-text body and its files.

Which part is the body, as mail clients decide it:
- multipart/alternative: the text/plain alternative, else text/html (as text), else the
  last alternative; files found in the other alternatives are kept too (Apple Mail puts a
  pasted photo only in the HTML alternative).
- multipart/related: the root part (the `start` parameter, else the first) is the body;
  the others are inline files, referred to by Content-ID.
- multipart/signed: the signed content; the signature is dropped.
- multipart/mixed and the rest: every inline text part, in order; the others are files.
- message/rfc822 (a forwarded mail): its From, Date, Subject and To as a header block,
  then its body; its files are the mail's files.
Text is read in its charset (`decoding.py`), format=flowed lines are joined (RFC 3676),
and line endings become `\n`.

Pure: no I/O, no clock; must not depend on Kafka, Postgres or the media store.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from connectors.email import threads
from connectors.email.decoding import (
    MalformedBase64,
    decode_header_value,
    decode_text,
    decode_transfer,
    html_to_text,
    parse_mime_header,
)
from connectors.email.tree import BoundedMessage, MailLimits, Refused, check_single_line

FORWARDED = "---------- Forwarded message ----------"
_BODY_TYPES = ("text/plain", "text/html")
_SKIPPED_TYPES = frozenset(
    {"application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature"}
)
_GENERIC_TYPES = frozenset({"", "application/octet-stream", "application/unknown"})
_BY_EXTENSION = {
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "heic": "image/heic",
    "webp": "image/webp",
    "txt": "text/plain",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "odt": "application/vnd.oasis.opendocument.text",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "m4a": "audio/mp4",
    "mp4": "video/mp4",
    "zip": "application/zip",
}
_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_NOT_IN_NAME = re.compile(r"[\x00-\x1f\x7f]")
MAX_FILENAME = 255


@dataclass(frozen=True)
class MailFile:
    """A file that came with the mail: an attachment, or an inline image (`is_inline`,
    usually referred to from the HTML by its `content_id`)."""

    filename: str | None
    content_type: str
    content: bytes
    content_id: str | None
    is_inline: bool


def read_body(
    root: BoundedMessage, limits: MailLimits, notes: list[str]
) -> tuple[str | None, tuple[MailFile, ...]]:
    """The body text (None when the mail has none) and the files, in document order."""
    walk = _Walk(limits, notes)
    walk.entity(root, in_related=False)
    text = "\n\n".join(t for t in walk.texts if t)
    if len(text) > limits.max_text_chars:
        notes.append(f"text of {len(text)} characters cut to {limits.max_text_chars}")
        text = text[: limits.max_text_chars]
    return text or None, tuple(walk.files)


@dataclass
class _Walk:
    limits: MailLimits
    notes: list[str]
    texts: list[str] = field(default_factory=list)
    files: list[MailFile] = field(default_factory=list)
    seen: set[bytes] = field(default_factory=set)

    def entity(self, part: BoundedMessage, *, in_related: bool) -> None:
        ctype = part.get_content_type()
        maintype, _, subtype = ctype.partition("/")
        children = _children(part)
        if maintype == "multipart":
            if children is None:
                if part.get_boundary() is None:
                    raise Refused("bad_boundary", "a multipart part has no boundary")
                raise Refused("malformed_multipart", "a multipart's boundary never appears")
            if subtype == "alternative":
                self.alternative(children)
            elif subtype == "related":
                self.related(part, children)
            else:
                for child in children[:1] if subtype == "signed" else children:
                    self.entity(child, in_related=False)
            return
        if maintype == "message":
            if subtype in ("rfc822", "global") and children:
                self.forwarded(children[0])
            return  # delivery and disposition reports carry no text of the citizen's
        if ctype in _BODY_TYPES and not _is_attachment(part):
            self.texts.append(self.text_of(part))
        elif ctype not in _SKIPPED_TYPES:
            self.file(part, inline=in_related)

    def alternative(self, children: list[BoundedMessage]) -> None:
        chosen = next(
            (c for t in _BODY_TYPES for c in children if c.get_content_type() == t),
            children[-1] if children else None,
        )
        for child in children:
            if child is chosen:
                self.entity(child, in_related=False)
            else:
                self.files_only(child)

    def related(self, part: BoundedMessage, children: list[BoundedMessage]) -> None:
        start = threads.normalize_message_id(part.content_header()[1].get("start", ""))
        root = next(
            (c for c in children if start and _content_id(c) == start),
            children[0] if children else None,
        )
        for child in children:
            self.entity(child, in_related=child is not root)

    def files_only(self, part: BoundedMessage) -> None:
        children = _children(part)
        if children is not None:
            for child in children:
                self.files_only(child)
        elif not part.get_content_type().startswith(("text/", "message/", "multipart/")):
            self.file(part, inline=True)

    def forwarded(self, message: BoundedMessage) -> None:
        block = [FORWARDED]
        for label in ("From", "Date", "Subject", "To"):
            raw = message.header(label)
            if raw:
                value, _ = decode_header_value(raw)
                block.append(f"{label}: {' '.join(value.split())}")
        self.texts.append("\n".join(block))
        self.entity(message, in_related=False)

    def text_of(self, part: BoundedMessage) -> str:
        params = part.content_header()[1]
        data = self.content(part, is_file=False)
        text, note = decode_text(data, params.get("charset"))
        if note:
            self.notes.append(f"body: {note}")
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if part.get_content_type() == "text/html":
            text, was_cut = html_to_text(text)
            if was_cut:
                self.notes.append("body: HTML cut after too many tags")
        elif params.get("format", "").lower() == "flowed":
            text = unflow(text, delete_space=params.get("delsp", "").lower() == "yes")
        return text.rstrip().lstrip("\n")

    def file(self, part: BoundedMessage, *, inline: bool) -> None:
        content = self.content(part)
        if not content:
            self.notes.append("an empty attachment was left out")
            return
        digest = hashlib.sha256(content).digest()
        if digest in self.seen:
            return
        self.seen.add(digest)
        if len(self.files) >= self.limits.max_attachments:
            raise Refused(
                "too_many_attachments", f"more than {self.limits.max_attachments} attachments"
            )
        name = _filename(part, self.notes)
        disposition = parse_mime_header(part.header("content-disposition") or "")[0]
        self.files.append(
            MailFile(
                filename=name,
                content_type=media_type(part.get_content_type(), name, content),
                content=content,
                content_id=_content_id(part),
                is_inline=disposition == "inline" or (inline and disposition != "attachment"),
            )
        )

    def content(self, part: BoundedMessage, *, is_file: bool = True) -> bytes:
        data = part.raw_payload()
        encoding = part.header("content-transfer-encoding") or ""
        try:
            content, note = decode_transfer(data, encoding)
        except MalformedBase64 as exc:
            raise Refused("malformed_base64", f"a {part.get_content_type()} part: {exc}") from exc
        if note:
            self.notes.append(f"body: {note}")
        if is_file and len(content) > self.limits.max_attachment_bytes:
            raise Refused(
                "attachment_too_large",
                f"an attachment of {len(content)} bytes is above the "
                f"{self.limits.max_attachment_bytes} limit",
            )
        return content


def _children(part: BoundedMessage) -> list[BoundedMessage] | None:
    payload = part.get_payload()
    if not isinstance(payload, list):
        return None
    return [c for c in payload if isinstance(c, BoundedMessage)]


def _is_attachment(part: BoundedMessage) -> bool:
    disposition, params = parse_mime_header(part.header("content-disposition") or "")
    return disposition == "attachment" or "filename" in params or "name" in part.content_header()[1]


def _content_id(part: BoundedMessage) -> str | None:
    raw = part.header("content-id")
    return threads.normalize_message_id(raw) if raw else None


def _filename(part: BoundedMessage, notes: list[str]) -> str | None:
    params = parse_mime_header(part.header("content-disposition") or "")[1]
    raw = params.get("filename") or part.content_header()[1].get("name")
    if not raw:
        return None
    name, header_notes = decode_header_value(raw)  # Outlook writes RFC 2047 in parameters
    notes.extend(header_notes)
    check_single_line("an attachment's file name", name)
    name = _NOT_IN_NAME.sub("", name).replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name[:MAX_FILENAME] or None


def media_type(declared: str, filename: str | None, content: bytes) -> str:
    """The declared type, unless it says nothing (application/octet-stream): then the file
    name's extension, then the content's first bytes."""
    if declared not in _GENERIC_TYPES:
        return declared
    if filename and "." in filename:
        by_name = _BY_EXTENSION.get(filename.rsplit(".", 1)[1].lower())
        if by_name:
            return by_name
    for magic, sniffed in _MAGIC:
        if content.startswith(magic):
            return sniffed
    return "application/octet-stream"


def unflow(text: str, *, delete_space: bool) -> str:
    """format=flowed text (RFC 3676) as its paragraphs: a line ending in a space continues
    on the next line of the same quote depth; space-stuffing is removed."""
    out: list[list[str]] = []  # each output line as pieces, joined once at the end
    depths: list[int] = []
    joining = False
    for line in text.split("\n"):
        depth = _depth(line)
        quote, body = line[:depth], line[depth:].removeprefix(" ")
        flowed = body.endswith(" ") and body != "-- "
        if flowed and delete_space:
            body = body[:-1]
        if joining and depths and depths[-1] == depth:
            out[-1].append(body)
        else:
            out.append([f"{quote} {body}" if quote and body else quote + body])
            depths.append(depth)
        joining = flowed
    return "\n".join("".join(pieces) for pieces in out)


def _depth(line: str) -> int:
    return len(line) - len(line.lstrip(">"))
