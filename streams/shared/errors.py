"""One error hierarchy for acolhe.

Three branches, so that callers can decide what to do without parsing messages:

- `BadInput`: the input itself is wrong; it goes to a dead-letter topic with the reason.
- `RuleViolation`: a command that the domain refuses (not your case, case closed...).
- `InfrastructureError`: a broker, database or machine problem; `retriable` says whether
  trying again can help. Messages an operator must act on say what to do.

Library errors are wrapped at the boundary with `raise ... from exc`.
"""

from __future__ import annotations


class AcolheError(Exception):
    """Root of every error acolhe raises on purpose."""


class BadInput(AcolheError):
    """The input cannot be accepted as it is; retrying the same input will fail again."""


class RuleViolation(AcolheError):
    """A command the domain refuses, with the reason."""


class InfrastructureError(AcolheError):
    """A component outside the domain failed (broker, database, disk, process)."""

    retriable: bool = False


class RetriableInfrastructureError(InfrastructureError):
    """A transient failure: the same operation may succeed later."""

    retriable = True


class ConfigurationError(InfrastructureError):
    """A setting is missing or invalid; the message names the variable and a valid example."""


class StackError(InfrastructureError):
    """The local stack (Kafka broker, PostgreSQL server) could not be set up, started or stopped."""
