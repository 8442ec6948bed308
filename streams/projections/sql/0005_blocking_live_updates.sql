-- 0005 Live updates respect blocks: a blocked citizen's cases notify nothing, and a block
-- (or its lifting) tells the apps which cases to drop (or to read again).
--
-- Applied by streams/projections/migrations.py in one transaction, with {schema} replaced
-- by the quoted target schema. Once applied this file must never change: add 0006_....
--
-- Design notes (docs/read-model.md, "Live updates", and docs/privacy.md, "Blocking"):
-- * 0003's triggers on cases NOTIFY a case's id, status, queue and priority; NOTIFY is not
--   access-controlled, so they must say nothing of a case whose citizen is blocked
--   (0004's policy already hides its rows). The check goes in the triggers' WHEN, last, so
--   only a row that would notify pays for it, and notify_case_change (and so every payload
--   it sends) is left exactly as 0003 wrote it. WHEN binds the function by its oid, and
--   the function's SQL-standard body binds its table at creation: both survive the
--   rebuild's rename of the schema (0003's rule: {schema} only where Postgres binds it).
-- * A block changes no case row, so 0003's triggers say nothing of it. A trigger on
--   blocked_citizens, where the case projection keeps the blocks (blocking.apply, in the
--   batch's transaction), sends `hidden` when a citizen becomes blocked and `visible` when
--   the block is lifted, for each of the citizen's cases that has a holder or a queue, on
--   the holder's and the queue's channels (the ones 0003's notices go to). Payload:
--   change, schema, case_id: nothing else, nothing personal. Sent at commit, with the rows.
-- * A case whose citizen_id changes (ContactsLinked, ContactsUnlinked) from a citizen not
--   blocked to a blocked one, or back, is hidden or shown as well: the same notice, to its
--   former and current holder and queue.
-- * The functions that read blocked_citizens and cases are SECURITY DEFINER with
--   search_path pinned to pg_catalog, pg_temp (as 0003's and 0004's): the owner's view of
--   the tables, whichever role writes; EXECUTE revoked from PUBLIC. The trigger functions
--   name no schema: notify_citizen_blocking reads cases in TG_TABLE_SCHEMA (format('%I')),
--   and the triggers on cases pass their function which notice to send.
-- * acolhe.live_updates off (a rebuild's quiet writes) silences these triggers too.

CREATE FUNCTION {schema}.is_citizen_blocked(citizen_id text) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    RETURN EXISTS (
        SELECT FROM {schema}.blocked_citizens AS b
         WHERE b.citizen_id = is_citizen_blocked.citizen_id AND b.blocked);
COMMENT ON FUNCTION {schema}.is_citizen_blocked(text) IS
    'Whether the citizen is blocked now (blocked_citizens): the live-update triggers of cases '
    'send nothing about their cases. One primary-key probe.';
REVOKE ALL ON FUNCTION {schema}.is_citizen_blocked(text) FROM PUBLIC;

-- 0003's triggers, with the same conditions and one more, checked last.
CREATE OR REPLACE TRIGGER cases_notify_insert
    AFTER INSERT ON {schema}.cases
    FOR EACH ROW
    WHEN ((NEW.queue_id IS NOT NULL OR NEW.agent_id IS NOT NULL)
          AND current_setting('acolhe.live_updates', true) IS DISTINCT FROM 'off'
          AND NOT {schema}.is_citizen_blocked(NEW.citizen_id))
    EXECUTE FUNCTION {schema}.notify_case_change();
COMMENT ON TRIGGER cases_notify_insert ON {schema}.cases IS
    'Announces a new case that already has a queue or a holder (see notify_case_change), '
    'unless its citizen is blocked.';
CREATE OR REPLACE TRIGGER cases_notify_update
    AFTER UPDATE ON {schema}.cases
    FOR EACH ROW
    WHEN (((OLD.status, OLD.queue_id, OLD.agent_id, OLD.priority, OLD.hold_reason,
            OLD.hold_until, OLD.confidential, OLD.queued_at)
           IS DISTINCT FROM (NEW.status, NEW.queue_id, NEW.agent_id, NEW.priority,
                             NEW.hold_reason, NEW.hold_until, NEW.confidential, NEW.queued_at)
           OR (NEW.agent_id IS NOT NULL
               AND (OLD.last_citizen_message_at, OLD.last_agent_message_at)
                   IS DISTINCT FROM (NEW.last_citizen_message_at, NEW.last_agent_message_at)))
          AND current_setting('acolhe.live_updates', true) IS DISTINCT FROM 'off'
          AND NOT {schema}.is_citizen_blocked(NEW.citizen_id))
    EXECUTE FUNCTION {schema}.notify_case_change();
COMMENT ON TRIGGER cases_notify_update ON {schema}.cases IS
    'Announces a change of what an app shows of a case, or a new message in a held case '
    '(see notify_case_change), unless its citizen is blocked.';
COMMENT ON FUNCTION {schema}.notify_case_change() IS
    'Trigger of cases: NOTIFY the holder (assigned; message, when the case''s last citizen or '
    'agent message time moved; changed), the former holder (taken), the queue (entered, '
    'changed) and the former queue (left) of a case whose shown state changed. Sent at '
    'commit; its triggers do not call it while acolhe.live_updates is off (a rebuild), nor '
    'for a case whose citizen is blocked (0005).';

-- A block, or its lifting: hidden / visible for each of the citizen's cases ----------------

CREATE FUNCTION {schema}.notify_citizen_blocking() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    salt constant text := TG_TABLE_SCHEMA || chr(31);
    notice constant text :=
        '{"change" : "' || CASE WHEN NEW.blocked THEN 'hidden' ELSE 'visible' END || '", ';
    c record;
    body text;
BEGIN
    FOR c IN EXECUTE format(
        'SELECT case_id, agent_id, queue_id FROM %I.cases '
        'WHERE citizen_id = $1 AND (agent_id IS NOT NULL OR queue_id IS NOT NULL) '
        'ORDER BY case_id', TG_TABLE_SCHEMA)
        USING NEW.citizen_id
    LOOP
        body := notice || substr(json_build_object(
            'schema', TG_TABLE_SCHEMA, 'case_id', c.case_id)::text, 2);
        IF c.agent_id IS NOT NULL THEN
            PERFORM pg_notify(
                'acolhe_agent_' || left(encode(sha256(convert_to(salt || c.agent_id, 'UTF8')),
                                               'hex'), 40),
                body);
        END IF;
        IF c.queue_id IS NOT NULL THEN
            PERFORM pg_notify(
                'acolhe_queue_' || left(encode(sha256(convert_to(salt || c.queue_id, 'UTF8')),
                                               'hex'), 40),
                body);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION {schema}.notify_citizen_blocking() IS
    'Trigger of blocked_citizens: when a citizen becomes blocked (hidden) or unblocked '
    '(visible), NOTIFY the holder and the queue of each of their cases that has one, with '
    'change, schema and case_id only: drop the case, or read it again. Sent at commit.';
REVOKE ALL ON FUNCTION {schema}.notify_citizen_blocking() FROM PUBLIC;

CREATE TRIGGER blocked_citizens_notify_insert
    AFTER INSERT ON {schema}.blocked_citizens
    FOR EACH ROW
    WHEN (NEW.blocked
          AND current_setting('acolhe.live_updates', true) IS DISTINCT FROM 'off')
    EXECUTE FUNCTION {schema}.notify_citizen_blocking();
COMMENT ON TRIGGER blocked_citizens_notify_insert ON {schema}.blocked_citizens IS
    'A citizen blocked for the first time: hidden for each of their cases (see '
    'notify_citizen_blocking). A first row that is an unblock hid nothing and tells nothing.';
CREATE TRIGGER blocked_citizens_notify_update
    AFTER UPDATE ON {schema}.blocked_citizens
    FOR EACH ROW
    WHEN (OLD.blocked IS DISTINCT FROM NEW.blocked
          AND current_setting('acolhe.live_updates', true) IS DISTINCT FROM 'off')
    EXECUTE FUNCTION {schema}.notify_citizen_blocking();
COMMENT ON TRIGGER blocked_citizens_notify_update ON {schema}.blocked_citizens IS
    'A citizen blocked again (hidden) or unblocked (visible): see notify_citizen_blocking. A '
    'later event that leaves blocked as it was tells nothing.';

-- A case that changes citizen across a block: hidden / visible ------------------------------

CREATE FUNCTION {schema}.notify_case_citizen_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    salt constant text := TG_TABLE_SCHEMA || chr(31);
    -- the trigger says which: hidden (the case's citizen is blocked now) or visible
    body constant text := '{"change" : "' || TG_ARGV[0] || '", '
        || substr(json_build_object('schema', TG_TABLE_SCHEMA, 'case_id', NEW.case_id)::text, 2);
    subject text;
BEGIN
    -- identical notices of one transaction are delivered once: a holder or a queue that
    -- did not change is told once
    FOREACH subject IN ARRAY ARRAY[OLD.agent_id, NEW.agent_id] LOOP
        IF subject IS NOT NULL THEN
            PERFORM pg_notify(
                'acolhe_agent_' || left(encode(sha256(convert_to(salt || subject, 'UTF8')),
                                               'hex'), 40),
                body);
        END IF;
    END LOOP;
    FOREACH subject IN ARRAY ARRAY[OLD.queue_id, NEW.queue_id] LOOP
        IF subject IS NOT NULL THEN
            PERFORM pg_notify(
                'acolhe_queue_' || left(encode(sha256(convert_to(salt || subject, 'UTF8')),
                                               'hex'), 40),
                body);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION {schema}.notify_case_citizen_change() IS
    'Trigger of cases: a case whose citizen_id changed from a citizen not blocked to a '
    'blocked one (hidden) or back (visible), as its trigger''s argument says: NOTIFY its former '
    'and current holder and queue with change, schema and case_id only.';
REVOKE ALL ON FUNCTION {schema}.notify_case_citizen_change() FROM PUBLIC;

-- WHEN: the citizen changed first (almost never), so other updates stop there.
CREATE TRIGGER cases_notify_hidden
    AFTER UPDATE ON {schema}.cases
    FOR EACH ROW
    WHEN (OLD.citizen_id IS DISTINCT FROM NEW.citizen_id
          AND coalesce(OLD.queue_id, OLD.agent_id, NEW.queue_id, NEW.agent_id) IS NOT NULL
          AND current_setting('acolhe.live_updates', true) IS DISTINCT FROM 'off'
          AND {schema}.is_citizen_blocked(NEW.citizen_id)
          AND NOT {schema}.is_citizen_blocked(OLD.citizen_id))
    EXECUTE FUNCTION {schema}.notify_case_citizen_change('hidden');
COMMENT ON TRIGGER cases_notify_hidden ON {schema}.cases IS
    'A case moved (ContactsLinked, ContactsUnlinked) to a blocked citizen from one not '
    'blocked: hidden (see notify_case_citizen_change).';
CREATE TRIGGER cases_notify_visible
    AFTER UPDATE ON {schema}.cases
    FOR EACH ROW
    WHEN (OLD.citizen_id IS DISTINCT FROM NEW.citizen_id
          AND coalesce(OLD.queue_id, OLD.agent_id, NEW.queue_id, NEW.agent_id) IS NOT NULL
          AND current_setting('acolhe.live_updates', true) IS DISTINCT FROM 'off'
          AND {schema}.is_citizen_blocked(OLD.citizen_id)
          AND NOT {schema}.is_citizen_blocked(NEW.citizen_id))
    EXECUTE FUNCTION {schema}.notify_case_citizen_change('visible');
COMMENT ON TRIGGER cases_notify_visible ON {schema}.cases IS
    'A case moved (ContactsLinked, ContactsUnlinked) from a blocked citizen to one not '
    'blocked: visible (see notify_case_citizen_change; its new state comes with it from '
    'notify_case_change when that changed too).';
