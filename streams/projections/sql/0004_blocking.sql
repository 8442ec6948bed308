-- 0004 Blocked citizens (bloqueio, LGPD art. 5 XIII and art. 18 IV): agent apps stop seeing
-- a blocked citizen's cases, messages and SLA clocks; the tables' owner still sees them.
--
-- Applied by streams/projections/migrations.py in one transaction, with {schema} replaced
-- by the quoted target schema. Once applied this file must never change: add 0005_....
--
-- Design notes (docs/read-model.md, "Access", and docs/privacy.md, "Blocking"):
-- * `acolhe block` / `acolhe unblock` record CitizenBlocked / CitizenUnblocked in
--   acolhe.privacy and copy them into every partition of acolhe.conversations; the case
--   projection keeps here, per citizen, the latest of them it read (by occurred_at, which
--   `acolhe block` makes strictly increasing per citizen: the copies of one citizen arrive
--   from every partition, in no order across partitions, so the offset cannot order them).
--   A lifted block keeps its row (blocked false): an older copy read later from another
--   partition must not block the citizen again. A rebuild replays them like any other fact.
-- * A restrictive policy on cases hides the cases whose citizen_id is blocked from
--   acolhe_agent_app, whatever the other policies allow: cases opened after the block too,
--   since it reads the case's citizen_id at query time. case_messages and sla_clocks follow
--   their case (0003), so they are hidden with it; the views are security_invoker.
-- * The app role cannot read this table (no grant, row-level security, no policy): who is
--   blocked is itself sensitive. The policy reads it through a SECURITY DEFINER function
--   called once per query ((SELECT f()) is an InitPlan), as 0003's functions are.
-- * The owner (projectors, `acolhe erase`, operators) is not subject to row-level security
--   and sees everything, as before.

CREATE TABLE {schema}.blocked_citizens (
    citizen_id text        PRIMARY KEY,
    blocked    boolean     NOT NULL,
    changed_at timestamptz NOT NULL,
    event_id   text        NOT NULL,
    basis      text        NOT NULL,
    reference  text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE {schema}.blocked_citizens IS
    'Per citizen ever blocked, the latest CitizenBlocked or CitizenUnblocked the case '
    'projection read (copied into acolhe.conversations by acolhe block / unblock): agent apps '
    'see no case of a citizen whose row says blocked. Not readable by acolhe_agent_app.';
COMMENT ON COLUMN {schema}.blocked_citizens.citizen_id IS 'The citizen (cases.citizen_id).';
COMMENT ON COLUMN {schema}.blocked_citizens.blocked IS
    'Whether the citizen is blocked: the latest event is a CitizenBlocked (false: the block '
    'was lifted by a CitizenUnblocked; the row stays, so that an older copy read later from '
    'another partition changes nothing).';
COMMENT ON COLUMN {schema}.blocked_citizens.changed_at IS
    'occurred_at of the latest event applied: when blocked, since when; when not, when the '
    'block was lifted. An event applies only when it is later than this.';
COMMENT ON COLUMN {schema}.blocked_citizens.event_id IS 'The latest event applied.';
COMMENT ON COLUMN {schema}.blocked_citizens.basis IS
    'Its legal basis (BlockingBasis: data_subject_request, authority_order, court_order).';
COMMENT ON COLUMN {schema}.blocked_citizens.reference IS
    'Its protocol number (the office''s reference of the request or decision).';
COMMENT ON COLUMN {schema}.blocked_citizens.updated_at IS 'When the projector last wrote the row.';

ALTER TABLE {schema}.blocked_citizens ENABLE ROW LEVEL SECURITY;

CREATE FUNCTION {schema}.blocked_citizen_ids() RETURNS text[]
    LANGUAGE sql STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    RETURN ARRAY(
        SELECT b.citizen_id
          FROM {schema}.blocked_citizens AS b
         WHERE b.blocked
         ORDER BY 1);
COMMENT ON FUNCTION {schema}.blocked_citizen_ids() IS
    'The citizens blocked now: whose cases (and their messages and clocks) no agent sees.';
REVOKE ALL ON FUNCTION {schema}.blocked_citizen_ids() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {schema}.blocked_citizen_ids() TO acolhe_agent_app;

CREATE POLICY cases_of_blocked_citizens_hidden ON {schema}.cases
    AS RESTRICTIVE
    FOR SELECT TO acolhe_agent_app
    USING (citizen_id <> ALL ((SELECT {schema}.blocked_citizen_ids())::text[]));
COMMENT ON POLICY cases_of_blocked_citizens_hidden ON {schema}.cases IS
    'No agent sees a case of a blocked citizen (blocked_citizens), held, queued or opened '
    'after the block alike; their messages and clocks follow their case. Restrictive: it '
    'narrows what cases_seen_by_agents allows.';
