"""The new part of an email reply: its text without the quoted history and the signature.

`MessageReceived.text` carries the whole body, quoted history included, as the contract
says: it is what the citizen sent, and an agent may need the history. What the citizen
wrote *this time* is derived with `split_reply` by whoever needs it (an agent's view that
folds the history away, the triage bot reading an answer).

What counts as history, from the mail clients offices receive from:
- lines quoted with `>` (removed wherever they are, so interleaved answers are kept);
- an attribution line before them, in English, Portuguese or Spanish, on one line or
  wrapped over two (Gmail, Apple Mail, Thunderbird: "On ... wrote:", "Em ... escreveu:");
  when no `>` lines follow it (top-posting clients that do not quote), it starts the history;
- Outlook's separators ("-----Original Message-----", "-----Mensagem original-----", a line
  of underscores) and header blocks ("De: ... Enviado em: ..." / "From: ... Sent: ...");
- the signature, from the "-- " separator line on.
A forwarded message ("---------- Forwarded message ----------", "Begin forwarded message:")
is not history: the citizen sent it to be read, so it is kept whole, with its headers.

Pure: no I/O; must not depend on Kafka, Postgres or the `email` package. Linear in the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MAX_ATTRIBUTION = 400  # attribution lines are short; longer lines are never tested
_ATTRIBUTION = re.compile(
    rf"^\s*(?:On|Em|El|Le|Am)\b.{{0,{_MAX_ATTRIBUTION}}}"
    r"\b(?:wrote|escreveu|escribió|a écrit|schrieb)\s*:\s*$",
    re.IGNORECASE,
)
_ATTRIBUTION_START = re.compile(r"^\s*(?:On|Em|El|Le|Am)\b", re.IGNORECASE)
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(?:original message|mensagem original|mensaje original|message d'origine)"
    r"\s*-{2,}\s*$",
    re.IGNORECASE,
)
_FORWARDED = re.compile(
    r"^\s*(?:-{3,}\s*(?:forwarded message|mensagem encaminhada|mensaje reenviado)\s*-{3,}"
    r"|begin forwarded message:|in[ií]cio da mensagem encaminhada:)\s*$",
    re.IGNORECASE,
)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
_FROM_FIELD = re.compile(r"^\s*\*?(?:from|de)\s*:", re.IGNORECASE)
_SENT_FIELD = re.compile(
    r"^\s*\*?(?:sent|date|enviad[ao](?: em)?|data|fecha|enviado el)\s*:", re.IGNORECASE
)
_HEADER_BLOCK_REACH = 4  # lines after From:/De: in which Outlook writes Sent:/Enviado em:


@dataclass(frozen=True)
class ReplySplit:
    """`new_text`: what the sender wrote this time; `has_history`: whether anything was cut
    (quoted lines, an earlier message, a signature)."""

    new_text: str
    has_history: bool


def split_reply(text: str) -> ReplySplit:
    """The reply's new text, without quoted history and signature; `text` is unchanged
    when it holds neither."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    forwarded = next((i for i, line in enumerate(lines) if _FORWARDED.match(line)), len(lines))
    own = lines[:forwarded]
    cut = _history_start(own)
    kept: list[str] = []
    removed = cut < len(own)
    skip = _attributions_of_quotes(own[:cut])
    for index, line in enumerate(own[:cut]):
        if index in skip or _is_quoted(line):
            removed = True
            continue
        kept.append(line)
    if forwarded < len(lines):
        kept.extend(["", *lines[forwarded:]])  # a forwarded mail is content, kept as sent
    return ReplySplit(new_text=_tidy(kept), has_history=removed)


def new_text(text: str) -> str:
    return split_reply(text).new_text


def _is_quoted(line: str) -> bool:
    return line.lstrip(" ").startswith(">")


def _is_blank(line: str) -> bool:
    return not line.strip()


def _attribution_span(lines: list[str], index: int) -> int:
    """How many lines (0, 1 or 2) the attribution at `index` takes."""
    line = lines[index]
    if len(line) > _MAX_ATTRIBUTION or not _ATTRIBUTION_START.match(line):
        return 0
    if _ATTRIBUTION.match(line):
        return 1
    wrapped = index + 1 < len(lines) and len(lines[index + 1]) <= _MAX_ATTRIBUTION
    if wrapped and _ATTRIBUTION.match(f"{line} {lines[index + 1]}"):
        return 2
    return 0


def _next_content(lines: list[str], start: int) -> int | None:
    for index in range(start, len(lines)):
        if not _is_blank(lines[index]):
            return index
    return None


def _history_start(lines: list[str]) -> int:
    """The index of the first line of unquoted history or signature; len(lines) if none."""
    for index, line in enumerate(lines):
        stripped = line.rstrip()
        if stripped == "--" or line == "-- ":
            return index
        if _ORIGINAL.match(line) or (_UNDERSCORES.match(line) and _header_block_at(lines, index)):
            return index
        if _FROM_FIELD.match(line) and _header_block_at(lines, index):
            return index
        span = _attribution_span(lines, index)
        if span:
            after = _next_content(lines, index + span)
            if after is None or not _is_quoted(lines[after]):
                return index
    return len(lines)


def _header_block_at(lines: list[str], index: int) -> bool:
    """An Outlook header block starts at `index` (or right after an underscore line)."""
    start = index if _FROM_FIELD.match(lines[index]) else _next_content(lines, index + 1)
    if start is None or not _FROM_FIELD.match(lines[start]):
        return False
    reach = lines[start + 1 : start + 1 + _HEADER_BLOCK_REACH]
    return any(_SENT_FIELD.match(candidate) for candidate in reach)


def _attributions_of_quotes(lines: list[str]) -> set[int]:
    """Indexes of attribution lines that introduce a `>` block (removed with it)."""
    skip: set[int] = set()
    for index in range(len(lines)):
        span = _attribution_span(lines, index)
        if span:
            skip.update(range(index, index + span))
    return skip


def _tidy(lines: list[str]) -> str:
    out: list[str] = []
    for line in lines:
        if _is_blank(line) and (not out or _is_blank(out[-1])):
            continue
        out.append(line.rstrip())
    return "\n".join(out).strip("\n")
