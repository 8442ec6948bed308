"""A visitor's files in the media store: sealing an upload under the visitor's citizen's key,
checking that a message's descriptors name files that visitor stored, and opening a file of
the visitor's session for download. The rules are connectors.webchat.files' (pure); this is
their I/O.

`keep` (after the shell took the upload's rate and read its checked bytes), in order:
1. the citizen's data key (made if missing, as the first message's would be): erased ->
   SubjectErased (nothing new may be sealed for them);
2. sealed into the media store (idempotent: the same bytes of one citizen are one file);
3. the descriptor (`attachment_id` from the contact and the checksum). Nothing is published:
   a file reaches the office only with a message that names it.

`check` (for a message frame, before anything is published): each descriptor is the
visitor's own (`files.foreign_field`), and its file is in the store, opens with the
citizen's key and has the descriptor's checksum and size, so an event never names a file
that is not there, nor another citizen's.

Must not depend on aiohttp or Kafka.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from connectors.common.identity import ContactRef
from connectors.common.media import MediaStore
from connectors.webchat.files import attachment_id_for, foreign_field
from connectors.webchat.protocol import ServerError
from connectors.webchat.session_files import KeptFile
from connectors.webchat.sessions import SessionRef
from schemas.events import Attachment
from streams.shared.events import KeySource


@dataclass
class VisitorFiles:
    keys: KeySource
    media: MediaStore
    accepted: tuple[str, ...]
    max_bytes: int

    async def keep(
        self, contact: ContactRef, name: str, media_type: str, content: bytes
    ) -> Attachment:
        """Steps 1-3 of the module's docstring (`content` already checked: files.py)."""
        await self.keys.ensure([contact.subject_id])
        key = self.keys.encryption_key(contact.subject_id)
        stored = await self.media.put(key, content)
        return Attachment(
            attachment_id=attachment_id_for(contact.contact_id, stored.sha256),
            media_type=media_type,
            size_bytes=stored.size_bytes,
            sha256=stored.sha256,
            storage_ref=stored.storage_ref,
            file_name=name,
        )

    async def check(
        self, session: SessionRef, attachments: tuple[Attachment, ...]
    ) -> ServerError | None:
        """Why a message may not name these files (the error frame), or None."""
        if not attachments:
            return None
        await self.keys.load([session.subject_id])
        key = self.keys.decryption_key(session.subject_id)
        for n, attachment in enumerate(attachments):
            at = f"attachments[{n}]"
            wrong = foreign_field(
                attachment,
                contact_id=session.contact_id,
                subject_id=session.subject_id,
                accepted=self.accepted,
                max_bytes=self.max_bytes,
            )
            if wrong is not None:
                field = f"{at}.{wrong[0]}"
                return ServerError("invalid_field", f"{field}: {wrong[1]}", field)
            content = None
            if key is not None:
                try:
                    content = await self.media.get(key, attachment.storage_ref)
                except (FileNotFoundError, ValueError):
                    content = None  # never uploaded, or not sealed with this key
            if content is None or (
                len(content) != attachment.size_bytes
                or hashlib.sha256(content).hexdigest() != attachment.sha256
            ):
                return ServerError(
                    "invalid_field",
                    f"{at}: no such file uploaded: upload it again (POST /webchat/files)",
                    at,
                )
        return None

    async def open(self, kept: KeptFile) -> bytes | None:
        """The file's bytes, or None when its citizen was erased (the key is gone)."""
        await self.keys.load([kept.media_subject_id])
        key = self.keys.decryption_key(kept.media_subject_id)
        if key is None:
            return None
        return await self.media.get(key, kept.attachment.storage_ref)
