-- 0003 Access and live updates for agent apps (issue 6, points 3 and 4).
--
-- Applied by streams/projections/migrations.py in one transaction, with {schema} replaced
-- by the quoted target schema. Once applied this file must never change: add 0004_....
--
-- Design notes (docs/read-model.md, "Access" and "Live updates", has the whole picture):
-- * Agent apps connect as login roles that are members of the cluster-wide group role
--   acolhe_agent_app: SELECT only, under row-level security. The app names its agent per
--   transaction: SELECT set_config('acolhe.agent_id', $1, true). No agent named, no rows.
-- * Who may see what comes from three access tables that `acolhe access sync` fills from
--   the routing configuration (no event carries an agent's queues yet): the queues each
--   agent serves, the team of each queue, the teams of each agent. An agent sees the cases
--   of the queues they serve, and the cases they hold; a confidential case only if they
--   hold it or are of its queue's team. Cases not yet queued are seen by no agent.
-- * The policies read the access tables through SECURITY DEFINER functions called once
--   per query ((SELECT f()) is an InitPlan), so the app role cannot read them itself.
-- * The projectors write as the tables' owner, which row-level security does not filter.
-- * Changes an app shows are announced with NOTIFY at commit, on one channel per agent and
--   one per queue, named by a hash of the schema and the id (live_channel). NOTIFY is not
--   access-controlled: payloads carry ids, status, priority and version, nothing personal.
-- * The rebuild switches schemas by renaming them: {schema} appears only where Postgres
--   binds the name at creation (policies, views, SQL-standard function bodies); the trigger
--   function names no schema (TG_TABLE_SCHEMA), and SECURITY DEFINER functions pin
--   search_path to pg_catalog, pg_temp.
-- * Notices of a new message come from the case row's message times, so case_messages,
--   the bulk of every batch, has no trigger.

-- The app role: cluster-wide, so created once and tolerated when it exists -----------------

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'acolhe_agent_app') THEN
        BEGIN
            CREATE ROLE acolhe_agent_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
            COMMENT ON ROLE acolhe_agent_app IS
                'Agent apps: read-only access to acolhe read models under row-level security. '
                'Grant it to login roles (CREATE ROLE ... LOGIN IN ROLE acolhe_agent_app); an app '
                'names its agent per transaction with set_config(''acolhe.agent_id'', id, true).';
        EXCEPTION
            -- another schema's migration created it meanwhile (a concurrent CREATE ROLE
            -- fails on the catalog's unique index once the first one commits)
            WHEN duplicate_object OR unique_violation THEN
                NULL;
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'role acolhe_agent_app does not exist and % may not create roles',
                    current_user
                    USING HINT = 'create it once as an administrator: CREATE ROLE '
                        'acolhe_agent_app NOLOGIN; then migrate again';
        END;
    END IF;
END
$$;

-- Access tables, filled by `acolhe access sync` ----------------------------------------------

CREATE TABLE {schema}.queue_teams (
    queue_id text PRIMARY KEY,
    team_id  text NOT NULL
);
COMMENT ON TABLE {schema}.queue_teams IS
    'The team each queue belongs to: its agents see the queue''s confidential cases. Filled by '
    '`acolhe access sync` from the routing configuration, not from the log.';
COMMENT ON COLUMN {schema}.queue_teams.queue_id IS 'The queue.';
COMMENT ON COLUMN {schema}.queue_teams.team_id IS
    'Its team. Derived from the routing configuration: each queue''s team is named after the '
    'queue and is the pool of its first escalation step (its specialists).';
CREATE INDEX queue_teams_team_idx ON {schema}.queue_teams (team_id, queue_id);
COMMENT ON INDEX {schema}.queue_teams_team_idx IS 'A team''s queues (team_queues()).';

CREATE TABLE {schema}.agent_teams (
    agent_id text NOT NULL,
    team_id  text NOT NULL,
    PRIMARY KEY (agent_id, team_id)
);
COMMENT ON TABLE {schema}.agent_teams IS
    'The teams each agent is of. Filled by `acolhe access sync` from the routing configuration.';
