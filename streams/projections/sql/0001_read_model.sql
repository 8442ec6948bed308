-- 0001 The read model that agent apps query: cases, their timelines, agents, queues, SLA
-- clocks, daily figures, and the log offsets each projector has applied.
--
-- Applied by streams/projections/migrations.py in one transaction, with {schema} replaced
-- by the quoted target schema. Once applied this file must never change: add 0002_....
--
-- Design notes (docs/read-model.md has the whole picture):
-- * Every row comes from the log and can be rebuilt from it; nothing here is the record.
-- * No foreign keys: each table is filled from its own topic, and topics interleave in no
--   fixed order (an SLA clock may arrive before its case), so a row may name a case the
--   read model has not seen yet; the log, not the read model, guarantees integrity.
-- * Closed sets the event contract owns (channel, area, priority, presence, ...) are text
--   without CHECK: the contract adds symbols without a migration (readers fall back to
--   'unknown'). Sets the read model owns (a case's status, a message's direction, a clock's
--   status) are checked.
-- * version: the Kafka offset of the last event applied to the row, in the one partition
--   that orders all of the row's events; a projector changes a row only with a higher one.
-- * Times are timestamptz (microseconds, as in the events); durations bigint milliseconds.
-- * Frequently updated tables keep 10% of each page free (fillfactor 90) so that updates
--   of unindexed columns stay on the page (HOT) and leave the indexes alone.

-- The office's time zone and day ---------------------------------------------------------

CREATE FUNCTION {schema}.office_time_zone() RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN 'America/Sao_Paulo';
COMMENT ON FUNCTION {schema}.office_time_zone() IS
    'The IANA time zone the office counts its days in (daily_stats, sla_board). Changing it '
    'takes a migration that also reindexes the indexes built on office_day().';

CREATE FUNCTION {schema}.office_day(instant timestamptz) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (instant AT TIME ZONE {schema}.office_time_zone())::date;
COMMENT ON FUNCTION {schema}.office_day(timestamptz) IS
    'The office''s calendar day of an instant, in office_time_zone().';

CREATE FUNCTION {schema}.office_day_start(day date) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (day::timestamp AT TIME ZONE {schema}.office_time_zone());
COMMENT ON FUNCTION {schema}.office_day_start(date) IS
    'The instant an office day begins (midnight in office_time_zone()); day + 1 gives its end.';

-- cases --------------------------------------------------------------------------------------

CREATE TABLE {schema}.cases (
    case_id                 text        PRIMARY KEY,
    contact_id              text        NOT NULL,
    citizen_id              text        NOT NULL,
    channel                 text        NOT NULL,
    status                  text        NOT NULL,
    area                    text        NOT NULL DEFAULT 'unknown',
    priority                text        NOT NULL DEFAULT 'unknown',
    priority_rank           smallint    NOT NULL GENERATED ALWAYS AS (
                                CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1
                                              WHEN 'low' THEN 3 ELSE 2 END) STORED,
    urgency_flags           text[]      NOT NULL DEFAULT '{}',
    region                  text,
    eligible                boolean,
    queue_id                text,
    queued_at               timestamptz,
    agent_id                text,
    confidential            boolean     NOT NULL DEFAULT false,
    hold_reason             text,
    hold_until              timestamptz,
    opened_at               timestamptz NOT NULL,
    triaged_at              timestamptz,
    assigned_at             timestamptz,
    first_response_at       timestamptz,
    closed_at               timestamptz,
    close_reason            text,
    last_message_at         timestamptz,
    last_citizen_message_at timestamptz,
    last_agent_message_at   timestamptz,
    version                 bigint      NOT NULL,
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cases_status_known CHECK (status IN
        ('in_triage', 'queued', 'assigned', 'waiting_on_citizen', 'on_hold', 'closed')),
    CONSTRAINT cases_closed_iff_closed_at CHECK ((status = 'closed') = (closed_at IS NOT NULL)),
    CONSTRAINT cases_close_reason_with_closed_at CHECK ((closed_at IS NULL) = (close_reason IS NULL)),
    CONSTRAINT cases_queued_in_a_queue CHECK
        (status <> 'queued' OR (queue_id IS NOT NULL AND queued_at IS NOT NULL)),
    CONSTRAINT cases_assigned_to_an_agent CHECK (status <> 'assigned' OR agent_id IS NOT NULL),
    CONSTRAINT cases_on_hold_for_a_reason CHECK (status <> 'on_hold' OR hold_reason IS NOT NULL),
    CONSTRAINT cases_version_not_negative CHECK (version >= 0)
) WITH (fillfactor = 90);

