"""A projector as its own process, for tests that kill it: reads its projection (default
sla_clocks), topic, schema and group from the environment and runs until killed."""

from __future__ import annotations

import asyncio
import os

from streams.projections.folds import projections
from streams.projections.projector import Projector
from streams.shared.contract import Contract
from streams.shared.settings import Settings


async def main() -> None:
    settings = Settings.from_env()
    contract = await Contract.open(settings)
    projector = Projector(
        settings,
        contract,
        projections()[os.environ.get("WORKER_PROJECTION", "sla_clocks")],
        schema=os.environ["WORKER_SCHEMA"],
        topic=os.environ["WORKER_TOPIC"],
        group_id=os.environ["WORKER_GROUP"],
        max_records=int(os.environ.get("WORKER_MAX_RECORDS", "5")),
    )
    pause = float(os.environ.get("WORKER_PAUSE_S", "0"))
    await projector.start()
    try:
        while True:
            await projector.step(timeout_ms=200)
            await asyncio.sleep(pause)
    finally:
        await projector.stop()
        await contract.close()


if __name__ == "__main__":
    asyncio.run(main())
