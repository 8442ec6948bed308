"""The web chat's way out for the Outbound loop (connectors.common.outbound): an office
message (MessageSent on web_chat) is numbered into its session and pushed to the session's
open sockets.

Steps of `deliver`, in order:
1. what the widget can show (`mapping.text_for_visitor`): text, files or both; none (a
   template, text or a file's name erased) -> Refused: sending again would not help;
2. the session: the message's `thread_id` (the session the conversation last heard from),
   or the contact's latest session; none, or one of another contact -> Refused;
3. numbered into the session with its files (durable in PostgreSQL; the same message id
   keeps its number, so a redelivery by Kafka is shown once); a file is kept by reference
   (the media store's, under the message's subject's key, where the gateway sealed it), and
   the visitor fetches it with `GET /webchat/files/{attachment_id}`;
4. offered to every open socket of the session in this process; sockets held by other
   replicas are brought up to it by the notice step 3 sends at commit
   (connectors.webchat.listener). A widget not connected now gets it when it resumes, so
   the message counts as sent once step 3 is done.
A database failure raises: the Outbound loop tries again with backoff.

Must not depend on Kafka.
"""

from __future__ import annotations

from connectors.common.outbound import Outcome, Refused, Sent
from connectors.webchat.live import Hub
from connectors.webchat.mapping import CHANNEL, record_sent, text_for_visitor
from connectors.webchat.resume import SessionWindow
from connectors.webchat.sessions import Cause, SessionStore
from schemas.events import MessageSent


class WebChatDeliverer:
    channel = CHANNEL

    def __init__(self, store: SessionStore, hub: Hub) -> None:
        self._store = store
        self._hub = hub

    async def deliver(self, message: MessageSent) -> Outcome:
        """Steps 1-4 of the module's docstring."""
        if text_for_visitor(message) is None:
            return Refused("not_deliverable", "the web chat shows text and files; this has none")
        if message.thread_id:
            session = await self._store.session(message.thread_id)
        else:
            session = await self._store.latest_session(message.contact_id)
        if session is None:
            return Refused("unknown_session", "no web chat session for this message")
        if session.contact_id != message.contact_id:
            return Refused("wrong_session", "the session belongs to another contact")
        shown = record_sent(SessionWindow(capacity=1), message)
        assert shown is not None  # text_for_visitor said it has text
        cause = Cause(message.event_id, message.correlation_id, message.case_id)
        recorded = await self._store.record(
            session, shown[1], cause=cause, media_subject_id=message.subject_id
        )
        await self._hub.push(session.session_id, recorded)
        return Sent(provider_message_id=message.message_id)
