"""What an export does with personal data: each field kept, dropped, pseudonymized or opened.

Three policies (docs/export.md has the field-by-field table):
- `omit`: every personal field (sealed in the log) and every identifier of a citizen is
  left out: no column, no Avro field.
- `pseudonymize` (the default): identifiers of a citizen, and the contact's address, are
  replaced by a keyed pseudonym, the same for the same value in every event and every
  export made with the same pseudonym key, so analysts can join and count distinct
  citizens without knowing who they are; every other personal field (free text, names,
  places, file names, triage answers, notes) is left out, since a pseudonym of free text
  is useless and a risk.
- `clear`: with an authorized key, personal fields are opened with the key store and
  exported in clear; a field whose citizen was erased (key destroyed) is null.

`redaction_for` turns an event's schema into the schema of its exported records and the
steps that make them; `redact` applies the steps to one decoded (still sealed) record.
Pure: no Kafka, Postgres or files; data keys and the pseudonym key come as arguments.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from schemas.personal import DataKey, Erased, unseal
from streams.shared.errors import RuleViolation

Policy = Literal["clear", "pseudonymize", "omit"]
Action = Literal["drop", "pseudonym", "open", "pseudonym_sealed", "nested"]

CITIZEN_IDENTIFIERS: Final = frozenset(
    {
        # the citizen, under every name the schemas give them
        "subject_id",
        "citizen_id",
        "new_citizen_id",
        "merged_citizen_ids",
        # the contact: opaque by contract, but minted by connectors from the channel's
        # address, which may show through (a phone number inside the id)
        "contact_id",
        "contact_ids",
        # providers' ids: a WhatsApp wamid encodes the citizen's phone number; an email
        # Message-ID often names the sender's host or mailbox; a thread id is one of those
        "provider_message_id",
        "reply_to_provider_message_id",
        "thread_id",
        "provider_media_id",
    }
)
"""Fields in clear in the log that still point at a citizen: pseudonymized, or omitted."""

IDENTIFYING_PERSONAL: Final = frozenset({"contact_address"})
"""Sealed fields worth a pseudonym (a join key: the phone number or email address); every
other sealed field is free text or a description and is left out unless in clear."""

PSEUDONYMS_REMEMBERED: Final = 65536
PSEUDONYM_HEX: Final = 32  # 128 bits: no collision among billions of values
_PSEUDONYM_CONTEXT: Final = b"acolhe/export/pseudonym/v1\x1f"
MIN_AUTHORIZED_KEY_BYTES: Final = 32


class UnauthorizedKey(RuleViolation):
    """The key given to export personal fields in clear is not an authorized one."""


@dataclass(frozen=True)
class Step:
    """What the export does with one field that it does not copy as it is."""

    name: str
    action: Action
    path: str  # the field's path, to which its sealed value is bound (schemas.codec)
    is_array: bool = False  # for `nested`: an array of records rather than one record
    steps: tuple[Step, ...] = ()  # for `nested`: the steps inside the record


@dataclass(frozen=True)
class Redaction:
    """How one event type is exported under one policy."""

    name: str
    policy: Policy
    schema: dict[str, Any]  # the exported records' Avro schema
    steps: tuple[Step, ...]

    @functools.cached_property
    def opens_sealed(self) -> bool:
        """Whether the records need their citizens' data keys (clear, or a pseudonym of a
        sealed field); asked of every record, worked out once."""
        return _opens(self.steps)


def redaction_for(raw: Mapping[str, Any], policy: Policy) -> Redaction:
    """The export of records of schema `raw` (an event's current schema) under `policy`."""
    name = str(raw["name"])
    schema, steps = _record(raw, name, policy)
    return Redaction(name, policy, schema, steps)


def redact(
    record: Mapping[str, Any],
    redaction: Redaction,
    *,
    pseudonym: Callable[[str], str] | None,
    key: DataKey | None,
) -> dict[str, Any]:
    """The exported record: a copy of `record` (decoded, personal fields still sealed) with
    the steps applied. `key` is the data key of the record's subject (None: erased);
    `pseudonym` is needed under the pseudonymize policy."""
    return _apply(record, redaction.steps, pseudonym, key)


def make_pseudonym(secret: bytes) -> Callable[[str], str]:
    """The pseudonym of a value: HMAC-SHA256 under `secret`, 32 hex digits. Equal values
    get equal pseudonyms (whatever the field), so pseudonyms join across event types."""
    if len(secret) < 32:
        raise ValueError("the pseudonym key must be at least 32 bytes")
    base = hmac.new(secret, _PSEUDONYM_CONTEXT, hashlib.sha256)

    # A citizen's ids repeat in every event of theirs: each is hashed once per batch of
    # recent values, not once per event.
    @functools.lru_cache(maxsize=PSEUDONYMS_REMEMBERED)
    def pseudonym(value: str) -> str:
        mac = base.copy()
        mac.update(value.encode("utf-8"))
        return mac.hexdigest()[:PSEUDONYM_HEX]

    return pseudonym


def check_authorized_key(key: bytes, digests: Sequence[str]) -> None:
    """Refuse `key` unless its SHA-256 is one of `digests` (compared in constant time)."""
    if not digests:
        raise UnauthorizedKey(
            "no key is authorized to export personal fields in clear: the operator sets "
            "ACOLHE_EXPORT_AUTHORIZED_KEY_SHA256 to the SHA-256 of the key file"
        )
    if len(key) < MIN_AUTHORIZED_KEY_BYTES:
        raise UnauthorizedKey(
            f"an authorized key is at least {MIN_AUTHORIZED_KEY_BYTES} random bytes; "
            "this one is not an authorized key"
        )
    digest = hashlib.sha256(key).hexdigest()
    matched = False
    for expected in digests:  # every digest compared, so the time tells nothing
        matched |= hmac.compare_digest(digest, expected.lower())
    if not matched:
        raise UnauthorizedKey(
            "the key given is not an authorized key (its SHA-256 is not in "
            "ACOLHE_EXPORT_AUTHORIZED_KEY_SHA256); nothing was exported"
        )


# -- building a redaction ------------------------------------------------------------------


def _record(
    raw: Mapping[str, Any], prefix: str, policy: Policy
) -> tuple[dict[str, Any], tuple[Step, ...]]:
    fields: list[dict[str, Any]] = []
    steps: list[Step] = []
    for field in raw.get("fields", []):
        name = field["name"]
        path = f"{prefix}.{name}"
        out, step = _field(field, path, policy)
        if out is not None:
            fields.append(out)
        if step is not None:
            steps.append(step)
    schema = {k: v for k, v in raw.items() if k != "fields"}
    schema["fields"] = fields
    return schema, tuple(steps)


def _field(
    field: Mapping[str, Any], path: str, policy: Policy
) -> tuple[dict[str, Any] | None, Step | None]:
    """The exported field (None: left out) and its step (None: copied as it is)."""
    name = field["name"]
    if field.get("acolhe.personal") is True:
        return _personal_field(field, path, policy)
    if name in CITIZEN_IDENTIFIERS:
        return _identifier_field(field, path, policy)
    nested, is_array, nullable = _nested_record(field["type"])
    sub_schema, sub_steps = (
        _record(nested, path + "[]" if is_array else path, policy) if nested else ({}, ())
    )
    if not sub_steps:
        return dict(field), None
    if not sub_schema["fields"]:  # nothing of it left (e.g. a shared location)
        return None, Step(name, "drop", path)
    avro_type: Any = {"type": "array", "items": sub_schema} if is_array else sub_schema
    if nullable:
        avro_type = ["null", avro_type]
    out = {**field, "type": avro_type}
    return out, Step(name, "nested", path, is_array, sub_steps)


def _identifier_field(
    field: Mapping[str, Any], path: str, policy: Policy
) -> tuple[dict[str, Any] | None, Step | None]:
    """An identifier of a citizen, in clear in the log: kept, pseudonymized or left out."""
    name = field["name"]
    if policy == "clear":
        return dict(field), None
    if policy == "pseudonymize":
        return {**field, "acolhe.export": "pseudonym"}, Step(name, "pseudonym", path)
    return None, Step(name, "drop", path)


def _personal_field(
    field: Mapping[str, Any], path: str, policy: Policy
) -> tuple[dict[str, Any] | None, Step]:
    """A sealed field: opened in clear, pseudonymized (an identifying one) or left out."""
    name = field["name"]
    if policy == "clear":
        return _text_field(field, "clear"), Step(name, "open", path)
    if policy == "pseudonymize" and name in IDENTIFYING_PERSONAL:
        return _text_field(field, "pseudonym"), Step(name, "pseudonym_sealed", path)
    return None, Step(name, "drop", path)


def _text_field(field: Mapping[str, Any], how: str) -> dict[str, Any]:
    """A sealed field as exported text: nullable, since an erased citizen's value is null."""
    out = {k: v for k, v in field.items() if k not in ("type", "default", "acolhe.personal")}
    return {**out, "type": ["null", "string"], "default": None, "acolhe.export": how}


def _nested_record(avro_type: Any) -> tuple[Mapping[str, Any] | None, bool, bool]:
    """(the record, whether in an array, whether nullable) of a record-typed field."""
    nullable = False
    if isinstance(avro_type, list):
        branches = [b for b in avro_type if b != "null"]
        nullable = len(branches) < len(avro_type)
        if len(branches) != 1:
            return None, False, nullable
        avro_type = branches[0]
    if isinstance(avro_type, dict):
        if avro_type.get("type") == "record":
            return avro_type, False, nullable
        items = avro_type.get("items")
        if (
            avro_type.get("type") == "array"
            and isinstance(items, dict)
            and items.get("type") == "record"
        ):
            return items, True, nullable
    return None, False, nullable


def _opens(steps: tuple[Step, ...]) -> bool:
    return any(
        s.action in ("open", "pseudonym_sealed") or (s.action == "nested" and _opens(s.steps))
        for s in steps
    )


# -- applying it ---------------------------------------------------------------------------


def _apply(
    record: Mapping[str, Any],
    steps: tuple[Step, ...],
    pseudonym: Callable[[str], str] | None,
    key: DataKey | None,
) -> dict[str, Any]:
    out = dict(record)
    for step in steps:
        if step.action == "drop":
            out.pop(step.name, None)
            continue
        value = out.get(step.name)
        if value is None:
            continue
        if step.action == "nested":
            out[step.name] = (
                [_apply(item, step.steps, pseudonym, key) for item in value]
                if step.is_array
                else _apply(value, step.steps, pseudonym, key)
            )
        elif step.action == "open":
            out[step.name] = _open(key, step.path, value)
        elif step.action == "pseudonym_sealed":
            clear = _open(key, step.path, value)
            out[step.name] = None if clear is None else _pseudonym(pseudonym, clear)
        else:  # a citizen's identifier, in clear in the log
            out[step.name] = (
                [_pseudonym(pseudonym, v) for v in value]
                if isinstance(value, list | tuple)
                else _pseudonym(pseudonym, value)
            )
    return out


def _open(key: DataKey | None, path: str, sealed: Any) -> str | None:
    """A sealed value in clear; None when its citizen's key was destroyed."""
    clear = unseal(key, path, sealed)
    return None if isinstance(clear, Erased) else clear


def _pseudonym(pseudonym: Callable[[str], str] | None, value: Any) -> str:
    if pseudonym is None:
        raise ValueError("the pseudonymize policy needs the pseudonym key")
    return pseudonym(str(value))