COMMENT ON TABLE {schema}.cases IS
    'One row per case, as it stands now: its classification, where it waits or who holds it, '
    'and its milestones. Filled from acolhe.conversations: CaseOpened, CaseTriaged, CaseQueued, '
    'CaseAssigned, CaseReleased, CaseTransferred, CasePutOnHold, CaseResumed, CaseClosed, '
    'CaseReopened, MessageReceived and MessageSent (last message times), and from '
    'acolhe.contacts: ContactsLinked and ContactsUnlinked (citizen_id).';
COMMENT ON COLUMN {schema}.cases.case_id IS 'The case (CaseOpened.case_id).';
COMMENT ON COLUMN {schema}.cases.contact_id IS
    'The contact the case started from and replies go to; its Kafka key, so all of the case''s '
    'facts are in one partition of acolhe.conversations.';
COMMENT ON COLUMN {schema}.cases.citizen_id IS
    'The citizen the case is for; changes when contacts are linked (ContactsLinked.'
    'merged_citizen_ids) or unlinked.';
COMMENT ON COLUMN {schema}.cases.channel IS 'The contact''s channel: web_chat, whatsapp, email, unknown.';
COMMENT ON COLUMN {schema}.cases.status IS
    'in_triage (the bot is asking), queued (waits for an agent in queue_id), assigned (agent_id '
    'answers it), waiting_on_citizen (an agent replied, the citizen has not), on_hold (for '
    'hold_reason, until hold_until), closed. The same states as streams.cases.';
COMMENT ON COLUMN {schema}.cases.area IS
    'The legal area from the latest CaseTriaged (familia, violencia_domestica, criminal, ...); '
    'unknown until triaged.';
COMMENT ON COLUMN {schema}.cases.priority IS
    'urgent, high, normal, low from the latest CaseTriaged (or CaseQueued); unknown until triaged.';
COMMENT ON COLUMN {schema}.cases.priority_rank IS
    'Queue order of the priority, as the router orders queues: urgent 0, high 1, normal and '
    'unknown 2, low 3. Computed from priority.';
COMMENT ON COLUMN {schema}.cases.urgency_flags IS
    'Why the case is urgent (CaseTriaged.urgency_flags): violence_or_threat, just_arrested, '
    'health_risk, imminent_eviction; empty when nothing is.';
COMMENT ON COLUMN {schema}.cases.region IS 'The region (comarca) code, where queues are split by region.';
COMMENT ON COLUMN {schema}.cases.eligible IS
    'Whether the citizen meets the eligibility line, from triage; null while unknown.';
COMMENT ON COLUMN {schema}.cases.queue_id IS
    'The queue the case waits in or was taken from (CaseQueued, CaseAssigned, CaseTransferred); '
    'null before it was first queued.';
COMMENT ON COLUMN {schema}.cases.queued_at IS
    'When the case last entered its queue (CaseQueued.occurred_at): the queue''s second order key.';
COMMENT ON COLUMN {schema}.cases.agent_id IS
    'The agent who holds the case (CaseAssigned); null while it waits, after a release, a transfer '
    'to a queue, or closing.';
COMMENT ON COLUMN {schema}.cases.confidential IS
    'Whether only the case''s own team may see it (e.g. domestic violence). No event sets it yet; '
    'row-level security will read it.';
COMMENT ON COLUMN {schema}.cases.hold_reason IS
    'Why the case is on hold (CasePutOnHold.reason): waiting_on_citizen, documents_pending, '
    'external, inactivity; null when not on hold.';
COMMENT ON COLUMN {schema}.cases.hold_until IS
    'When the hold ends by itself (CasePutOnHold.until); null when open-ended or not on hold.';
COMMENT ON COLUMN {schema}.cases.opened_at IS
    'When the case opened (CaseOpened.occurred_at), the start of its first-response and '
    'resolution clocks.';
