"""A conversation worker as its own process, for tests that kill it: reads its topics from
the environment and runs until killed."""

from __future__ import annotations

import asyncio
import os

from schemas.personal import InMemoryKeyRing
from streams.conversation.processor import ConversationCore
from streams.shared.contract import Contract
from streams.shared.events import TopicRoute
from streams.shared.runtime import Processor
from streams.shared.settings import Settings

OUTPUTS = (
    "CaseOpened",
    "CaseReopened",
    "CaseResumed",
    "CasePutOnHold",
    "CaseClosed",
    "MessageSent",
    "CaseTriaged",
)


class FixedKeys(InMemoryKeyRing):
    """One key for every subject: each restarted process must read what the last one wrote."""

    def encryption_key(self, subject_id: str):  # type: ignore[no-untyped-def]
        from schemas.personal import DataKey

        return DataKey(subject_id, b"k" * 32)

    def decryption_key(self, subject_id: str):  # type: ignore[no-untyped-def]
        from schemas.personal import DataKey

        return DataKey(subject_id, b"k" * 32)


async def main() -> None:
    import logging

    from streams.shared.logs import configure_logging

    configure_logging("text", logging.INFO)
    logging.getLogger("aiokafka").setLevel(logging.INFO)
    settings = Settings.from_env()
    contract = await Contract.open(settings, keys=FixedKeys())
    out = os.environ["WORKER_OUTPUT"]
    proc = Processor(
        ConversationCore(),
        contract,
        settings.kafka,
        input_topic=os.environ["WORKER_INPUT"],
        routes={n: TopicRoute(out, "event_id") for n in OUTPUTS},
        group_id=os.environ["WORKER_GROUP"],
        max_records=int(os.environ.get("WORKER_MAX_RECORDS", "200")),
        checkpoint_interval_s=float(os.environ.get("WORKER_CHECKPOINT_S", "0.3")),
    )
    await proc.start()
    while True:
        await proc.step(timeout_ms=100)


if __name__ == "__main__":
    asyncio.run(main())
