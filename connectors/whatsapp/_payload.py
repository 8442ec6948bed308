"""Strict readers for the JSON of a WhatsApp webhook, used by `mapping`.

Each reader returns the value in the type the contract needs or raises `Invalid` with the
JSON path and a reason that names no person (field names and types only, never values).
Strings must be encodable as UTF-8 (JSON may carry lone surrogates; the codec could not
seal them).

A path is built only when something is wrong: `where` is the path of what is being read,
and the readers append to it only in the branch that raises. `mapping` passes paths
relative to the message or status it reads ("" is the item itself) and writes out the
whole path only for an item it rejects, since formatting paths for every field of every
item costs as much as reading them.

Pure: no I/O.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, TypeGuard

_SAFE: Final = re.compile(r"[A-Za-z0-9_.\-]{1,40}")
_EPOCH_SECONDS: Final = re.compile(r"[0-9]{1,12}")
_CODE: Final = re.compile(r"[0-9]{1,12}")


class Invalid(Exception):
    """One item of the payload does not have the shape Meta documents."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where, self.reason = where, reason

    def under(self, where: str) -> Invalid:
        """The same problem with its path (relative to `where`) made whole."""
        return Invalid(where + self.where, self.reason)


def safe(value: object) -> str:
    """A provider token (a field name, a status) quoted for a reason text, or a placeholder
    when it is not a short identifier (it could then be anything, personal data included)."""
    return repr(value) if isinstance(value, str) and _SAFE.fullmatch(value) else "(unreadable)"


def is_text(value: object) -> TypeGuard[str]:
    """A string that UTF-8 can encode. Only a lone surrogate cannot, and an ASCII string
    has none: the encode (a copy of the string) is tried only for the others."""
    return isinstance(value, str) and (value.isascii() or _encodes(value))


def _encodes(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def obj(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(where, "not an object")
    return value


def req_obj(item: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = item.get(key)
    if not isinstance(value, dict):
        raise Invalid(f"{where}.{key}", f"{key} is missing or not an object")
    return value


def opt_obj(item: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any] | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Invalid(f"{where}.{key}", f"{key} is not an object")
    return value


def req_str(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    # is_text inlined: this runs for most fields read
    if isinstance(value, str) and (value.isascii() or _encodes(value)) and value.strip():
        return str(value)
    raise Invalid(f"{where}.{key}", f"{key} is missing or not a non-empty string")


def opt_str(
    item: Mapping[str, Any], key: str, where: str, *, allow_empty: bool = False
) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not is_text(value):
        raise Invalid(f"{where}.{key}", f"{key} is not a string")
    text = str(value)
    return text if text or allow_empty else None


def wamid_of(item: object) -> str | None:
    """The item's id when it is readable: rejections carry it (a wamid names no person)."""
    wamid = item.get("id") if isinstance(item, dict) else None
    return wamid if is_text(wamid) and wamid else None


def code_text(value: object) -> str | None:
    """A provider's numeric code (a JSON number or digits in text) as text, else None."""
    text = _digits(value)
    return text if text is not None and _CODE.fullmatch(text) else None


def _digits(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    if isinstance(value, int) and not 0 <= value < 10**15:
        return None  # str() of a huge int is slow, and above 4300 digits it raises
    text = str(value)
    return text if is_text(text) else None


def moment(raw: object) -> tuple[datetime | None, str | None]:
    """A WhatsApp timestamp (epoch seconds as text) -> (the instant, the text as given);
    (None, text) when it cannot be read, (None, None) when there is none."""
    if isinstance(raw, str) and len(raw) <= 12:
        return _short_moment(raw)
    return _moment(raw)


@functools.lru_cache(maxsize=1024)
def _short_moment(raw: str) -> tuple[datetime | None, str | None]:
    """`moment` of a text as Meta sends it, cached: the webhooks of one busy second carry
    the same timestamp, and building the datetime costs as much as reading the rest of
    a message. Only short texts, so that the cache stays small whatever a payload holds."""
    return _moment(raw)


def _moment(raw: object) -> tuple[datetime | None, str | None]:
    text = _digits(raw)
    if text is None:
        return None, None
    if not _EPOCH_SECONDS.fullmatch(text):
        return None, text
    try:
        return datetime.fromtimestamp(int(text), UTC), text
    except (OverflowError, OSError, ValueError):
        return None, text


def coordinate(item: Mapping[str, Any], key: str, where: str, limit: int) -> str:
    """A latitude or longitude as decimal text (its shortest exact form)."""
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid(f"{where}.{key}", f"{key} is missing or not a number")
    if not math.isfinite(value) or abs(value) > limit:
        raise Invalid(f"{where}.{key}", f"{key} is outside -{limit}..{limit}")
    return repr(value) if isinstance(value, float) else str(value)


def profile_names(contacts: object) -> dict[str, str]:
    """wa_id -> profile name from a change's `contacts`; with a single contact its name is
    also under "" (Meta notes a user's wa_id and phone number may differ)."""
    names: dict[str, str] = {}
    if not isinstance(contacts, list):
        return names
    for contact in contacts:
        if not isinstance(contact, dict):
            continue
        profile = contact.get("profile")
        name = profile.get("name") if isinstance(profile, dict) else None
        wa_id = contact.get("wa_id")
        if is_text(name) and name and is_text(wa_id):
            name = str(name)
            names[str(wa_id).lstrip("+")] = name
            if len(contacts) == 1:
                names[""] = name
    return names


def describe_error(error: object, redact: Callable[[str], str]) -> str:
    """A change-level error Meta reported (about the account, not a message), for a log."""
    if not isinstance(error, dict):
        return "an error Meta reported could not be read"
    code = error.get("code")
    title = error.get("title") or error.get("message")
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else None
    parts = [f"WhatsApp error {code_text(code) or safe(code)}"]
    parts += [redact(str(t)) for t in (title, details) if is_text(t) and t]
    return ": ".join(parts)