COMMENT ON COLUMN {schema}.cases.triaged_at IS 'When the case was last triaged (CaseTriaged.occurred_at).';
COMMENT ON COLUMN {schema}.cases.assigned_at IS 'When the current agent got the case (CaseAssigned.occurred_at).';
COMMENT ON COLUMN {schema}.cases.first_response_at IS
    'The first human reply (the first MessageSent with sender_kind agent: its sent_at); null before.';
COMMENT ON COLUMN {schema}.cases.closed_at IS
    'When the case closed (CaseClosed.occurred_at); null while open, cleared by CaseReopened.';
COMMENT ON COLUMN {schema}.cases.close_reason IS
    'CaseClosed.reason: resolved, auto_closed_inactivity, duplicate, ineligible, withdrawn; null '
    'while open.';
COMMENT ON COLUMN {schema}.cases.last_message_at IS 'The latest message either way in the case.';
COMMENT ON COLUMN {schema}.cases.last_citizen_message_at IS 'The latest MessageReceived in the case.';
COMMENT ON COLUMN {schema}.cases.last_agent_message_at IS
    'The latest agent reply (MessageSent with sender_kind agent; bot and system messages answer nothing).';
COMMENT ON COLUMN {schema}.cases.version IS
    'Offset in acolhe.conversations (the contact''s partition) of the last event applied to the row.';
COMMENT ON COLUMN {schema}.cases.updated_at IS
    'When the projector last wrote the row (its transaction''s time): how far behind it runs.';

CREATE INDEX cases_contact_idx ON {schema}.cases (contact_id, opened_at DESC);
COMMENT ON INDEX {schema}.cases_contact_idx IS
    'A contact''s cases, latest first: the projector joins a message to its contact''s open case.';
CREATE INDEX cases_citizen_idx ON {schema}.cases (citizen_id, opened_at DESC);
COMMENT ON INDEX {schema}.cases_citizen_idx IS
    'A citizen''s cases, latest first: history for the agent; relinking contacts.';
CREATE INDEX cases_agent_open_idx ON {schema}.cases (agent_id, priority_rank, opened_at)
    WHERE status <> 'closed';
COMMENT ON INDEX {schema}.cases_agent_open_idx IS 'An agent''s open cases, in the order the app lists them.';
CREATE INDEX cases_waiting_idx ON {schema}.cases (queue_id, priority_rank, queued_at, case_id)
    WHERE status = 'queued';
COMMENT ON INDEX {schema}.cases_waiting_idx IS 'A queue''s waiting cases in queue order; the next one first.';
CREATE INDEX cases_queue_open_idx ON {schema}.cases (queue_id) WHERE status <> 'closed';
COMMENT ON INDEX {schema}.cases_queue_open_idx IS 'A queue''s open cases, for its counts (view queues).';

-- case_messages ------------------------------------------------------------------------------

CREATE TABLE {schema}.case_messages (
    message_id                   text        PRIMARY KEY,
    event_id                     text        NOT NULL,
    case_id                      text,
    contact_id                   text        NOT NULL,
    subject_id                   text        NOT NULL,
    direction                    text        NOT NULL,
    sender_kind                  text        NOT NULL,
    agent_id                     text,
    channel                      text        NOT NULL,
    kind                         text        NOT NULL,
    text                         text,
    email_subject                text,
    attachments                  jsonb       NOT NULL DEFAULT '[]',
    template_name                text,
    provider_message_id          text,
    reply_to_provider_message_id text,
    occurred_at                  timestamptz NOT NULL,
    delivery_status              text,
    delivery_status_at           timestamptz,
    delivery_error               text,
    redacted_at                  timestamptz,
    version                      bigint      NOT NULL,
    CONSTRAINT case_messages_direction_known CHECK (direction IN ('in', 'out')),
    CONSTRAINT case_messages_citizen_writes_in CHECK ((direction = 'in') = (sender_kind = 'citizen')),
    CONSTRAINT case_messages_delivery_only_out CHECK (direction = 'out' OR delivery_status IS NULL),
    CONSTRAINT case_messages_redacted_has_no_text CHECK
        (redacted_at IS NULL OR (text IS NULL AND email_subject IS NULL)),
    CONSTRAINT case_messages_attachments_array CHECK (jsonb_typeof(attachments) = 'array'),
    CONSTRAINT case_messages_version_not_negative CHECK (version >= 0)
);

