"""The event catalog: every event acolhe records, its topic, its key, who writes and who reads it.

The Avro schemas in `schemas/avro/<Name>.avsc` say what an event holds; this module says where
it lives and who uses it. Publishers take an event's topic and Kafka key field from `BY_NAME`;
`schemas.docs_gen` renders both into docs/events.md; a unit test keeps the catalog, the schema
files and the page in step (every schema is catalogued, and every catalogued event has one).

Plain data only: must not import fastavro (nor Kafka, Postgres or anything from streams), so
any component can read the catalog cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NamedTuple

# The components that emit or consume events, by package.
WHATSAPP: Final = "connectors.whatsapp"
EMAIL: Final = "connectors.email"
WEBCHAT: Final = "connectors.webchat"
GATEWAY: Final = "connectors.gateway"
CASES: Final = "streams.cases"
TRIAGE: Final = "streams.triage"
ROUTING: Final = "streams.routing"
SLA: Final = "streams.sla"
TIMER: Final = "streams.timer"
PROJECTIONS: Final = "streams.projections"
PRIVACY: Final = "streams.privacy"
ANALYSTS: Final = "analysts"

COMPONENTS: Final = (
    WHATSAPP,
    EMAIL,
    WEBCHAT,
    GATEWAY,
    CASES,
    TRIAGE,
    ROUTING,
    SLA,
    TIMER,
    PROJECTIONS,
    PRIVACY,
    ANALYSTS,
)
"""Every component named as an emitter or a consumer; analysts read an export, not a topic."""

CHANNEL_CONNECTORS: Final = (WHATSAPP, EMAIL, WEBCHAT)


class TopicInfo(NamedTuple):
    """How a topic is laid out: partitions, and how long its records are kept."""

    partitions: int
    retention: str


_FOREVER = "forever: the log is the record (personal fields crypto-shredded on erasure)"

TOPICS: Final[dict[str, TopicInfo]] = {
    # One partition owns each contact: its messages and its cases' facts, in order.
    "acolhe.conversations": TopicInfo(12, _FOREVER),
    # The router's one ordered stream: what it decides on and what it decided.
    "acolhe.routing": TopicInfo(1, _FOREVER),
    # What agents asked (every command, as given) and what was refused, with the reason.
    "acolhe.commands": TopicInfo(
        6, "forever: the record of what agents asked (personal fields crypto-shredded on erasure)"
    ),
    "acolhe.sla": TopicInfo(12, _FOREVER),
    "acolhe.sla.config": TopicInfo(1, _FOREVER),
    "acolhe.clock": TopicInfo(1, "7 days: ticks matter only until the processors consumed them"),
    "acolhe.contacts": TopicInfo(6, _FOREVER),
    "acolhe.privacy": TopicInfo(
        3, "forever: the proof that erasures and blocks were requested and done"
    ),
    "acolhe.deadletter": TopicInfo(3, "14 days: raw inputs, possibly personal and in clear"),
    # The connectors' delivery queue: a copy of each MessageSent, so a connector reads the
    # office's outgoing messages only, not every citizen's incoming one with them.
    "acolhe.outbound": TopicInfo(
        12, "30 days: a delivery queue; MessageSent itself stays in acolhe.conversations"
    ),
}


@dataclass(frozen=True)
class EventSpec:
    """One event: its record name, topic, Kafka key field, emitters, consumers and meaning."""

    name: str
    topic: str
    key_field: str
    emitted_by: tuple[str, ...]
    consumed_by: tuple[str, ...]
    description: str
    copies: tuple[str, ...] = ()
    """Other topics that get the same record (same event id): a processor that reads one
    ordered topic needs there every fact it decides on."""


_CASE_READERS: Final = (PROJECTIONS, GATEWAY, ANALYSTS)
_COMMANDS: Final = "acolhe.commands"
_SLA_READERS: Final = (PROJECTIONS, ANALYSTS)


def _sla(name: str, description: str, *extra_readers: str) -> EventSpec:
    return EventSpec(
        name, "acolhe.sla", "case_id", (SLA,), (*extra_readers, *_SLA_READERS), description
    )


CATALOG: Final[tuple[EventSpec, ...]] = (
    # -- messages ------------------------------------------------------------------------
    EventSpec(
        "MessageReceived",
        "acolhe.conversations",
        "contact_id",
        CHANNEL_CONNECTORS,
        (CASES, TRIAGE, SLA, PROJECTIONS, GATEWAY, ANALYSTS),
        "A citizen's message reached the office through a channel.",
    ),
    EventSpec(
        "MessageSent",
        "acolhe.conversations",
        "contact_id",
        (TRIAGE, CASES),
        (*CHANNEL_CONNECTORS, SLA, CASES, PROJECTIONS, ANALYSTS),
        "The office sent a message to a contact (an agent's accepted SendReply, the bot or the "
        "system); connectors deliver it, reading it from acolhe.outbound.",
        copies=("acolhe.outbound",),
    ),
    EventSpec(
        "DeliveryStatusChanged",
        "acolhe.conversations",
        "contact_id",
        CHANNEL_CONNECTORS,
        (PROJECTIONS, GATEWAY, ANALYSTS),
        "The provider reported sent, delivered, read or failed for an outbound message.",
    ),
    # -- cases ---------------------------------------------------------------------------
    EventSpec(
        "CaseOpened",
        "acolhe.conversations",
        "contact_id",
        (CASES,),
        (TRIAGE, SLA, *_CASE_READERS),
        "A case began, from a contact's first message or by an agent.",
    ),
    EventSpec(
        "CaseTriaged",
        "acolhe.conversations",
        "contact_id",
        (TRIAGE,),
        (CASES, ROUTING, SLA, *_CASE_READERS),
        "The bot's rules (or an agent) set a case's area, priority, urgency and eligibility.",
        copies=("acolhe.routing",),
    ),
    EventSpec(
        "CaseQueued",
        "acolhe.conversations",
        "contact_id",
        (ROUTING,),
        (SLA, *_CASE_READERS),
        "A case was put in a queue to wait for an agent.",
        copies=("acolhe.routing",),
    ),
    EventSpec(
        "CaseAssigned",
        "acolhe.conversations",
        "contact_id",
        (ROUTING,),
        (CASES, *_CASE_READERS),
        "A case was given to an agent.",
        copies=("acolhe.routing",),
    ),
    EventSpec(
        "CaseTransferred",
        "acolhe.conversations",
        "contact_id",
        (ROUTING,),
        (CASES, SLA, *_CASE_READERS),
        "An agent moved a case to another queue or agent.",
        copies=("acolhe.routing",),
    ),
    EventSpec(
        "CaseReleased",
        "acolhe.conversations",
        "contact_id",
        (ROUTING,),
        (CASES, *_CASE_READERS),
        "An agent gave a case up without closing it; it goes back to its queue.",
        copies=("acolhe.routing",),
    ),
    EventSpec(
        "CasePutOnHold",
        "acolhe.conversations",
        "contact_id",
        (CASES,),
        (SLA, *_CASE_READERS),
        "A case waits on the citizen or a third party; SLA clocks may pause.",
    ),
    EventSpec(
        "CaseResumed",
        "acolhe.conversations",
        "contact_id",
        (CASES,),
        (SLA, *_CASE_READERS),
        "A case on hold became active again.",
    ),
    EventSpec(
        "CaseClosed",
        "acolhe.conversations",
        "contact_id",
        (CASES,),
        (ROUTING, SLA, PRIVACY, *_CASE_READERS),
        "A case ended (resolved, auto-closed, duplicate, ineligible, withdrawn, or its "
        "citizen erased).",
        copies=("acolhe.routing",),
    ),
    EventSpec(
        "CaseReopened",
        "acolhe.conversations",
        "contact_id",
        (CASES,),
        (ROUTING, SLA, *_CASE_READERS),
        "A closed case became open again.",
        copies=("acolhe.routing",),
    ),
    # -- routing and agents --------------------------------------------------------------
    EventSpec(
        "RoutingDecided",
        "acolhe.routing",
        "case_id",
        (ROUTING,),
        (PROJECTIONS, ANALYSTS),
        "The router chose an agent for a queued case, or let it wait, with every candidate.",
    ),
    EventSpec(
        "AgentPresenceChanged",
        "acolhe.routing",
        "agent_id",
        (GATEWAY, ROUTING),
        (ROUTING, PROJECTIONS, ANALYSTS),
        "An agent became available, away or offline.",
    ),
    EventSpec(
        "AgentCapacityChanged",
        "acolhe.routing",
        "agent_id",
        (GATEWAY, ROUTING),
        (ROUTING, PROJECTIONS, ANALYSTS),
        "An agent's capacity (most cases held at once) changed.",
    ),
    # -- agents' commands (imperative: a processor accepts them into facts or refuses them) --
    EventSpec(
        "SendReply",
        "acolhe.conversations",
        "contact_id",
        (GATEWAY,),
        (CASES, ANALYSTS),
        "An agent asks to reply to the citizen of a case they hold; the conversation processor "
        "accepts it into MessageSent or refuses it (CommandRefused).",
        copies=(_COMMANDS,),
    ),
    EventSpec(
        "PutCaseOnHold",
        "acolhe.conversations",
        "contact_id",
        (GATEWAY,),
        (CASES, ANALYSTS),
        "An agent asks to put a case they hold on hold; the conversation processor accepts it "
        "into CasePutOnHold or refuses it (CommandRefused).",
        copies=(_COMMANDS,),
    ),
    EventSpec(
        "ResumeCase",
        "acolhe.conversations",
        "contact_id",
        (GATEWAY,),
        (CASES, ANALYSTS),
        "An agent asks to take a case they hold off hold; the conversation processor accepts "
        "it into CaseResumed (reason agent) or refuses it (CommandRefused).",
        copies=(_COMMANDS,),
    ),
    EventSpec(
        "CloseCase",
        "acolhe.conversations",
        "contact_id",
        (GATEWAY,),
        (CASES, ANALYSTS),
        "An agent asks to close a case they hold; the conversation processor accepts it into "
        "CaseClosed or refuses it (CommandRefused).",
        copies=(_COMMANDS,),
    ),
    EventSpec(
        "ClaimCase",
        "acolhe.routing",
        "case_id",
        (GATEWAY,),
        (ROUTING, ANALYSTS),
        "An agent asks to take a waiting case by hand (how cases leave a manual queue); the "
        "router accepts it into RoutingDecided and CaseAssigned or refuses it (CommandRefused).",
        copies=(_COMMANDS,),
    ),
    EventSpec(
        "TransferCase",
        "acolhe.routing",
        "case_id",
        (GATEWAY,),
        (ROUTING, ANALYSTS),
        "An agent asks to move a case they hold to another queue or agent; the router accepts "
        "it into CaseTransferred (then routes the case) or refuses it (CommandRefused).",
        copies=(_COMMANDS,),
    ),
    EventSpec(
        "ChangePresence",
        "acolhe.routing",
        "agent_id",
        (GATEWAY,),
        (ROUTING, ANALYSTS),
        "An agent asks to become available, away or offline; the router accepts it into "
        "AgentPresenceChanged or refuses it (CommandRefused).",
        copies=(_COMMANDS,),
    ),
    EventSpec(
        "ChangeCapacity",
        "acolhe.routing",
        "agent_id",
        (GATEWAY,),
        (ROUTING, ANALYSTS),
        "An agent asks to change their capacity; the router accepts it into "
        "AgentCapacityChanged or refuses it (CommandRefused).",
        copies=(_COMMANDS,),
    ),
    EventSpec(
        "CommandRefused",
        _COMMANDS,
        "agent_id",
        (CASES, ROUTING),
        (GATEWAY, PROJECTIONS, ANALYSTS),
        "A processor refused an agent's command, with the reason (not your case, case closed, "
        "over capacity...); the command changed nothing.",
    ),
    # -- SLA -----------------------------------------------------------------------------
    _sla("SlaStarted", "An SLA clock started for a case."),
    _sla("SlaPaused", "An SLA clock paused while its case is on hold."),
    _sla("SlaResumed", "A paused SLA clock counts again."),
    _sla("SlaWarned", "An SLA clock passed its warning point.", GATEWAY),
    _sla("SlaBreached", "An SLA clock passed its target.", ROUTING, GATEWAY),
    _sla("SlaMet", "An SLA clock's goal was reached and the clock stopped."),
    EventSpec(
        "SlaPolicyChanged",
        "acolhe.sla.config",
        "policy_id",
        (GATEWAY,),
        (SLA, PROJECTIONS, ANALYSTS),
        "A queue's SLA targets, warnings, calendar or pause rules were set. Written also into "
        "every partition of acolhe.conversations (as the timer does ticks), so the SLA clocks "
        "apply it at the same point of every case's history.",
    ),
    EventSpec(
        "CalendarChanged",
        "acolhe.sla.config",
        "calendar_id",
        (GATEWAY,),
        (SLA, PROJECTIONS, ANALYSTS),
        "An office calendar's weekly hours, breaks or holidays were set.",
    ),
    EventSpec(
        "ClockTicked",
        "acolhe.clock",
        "source",
        (TIMER,),
        (CASES, ROUTING, SLA),
        "The timer's heartbeat: wall-clock time entering the log. The timer also writes each "
        "tick into every partition of acolhe.conversations and acolhe.routing, so every "
        "processor sees time in order with its other events.",
    ),
    # -- contacts and privacy ------------------------------------------------------------
    EventSpec(
        "ContactsLinked",
        "acolhe.contacts",
        "citizen_id",
        (GATEWAY,),
        (CASES, ROUTING, PRIVACY, PROJECTIONS, ANALYSTS),
        "Contacts were found to be one citizen and linked.",
    ),
    EventSpec(
        "ContactsUnlinked",
        "acolhe.contacts",
        "citizen_id",
        (GATEWAY,),
        (CASES, ROUTING, PRIVACY, PROJECTIONS, ANALYSTS),
        "A contact was split off a citizen into a new citizen.",
    ),
    EventSpec(
        "ErasureRequested",
        "acolhe.privacy",
        "citizen_id",
        (GATEWAY, PRIVACY),
        (CASES, PRIVACY, PROJECTIONS),
        "A citizen's personal data must be erased (LGPD art. 16 or 18). Written also into "
        "every partition of acolhe.conversations (as the timer does ticks), so the case "
        "lifecycle closes the citizen's open cases (reason citizen_erased) at the same point "
        "of every contact's history.",
    ),
    EventSpec(
        "ErasureCompleted",
        "acolhe.privacy",
        "citizen_id",
        (PRIVACY,),
        (GATEWAY, ANALYSTS),
        "A citizen's data keys were destroyed and projections redacted.",
    ),
    EventSpec(
        "CitizenBlocked",
        "acolhe.privacy",
        "citizen_id",
        (PRIVACY,),
        (PRIVACY, PROJECTIONS),
        "A citizen's personal data is blocked (LGPD art. 5 XIII, art. 18 IV): agents no longer "
        "see their cases and exports leave them out, the data kept. Written also into every "
        "partition of acolhe.conversations (as ErasureRequested is), so the case projection "
        "applies it in order with the rows it writes.",
    ),
    EventSpec(
        "CitizenUnblocked",
        "acolhe.privacy",
        "citizen_id",
        (PRIVACY,),
        (PRIVACY, PROJECTIONS),
        "A citizen's block was lifted. Written also into every partition of "
        "acolhe.conversations, as CitizenBlocked is.",
    ),
    # -- dead letters --------------------------------------------------------------------
    EventSpec(
        "InputDeadLettered",
        "acolhe.deadletter",
        "processor",
        (*CHANNEL_CONNECTORS, GATEWAY, CASES, TRIAGE, ROUTING, SLA, PROJECTIONS, PRIVACY),
        (),
        "An input could not be processed and was set aside with the reason, for an operator.",
    ),
)

BY_NAME: Final[dict[str, EventSpec]] = {spec.name: spec for spec in CATALOG}
