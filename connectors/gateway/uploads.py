"""`POST /v1/cases/{case_id}/files?name=<file name>`: an agent's file, sealed in the media
store under the case's citizen's key, answered with the descriptor a reply names it by
(connectors.gateway.files).

Steps of `take`, after the gateway authenticated the agent and took from their rate limit:
1. the request: the `name` query parameter (a file name, no path) and the Content-Type (the
   file's media type) -> 400 with every problem; a declared body above the limit -> 413
   before a byte is read; the body read up to the limit -> 413; empty -> 400;
2. the case in the read model -> 404 `unknown_case`; its citizen blocked -> 403
   `citizen_blocked` (connectors.gateway.refusals);
3. the citizen's data key (made if missing, as the reply's would be) -> 410 when the
   citizen was erased;
4. the file sealed into the media store (idempotent: the same bytes for the same citizen
   are one file) -> 503 when the store cannot be written;
5. 201 with the descriptor: the same file uploaded again to the case gets the same one.
Nothing goes to Kafka: a file reaches the citizen only with a reply that names it. No
Idempotency-Key is needed: the descriptor derives from the case and the file's checksum.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import asyncpg
from aiohttp import web

from connectors.common.http import read_body, refusal
from connectors.common.media import MediaStore, MediaTooLarge
from connectors.gateway import refusals
from connectors.gateway.commands import Problem
from connectors.gateway.files import (
    attachment_id_for,
    descriptor,
    file_name_problem,
    normalized_media_type,
)
from connectors.gateway.store import CaseDirectory
from schemas.events import Attachment
from streams.shared.errors import RetriableInfrastructureError
from streams.shared.events import KeySource
from streams.shared.keystore import SubjectErased

log = logging.getLogger(__name__)
PATH = "/v1/cases/{case_id}/files"


@dataclass
class FileIntake:
    cases: CaseDirectory
    keys: KeySource
    media: MediaStore
    max_bytes: int

    async def take(self, request: web.Request) -> web.Response | tuple[Problem, ...]:
        """Steps 1-5 of the module docstring; the problems of a bad request (400)."""
        read = await self._read(request)
        if not isinstance(read, _File):
            return read
        case_id = request.match_info["case_id"]
        case = await self.cases.find(case_id)
        if case is None:
            return refusals.unknown_case(case_id)
        if case.is_blocked:
            return refusals.citizen_blocked(case_id)
        try:
            await self.keys.ensure([case.citizen_id])
            key = self.keys.encryption_key(case.citizen_id)
            stored = await self.media.put(key, read.content)
        except SubjectErased:
            return refusal(
                410,
                "citizen_erased",
                f"the citizen of case {case_id} was erased; nothing new may be sent for them",
            )
        except MediaTooLarge:
            return refusal(413, "too_large", f"a file is at most {self.max_bytes} bytes")
        except (asyncpg.PostgresError, OSError) as exc:
            raise RetriableInfrastructureError(
                f"the file could not be stored: {type(exc).__name__}"
            ) from exc
        attachment = Attachment(
            attachment_id=attachment_id_for(case_id, stored.sha256),
            media_type=read.media_type,
            size_bytes=stored.size_bytes,
            sha256=stored.sha256,
            storage_ref=stored.storage_ref,
            file_name=read.name,
        )
        log.info(
            "file stored", extra={"case_id": case_id, "attachment_id": attachment.attachment_id}
        )
        return web.json_response(descriptor(attachment), status=201)

    async def _read(self, request: web.Request) -> _File | web.Response | tuple[Problem, ...]:
        """Step 1."""
        name = request.query.get("name")
        media_type = normalized_media_type(request.headers.get("Content-Type"))
        problems: list[Problem] = []
        if (reason := file_name_problem(name)) is not None:
            problems.append(Problem("name", reason))
        if media_type is None:
            problems.append(Problem("Content-Type", "the file's media type, e.g. application/pdf"))
        if problems or name is None or media_type is None:
            return tuple(problems)
        content = await read_body(request, self.max_bytes)
        if isinstance(content, web.Response):
            return content
        if not content:
            return (Problem("body", "empty: send the file's bytes"),)
        return _File(name, media_type, content)


@dataclass(frozen=True, slots=True)
class _File:
    name: str
    media_type: str
    content: bytes
