"""Which web pages may talk to the web chat: the Origin allow-list.

Browsers send an Origin header (RFC 6454) on WebSocket handshakes and cross-site requests;
another site's page embedding the widget's endpoints is refused, so a visitor token stolen
into foreign script cannot be used from there. Matching is exact on scheme, host and port
after normalization: scheme and host compare case-insensitively, and a default port (80 for
http, 443 for https) is the same as none. No wildcards: each site of the office is listed.

Refusal reasons: `missing` (no header where a browser always sends one), `null` (the
opaque origin of sandboxed frames, file: pages and some redirects: never trusted),
`malformed` (not `scheme://host[:port]`), `not_allowed` (a well-formed origin not listed).

Pure. Must not depend on aiohttp, Kafka or Postgres.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

OriginRefusal = Literal["missing", "null", "malformed", "not_allowed"]

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_ORIGIN = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)"
    r"(?::(?P<port>[0-9]{1,5}))?"
)
MAX_ORIGIN_CHARS: Final = 300


@dataclass(frozen=True, slots=True)
class Origin:
    """A normalized origin: lowercase scheme and host, explicit port."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        if _DEFAULT_PORTS.get(self.scheme) == self.port:
            return f"{self.scheme}://{self.host}"
        return f"{self.scheme}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class OriginAllowed:
    origin: Origin | None
    """None when no Origin came and the endpoint does not require one."""


@dataclass(frozen=True, slots=True)
class OriginRefused:
    reason: OriginRefusal
    detail: str


def parse_origin(text: str) -> Origin | None:
    """The normalized origin `text` names, or None when it is not `scheme://host[:port]`
    with scheme http or https (no path, query, user info or trailing slash)."""
    if len(text) > MAX_ORIGIN_CHARS or not text.isascii():
        return None
    match = _ORIGIN.fullmatch(text)
    if match is None:
        return None
    scheme = match["scheme"].lower()
    default = _DEFAULT_PORTS.get(scheme)
    if default is None:
        return None
    port = int(match["port"]) if match["port"] is not None else default
    if not 0 < port <= 65535:
        return None
    return Origin(scheme=scheme, host=match["host"].lower(), port=port)


class OriginPolicy:
    """The origins allowed to use the web chat's browser endpoints."""

    def __init__(self, allowed: Iterable[str]) -> None:
        origins: set[Origin] = set()
        for text in allowed:
            origin = parse_origin(text.strip())
            if origin is None:
                raise ValueError(
                    f"allowed origin {text!r} is not scheme://host[:port], "
                    "e.g. https://www.defensoria.sp.def.br"
                )
            origins.add(origin)
        if not origins:
            raise ValueError("allow at least one origin, e.g. https://www.defensoria.sp.def.br")
        self._allowed = frozenset(origins)

    @property
    def allowed(self) -> frozenset[Origin]:
        return self._allowed

    def check(self, header: str | None, *, required: bool = True) -> OriginAllowed | OriginRefused:
        """Whether a request with this Origin header may go on.

        `required`: True for browser endpoints (the WebSocket and the widget's HTTP calls),
        where every browser sends the header, so its absence means a non-browser client
        pretending to be the widget."""
        if header is None:
            if required:
                return OriginRefused("missing", "this endpoint needs an Origin header")
            return OriginAllowed(None)
        text = header.strip()
        if text == "null":
            return OriginRefused("null", "an opaque (null) origin is never trusted")
        origin = parse_origin(text)
        if origin is None:
            return OriginRefused("malformed", "the Origin header is not scheme://host[:port]")
        if origin not in self._allowed:
            return OriginRefused("not_allowed", f"origin {origin} is not allowed")
        return OriginAllowed(origin)