COMMENT ON COLUMN {schema}.agent_teams.agent_id IS 'The agent.';
COMMENT ON COLUMN {schema}.agent_teams.team_id IS 'A team the agent is of (queue_teams.team_id).';

CREATE TABLE {schema}.agent_queues (
    agent_id text NOT NULL,
    queue_id text NOT NULL,
    PRIMARY KEY (agent_id, queue_id)
);
COMMENT ON TABLE {schema}.agent_queues IS
    'The queues each agent serves: the router may give them the queue''s cases (they are in the '
    'pool of one of its escalation steps). Filled by `acolhe access sync` from the routing '
    'configuration.';
COMMENT ON COLUMN {schema}.agent_queues.agent_id IS 'The agent.';
COMMENT ON COLUMN {schema}.agent_queues.queue_id IS 'A queue the agent serves.';
CREATE INDEX agent_queues_queue_idx ON {schema}.agent_queues (queue_id, agent_id);
COMMENT ON INDEX {schema}.agent_queues_queue_idx IS
    'A queue''s agents: who shares a queue with an agent (visible_agents()).';

-- Who is asking, and what they may see ------------------------------------------------------

CREATE FUNCTION {schema}.current_agent_id() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN nullif(current_setting('acolhe.agent_id', true), '');
COMMENT ON FUNCTION {schema}.current_agent_id() IS
    'The agent the app named for this transaction (set_config(''acolhe.agent_id'', id, true)); '
    'null when none was named.';

CREATE FUNCTION {schema}.team_queues() RETURNS text[]
    LANGUAGE sql STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    RETURN ARRAY(
        SELECT q.queue_id
          FROM {schema}.agent_teams AS t
          JOIN {schema}.queue_teams AS q ON q.team_id = t.team_id
         WHERE t.agent_id = {schema}.current_agent_id()
         ORDER BY q.queue_id);
COMMENT ON FUNCTION {schema}.team_queues() IS
    'The queues of the current agent''s teams: whose confidential cases they see. Empty when '
    'no agent is named.';

CREATE FUNCTION {schema}.visible_queues() RETURNS text[]
    LANGUAGE sql STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    RETURN ARRAY(
        SELECT a.queue_id
          FROM {schema}.agent_queues AS a
         WHERE a.agent_id = {schema}.current_agent_id()
         UNION
        SELECT q.queue_id
          FROM {schema}.agent_teams AS t
          JOIN {schema}.queue_teams AS q ON q.team_id = t.team_id
         WHERE t.agent_id = {schema}.current_agent_id()
         ORDER BY 1);
COMMENT ON FUNCTION {schema}.visible_queues() IS
    'The queues whose cases the current agent sees: the ones they serve and their teams''. '
    'Empty when no agent is named.';

CREATE FUNCTION {schema}.visible_agents() RETURNS text[]
    LANGUAGE sql STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    RETURN ARRAY(
        SELECT {schema}.current_agent_id()
         WHERE {schema}.current_agent_id() IS NOT NULL
         UNION
        SELECT o.agent_id
          FROM {schema}.agent_queues AS m
          JOIN {schema}.agent_queues AS o ON o.queue_id = m.queue_id
         WHERE m.agent_id = {schema}.current_agent_id()
         ORDER BY 1);
COMMENT ON FUNCTION {schema}.visible_agents() IS
    'The agents whose rows the current agent sees: themselves and those who serve one of their '
    'queues. Empty when no agent is named.';

CREATE FUNCTION {schema}.my_access()
    RETURNS TABLE (queue_id text, team_id text, sees_confidential boolean)
    LANGUAGE sql STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT v.queue_id, q.team_id, v.queue_id = ANY ({schema}.team_queues())
      FROM unnest({schema}.visible_queues()) AS v (queue_id)
      LEFT JOIN {schema}.queue_teams AS q ON q.queue_id = v.queue_id
     ORDER BY v.queue_id;
