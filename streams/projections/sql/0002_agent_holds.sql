-- Who holds each case, as the agents' projection folds acolhe.routing.
--
-- CaseClosed names no agent, yet closing a case frees its holder's place: counting an
-- agent's open cases needs the holder of every case, kept here in the same transaction as
-- the agents' rows and the offsets, so a restart resumes with both.

CREATE TABLE {schema}.agent_holds (
    case_id    text        PRIMARY KEY,
    agent_id   text,
    version    bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT agent_holds_version_not_negative CHECK (version >= 0)
) WITH (fillfactor = 90);

COMMENT ON TABLE {schema}.agent_holds IS
    'Who holds each case routing has assigned, folded from acolhe.routing with the agents '
    'table: what a CaseClosed (which names no agent) needs to free its holder''s place.';
COMMENT ON COLUMN {schema}.agent_holds.case_id IS 'The case.';
COMMENT ON COLUMN {schema}.agent_holds.agent_id IS
    'The agent holding it; null once released, transferred to a queue or closed.';
COMMENT ON COLUMN {schema}.agent_holds.version IS 'Offset in acolhe.routing of the last event applied to the row.';
COMMENT ON COLUMN {schema}.agent_holds.updated_at IS 'When the projector last wrote the row.';
