"""Turning the bytes of real mail into text: charsets, RFC 2047 encoded words, MIME header
parameters (RFC 2045 and RFC 2231), transfer encodings, and plain text from HTML.

Every function here runs in time linear in its input (no regular expression that can
backtrack over the whole input twice, no parser that can be made quadratic), because its
input is whatever a stranger chose to send. Each decoder says when it had to guess
(a wrong or unknown charset, a broken escape), so the parser can record the guess.

Pure: no I/O, no clock; must not depend on Kafka, Postgres or the `email` parser.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import re
from urllib.parse import unquote_to_bytes

# Labels that mean "the sender's software did not know": WHATWG decodes them as
# windows-1252, of which ISO-8859-1 is a subset except in 0x80-0x9F, where real mail
# labelled latin-1 almost always holds Windows-1252 punctuation (curly quotes, dashes).
_LATIN1_LABELS = frozenset({"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1"})
_ASCII_LABELS = frozenset({"us-ascii", "ascii", "ansi_x3.4-1968", "646"})
# Codecs that interpret their input as code rather than text.
_REFUSED_CODECS = frozenset(
    {"unicode_escape", "raw_unicode_escape", "punycode", "idna", "utf-7", "utf_7"}
)
MAX_CHARSET_LABEL = 40


class MalformedBase64(ValueError):
    """A base64 body that does not decode even after whitespace and padding are fixed."""


def text_codec(label: str | None) -> str | None:
    """The Python codec for a MIME charset label; None when unknown or not plain text."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if not label or len(label) > MAX_CHARSET_LABEL or not label.isascii():
        return None
    if label in _LATIN1_LABELS:
        return "cp1252"
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _REFUSED_CODECS:
        return None
    return info.name