COMMENT ON TABLE {schema}.case_messages IS
    'Every message of every conversation, both ways: a case''s timeline. Filled from '
    'acolhe.conversations: MessageReceived (in), MessageSent (out: agents, the bot, the system), '
    'DeliveryStatusChanged (delivery of out); CaseOpened and CaseReopened name the message that '
    'opened or reopened a case (case_id); ErasureRequested (acolhe.privacy) redacts. Holds '
    'personal data in clear: text, email_subject, attachments'' file_name and caption.';
COMMENT ON COLUMN {schema}.case_messages.message_id IS
    'The message: MessageReceived.event_id for a citizen''s message, MessageSent.message_id '
    '(which DeliveryStatusChanged names) for the office''s.';
COMMENT ON COLUMN {schema}.case_messages.event_id IS 'The MessageReceived or MessageSent that recorded it.';
COMMENT ON COLUMN {schema}.case_messages.case_id IS
    'The case the message belongs to: MessageSent.case_id; for a citizen''s message the contact''s '
    'open case (MessageReceived.case_id is null), set by the CaseOpened or CaseReopened that the '
    'message caused; null for a message outside any case.';
COMMENT ON COLUMN {schema}.case_messages.contact_id IS 'The contact who wrote or was written to.';
COMMENT ON COLUMN {schema}.case_messages.subject_id IS
    'The citizen whose data key sealed the message''s personal fields: erasure redacts by it.';
COMMENT ON COLUMN {schema}.case_messages.direction IS 'in: from the citizen; out: from the office.';
COMMENT ON COLUMN {schema}.case_messages.sender_kind IS
    'citizen (in); agent, bot, system or unknown (out, MessageSent.sender_kind).';
COMMENT ON COLUMN {schema}.case_messages.agent_id IS 'The agent who wrote it; null unless sender_kind is agent.';
COMMENT ON COLUMN {schema}.case_messages.channel IS 'web_chat, whatsapp, email or unknown.';
COMMENT ON COLUMN {schema}.case_messages.kind IS
    'In: MessageReceived.kind (text, image, audio, video, document, sticker, location, contacts, '
    'interactive, button, reaction, unsupported, email). Out: template when a WhatsApp template '
    'was sent, else text.';
COMMENT ON COLUMN {schema}.case_messages.text IS
    'PERSONAL. The message text, decrypted; null when it has none, when the key was destroyed, '
    'or once redacted.';
COMMENT ON COLUMN {schema}.case_messages.email_subject IS
    'PERSONAL. The email''s Subject; null for other channels or once redacted.';
COMMENT ON COLUMN {schema}.case_messages.attachments IS
    'The files, a JSON array of {attachment_id, media_type, size_bytes, sha256, storage_ref, '
    'file_name, caption}; file_name and caption are PERSONAL and removed on redaction.';
COMMENT ON COLUMN {schema}.case_messages.template_name IS 'The WhatsApp template sent; null for free-form.';
COMMENT ON COLUMN {schema}.case_messages.provider_message_id IS
    'The provider''s id (wamid, Message-ID): from MessageReceived, or from DeliveryStatusChanged for out.';
COMMENT ON COLUMN {schema}.case_messages.reply_to_provider_message_id IS
    'The provider id of the message this one answers or reacts to; null when none.';
COMMENT ON COLUMN {schema}.case_messages.occurred_at IS
    'When the message was recorded (the event''s occurred_at): the timeline''s order.';
COMMENT ON COLUMN {schema}.case_messages.delivery_status IS
    'Out only: the furthest status reported, in the order sent < delivered < read, failed '
    'last (statuses arrive out of order and repeated); null until the first report.';
COMMENT ON COLUMN {schema}.case_messages.delivery_status_at IS 'When that status happened (status_at).';
COMMENT ON COLUMN {schema}.case_messages.delivery_error IS
    'The provider''s first error code and title when failed (e.g. 131047: Re-engagement message).';
COMMENT ON COLUMN {schema}.case_messages.redacted_at IS
    'When the citizen''s personal fields were removed (erasure); null while not.';
COMMENT ON COLUMN {schema}.case_messages.version IS
    'Offset in acolhe.conversations (the contact''s partition) of the last event applied to the row.';

CREATE INDEX case_messages_case_idx ON {schema}.case_messages (case_id, occurred_at, message_id);
COMMENT ON INDEX {schema}.case_messages_case_idx IS 'A case''s timeline, in order.';
CREATE INDEX case_messages_contact_idx ON {schema}.case_messages (contact_id, occurred_at);
COMMENT ON INDEX {schema}.case_messages_contact_idx IS
    'A contact''s conversation, in order, including messages outside cases.';
