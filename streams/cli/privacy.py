"""`acolhe erase CITIZEN_ID [--requested-by AGENT] [--legal-basis BASIS] [--reference REF]
[--schema S ...]`: erase a citizen's personal data, for good.

Destroys the data keys of the citizen's subjects (every copy of their sealed fields in the
log, replays and exports becomes unreadable), redacts their messages in the read model
(every read-model schema, or those given with --schema), and records ErasureRequested
and ErasureCompleted in acolhe.privacy; the steps are in streams/privacy/erasure.py.
Prints what it did. Running it again with the same citizen, basis and reference finishes
an erasure that stopped half-way and records nothing twice. An unknown citizen id still
gets a tombstone (no key will ever be made for it), and the output says it was unknown.

Bad arguments are refused before anything is done: exit status 2 with the reason.

`acolhe block CITIZEN_ID --basis BASIS --reference REF [--requested-by AGENT]` and
`acolhe unblock ...`: suspend the processing of a citizen's personal data (bloqueio, LGPD
art. 5 XIII, art. 18 IV), keeping it, or lift that; streams/privacy/blocking.py has the
steps and docs/privacy.md ("Blocking") what is suspended and what is not. Refusals (a
malformed id, unblocking a citizen not blocked, blocking one already blocked or erased)
exit with status 2 and the reason, "nothing was recorded"; Kafka failing exits with 1 and
what to do (`streams.cli.main`), never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from streams.privacy import blocks
from streams.privacy.domain import BASES, ErasureReport, InvalidErasure, describe
from streams.projections.sqltext import InvalidSchemaName, check_schema_name
from streams.shared.settings import Settings


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "erase",
        help="erase a citizen's personal data (LGPD): destroy their keys, redact the read model",
        description="Erase a citizen's personal data for good: destroy their data keys "
        "(crypto-shredding), redact their messages in the read model, and record the "
        "erasure in acolhe.privacy. Cannot be undone.",
    )
    parser.add_argument("citizen_id", metavar="CITIZEN_ID", help="the citizen to erase")
    parser.add_argument(
        "--requested-by", metavar="AGENT", default=None, help="the agent recording the request"
    )
    parser.add_argument(
        "--legal-basis",
        choices=BASES,
        default="data_subject_request",
        help="data_subject_request (LGPD art. 18, the default) or end_of_processing (art. 16)",
    )
    parser.add_argument(
        "--reference", metavar="REF", default=None, help="the office's protocol number"
    )
    parser.add_argument(
        "--schema",
        action="append",
        metavar="S",
        default=None,
        help="a read-model schema to redact (repeatable; default: every read-model schema)",
    )
    parser.set_defaults(handler=_erase)
    for kind, what, description in (
        (
            "block",
            "block a citizen's personal data (LGPD): agents and exports stop seeing it, kept",
            "Block a citizen's personal data (bloqueio, LGPD art. 5 XIII, art. 18 IV): agents "
            "no longer see their cases, messages or SLA clocks, and exports leave their events "
            "out, until `acolhe unblock`. The data is kept; new messages are still accepted.",
        ),
        (
            "unblock",
            "lift a citizen's block: agents see their cases again",
            "Lift a citizen's block: agents see their cases again and exports include them.",
        ),
    ):
        blocking = sub.add_parser(kind, help=what, description=description)
        blocking.add_argument("citizen_id", metavar="CITIZEN_ID", help="the citizen (citizen-...)")
        blocking.add_argument(
            "--basis",
            "--legal-basis",
            dest="legal_basis",
            choices=blocks.BASES,
            default="data_subject_request",
            help="data_subject_request (LGPD art. 18 IV, the default), authority_order "
            "(art. 52 V) or court_order",
        )
        blocking.add_argument(
            "--reference",
            metavar="REF",
            required=True,
            help="the office's protocol number of the request (one per block or unblock)",
        )
        blocking.add_argument(
            "--requested-by", metavar="AGENT", default=None, help="the agent recording it"
        )
        blocking.set_defaults(handler=_block, kind=kind)


def _erase(args: argparse.Namespace) -> int:
    from streams.privacy import domain

    try:
        # Checked before any connection is opened, and again by `erase` itself.
        domain.request(
            args.citizen_id,
            legal_basis=args.legal_basis,
            requested_by=args.requested_by,
            reference=args.reference,
        )
        for schema in args.schema or ():
            check_schema_name(schema)
        report = asyncio.run(_run(Settings.from_env(), args))
    except (InvalidErasure, InvalidSchemaName) as exc:
        # Raised only before the first step: nothing was recorded nor destroyed.
        print(f"acolhe erase: {exc}; nothing was erased", file=sys.stderr)
        return 2
    for line in describe(report):
        print(line)
    return 0


async def _run(settings: Settings, args: argparse.Namespace) -> ErasureReport:
    from streams.privacy.erasure import erase
    from streams.shared.contract import Contract

    contract = await Contract.open(settings)
    try:
        return await erase(
            settings,
            contract,
            args.citizen_id,
            requested_by=args.requested_by,
            legal_basis=args.legal_basis,
            reference=args.reference,
            schemas=args.schema,
        )
    finally:
        await contract.close()


def _block(args: argparse.Namespace) -> int:
    kind: blocks.Kind = args.kind
    try:
        # Checked before any connection is opened, and again by `block` / `unblock` itself.
        blocks.request(
            kind,
            args.citizen_id,
            legal_basis=args.legal_basis,
            reference=args.reference,
            requested_by=args.requested_by,
        )
        report = asyncio.run(_run_block(Settings.from_env(), args))
    except (blocks.InvalidBlock, blocks.BlockRefused) as exc:
        # Raised before the first write: nothing was recorded.
        print(f"acolhe {kind}: {exc}; nothing was recorded", file=sys.stderr)
        return 2
    for line in blocks.describe(report):
        print(line)
    return 0


async def _run_block(settings: Settings, args: argparse.Namespace) -> blocks.BlockReport:
    from streams.privacy.blocking import block, unblock
    from streams.shared.contract import Contract

    run = block if args.kind == "block" else unblock
    contract = await Contract.open(settings)
    try:
        return await run(
            settings,
            contract,
            args.citizen_id,
            legal_basis=args.legal_basis,
            reference=args.reference,
            requested_by=args.requested_by,
        )
    finally:
        await contract.close()