END;
COMMENT ON FUNCTION {schema}.my_access() IS
    'For the app: the queues the current agent sees, their team, and whether the agent sees '
    'their confidential cases (is of that team). No rows when no agent is named.';

REVOKE ALL ON FUNCTION {schema}.team_queues(), {schema}.visible_queues(),
    {schema}.visible_agents(), {schema}.my_access() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {schema}.team_queues(), {schema}.visible_queues(),
    {schema}.visible_agents(), {schema}.my_access() TO acolhe_agent_app;

-- Row-level security --------------------------------------------------------------------------
-- Policies apply to acolhe_agent_app only; any other role that is not the owner (nor
-- BYPASSRLS) sees no rows of these tables until a migration gives it a policy.

ALTER TABLE {schema}.cases ENABLE ROW LEVEL SECURITY;
CREATE POLICY cases_seen_by_agents ON {schema}.cases
    FOR SELECT TO acolhe_agent_app
    USING (
        agent_id = (SELECT {schema}.current_agent_id())
        OR (queue_id = ANY ((SELECT {schema}.visible_queues())::text[])
            AND (NOT confidential OR queue_id = ANY ((SELECT {schema}.team_queues())::text[]))));
COMMENT ON POLICY cases_seen_by_agents ON {schema}.cases IS
    'An agent sees the cases they hold, and the cases of the queues they see; a confidential '
    'case only when they hold it or are of its queue''s team. A case not yet queued is seen '
    'by no agent.';

ALTER TABLE {schema}.case_messages ENABLE ROW LEVEL SECURITY;
CREATE POLICY case_messages_follow_their_case ON {schema}.case_messages
    FOR SELECT TO acolhe_agent_app
    USING (EXISTS (SELECT FROM {schema}.cases AS c WHERE c.case_id = case_messages.case_id));
COMMENT ON POLICY case_messages_follow_their_case ON {schema}.case_messages IS
    'A message is seen by whoever sees its case (the subquery on cases is itself filtered by '
    'cases_seen_by_agents; one primary-key probe per message). A message outside any case is '
    'seen by no agent.';

ALTER TABLE {schema}.sla_clocks ENABLE ROW LEVEL SECURITY;
CREATE POLICY sla_clocks_follow_their_case ON {schema}.sla_clocks
    FOR SELECT TO acolhe_agent_app
    USING (EXISTS (SELECT FROM {schema}.cases AS c WHERE c.case_id = sla_clocks.case_id));
COMMENT ON POLICY sla_clocks_follow_their_case ON {schema}.sla_clocks IS
    'A clock is seen by whoever sees its case; a clock whose case the read model has not seen '
    'yet is seen by no agent.';

ALTER TABLE {schema}.agents ENABLE ROW LEVEL SECURITY;
CREATE POLICY agents_seen_by_colleagues ON {schema}.agents
    FOR SELECT TO acolhe_agent_app
    USING (agent_id = ANY ((SELECT {schema}.visible_agents())::text[]));
COMMENT ON POLICY agents_seen_by_colleagues ON {schema}.agents IS
    'An agent sees their own row and the rows of the agents who serve one of their queues.';

-- No policy: the app role reads them only through the functions above.
ALTER TABLE {schema}.queue_teams ENABLE ROW LEVEL SECURITY;
ALTER TABLE {schema}.agent_teams ENABLE ROW LEVEL SECURITY;
ALTER TABLE {schema}.agent_queues ENABLE ROW LEVEL SECURITY;

-- Views read as the one who asks, so the policies above filter them too.
ALTER VIEW {schema}.queue_cases SET (security_invoker = true);
ALTER VIEW {schema}.queues SET (security_invoker = true);
ALTER VIEW {schema}.sla_board SET (security_invoker = true);
COMMENT ON COLUMN {schema}.queue_cases.position IS
    'Place in the queue, 1 is next, among the cases the reader may see (an agent app does not '
    'see the confidential cases of another team).';