CREATE INDEX case_messages_subject_idx ON {schema}.case_messages (subject_id);
COMMENT ON INDEX {schema}.case_messages_subject_idx IS 'A citizen''s messages, to redact on erasure.';

-- agents -------------------------------------------------------------------------------------

CREATE TABLE {schema}.agents (
    agent_id         text        PRIMARY KEY,
    presence         text        NOT NULL DEFAULT 'offline',
    presence_since   timestamptz,
    capacity         integer     NOT NULL DEFAULT 0,
    open_cases       integer     NOT NULL DEFAULT 0,
    last_assigned_at timestamptz,
    version          bigint      NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT agents_capacity_not_negative CHECK (capacity >= 0),
    CONSTRAINT agents_open_cases_not_negative CHECK (open_cases >= 0),
    CONSTRAINT agents_version_not_negative CHECK (version >= 0)
) WITH (fillfactor = 90);

COMMENT ON TABLE {schema}.agents IS
    'One row per agent known to routing: presence, capacity and load. Filled from '
    'acolhe.routing (one partition, so its offsets order everything): AgentPresenceChanged, '
    'AgentCapacityChanged, and the copies of CaseAssigned, CaseReleased, CaseTransferred '
    'and CaseClosed (open_cases, last_assigned_at).';
COMMENT ON COLUMN {schema}.agents.agent_id IS 'The agent.';
COMMENT ON COLUMN {schema}.agents.presence IS
    'available (takes new cases), away (keeps cases, takes none), offline, unknown.';
COMMENT ON COLUMN {schema}.agents.presence_since IS 'When the presence changed (AgentPresenceChanged.changed_at).';
COMMENT ON COLUMN {schema}.agents.capacity IS 'The most cases the agent may hold at once; 0 takes no new cases.';
COMMENT ON COLUMN {schema}.agents.open_cases IS
    'Cases the agent holds now (assigned and not released, transferred away or closed); may '
    'exceed capacity after capacity was lowered.';
COMMENT ON COLUMN {schema}.agents.last_assigned_at IS 'When the agent last got a case (longest idle ranks by it).';
COMMENT ON COLUMN {schema}.agents.version IS 'Offset in acolhe.routing of the last event applied to the row.';
COMMENT ON COLUMN {schema}.agents.updated_at IS 'When the projector last wrote the row.';

-- queues: views over cases -------------------------------------------------------------------

CREATE VIEW {schema}.queue_cases AS
SELECT c.queue_id,
       row_number() OVER (PARTITION BY c.queue_id
                          ORDER BY c.priority_rank, c.queued_at, c.case_id) AS position,
       c.case_id,
       c.priority,
       c.priority_rank,
       c.area,
       c.region,
       c.urgency_flags,
       c.channel,
       c.confidential,
       c.opened_at,
       c.queued_at,
       now() - c.queued_at AS waiting_for
  FROM {schema}.cases AS c
 WHERE c.status = 'queued';

COMMENT ON VIEW {schema}.queue_cases IS
    'The cases waiting in each queue, in the router''s order: priority rank, then the longest '
    'waiting, then case_id. position 1 is next.';
COMMENT ON COLUMN {schema}.queue_cases.position IS 'Place in the queue, 1 is next.';
COMMENT ON COLUMN {schema}.queue_cases.waiting_for IS 'How long the case has waited in this queue, now.';

CREATE VIEW {schema}.queues AS
SELECT c.queue_id,
       count(*) FILTER (WHERE c.status = 'queued') AS waiting,
       count(*) FILTER (WHERE c.status = 'queued' AND c.priority_rank = 0) AS waiting_urgent,
       count(*) FILTER (WHERE c.status = 'queued' AND c.priority_rank = 1) AS waiting_high,
       count(*) FILTER (WHERE c.status = 'queued' AND c.priority_rank = 2) AS waiting_normal,
       count(*) FILTER (WHERE c.status = 'queued' AND c.priority_rank = 3) AS waiting_low,
       count(*) FILTER (WHERE c.status IN ('assigned', 'waiting_on_citizen', 'on_hold'))
           AS in_service,
       min(c.queued_at) FILTER (WHERE c.status = 'queued') AS oldest_queued_at,
       now() - min(c.queued_at) FILTER (WHERE c.status = 'queued') AS longest_wait
  FROM {schema}.cases AS c
 WHERE c.status <> 'closed' AND c.queue_id IS NOT NULL
 GROUP BY c.queue_id;

