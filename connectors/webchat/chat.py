"""What the web chat does with a visitor's token and frames, whichever way they came (the
WebSocket or the HTTP fallback): verify and issue tokens, take a message in, report what the
visitor read, tell the agent the visitor types. The aiohttp handlers (connectors.webchat.app,
connectors.webchat.file_routes) only carry bytes to and from it.

A visitor's message, in order (connectors.webchat's steps 3-5):
1. the visitor's message rate (`RateLimiter.take`): limited -> a `rate_limited` error;
2. `mapping.message_received`: the event, with the id every resend of it repeats;
3. already recorded in the session (a resend after a lost ack)? -> its ack again, nothing
   published: the event is on Kafka once;
4. its files, if any, are the visitor's own uploads, in the media store as described
   (connectors.webchat.uploads.check) -> else an `invalid_field` error, nothing published;
5. `Inbound.accept`: durable in Kafka (acks=all), or raise: no ack, the widget resends;
6. numbered into the session (connectors.webchat.sessions), with its files, and acked.

A visitor's file (`keep_file`) is sealed in the media store and described, and nothing is
published for it; `file_for` opens a file of a message of the visitor's sessions, and
nothing else (another visitor's file is as absent as one that never was).

Must not depend on aiohttp.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connectors.common.identity import ContactIds, ContactRef
from connectors.common.inbound import Inbound
from connectors.webchat.config import WebChatSettings
from connectors.webchat.indicators import AgentTyping
from connectors.webchat.limits import RateLimited, RateLimiter
from connectors.webchat.mapping import CHANNEL, message_received, record_received
from connectors.webchat.protocol import (
    ClientMessage,
    ServerError,
    ServerMessage,
    rate_limited_error,
)
from connectors.webchat.resume import SessionWindow
from connectors.webchat.sessions import SessionRef, SessionStore
from connectors.webchat.tokens import (
    VisitorClaims,
    VisitorTokenRefused,
    issue_visitor_token,
    verify_visitor_token,
)
from connectors.webchat.uploads import VisitorFiles
from schemas.envelope import derive_event_id
from schemas.events import Attachment, DeliveryStatusChanged


def _wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    claims: VisitorClaims
    renewed: bool


@dataclass
class WebChat:
    """The web chat's shell state: settings, publishing, sessions, limits and clocks."""

    settings: WebChatSettings
    inbound: Inbound
    store: SessionStore
    contact_ids: ContactIds
    typing: AgentTyping
    files: VisitorFiles
    clock: Callable[[], datetime] = _wall_clock
    monotonic: Callable[[], float] = time.monotonic
    message_limits: RateLimiter = field(init=False)
    frame_limits: RateLimiter = field(init=False)
    session_limits: RateLimiter = field(init=False)
    file_limits: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.message_limits = RateLimiter(
            rate=s.messages.per_second, burst=s.messages.burst, max_keys=s.max_tracked_keys
        )
        self.frame_limits = RateLimiter(
            rate=s.frames.per_second, burst=s.frames.burst, max_keys=s.max_tracked_keys
        )
        self.session_limits = RateLimiter(
            rate=s.sessions.per_second, burst=s.sessions.burst, max_keys=s.max_tracked_keys
        )
        self.file_limits = RateLimiter(
            rate=s.files.per_second, burst=s.files.burst, max_keys=s.max_tracked_keys
        )

    # -- tokens -------------------------------------------------------------------------

    def verify(self, token: str | None) -> VisitorClaims | VisitorTokenRefused:
        if not token:
            return VisitorTokenRefused("malformed", "no visitor token")
        return verify_visitor_token(
            token, keys=self.settings.signing_keys, site_id=self.settings.site_id, now=self.clock()
        )

    def issue(self, previous: str | None) -> IssuedToken | VisitorTokenRefused:
        """A token for a new visitor and session, or, renewing `previous` (valid, or expired
        less than the renewal grace ago), for the same visitor and session."""
        visitor_id, session_id = _new_id("v"), _new_id("s")
        if previous is not None:
            old = verify_visitor_token(
                previous,
                keys=self.settings.signing_keys,
                site_id=self.settings.site_id,
                now=self.clock(),
                leeway=self.settings.renew_grace,
            )
            if isinstance(old, VisitorTokenRefused):
                return old
            visitor_id, session_id = old.visitor_id, old.session_id
        now = self.clock()
        token = issue_visitor_token(
            self.settings.signing_keys[0],
            visitor_id=visitor_id,
            site_id=self.settings.site_id,
            session_id=session_id,
            issued_at=now,
            ttl=self.settings.token_ttl,
        )
        claims = self.verify(token)
        assert isinstance(claims, VisitorClaims)  # just signed with our own current key
        return IssuedToken(token, claims, renewed=previous is not None)

    def contact(self, claims: VisitorClaims) -> ContactRef:
        """The visitor's contact (and citizen): the visitor id is the contact's address."""
        return self.contact_ids.contact(CHANNEL, claims.visitor_id)

    async def open_session(self, claims: VisitorClaims) -> SessionRef:
        contact = self.contact(claims)
        session = await self.store.open(
            SessionRef(
                session_id=claims.session_id,
                site_id=claims.site_id,
                contact_id=contact.contact_id,
                subject_id=contact.subject_id,
            )
        )
        if session.contact_id != contact.contact_id:  # only with a forged or reused token
            raise PermissionError(f"session {claims.session_id!r} belongs to another contact")
        return session

    # -- frames -------------------------------------------------------------------------

    def take_frame(self, claims: VisitorClaims) -> ServerError | None:
        """Every frame a visitor sends counts against its frame rate."""
        limited = self.frame_limits.take(claims.visitor_id, self.monotonic())
        return rate_limited_error(limited.retry_after) if isinstance(limited, RateLimited) else None

    async def accept_message(
        self, claims: VisitorClaims, session: SessionRef, message: ClientMessage
    ) -> ServerMessage | ServerError:
        """Steps 1-5 of the module's docstring: the message as recorded (its number for
        the ack), or the error frame that says why not. Infrastructure errors raise."""
        limited = self.message_limits.take(claims.visitor_id, self.monotonic())
        if isinstance(limited, RateLimited):
            return rate_limited_error(limited.retry_after)
        event = message_received(
            message, claims, contact_ids=self.contact_ids, received_at=self.clock()
        )
        known = await self.store.find(session, event.event_id)
        if known is not None:
            return known
        refused = await self.files.check(session, message.attachments)
        if refused is not None:
            return refused
        await self.inbound.accept([event])
        shown = record_received(SessionWindow(capacity=1), event)
        assert shown is not None  # an event message_received just made
        return await self.store.record(session, shown[1])

    # -- files --------------------------------------------------------------------------

    def take_upload(self, claims: VisitorClaims) -> RateLimited | None:
        """Every upload counts against the visitor's own file budget."""
        limited = self.file_limits.take(claims.visitor_id, self.monotonic())
        return limited if isinstance(limited, RateLimited) else None

    async def keep_file(
        self, claims: VisitorClaims, name: str, media_type: str, content: bytes
    ) -> Attachment:
        """The visitor's checked file sealed under their citizen's key, and its descriptor
        (raises SubjectErased when that citizen was erased)."""
        return await self.files.keep(self.contact(claims), name, media_type, content)

    async def file_for(
        self, claims: VisitorClaims, attachment_id: str
    ) -> tuple[Attachment, bytes] | None:
        """A file of a message of the visitor's sessions, and its bytes; None otherwise."""
        kept = await self.store.file_of(self.contact(claims).contact_id, attachment_id)
        if kept is None:
            return None
        content = await self.files.open(kept)
        return None if content is None else (kept.attachment, content)

    async def report_read(self, session: SessionRef, up_to_message_id: str) -> int:
        """The visitor read the office's messages up to this one: a DeliveryStatusChanged
        `read` for each not reported before (ids derived as the Outbound loop's, so a
        repeat is dropped downstream); returns how many."""
        unread = await self.store.unread_office_messages(session, up_to_message_id)
        if not unread:
            return 0
        now = self.clock()
        events = [
            DeliveryStatusChanged(
                event_id=derive_event_id("connectors", CHANNEL, m.message_id, "read"),
                occurred_at=now,
                correlation_id=m.correlation_id,
                causation_id=m.event_id,
                channel=CHANNEL,
                contact_id=session.contact_id,
                case_id=m.case_id,
                message_id=m.message_id,
                provider_message_id=m.message_id,
                status="read",
                status_at=now,
            )
            for m in unread
        ]
        await self.inbound.accept(events)
        await self.store.mark_read(session, [m.message_id for m in unread])
        return len(events)

    async def report_typing(self, session: SessionRef, active: bool) -> str | None:
        """The visitor started or stopped typing: tell the agent holding the contact's open
        case (connectors.webchat.indicators; no event: typing decides nothing). The case
        told, or None when there is no such agent."""
        return await self.typing.tell(session.contact_id, active)


def _new_id(prefix: str) -> str:
    """A fresh random id (128 bits) in the alphabet tokens accept."""
    return f"{prefix}-{secrets.token_urlsafe(16)}"