COMMENT ON COLUMN {schema}.cases.confidential IS
    'Whether only the team of the case''s queue (and the agent who holds it) may see it: set '
    'by the read model once a CaseTriaged or CaseQueued gives the case an area of '
    'CONFIDENTIAL_AREAS (streams/projections/rows_cases.py: violencia_domestica, '
    'infancia_juventude), and kept. Read by the policy cases_seen_by_agents.';

GRANT USAGE ON SCHEMA {schema} TO acolhe_agent_app;
GRANT SELECT ON {schema}.cases, {schema}.case_messages, {schema}.sla_clocks, {schema}.agents,
    {schema}.daily_stats, {schema}.queue_cases, {schema}.queues, {schema}.sla_board
    TO acolhe_agent_app;

-- Live updates ------------------------------------------------------------------------------
-- Rename-safe (the rebuild switches schemas by renaming them): the trigger function names
-- no schema; it takes the channel's schema from TG_TABLE_SCHEMA and computes the channel
-- with pg_catalog functions only, as live_channel() does.

CREATE FUNCTION {schema}.live_channel(schema_name text, kind text, id text) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN 'acolhe_' || kind || '_'
        || left(encode(sha256(convert_to(schema_name || chr(31) || id, 'UTF8')), 'hex'), 40);
COMMENT ON FUNCTION {schema}.live_channel(text, text, text) IS
    'The NOTIFY channel of an agent (kind agent) or a queue (kind queue) of a read-model schema: '
    'acolhe_<kind>_ and 40 hex digits of SHA-256(schema, US, id), 53 bytes whatever the id '
    '(channel names stop at 63); the same as streams.projections.live.channel() and as '
    'notify_case_change computes it.';

CREATE FUNCTION {schema}.notify_case_change() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    salt constant text := TG_TABLE_SCHEMA || chr(31);
    old_agent text;
    old_queue text;
    old_state text;
    new_state constant text := CASE NEW.status WHEN 'queued' THEN 'waiting'
                                    WHEN 'closed' THEN 'closed' WHEN 'in_triage' THEN 'triage'
                                    ELSE 'in_service' END;
    agent_change text;
    queue_change text;
    direction text;
    body text;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        old_agent := OLD.agent_id;
        old_queue := OLD.queue_id;
        old_state := CASE OLD.status WHEN 'queued' THEN 'waiting' WHEN 'closed' THEN 'closed'
                                     WHEN 'in_triage' THEN 'triage' ELSE 'in_service' END;
    END IF;
    -- the holder: given the case, told of a new message in it, or of a change they see
    IF NEW.agent_id IS NOT NULL THEN
        IF old_agent IS DISTINCT FROM NEW.agent_id THEN
            agent_change := 'assigned';
        ELSIF OLD.last_citizen_message_at IS DISTINCT FROM NEW.last_citizen_message_at THEN
            agent_change := 'message';
            direction := 'in';
        ELSIF OLD.last_agent_message_at IS DISTINCT FROM NEW.last_agent_message_at THEN
            agent_change := 'message';
            direction := 'out';
        ELSIF (OLD.status, OLD.queue_id, OLD.priority, OLD.hold_reason, OLD.hold_until,
               OLD.confidential)
              IS DISTINCT FROM (NEW.status, NEW.queue_id, NEW.priority, NEW.hold_reason,
                                NEW.hold_until, NEW.confidential) THEN
            agent_change := 'changed';
        END IF;
    END IF;
    -- the queue's lists and counts: entered or left, waiting / in service / closed, its
    -- place among the waiting (priority, queued_at), who may see it (confidential)
    IF NEW.queue_id IS NOT NULL THEN
        IF old_queue IS DISTINCT FROM NEW.queue_id THEN
            queue_change := 'entered';
        ELSIF old_state IS DISTINCT FROM new_state
              OR OLD.confidential IS DISTINCT FROM NEW.confidential
              OR (new_state = 'waiting' AND (OLD.priority IS DISTINCT FROM NEW.priority
                                             OR OLD.queued_at IS DISTINCT FROM NEW.queued_at)) THEN
            queue_change := 'changed';
        END IF;
    END IF;
    -- one payload per row, the change spliced in front: ids and state, nothing personal
    body := substr(json_build_object(
        'schema', TG_TABLE_SCHEMA, 'case_id', NEW.case_id, 'version', NEW.version,
        'status', NEW.status, 'queue_id', NEW.queue_id, 'priority', NEW.priority)::text, 2);
    IF agent_change IS NOT NULL THEN
        PERFORM pg_notify(
            'acolhe_agent_' || left(encode(sha256(convert_to(salt || NEW.agent_id, 'UTF8')),
                                           'hex'), 40),
            '{"change" : "' || agent_change || '", '
                || coalesce('"direction" : "' || direction || '", ', '') || body);
    END IF;
    IF old_agent IS NOT NULL AND old_agent IS DISTINCT FROM NEW.agent_id THEN
        PERFORM pg_notify(
            'acolhe_agent_' || left(encode(sha256(convert_to(salt || old_agent, 'UTF8')),
                                           'hex'), 40),
            '{"change" : "taken", ' || body);
    END IF;
    IF queue_change IS NOT NULL THEN
        PERFORM pg_notify(
            'acolhe_queue_' || left(encode(sha256(convert_to(salt || NEW.queue_id, 'UTF8')),
                                           'hex'), 40),
            '{"change" : "' || queue_change || '", ' || body);
    END IF;
    IF old_queue IS NOT NULL AND old_queue IS DISTINCT FROM NEW.queue_id THEN
        PERFORM pg_notify(
            'acolhe_queue_' || left(encode(sha256(convert_to(salt || old_queue, 'UTF8')),
                                           'hex'), 40),
            '{"change" : "left", ' || body);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION {schema}.notify_case_change() IS
    'Trigger of cases: NOTIFY the holder (assigned; message, when the case''s last citizen or '
    'agent message time moved; changed), the former holder (taken), the queue (entered, '
    'changed) and the former queue (left) of a case whose shown state changed. Sent at '
    'commit; its triggers do not call it while acolhe.live_updates is off (a rebuild).';