COMMENT ON VIEW {schema}.queues IS
    'Each queue with open cases: how many wait, per priority rank, how many are in service, '
    'and the longest wait now. A queue without open cases has no row.';
COMMENT ON COLUMN {schema}.queues.waiting IS 'Cases waiting for an agent.';
COMMENT ON COLUMN {schema}.queues.waiting_urgent IS 'Waiting cases of priority urgent.';
COMMENT ON COLUMN {schema}.queues.waiting_high IS 'Waiting cases of priority high.';
COMMENT ON COLUMN {schema}.queues.waiting_normal IS 'Waiting cases of priority normal or unknown.';
COMMENT ON COLUMN {schema}.queues.waiting_low IS 'Waiting cases of priority low.';
COMMENT ON COLUMN {schema}.queues.in_service IS
    'Open cases of the queue an agent holds (assigned, waiting on the citizen, on hold).';
COMMENT ON COLUMN {schema}.queues.oldest_queued_at IS 'When the longest-waiting case entered the queue.';
COMMENT ON COLUMN {schema}.queues.longest_wait IS 'How long the longest-waiting case has waited, now.';

-- sla_clocks ---------------------------------------------------------------------------------

CREATE TABLE {schema}.sla_clocks (
    clock_id       text        PRIMARY KEY,
    case_id        text        NOT NULL,
    metric         text        NOT NULL,
    queue_id       text        NOT NULL,
    priority       text        NOT NULL,
    policy_id      text        NOT NULL,
    policy_version integer     NOT NULL,
    calendar_id    text,
    status         text        NOT NULL,
    pause_reason   text,
    target_ms      bigint      NOT NULL,
    warning_ms     bigint,
    elapsed_ms     bigint      NOT NULL DEFAULT 0,
    paused_ms      bigint      NOT NULL DEFAULT 0,
    deadline_at    timestamptz,
    started_at     timestamptz NOT NULL,
    warned_at      timestamptz,
    breached_at    timestamptz,
    met_at         timestamptz,
    within_target  boolean,
    version        bigint      NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sla_clocks_status_known CHECK (status IN ('running', 'paused', 'met', 'breached')),
    CONSTRAINT sla_clocks_met_iff_met_at CHECK ((status = 'met') = (met_at IS NOT NULL)),
    CONSTRAINT sla_clocks_outcome_when_met CHECK ((met_at IS NULL) = (within_target IS NULL)),
    CONSTRAINT sla_clocks_breached_has_breached_at CHECK
        (status <> 'breached' OR breached_at IS NOT NULL),
    CONSTRAINT sla_clocks_times_not_negative CHECK
        (target_ms > 0 AND elapsed_ms >= 0 AND paused_ms >= 0 AND version >= 0)
) WITH (fillfactor = 90);

COMMENT ON TABLE {schema}.sla_clocks IS
    'One row per SLA clock run (a metric of a case, measured once; a next-response clock per '
    'unanswered citizen message). Filled from acolhe.sla: SlaStarted, SlaPaused, SlaResumed, '
    'SlaWarned, SlaBreached, SlaMet; each carries the clock''s current terms and counted time.';
COMMENT ON COLUMN {schema}.sla_clocks.clock_id IS 'The clock run (Sla*.clock_id).';
COMMENT ON COLUMN {schema}.sla_clocks.case_id IS 'The case measured; the Kafka key of acolhe.sla.';
COMMENT ON COLUMN {schema}.sla_clocks.metric IS 'first_response, next_response or resolution.';
COMMENT ON COLUMN {schema}.sla_clocks.queue_id IS 'The queue whose policy applies; * until the case is queued.';
COMMENT ON COLUMN {schema}.sla_clocks.priority IS 'The priority that selects the target; unknown until triaged.';
COMMENT ON COLUMN {schema}.sla_clocks.policy_id IS 'The SLA policy applied.';
COMMENT ON COLUMN {schema}.sla_clocks.policy_version IS 'Its version (SlaPolicyChanged.version).';
COMMENT ON COLUMN {schema}.sla_clocks.calendar_id IS 'The business-hours calendar counted in; null for calendar time.';
COMMENT ON COLUMN {schema}.sla_clocks.status IS
    'running (counting, within target), paused (the case waits for a reason the policy pauses '
    'for), breached (past target, still counting), met (stopped: its goal was reached). A '
    'breached clock that pauses shows paused, with breached_at set.';
