"""Errors of the event contract. All are `BadInput`: the bytes or the record are wrong.

Must not depend on fastavro, Kafka or Postgres.
"""

from __future__ import annotations

from streams.shared.errors import BadInput, InfrastructureError


class DecodeError(BadInput):
    """Bytes that are not a valid acolhe event: the reason says what is wrong with them."""


class EncodeError(BadInput):
    """A record that does not fit its schema: the reason names the field."""


class UnknownEvent(BadInput):
    """An event name, fingerprint or schema id that this codec does not know."""


class KeyNotLoaded(InfrastructureError):
    """A data key was needed before the key store loaded it: load the subjects first."""