def decode_text(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """`data` as text in its declared `charset`, else the best guess; and a note when the
    declared charset was unknown or did not fit the bytes (None when it fit).

    No charset, or US-ASCII, is read as UTF-8 first (what unlabelled 8-bit mail usually
    is), then Windows-1252. Decoding never fails: ISO-8859-1 maps every byte.
    """
    codec = text_codec(charset)
    if codec is not None and (charset or "").strip().lower() not in _ASCII_LABELS:
        try:
            return _strict(data, codec), None
        except UnicodeDecodeError:
            pass
    text, used = _guess(data)
    if not charset or (charset.strip().lower() in _ASCII_LABELS and codec is not None):
        return text, None
    kind = "does not fit the text" if codec else "is unknown"
    return text, f"declared charset {_printable(charset)!r} {kind}; read as {used}"


def _strict(data: bytes, codec: str) -> str:
    if codec == "utf-8":
        codec = "utf-8-sig"  # a BOM is not part of the text
    return data.decode(codec)


def _guess(data: bytes) -> tuple[str, str]:
    for codec, name in (("utf-8-sig", "utf-8"), ("cp1252", "windows-1252")):
        try:
            return data.decode(codec), name
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "iso-8859-1"


def _printable(label: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in label[:MAX_CHARSET_LABEL])


# --- header values ---------------------------------------------------------------------

_FOLD = re.compile(r"\r\n(?=[ \t])|\n(?=[ \t])|\r(?=[ \t])")
_ENCODED_WORD = re.compile(r"=\?([^?\s*]{1,40})(?:\*[^?\s]{0,20})?\?([QqBb])\?([^?\s]*)\?=")
_ONLY_SPACE = re.compile(r"[ \t\r\n]*")


def unfold(value: str) -> str:
    """A header value as one line: the line breaks of folding removed (RFC 5322 2.2.3)."""
    return _FOLD.sub("", value)


def raw_bytes(value: str) -> bytes:
    """The bytes the parser read, from its surrogate-escaped text."""
    return value.encode("utf-8", "surrogateescape")


def decode_header_value(value: str) -> tuple[str, list[str]]:
    """An unfolded header value as text: RFC 2047 encoded words decoded (adjacent words of
    one charset joined first, so a character split across words survives), raw 8-bit bytes
    read as UTF-8 else Windows-1252, and notes about any guess made."""
    notes: list[str] = []
    out: list[str] = []
    pending: list[bytes] = []
    pending_charset: str | None = None

    def flush() -> None:
        nonlocal pending_charset
        if pending:
            text, note = decode_text(b"".join(pending), pending_charset)
            out.append(text)
            if note:
                notes.append(f"header: {note}")
        pending.clear()
        pending_charset = None

    pos = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[pos : match.start()]
        charset, encoding, payload = match.group(1), match.group(2).upper(), match.group(3)
        if between and not (pending and _ONLY_SPACE.fullmatch(between)):
            flush()
            out.append(_decode_raw(between, notes))
        decoded = _decode_word(encoding, payload)
        if decoded is None:
            flush()
            notes.append("header: an encoded word did not decode; kept as written")
            out.append(match.group(0))
        else:
            if pending and charset.lower() != pending_charset:
                flush()
            pending.append(decoded)
            pending_charset = charset.lower()
        pos = match.end()
    flush()
    out.append(_decode_raw(value[pos:], notes))
    return "".join(out), notes


def _decode_word(encoding: str, payload: str) -> bytes | None:
    data = raw_bytes(payload)
    if encoding == "Q":
        return binascii.a2b_qp(data, header=True)
    data += b"=" * (-len(data) % 4)
    try:
        return base64.b64decode(data, validate=True)
    except binascii.Error:
        return None


def _decode_raw(text: str, notes: list[str]) -> str:
    if text.isascii():
        return text
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        decoded, used = _guess(raw_bytes(text))
        if used != "utf-8":
            notes.append(f"header: 8-bit bytes without a charset; read as {used}")
        return decoded
    return text


# --- MIME parameters (Content-Type, Content-Disposition) --------------------------------

_PARAM_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[^";]+|;', re.DOTALL)
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)
_SECTION = re.compile(r"^([^*]+)\*(\d{1,3})(\*?)$")
MAX_PARAMS = 50


def parse_mime_header(value: str) -> tuple[str, dict[str, str]]:
    """`text/plain; charset="utf-8"` -> (`text/plain`, {`charset`: `utf-8`}).

    The value is lowercased; parameter names are lowercased and their values kept as
    written, RFC 2231 extended and continued values (`name*=utf-8''...`, `name*0*=...`)
    joined and decoded. The first occurrence of a parameter wins. Quote-aware in one pass:
    an unclosed quote runs to the end instead of making the parser rescan.
    """
    segments: list[str] = []
    current: list[str] = []
    for match in _PARAM_TOKENS.finditer(unfold(value)):
        token = match.group(0)
        if token == ";":  # noqa: S105 - a separator, not a password
            segments.append("".join(current))
            current = []
            if len(segments) > MAX_PARAMS:
                break
        else:
            current.append(token)
    else:
        segments.append("".join(current))
    main = segments[0].strip().lower() if segments else ""
    plain: dict[str, str] = {}
    extended: dict[str, dict[int, tuple[str, bool]]] = {}
    for segment in segments[1:]:
        name, eq, raw = segment.partition("=")
        name = name.strip().lower()
        if not eq or not name:
            continue
        raw = raw.strip()
        if raw.startswith('"'):
            raw = _QUOTED_PAIR.sub(
                r"\1", raw[1:-1] if raw.endswith('"') and len(raw) > 1 else raw[1:]
            )
        section = _SECTION.match(name)
        if section:
            parts = extended.setdefault(section.group(1), {})
            parts.setdefault(int(section.group(2)), (raw, bool(section.group(3))))
        elif name.endswith("*"):
            extended.setdefault(name[:-1], {}).setdefault(0, (raw, True))
        else:
            plain.setdefault(name, raw)
    for name, parts in extended.items():
        plain[name] = _join_rfc2231(parts)  # RFC 2231 values take precedence
    return main, plain


def _join_rfc2231(parts: dict[int, tuple[str, bool]]) -> str:
    charset: str | None = None
    chunks: list[bytes] = []
    for index in range(len(parts)):
        if index not in parts:
            break  # a gap ends the value (RFC 2231 section 3)
        raw, is_encoded = parts[index]
        if is_encoded:
            if index == 0 and raw.count("'") >= 2:
                charset, _lang, raw = raw.split("'", 2)
            chunks.append(unquote_to_bytes(raw))
        else:
            chunks.append(raw_bytes(raw))
    return decode_text(b"".join(chunks), charset or None)[0]


# --- transfer encodings -----------------------------------------------------------------

_WHITESPACE_BYTES = b" \t\r\n"
_BAD_QP_ESCAPE = re.compile(rb"=(?![0-9A-Fa-f]{2}|\r?\n|\r|[ \t]*$)", re.MULTILINE)


def decode_transfer(payload: bytes, encoding: str) -> tuple[bytes, str | None]:
    """The content of a MIME part from its transfer encoding, and a note when it was sloppy.

    Base64 must be base64 once line breaks and missing padding are forgiven, else
    `MalformedBase64`. Quoted-printable follows RFC 2045 6.7's advice for robust decoders: a
    `=` that starts no valid escape is kept as written (mailers that forget to escape `=`
    in URLs are common), and noted. Identity and unknown encodings pass the bytes through.
    """
    encoding = encoding.strip().lower()
    if encoding == "base64":
        data = payload.translate(None, _WHITESPACE_BYTES)
        if len(data) % 4 == 1:
            raise MalformedBase64(f"base64 body of {len(data)} characters cannot be whole")
        try:
            return base64.b64decode(data + b"=" * (-len(data) % 4), validate=True), None
        except binascii.Error as exc:
            raise MalformedBase64("base64 body holds characters outside the alphabet") from exc
    if encoding == "quoted-printable":
        bad = len(_BAD_QP_ESCAPE.findall(payload))
        note = f"quoted-printable: {bad} invalid escapes kept as written" if bad else None
        return binascii.a2b_qp(payload), note
    if encoding in ("", "7bit", "8bit", "binary"):
        return payload, None
    return payload, f"unknown transfer encoding {_printable(encoding)!r}; content kept as is"


# --- HTML -------------------------------------------------------------------------------

_SKIPPED = ("script", "style", "head", "title", "template")
_BLOCKS = frozenset(
    {
        *("address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt"),
        *("footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li"),
        *("main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "th"),
        *("thead", "tr", "ul"),
    }
)
_TAG_NAME = re.compile(r"/?\s*([a-zA-Z][a-zA-Z0-9]*)")
_SKIP_END = {name: re.compile(rf"</{name}\s*>", re.IGNORECASE) for name in _SKIPPED}
# A head left open ends where the body starts; if neither comes, nothing is skipped.
_SKIP_END["head"] = re.compile(r"</head\s*>|(?=<body\b)", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0]+")
MAX_HTML_TAGS = 100_000
MAX_QUOTE_DEPTH = 20  # deeper blockquotes render at this depth


def html_to_text(source: str, *, max_tags: int = MAX_HTML_TAGS) -> tuple[str, bool]:
    """The text a reader of `source` sees, and whether it was cut short.

    Tags are dropped, script, style and head with their content, entities unescaped, blocks
    put on their own lines, and each `<blockquote>` level rendered as a `> ` prefix so
    quoted history reads as it does in plain-text mail. Unclosed constructs end the text
    rather than make the scan start over; the scan stops after `max_tags` tags (real mail
    has a few thousand), which bounds the work done per tag in Python."""
    out = _TextLines()
    pos, end = 0, len(source)
    tags = 0
    while pos < end:
        lt = source.find("<", pos)
        out.add(source[pos : end if lt < 0 else lt])
        if lt < 0:
            break
        tags += 1
        if tags > max_tags:
            break
        pos = _after_tag(source, lt, out)
    out.newline()
    return _squeeze_blank_lines(out.lines), tags > max_tags


class _TextLines:
    """Rendered lines, the line being built, and the blockquote level."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.line: list[str] = []
        self.depth = 0
        self.line_depth = 0  # the blockquote level where the line's text began

    def add(self, chunk: str) -> None:
        if chunk and not chunk.isspace():
            if not self.line:
                self.line_depth = self.depth
            self.line.append(html.unescape(chunk))
        elif chunk and self.line:
            self.line.append(" ")

    def newline(self, *, blank: bool = False) -> None:
        """End the line; block boundaries add no empty lines, `<br>` and `</p>` do."""
        text = _SPACES.sub(" ", "".join(self.line)).strip()
        if text:
            self.lines.append(("> " * min(self.line_depth, MAX_QUOTE_DEPTH) + text).rstrip())
        if blank:
            self.lines.append("")
        self.line.clear()


def _after_tag(source: str, lt: int, out: _TextLines) -> int:
    """Handle the tag (or comment) at `lt`; the position where text resumes."""
    end = len(source)
    if source.startswith("<!--", lt):
        close = source.find("-->", lt + 4)
        return end if close < 0 else close + 3
    gt = source.find(">", lt + 1)
    if gt < 0:
        return end
    name_match = _TAG_NAME.match(source, lt + 1, gt)
    if not name_match:
        return gt + 1
    name = name_match.group(1).lower()
    closing = source[lt + 1 : name_match.start(1)].strip() == "/"
    if name in _SKIP_END and not closing:
        found = _SKIP_END[name].search(source, gt + 1)
        if found is not None:
            return found.end()
        return gt + 1 if name == "head" else end
    if name in _BLOCKS:
        out.newline(blank=(name == "p" and closing) or (name == "br" and not out.line))
        if name == "blockquote":
            out.depth = max(0, out.depth - 1) if closing else out.depth + 1
    return gt + 1


def _squeeze_blank_lines(lines: list[str]) -> str:
    out: list[str] = []
    for text in lines:
        if not text.strip("> ") and (not out or not out[-1].strip("> ")):
            continue
        out.append(text if text.strip("> ") else "")
    return "\n".join(out).strip("\n")