COMMENT ON COLUMN {schema}.sla_clocks.pause_reason IS 'SlaPaused.pause_reason while paused; null otherwise.';
COMMENT ON COLUMN {schema}.sla_clocks.target_ms IS 'The target, in milliseconds of counted time.';
COMMENT ON COLUMN {schema}.sla_clocks.warning_ms IS 'The counted time at which it warns (SlaWarned); null until warned.';
COMMENT ON COLUMN {schema}.sla_clocks.elapsed_ms IS
    'Counted time at the last event, in milliseconds (business time when a calendar applies, '
    'pauses excluded).';
COMMENT ON COLUMN {schema}.sla_clocks.paused_ms IS 'Wall time spent paused, in milliseconds (SlaResumed.paused_ms).';
COMMENT ON COLUMN {schema}.sla_clocks.deadline_at IS
    'When it breaches if it keeps running; null while paused, once breached or once met.';
COMMENT ON COLUMN {schema}.sla_clocks.started_at IS 'When it started (SlaStarted.occurred_at).';
COMMENT ON COLUMN {schema}.sla_clocks.warned_at IS 'When it warned (SlaWarned.occurred_at); null if it has not.';
COMMENT ON COLUMN {schema}.sla_clocks.breached_at IS 'When it breached (SlaBreached.occurred_at); null if it has not.';
COMMENT ON COLUMN {schema}.sla_clocks.met_at IS 'When its goal was reached (SlaMet.occurred_at); null before.';
COMMENT ON COLUMN {schema}.sla_clocks.within_target IS
    'SlaMet.within_target: whether the goal was reached in time; null until met.';
COMMENT ON COLUMN {schema}.sla_clocks.version IS
    'Offset in acolhe.sla (the case''s partition) of the last event applied to the row.';
COMMENT ON COLUMN {schema}.sla_clocks.updated_at IS 'When the projector last wrote the row.';

CREATE INDEX sla_clocks_case_idx ON {schema}.sla_clocks (case_id);
COMMENT ON INDEX {schema}.sla_clocks_case_idx IS 'A case''s clocks.';
CREATE INDEX sla_clocks_running_idx ON {schema}.sla_clocks (queue_id, deadline_at)
    WHERE status = 'running';
COMMENT ON INDEX {schema}.sla_clocks_running_idx IS 'Running clocks per queue, the nearest deadline first: at risk.';
CREATE INDEX sla_clocks_breached_day_idx
    ON {schema}.sla_clocks ({schema}.office_day(breached_at), queue_id)
    WHERE breached_at IS NOT NULL;
COMMENT ON INDEX {schema}.sla_clocks_breached_day_idx IS 'Breaches per office day and queue (sla_board).';
CREATE INDEX sla_clocks_met_day_idx
    ON {schema}.sla_clocks ({schema}.office_day(met_at), queue_id)
    WHERE met_at IS NOT NULL;
COMMENT ON INDEX {schema}.sla_clocks_met_day_idx IS 'Clocks met per office day and queue (sla_board).';

CREATE VIEW {schema}.sla_board AS
WITH marks (queue_id, day, at_risk, warned, breached, met, met_within_target) AS (
    SELECT s.queue_id, {schema}.office_day(s.deadline_at), 1, (s.warned_at IS NOT NULL)::int, 0, 0, 0
      FROM {schema}.sla_clocks AS s
     WHERE s.status = 'running'
    UNION ALL
    SELECT s.queue_id, {schema}.office_day(s.breached_at), 0, 0, 1, 0, 0
      FROM {schema}.sla_clocks AS s
     WHERE s.breached_at IS NOT NULL
    UNION ALL
    SELECT s.queue_id, {schema}.office_day(s.met_at), 0, 0, 0, 1, s.within_target::int
      FROM {schema}.sla_clocks AS s
     WHERE s.met_at IS NOT NULL
)
SELECT m.queue_id,
       m.day,
       sum(m.at_risk)::bigint AS at_risk,
       sum(m.warned)::bigint AS warned,
       sum(m.breached)::bigint AS breached,
       sum(m.met)::bigint AS met,
       sum(m.met_within_target)::bigint AS met_within_target
  FROM marks AS m
 GROUP BY m.queue_id, m.day;