-- WHEN is checked before the function is called: rows whose shown state did not change
-- (a waiting case's message times, counters) cost no call, nor does any row while
-- acolhe.live_updates is off (a rebuild writing a schema nobody listens to).
CREATE TRIGGER cases_notify_insert
    AFTER INSERT ON {schema}.cases
    FOR EACH ROW
    WHEN ((NEW.queue_id IS NOT NULL OR NEW.agent_id IS NOT NULL)
          AND current_setting('acolhe.live_updates', true) IS DISTINCT FROM 'off')
    EXECUTE FUNCTION {schema}.notify_case_change();
COMMENT ON TRIGGER cases_notify_insert ON {schema}.cases IS
    'Announces a new case that already has a queue or a holder (see notify_case_change).';
CREATE TRIGGER cases_notify_update
    AFTER UPDATE ON {schema}.cases
    FOR EACH ROW
    WHEN (((OLD.status, OLD.queue_id, OLD.agent_id, OLD.priority, OLD.hold_reason,
            OLD.hold_until, OLD.confidential, OLD.queued_at)
           IS DISTINCT FROM (NEW.status, NEW.queue_id, NEW.agent_id, NEW.priority,
                             NEW.hold_reason, NEW.hold_until, NEW.confidential, NEW.queued_at)
           OR (NEW.agent_id IS NOT NULL
               AND (OLD.last_citizen_message_at, OLD.last_agent_message_at)
                   IS DISTINCT FROM (NEW.last_citizen_message_at, NEW.last_agent_message_at)))
          AND current_setting('acolhe.live_updates', true) IS DISTINCT FROM 'off')
    EXECUTE FUNCTION {schema}.notify_case_change();
COMMENT ON TRIGGER cases_notify_update ON {schema}.cases IS
    'Announces a change of what an app shows of a case, or a new message in a held case '
    '(see notify_case_change).';