COMMENT ON VIEW {schema}.sla_board IS
    'SLA per queue and office day: clocks at risk (running, deadline that day), breached that '
    'day, met that day.';
COMMENT ON COLUMN {schema}.sla_board.day IS 'The office day (office_day()).';
COMMENT ON COLUMN {schema}.sla_board.at_risk IS
    'Running clocks, not breached yet, whose deadline falls on the day.';
COMMENT ON COLUMN {schema}.sla_board.warned IS 'Of those, the ones past their warning.';
COMMENT ON COLUMN {schema}.sla_board.breached IS 'Clocks that breached on the day (met later or not).';
COMMENT ON COLUMN {schema}.sla_board.met IS 'Clocks whose goal was reached on the day.';
COMMENT ON COLUMN {schema}.sla_board.met_within_target IS 'Of those, the ones within target.';

-- daily_stats --------------------------------------------------------------------------------

CREATE TABLE {schema}.daily_stats (
    day          date        NOT NULL,
    area         text        NOT NULL,
    channel      text        NOT NULL,
    cases_opened integer     NOT NULL DEFAULT 0,
    cases_closed integer     NOT NULL DEFAULT 0,
    messages_in  bigint      NOT NULL DEFAULT 0,
    messages_out bigint      NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (day, area, channel),
    CONSTRAINT daily_stats_counts_not_negative CHECK
        (cases_opened >= 0 AND cases_closed >= 0 AND messages_in >= 0 AND messages_out >= 0)
);

COMMENT ON TABLE {schema}.daily_stats IS
    'Counts per office day, legal area and channel. Filled from acolhe.conversations: CaseOpened '
    '(cases_opened, moved from area unknown to the case''s area by its first CaseTriaged), '
    'CaseClosed (cases_closed), MessageReceived (messages_in), MessageSent (messages_out), each '
    'counted once, in the transaction that stores its offset.';
COMMENT ON COLUMN {schema}.daily_stats.day IS 'The office day of the event''s occurred_at (office_day()).';
COMMENT ON COLUMN {schema}.daily_stats.area IS
    'The case''s area when the event was counted; unknown before triage and for messages outside cases.';
COMMENT ON COLUMN {schema}.daily_stats.channel IS 'web_chat, whatsapp, email or unknown.';
COMMENT ON COLUMN {schema}.daily_stats.cases_opened IS 'Cases opened that day (reopenings not counted).';
COMMENT ON COLUMN {schema}.daily_stats.cases_closed IS 'Cases closed that day, for any reason.';
COMMENT ON COLUMN {schema}.daily_stats.messages_in IS 'Citizens'' messages received that day.';
COMMENT ON COLUMN {schema}.daily_stats.messages_out IS 'Messages the office sent that day (agents, bot, system).';
COMMENT ON COLUMN {schema}.daily_stats.updated_at IS 'When the projector last wrote the row.';

-- projection_offsets -------------------------------------------------------------------------

CREATE TABLE {schema}.projection_offsets (
    projector   text        NOT NULL,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    next_offset bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projector, topic, partition),
    CONSTRAINT projection_offsets_not_negative CHECK (partition >= 0 AND next_offset >= 0)
);

COMMENT ON TABLE {schema}.projection_offsets IS
    'Where each projector resumes: per topic partition, the next offset to read. Written in the '
    'same transaction as the rows those offsets produced, so a crash neither loses nor repeats '
    'an event; a projector seeks to these offsets, never to Kafka''s committed ones.';
COMMENT ON COLUMN {schema}.projection_offsets.projector IS 'The projector (e.g. cases, sla).';
COMMENT ON COLUMN {schema}.projection_offsets.topic IS 'The Kafka topic read.';
COMMENT ON COLUMN {schema}.projection_offsets.partition IS 'The partition of the topic.';
COMMENT ON COLUMN {schema}.projection_offsets.next_offset IS
    'The offset of the next record to apply: one past the last applied.';
COMMENT ON COLUMN {schema}.projection_offsets.updated_at IS 'When the projector last stored it.';
