-- monday_sync 0.1.0 → 0.2.0, run by ALTER EXTENSION monday_sync UPDATE.
--
-- Written by hand from the difference between the two install scripts (cargo pgrx schema of the tag
-- v0.1.0 and of 0.2.0). The upgrade test (pgrx-tests/run upgrade, src/upgrade.rs) installs 0.1.0,
-- fills it, runs this script and compares every object of the extension with a fresh CREATE
-- EXTENSION of 0.2.0 (functions, columns, constraints, indexes, views, grants, comments, pg_dump's
-- configuration tables): a schema change in a later commit without its line here fails it.
--
-- What it does, in order:
--   1. the tables of 0.1.0 get their new columns (rows kept; new NOT NULL columns have defaults),
--      wider CHECKs, jobs without a board (the account's job); boards.table_oid is filled in for
--      the tables 0.1.0 tracked by name;
--   2. the tables of 0.2.0 (webhooks, write-back, upserts, the account) are created;
--   3. functions: track_board changed its signature (dropped, recreated as a SQL wrapper over
--      _track_board); every other function is CREATE OR REPLACE'd (pinned search_path, SECURITY
--      DEFINER where 0.2.0 has it, new volatility), so objects of yours that use them (a view
--      calling monday_sync.decode) keep working; new functions and views are created;
--   4. grants and comments of what is new or changed.
--
-- Every statement names the extension's objects through monday_sync. and built-ins through the
-- pinned search_path below (pg_catalog first, nothing a user can create objects in).

\echo Use "ALTER EXTENSION monday_sync UPDATE TO '0.2.0'" to load this file. \quit

SET LOCAL search_path = pg_catalog, pg_temp;

-- ============================================================================================
-- 1. The schema and the tables of 0.1.0
-- ============================================================================================

-- The codec functions are for every role (0.1.0 left the schema to its owner).
GRANT USAGE ON SCHEMA monday_sync TO PUBLIC;

-- Tracked boards: the typed table is known by OID from now on (0.1.0 found it by name), plus
-- write-back, "deleted on monday" and history settings. Column order differs from a fresh install
-- (ADD COLUMN appends); nothing in the extension depends on it.
ALTER TABLE monday_sync.boards
    ADD COLUMN table_oid regclass,
    ADD COLUMN write_back boolean NOT NULL DEFAULT false,
    ADD COLUMN conflict_policy text NOT NULL DEFAULT 'local_wins' CHECK (conflict_policy IN ('local_wins', 'remote_wins', 'manual')),
    ADD COLUMN delete_action text NOT NULL DEFAULT 'archive' CHECK (delete_action IN ('archive', 'delete')),
    ADD COLUMN create_labels boolean NOT NULL DEFAULT false,
    ADD COLUMN deleted_on_monday_at timestamptz,
    ADD COLUMN history boolean NOT NULL DEFAULT false,
    ADD COLUMN history_oid regclass,
    ADD COLUMN updates boolean NOT NULL DEFAULT false,
    ADD COLUMN updates_oid regclass,
    ADD COLUMN assets_oid regclass,
    ADD COLUMN updates_pulled_at timestamptz;

-- 0.1.0 wrote into whatever plain table had the recorded name: that table is the board's table.
-- (A board whose table does not exist gets NULL, and the next track_board creates it again.)
UPDATE monday_sync.boards b
   SET table_oid = c.oid
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = b.target_schema AND c.relname = b.target_table AND c.relkind = 'r';

-- Column mapping: the write-back direction of each column ('both' as in a fresh track_board).
ALTER TABLE monday_sync.columns
    ADD COLUMN direction text NOT NULL DEFAULT 'both' CHECK (direction IN ('pull', 'both'));

-- Run history: the kinds of run 0.2.0 adds (webhook confirmations, write-back, upserts, the
-- account, updates, workspaces).
ALTER TABLE monday_sync.sync_runs
    DROP CONSTRAINT sync_runs_kind_check,
    ADD CONSTRAINT sync_runs_kind_check
        CHECK (kind IN ('track_board', 'pull_board', 'pull_item', 'refresh_board', 'confirm_items', 'write_items', 'upsert_items', 'pull_account', 'pull_updates', 'track_workspace'));

-- Jobs: new commands, and the account's and the workspaces' jobs, which belong to no board
-- (board_id NULL).
ALTER TABLE monday_sync.jobs
    ALTER COLUMN board_id DROP NOT NULL,
    DROP CONSTRAINT jobs_command_check,
    ADD CONSTRAINT jobs_command_check
        CHECK (command IN ('refresh', 'pull', 'confirm', 'write', 'upsert', 'account', 'workspaces')),
    ADD CONSTRAINT jobs_check CHECK ((board_id IS NULL) = (command IN ('account', 'workspaces')));
CREATE UNIQUE INDEX jobs_one_account ON monday_sync.jobs (command) WHERE status = 'queued' AND board_id IS NULL;

-- ============================================================================================
-- 2. The tables of 0.2.0 (as in sql/schema.sql)
-- ============================================================================================

-- ---------- webhooks ----------

-- The app's signing secret (webhook JWTs). Like the token: no grants, ever.
CREATE TABLE monday_sync._signing_secret (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    secret text NOT NULL,
    set_at timestamptz NOT NULL DEFAULT now(),
    set_by name NOT NULL DEFAULT current_user
);
REVOKE ALL ON monday_sync._signing_secret FROM PUBLIC;

-- Each subscribed board's secret URL path segment (webhooks created with a personal token carry
-- no signature: the path is their credential). No grants.
CREATE TABLE monday_sync._webhook_secrets (
    board_id bigint PRIMARY KEY REFERENCES monday_sync.boards (board_id) ON DELETE CASCADE,
    secret text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON monday_sync._webhook_secrets FROM PUBLIC;

-- The subscriptions subscribe_board created on monday (the URL is kept without its secret).
CREATE TABLE monday_sync.webhooks (
    webhook_id bigint PRIMARY KEY,
    board_id bigint NOT NULL REFERENCES monday_sync.boards (board_id) ON DELETE CASCADE,
    event text NOT NULL,
    config jsonb,
    url text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON monday_sync.webhooks (board_id);

-- The inbox: every accepted event, stored once (by content: a retry or a second subscription's
-- copy of the same change adds to `deliveries`).
CREATE TABLE monday_sync.webhook_events (
    event_id bigserial PRIMARY KEY,
    board_id bigint,
    item_id bigint,
    parent_item_id bigint,
    event_type text NOT NULL,
    column_id text,
    trigger_uuid text,
    is_retry boolean NOT NULL DEFAULT false,
    trigger_time timestamptz,
    -- When the change happened on monday (changedAt, else triggerTime): orders events per field.
    changed_at timestamptz,
    content_key text NOT NULL UNIQUE,
    payload jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- 'listener' or 'sql' (monday_sync.receive_webhook).
    via text NOT NULL DEFAULT 'listener',
    deliveries int NOT NULL DEFAULT 1,
    status text NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'applied', 'ignored', 'failed')),
    processed_at timestamptz,
    attempts int NOT NULL DEFAULT 0,
    error text
);
CREATE INDEX webhook_events_pending ON monday_sync.webhook_events (event_id) WHERE status = 'received';
CREATE INDEX ON monday_sync.webhook_events (board_id, received_at DESC);
CREATE INDEX ON monday_sync.webhook_events (received_at) WHERE status IN ('applied', 'ignored');

-- The newest change applied per item field, so an older event (late, retried, reordered) never
-- overwrites newer state. field = a column id, or '#name', '#group', '#state'.
CREATE TABLE monday_sync._webhook_versions (
    board_id bigint NOT NULL,
    item_id bigint NOT NULL,
    field text NOT NULL,
    changed_at timestamptz NOT NULL,
    PRIMARY KEY (board_id, item_id, field)
);
REVOKE ALL ON monday_sync._webhook_versions FROM PUBLIC;

-- Items a webhook touched, waiting for their confirming fetch (batched `items(ids:)`, after the
-- settle window). board_id is the tracked (top) board whose `confirm` job fetches them.
CREATE TABLE monday_sync._webhook_confirm (
    board_id bigint NOT NULL REFERENCES monday_sync.boards (board_id) ON DELETE CASCADE,
    item_id bigint NOT NULL,
    due timestamptz NOT NULL,
    -- The last event that queued it: a fetch that began before this leaves the entry queued.
    touched timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    PRIMARY KEY (board_id, item_id)
);
REVOKE ALL ON monday_sync._webhook_confirm FROM PUBLIC;

-- ---------- write-back ----------

-- The outbox: one entry per item and batch of changes, written in the user's own transaction by
-- the typed table's trigger. Changes to one item coalesce while the entry is pending; the worker
-- sends them ('sending', in a request of _write_requests), then 'sent'. 'conflict' waits for
-- resolve_conflict (policy manual); 'failed' (monday refused a value, or retries ran out) waits
-- for retry_write or discard_write. While an entry is open, no pull, refresh or webhook
-- overwrites the fields it changes.
CREATE TABLE monday_sync.writes (
    write_id bigserial PRIMARY KEY,
    -- The item's board: a subitem's is the subitems board.
    board_id bigint NOT NULL REFERENCES monday_sync.boards (board_id) ON DELETE CASCADE,
    -- Negative: a row INSERTed here whose item monday has not created yet (the row's temporary id).
    item_id bigint NOT NULL,
    op text NOT NULL CHECK (op IN ('update', 'create')),
    -- Field → what monday accepts for it (monday_sync.encode): a column id, 'name', '#group' (a
    -- group id), '#state' ('archived' or 'deleted').
    changes jsonb NOT NULL DEFAULT '{}',
    -- The same fields → what monday showed when the first change was made (the cell as fetched).
    base jsonb NOT NULL DEFAULT '{}',
    -- A subitem to create: its parent (negative while the parent is itself being created).
    parent_item_id bigint,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'conflict', 'failed', 'sent', 'discarded')),
    request_id bigint,
    -- create: the id monday gave the item.
    created_item_id bigint,
    queued_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    changed_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    sent_at timestamptz,
    attempts int NOT NULL DEFAULT 0,
    -- conflict: monday's current cells of the conflicting fields.
    remote jsonb,
    error_code text,
    error_column text,
    error text,
    requested_by name NOT NULL
);
CREATE UNIQUE INDEX writes_one_pending ON monday_sync.writes (board_id, item_id) WHERE status = 'pending';
CREATE INDEX writes_open ON monday_sync.writes (item_id) WHERE status IN ('pending', 'sending', 'conflict', 'failed');
CREATE INDEX ON monday_sync.writes (board_id, write_id);
-- Echoes: a change monday reports is matched to our write of the item.
CREATE INDEX ON monday_sync.writes (item_id);
CREATE INDEX ON monday_sync.writes (created_item_id) WHERE created_item_id IS NOT NULL;

-- Each mutation request as sent: a retry (after a lost answer, a 409, a crash) resends exactly
-- this, with the same Idempotency-Key, so monday answers it from its cache instead of applying
-- it twice.
CREATE TABLE monday_sync._write_requests (
    request_id bigserial PRIMARY KEY,
    board_id bigint NOT NULL REFERENCES monday_sync.boards (board_id) ON DELETE CASCADE,
    idempotency_key text NOT NULL UNIQUE,
    document text NOT NULL,
    variables jsonb NOT NULL,
    -- Alias → write_id.
    aliases jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    answered_at timestamptz
);
REVOKE ALL ON monday_sync._write_requests FROM PUBLIC;

-- upsert_items: another system's key → the monday item it was written to.
CREATE TABLE monday_sync.item_keys (
    board_id bigint NOT NULL REFERENCES monday_sync.boards (board_id) ON DELETE CASCADE,
    key_column name NOT NULL,
    key_value text NOT NULL,
    -- Negative while the item is being created.
    item_id bigint NOT NULL,
    upserted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (board_id, key_column, key_value)
);
CREATE INDEX ON monday_sync.item_keys (item_id);
REVOKE ALL ON monday_sync.item_keys FROM PUBLIC;

-- request_upsert_items: a set of records the worker's upsert job goes through, a chunk a
-- transaction, as the role that asked (requested_by).
CREATE TABLE monday_sync.upserts (
    upsert_id bigserial PRIMARY KEY,
    board_id bigint NOT NULL REFERENCES monday_sync.boards (board_id) ON DELETE CASCADE,
    key_column name NOT NULL,
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    total bigint NOT NULL,
    processed bigint NOT NULL DEFAULT 0,
    created bigint NOT NULL DEFAULT 0,
    updated bigint NOT NULL DEFAULT 0,
    unchanged bigint NOT NULL DEFAULT 0,
    failed bigint NOT NULL DEFAULT 0,
    -- The first failed records: [{index, key, error}].
    errors jsonb NOT NULL DEFAULT '[]',
    requested_by oid NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    started_at timestamptz,
    finished_at timestamptz,
    message text
);
CREATE INDEX upserts_open ON monday_sync.upserts (board_id, upsert_id) WHERE status IN ('queued', 'running');
REVOKE ALL ON monday_sync.upserts FROM PUBLIC;

-- The records of an upsert not yet gone through (n: the place in the caller's array, from 0).
CREATE TABLE monday_sync._upsert_records (
    upsert_id bigint NOT NULL REFERENCES monday_sync.upserts (upsert_id) ON DELETE CASCADE,
    n bigint NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (upsert_id, n)
);
REVOKE ALL ON monday_sync._upsert_records FROM PUBLIC;

-- The account (pull_account): users, teams and tags. What monday no longer lists is marked
-- (deleted_at), never dropped; synced_at is when a pull last saw the row.
CREATE TABLE monday_sync.users (
    user_id bigint PRIMARY KEY,
    name text NOT NULL,
    email text,
    title text,
    -- ACTIVE, INACTIVE (deactivated), PENDING (invited, not joined yet)
    status text,
    -- admin, member, guest, view_only
    kind text,
    enabled boolean NOT NULL,
    is_guest boolean NOT NULL,
    is_admin boolean NOT NULL,
    created_at timestamptz,
    time_zone text,
    team_ids bigint[] NOT NULL DEFAULT '{}',
    synced_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    deleted_at timestamptz
);
CREATE TABLE monday_sync.teams (
    team_id bigint PRIMARY KEY,
    name text NOT NULL,
    is_guest boolean,
    user_ids bigint[] NOT NULL DEFAULT '{}',
    synced_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    deleted_at timestamptz
);
CREATE TABLE monday_sync.tags (
    tag_id bigint PRIMARY KEY,
    name text NOT NULL,
    color text,
    synced_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    deleted_at timestamptz
);
CREATE TABLE monday_sync.workspaces (
    workspace_id bigint PRIMARY KEY,
    name text NOT NULL,
    -- open, closed, template
    kind text,
    description text,
    -- active, archived, deleted (as monday reports it)
    state text,
    created_at date,
    is_default boolean,
    synced_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    deleted_at timestamptz
);
CREATE TABLE monday_sync.folders (
    folder_id bigint PRIMARY KEY,
    name text NOT NULL,
    workspace_id bigint,
    parent_folder_id bigint,
    color text,
    created_at date,
    -- The boards in the folder.
    board_ids bigint[] NOT NULL DEFAULT '{}',
    synced_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    deleted_at timestamptz
);
REVOKE ALL ON monday_sync.users, monday_sync.teams, monday_sync.tags, monday_sync.workspaces, monday_sync.folders FROM PUBLIC;

-- ---------- whole workspaces ----------

-- Workspaces tracked whole (track_workspace): their boards land in target_schema, and boards
-- created there later are tracked by the worker (monday_sync.workspace_interval).
CREATE TABLE monday_sync.tracked_workspaces (
    workspace_id bigint PRIMARY KEY,
    workspace_name text,
    target_schema name NOT NULL,
    -- New boards' tables are created as this role (the one that called track_workspace).
    tracked_by name NOT NULL DEFAULT current_user,
    tracked_at timestamptz NOT NULL DEFAULT now(),
    last_checked_at timestamptz,
    boards_seen int
);
REVOKE ALL ON monday_sync.tracked_workspaces FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('monday_sync.tracked_workspaces', '');

-- pg_dump keeps the webhook subscriptions too (not their secrets).
SELECT pg_catalog.pg_extension_config_dump('monday_sync.webhooks', '');

-- ============================================================================================
-- 3. Functions and views
-- ============================================================================================

-- track_board(board_id, target) was a C function; in 0.2.0 it is a SQL wrapper with adopt and
-- history over _track_board (which reads the caller's schema before the path is pinned).
DROP FUNCTION monday_sync.track_board(bigint, text);

-- A people column's ids (users and teams) as names, in order; an id not known shows as itself.
CREATE OR REPLACE FUNCTION monday_sync.user_names(ids bigint[]) RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.array_agg(coalesce(u.name, t.name, x.id::pg_catalog.text) ORDER BY x.n)
    FROM pg_catalog.unnest(ids) WITH ORDINALITY AS x(id, n)
    LEFT JOIN monday_sync.users u ON u.user_id = x.id
    LEFT JOIN monday_sync.teams t ON t.team_id = x.id
$$;

-- A tags column's ids as tag names, in order.
CREATE OR REPLACE FUNCTION monday_sync.tag_names(ids bigint[]) RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.array_agg(coalesce(g.name, x.id::pg_catalog.text) ORDER BY x.n)
    FROM pg_catalog.unnest(ids) WITH ORDINALITY AS x(id, n)
    LEFT JOIN monday_sync.tags g ON g.tag_id = x.id
$$;

CREATE OR REPLACE FUNCTION monday_sync."_budget"() RETURNS TABLE (
	"shared" bool,
	"calls_today" bigint,
	"complexity_left" bigint,
	"reset_at_us" bigint,
	"reported_at_us" bigint,
	"used_in_window" bigint,
	"max_query_cost" bigint,
	"exhausted" bigint,
	"paced" bigint,
	"paced_ms" bigint
)
STRICT VOLATILE PARALLEL SAFE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'budget_row_wrapper';

CREATE OR REPLACE VIEW monday_sync.api_budget AS
SELECT b.shared AS accounted,
       current_setting('monday_sync.complexity_per_minute')::bigint AS complexity_per_minute,
       b.complexity_left,
       timestamptz '2000-01-01 00:00:00+00' + b.reset_at_us * interval '1 microsecond' AS window_resets_at,
       b.used_in_window AS complexity_used_in_window,
       b.max_query_cost,
       current_setting('monday_sync.worker_budget_share')::float8 AS worker_share,
       b.calls_today,
       current_setting('monday_sync.daily_call_limit')::bigint AS daily_call_limit,
       greatest(current_setting('monday_sync.daily_call_limit')::bigint - b.calls_today, 0) AS calls_left_today,
       b.exhausted AS budget_exhausted_answers,
       b.paced AS worker_waits,
       b.paced_ms * interval '1 millisecond' AS worker_waited,
       timestamptz '2000-01-01 00:00:00+00' + b.reported_at_us * interval '1 microsecond' AS reported_at
  FROM monday_sync._budget() b;
COMMENT ON VIEW monday_sync.api_budget IS
  'monday''s API budget as this server sees it (needs monday_sync in shared_preload_libraries): complexity left in the current minute window (as monday last reported it), calls made today (UTC) against monday_sync.daily_call_limit, and how often the worker waited for the window to reset instead of exhausting it.';

CREATE OR REPLACE FUNCTION monday_sync."_history_table"(
	"rowtype" oid
) RETURNS regclass
STRICT STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', '_history_table_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."_map_column"(
	"board_id" bigint,
	"column_id" TEXT,
	"sql_name" TEXT,
	"sql_type" TEXT
) RETURNS VOID
VOLATILE PARALLEL UNSAFE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'map_column_impl_wrapper';

CREATE OR REPLACE FUNCTION monday_sync.map_column(board_id bigint, column_id text, sql_name text, sql_type regtype DEFAULT NULL)
RETURNS void LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT monday_sync._map_column(board_id, column_id, sql_name, sql_type::text) $$;

CREATE OR REPLACE FUNCTION monday_sync."_progress"() RETURNS TABLE (
	"pid" INT,
	"runid" bigint,
	"board_id" bigint,
	"kind" TEXT,
	"phase" TEXT,
	"started_us" bigint,
	"items_seen" bigint,
	"items_count" bigint,
	"rows_written" bigint,
	"api_calls" bigint,
	"complexity_used" bigint
)
STRICT VOLATILE PARALLEL SAFE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'progress_rows_wrapper';

CREATE OR REPLACE VIEW monday_sync.pull_progress AS
SELECT p.pid,
       p.runid,
       p.board_id,
       b.board_name,
       p.kind,
       p.phase,
       timestamptz '2000-01-01 00:00:00+00' + p.started_us * interval '1 microsecond' AS started_at,
       p.items_seen,
       NULLIF(p.items_count, 0) AS items_expected,
       CASE WHEN p.items_count > 0 THEN round(100.0 * p.items_seen / p.items_count, 1) END AS percent,
       p.rows_written,
       p.api_calls,
       p.complexity_used
  FROM monday_sync._progress() p
  LEFT JOIN monday_sync.boards b USING (board_id);
COMMENT ON VIEW monday_sync.pull_progress IS
  'Pulls under way in any session (needs monday_sync in shared_preload_libraries): board, phase, items seen of items expected, rows written, API calls, complexity used.';

CREATE OR REPLACE FUNCTION monday_sync."_track_board"(
	"board_id" bigint,
	"target" TEXT,
	"adopt" bool,
	"caller_schema" TEXT
) RETURNS regclass
VOLATILE PARALLEL UNSAFE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'track_board_impl_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."_webhook_listener"() RETURNS TABLE (
	"pid" INT,
	"state" TEXT,
	"address" TEXT,
	"counters" jsonb,
	"events_applied" bigint,
	"last_error" TEXT
)
STRICT VOLATILE PARALLEL SAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', '_webhook_listener_wrapper';

CREATE OR REPLACE VIEW monday_sync.webhook_listener AS
SELECT * FROM monday_sync._webhook_listener();
COMMENT ON VIEW monday_sync.webhook_listener IS
  'The webhook worker: its pid, whether it listens and where, its request counters since it started (accepted, refused as unauthorized, malformed, too large, slow, busy, …), events applied, and the last error starting the listener.';

CREATE OR REPLACE VIEW monday_sync.webhook_status AS
SELECT b.board_id,
       b.board_name,
       (SELECT count(*) FROM monday_sync.webhooks w WHERE w.board_id = b.board_id) AS subscriptions,
       (SELECT pg_catalog.array_agg(w.event ORDER BY w.event) FROM monday_sync.webhooks w WHERE w.board_id = b.board_id) AS events,
       e.last_event_at,
       e.events_last_hour,
       e.failed_last_hour,
       e.lag_p50,
       e.lag_p99,
       (SELECT count(*) FROM monday_sync._webhook_confirm c WHERE c.board_id = b.board_id) AS awaiting_fetch
  FROM monday_sync.boards b
  LEFT JOIN LATERAL (
       SELECT max(ev.received_at) AS last_event_at,
              count(*) FILTER (WHERE ev.received_at > now() - interval '1 hour') AS events_last_hour,
              count(*) FILTER (WHERE ev.received_at > now() - interval '1 hour' AND ev.status = 'failed') AS failed_last_hour,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM ev.processed_at - ev.trigger_time))
                 FILTER (WHERE ev.status = 'applied' AND ev.received_at > now() - interval '1 hour') * interval '1 second' AS lag_p50,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM ev.processed_at - ev.trigger_time))
                 FILTER (WHERE ev.status = 'applied' AND ev.received_at > now() - interval '1 hour') * interval '1 second' AS lag_p99
         FROM monday_sync.webhook_events ev
        WHERE ev.board_id = b.board_id OR ev.board_id = b.subitems_board_id) e ON true
 WHERE b.parent_board_id IS NULL;
COMMENT ON VIEW monday_sync.webhook_status IS
  'Per tracked board: its webhook subscriptions, the last event received, events and failures in the last hour, the lag from monday''s triggerTime to applied (p50, p99), and items waiting for their confirming fetch.';

CREATE OR REPLACE FUNCTION monday_sync."_worker"() RETURNS TABLE (
	"pid" INT,
	"state" TEXT,
	"database_oid" bigint,
	"jobid" bigint,
	"board_id" bigint,
	"since_us" bigint,
	"jobs_done" bigint
)
STRICT VOLATILE PARALLEL SAFE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'worker_row_wrapper';

CREATE OR REPLACE VIEW monday_sync.worker AS
SELECT w.pid,
       w.state,
       (SELECT datname FROM pg_database WHERE oid = w.database_oid) AS database,
       w.jobid,
       w.board_id,
       timestamptz '2000-01-01 00:00:00+00' + w.since_us * interval '1 microsecond' AS state_since,
       w.jobs_done
  FROM monday_sync._worker() w;
COMMENT ON VIEW monday_sync.worker IS
  'The monday_sync background worker: its pid, what it is doing (waiting for the database or the extension, idle, running a job), since when, and how many jobs it has run since the server started.';

CREATE OR REPLACE VIEW monday_sync.board_status AS
SELECT b.board_id,
       b.board_name,
       format('%I.%I', b.target_schema, b.target_table) AS table_name,
       s.last_success,
       now() - s.last_success AS lag,
       b.activity_watermark,
       b.last_full_at,
       b.refresh_interval,
       b.reconcile_interval,
       (SELECT count(*) FROM monday_sync.jobs j WHERE j.board_id = b.board_id AND j.status = 'queued') AS queued_jobs,
       (SELECT count(*) FROM monday_sync.jobs j WHERE j.board_id = b.board_id AND j.status = 'running') AS running_jobs,
       e.finished_at AS last_error_at,
       e.last_error,
       CASE WHEN b.deleted_on_monday_at IS NOT NULL THEN 'deleted on monday'
            WHEN EXISTS (SELECT 1 FROM monday_sync.webhooks w WHERE w.board_id = b.board_id)
            THEN 'live' ELSE 'polled' END AS sync_mode,
       b.deleted_on_monday_at,
       b.write_back,
       (SELECT count(*) FROM monday_sync.writes w JOIN monday_sync.boards wb USING (board_id)
         WHERE (wb.board_id = b.board_id OR wb.parent_board_id = b.board_id)
           AND w.status IN ('pending', 'sending', 'conflict')) AS pending_writes,
       we.sent_at AS last_write_error_at,
       we.error AS last_write_error
  FROM monday_sync.boards b
  LEFT JOIN LATERAL (
       SELECT max(r.finished_at) AS last_success FROM monday_sync.sync_runs r
        WHERE r.board_id = b.board_id AND r.status = 'succeeded' AND r.kind IN ('pull_board', 'refresh_board')) s ON true
  LEFT JOIN LATERAL (
       SELECT j.finished_at, j.last_error FROM monday_sync.jobs j
        WHERE j.board_id = b.board_id AND j.last_error IS NOT NULL
          AND j.finished_at > coalesce(s.last_success, '-infinity')
        ORDER BY j.finished_at DESC LIMIT 1) e ON true
  LEFT JOIN LATERAL (
       SELECT w.sent_at, w.error FROM monday_sync.writes w JOIN monday_sync.boards wb USING (board_id)
        WHERE (wb.board_id = b.board_id OR wb.parent_board_id = b.board_id) AND w.status = 'failed'
        ORDER BY w.sent_at DESC NULLS LAST LIMIT 1) we ON true
 WHERE b.parent_board_id IS NULL;
COMMENT ON VIEW monday_sync.board_status IS
  'One row per tracked board: last successful pull or refresh and the lag since, the activity-log watermark, the worker schedule, queued and running jobs, the last error since the last success, sync_mode: live (webhook subscriptions), polled, or deleted on monday (the board is gone or no longer shared: the schedule stopped; deleted_on_monday_at says since when), and write-back: whether it is on, writes not yet on monday, and the last write monday refused (see monday_sync.write_errors).';

CREATE OR REPLACE FUNCTION monday_sync.set_schedule(board_id bigint, refresh_every interval, reconcile_every interval DEFAULT interval '1 day')
RETURNS void LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parent bigint;
BEGIN
    SELECT b.parent_board_id INTO parent FROM monday_sync.boards b WHERE b.board_id = set_schedule.board_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'monday board % is not tracked', set_schedule.board_id
              USING ERRCODE = '55000',
                    DETAIL = 'set_schedule sets the worker''s schedule of a tracked board',
                    HINT = format('SELECT monday_sync.track_board(%s);', set_schedule.board_id);
    END IF;
    IF parent IS NOT NULL THEN
        RAISE EXCEPTION 'monday board % is a subitems board', set_schedule.board_id
              USING ERRCODE = '22023',
                    DETAIL = 'its subitems are refreshed with their parent board',
                    HINT = format('SELECT monday_sync.set_schedule(%s, …);', parent);
    END IF;
    IF refresh_every < interval '1 second' OR reconcile_every < interval '1 minute' THEN
        RAISE EXCEPTION 'schedule too frequent: refresh every %, reconcile every %', refresh_every, reconcile_every
              USING ERRCODE = '22023',
                    DETAIL = 'refresh_every must be at least 1 second and reconcile_every at least 1 minute',
                    HINT = 'Every refresh costs at least one API call against monday''s daily limit; NULL turns a schedule off.';
    END IF;
    UPDATE monday_sync.boards b
       SET refresh_interval = refresh_every, reconcile_interval = reconcile_every
     WHERE b.board_id = set_schedule.board_id;
END
$$;

CREATE OR REPLACE FUNCTION monday_sync."column_sql_type"(
	"column_type" TEXT
) RETURNS regtype
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'column_sql_type_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."decode"(
	"column_type" TEXT,
	"column_value" jsonb,
	"column_settings" jsonb DEFAULT NULL
) RETURNS jsonb
IMMUTABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'decode_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."decode_item"(
	"item" jsonb,
	"columns" jsonb DEFAULT NULL
) RETURNS jsonb
IMMUTABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'decode_item_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."disable_history"(
	"board_id" bigint
) RETURNS VOID
STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'disable_history_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."disable_write_back"(
	"board_id" bigint
) RETURNS bigint
STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'disable_write_back_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."discard_write"(
	"write_id" bigint
) RETURNS VOID
STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'discard_write_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."enable_history"(
	"board_id" bigint
) RETURNS regclass
STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'enable_history_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."enable_write_back"(
	"board_id" bigint,
	"conflict_policy" TEXT DEFAULT 'local_wins',
	"delete_action" TEXT DEFAULT 'archive',
	"create_labels" bool DEFAULT false
) RETURNS jsonb
STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'enable_write_back_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."encode"(
	"column_type" TEXT,
	"value" jsonb,
	"column_settings" jsonb DEFAULT NULL
) RETURNS jsonb
STABLE PARALLEL SAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'encode_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."pull_account"() RETURNS jsonb
STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'pull_account_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."pull_board"(
	"board_id" bigint
) RETURNS jsonb
STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'pull_board_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."pull_item"(
	"item_id" bigint
) RETURNS jsonb
STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'pull_item_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."receive_webhook"(
	"body" TEXT,
	"authorization" TEXT DEFAULT NULL,
	"path" TEXT DEFAULT NULL
) RETURNS jsonb
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'receive_webhook_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."refresh_board"(
	"board_id" bigint
) RETURNS jsonb
STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'refresh_board_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."request_pull"(
	"board_id" bigint
) RETURNS bigint
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'request_pull_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."request_pull_account"() RETURNS bigint
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'request_pull_account_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."request_refresh"(
	"board_id" bigint
) RETURNS bigint
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'request_refresh_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."request_upsert_items"(
	"board_id" bigint,
	"key_column" TEXT,
	"rows" jsonb
) RETURNS bigint
STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'request_upsert_items_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."resolve_conflict"(
	"write_id" bigint,
	"keep" TEXT
) RETURNS VOID
STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'resolve_conflict_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."retry_write"(
	"write_id" bigint
) RETURNS VOID
STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'retry_write_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."set_column_direction"(
	"board_id" bigint,
	"column_id" TEXT,
	"direction" TEXT
) RETURNS VOID
STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'set_column_direction_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."set_signing_secret"(
	"secret" TEXT
) RETURNS VOID
VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'set_signing_secret_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."set_token"(
	"token" TEXT
) RETURNS VOID
VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'set_token_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."subscribe_board"(
	"board_id" bigint,
	"url" TEXT DEFAULT NULL
) RETURNS jsonb
VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'subscribe_board_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."unsubscribe_board"(
	"board_id" bigint
) RETURNS bigint
STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'unsubscribe_board_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."untrack_board"(
	"board_id" bigint,
	"drop_table" bool DEFAULT false
) RETURNS jsonb
STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'untrack_board_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."upsert_items"(
	"board_id" bigint,
	"key_column" TEXT,
	"rows" jsonb
) RETURNS jsonb
STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'upsert_items_wrapper';

CREATE OR REPLACE FUNCTION monday_sync."_history"()
	RETURNS TRIGGER
	LANGUAGE c
	AS 'MODULE_PATHNAME', '_history_wrapper';

ALTER FUNCTION monday_sync._history() SET search_path = pg_catalog, pg_temp;
REVOKE EXECUTE ON FUNCTION monday_sync._history() FROM PUBLIC;

-- The typed table as it was at an instant: SELECT * FROM monday_sync.as_of(NULL::public.deals, '2026-11-24 09:00');
CREATE OR REPLACE FUNCTION monday_sync.as_of(tbl anyelement, at timestamptz) RETURNS SETOF anyelement
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE h regclass := monday_sync._history_table(pg_catalog.pg_typeof(tbl)::oid);
BEGIN
  IF h IS NULL THEN
    RAISE EXCEPTION 'monday_sync: % has no history', pg_catalog.pg_typeof(tbl)
      USING ERRCODE = '55000',
            DETAIL = 'as_of reads the history that enable_history keeps for a typed table',
            HINT = 'SELECT monday_sync.enable_history(board_id); the history starts then.';
  END IF;
  RETURN QUERY EXECUTE pg_catalog.format(
    'SELECT (pg_catalog.jsonb_populate_record($1, h.row)).* FROM %s h
      WHERE h.valid_from <= $2 AND (h.valid_to IS NULL OR h.valid_to > $2)
      ORDER BY h.item_id', h)
    USING tbl, at;
END $$;

CREATE OR REPLACE FUNCTION monday_sync.track_board(board_id bigint, target text DEFAULT NULL, adopt boolean DEFAULT false, history boolean DEFAULT false)
RETURNS regclass LANGUAGE sql VOLATILE
-- No SET clause here: an unqualified target goes to the caller's current schema, so this wrapper
-- reads it (every name schema-qualified) and hands it to the pinned implementation; with
-- history, enable_history follows once the table exists.
AS $$ SELECT s.t FROM (SELECT monday_sync._track_board(board_id, target, adopt, pg_catalog.current_schema()::pg_catalog.text) AS t) s
      CROSS JOIN LATERAL (SELECT CASE WHEN history AND s.t IS NOT NULL THEN monday_sync.enable_history(board_id) END AS h) e $$;

CREATE OR REPLACE FUNCTION monday_sync."_write_back"()
	RETURNS TRIGGER
	LANGUAGE c
	AS 'MODULE_PATHNAME', '_write_back_wrapper';

CREATE SEQUENCE monday_sync.pending_item_ids;
REVOKE ALL ON SEQUENCE monday_sync.pending_item_ids FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync._write_back() FROM PUBLIC;
ALTER FUNCTION monday_sync._write_back() SET search_path = pg_catalog, pg_temp;

-- What waits to be sent, or waits on someone: one row per outbox entry not yet sent.
CREATE OR REPLACE VIEW monday_sync.pending_writes AS
SELECT w.write_id, w.board_id, w.item_id, w.op, w.status,
       w.changes, w.base, w.remote, w.attempts, w.queued_at, w.changed_at, w.requested_by,
       w.error
  FROM monday_sync.writes w
 WHERE w.status IN ('pending', 'sending', 'conflict');

-- Writes monday refused, or that ran out of retries: retry_write or discard_write them.
CREATE OR REPLACE VIEW monday_sync.write_errors AS
SELECT w.write_id, w.board_id, w.item_id, w.op, w.changes, w.error_code, w.error_column, w.error,
       w.attempts, w.sent_at AS failed_at, w.requested_by
  FROM monday_sync.writes w
 WHERE w.status = 'failed';
REVOKE ALL ON monday_sync.pending_writes, monday_sync.write_errors FROM PUBLIC;

-- request_upsert_items as the worker goes through them.
CREATE OR REPLACE VIEW monday_sync.upsert_progress AS
SELECT u.upsert_id, u.board_id, u.key_column, u.status, u.total, u.processed,
       pg_catalog.round(100.0 * u.processed / GREATEST(u.total, 1), 1) AS percent,
       u.created, u.updated, u.unchanged, u.failed, u.errors,
       (SELECT pg_catalog.count(*) FROM monday_sync.writes w JOIN monday_sync.boards b USING (board_id)
         WHERE (b.board_id = u.board_id OR b.parent_board_id = u.board_id)
           AND w.status IN ('pending', 'sending')) AS board_pending_writes,
       u.requested_by::pg_catalog.regrole AS requested_by, u.requested_at, u.started_at,
       u.finished_at, u.message
  FROM monday_sync.upserts u;
REVOKE ALL ON monday_sync.upsert_progress FROM PUBLIC;

-- Updates and files of a board (enable_updates), whole workspaces (track_workspace).
CREATE FUNCTION monday_sync."enable_updates"(
	"board_id" bigint
) RETURNS regclass
STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'enable_updates_wrapper';

CREATE FUNCTION monday_sync."disable_updates"(
	"board_id" bigint
) RETURNS VOID
STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'disable_updates_wrapper';

CREATE FUNCTION monday_sync."pull_updates"(
	"board_id" bigint,
	"full" bool DEFAULT false
) RETURNS jsonb
STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'pull_updates_wrapper';

CREATE FUNCTION monday_sync."track_workspace"(
	"workspace_id" bigint,
	"target_schema" TEXT DEFAULT NULL
) RETURNS jsonb
VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'track_workspace_wrapper';

CREATE FUNCTION monday_sync."untrack_workspace"(
	"workspace_id" bigint
) RETURNS bool
STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'untrack_workspace_wrapper';

-- ============================================================================================
-- 4. Grants and comments of what is new or changed (as in sql/comments.sql)
-- ============================================================================================

COMMENT ON FUNCTION monday_sync.encode(text, jsonb, jsonb) IS
$$The inverse of decode, for writing to monday: to_jsonb of a value of the column's SQL type → the JSON monday accepts for the column in column_values. NULL clears. Read-only types and values monday would refuse (a label the column lacks, a week that is not 7 days, a latitude out of range) raise an error with DETAIL and HINT.
column_settings (optional): the column's settings (labels, rating scale), plus create_labels_if_missing, first_day_of_the_week, countryShortName.$$;
REVOKE EXECUTE ON FUNCTION monday_sync.set_token(text) FROM PUBLIC;
-- A failing set_token('…') (a read-only transaction, say) does not print its statement, and with
-- it the token, on the server log's STATEMENT: line. monday_sync.token_file avoids SQL text altogether.
ALTER FUNCTION monday_sync.set_token(text) SET log_min_error_statement = 'panic';
REVOKE EXECUTE ON FUNCTION monday_sync.track_board(bigint, text, boolean, boolean) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync._track_board(bigint, text, boolean, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync.set_signing_secret(text) FROM PUBLIC;
ALTER FUNCTION monday_sync.set_signing_secret(text) SET log_min_error_statement = 'panic';
REVOKE EXECUTE ON FUNCTION monday_sync.receive_webhook(text, text, text) FROM PUBLIC;
-- Its arguments hold a JWT or a secret path: a failing call does not print them either.
ALTER FUNCTION monday_sync.receive_webhook(text, text, text) SET log_min_error_statement = 'panic';
REVOKE EXECUTE ON FUNCTION monday_sync.subscribe_board(bigint, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync.unsubscribe_board(bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync._webhook_listener() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync.enable_history(bigint) FROM PUBLIC;
COMMENT ON FUNCTION monday_sync.enable_history(bigint) IS
$$Keep the history of a tracked board's rows (and its subitems'): every version in <table>_history (item_id, valid_from, valid_to, source, row as jsonb without raw and synced_at), created next to the typed table and owned by its owner, first filled with the rows as they are (source 'enabled'). A pull, refresh, webhook, write-back answer or local change that alters a row adds a version (source says which); one that changes nothing adds none; no API call is made for it. The board as it was at T: SELECT * FROM monday_sync.as_of(NULL::schema.table, T). Returns the history table.$$;
COMMENT ON FUNCTION monday_sync._history() IS
$$Internal: the history trigger of a typed table (enable_history installs it). Keeps each version of a row in the table's history table, as the table's owner; a change of nothing but raw or synced_at adds none.$$;
REVOKE EXECUTE ON FUNCTION monday_sync.disable_history(bigint) FROM PUBLIC;
COMMENT ON FUNCTION monday_sync.disable_history(bigint) IS
$$Stop keeping versions of a board's rows; the history tables stay as they are.$$;
REVOKE EXECUTE ON FUNCTION monday_sync._history_table(oid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION monday_sync._history_table(oid) TO PUBLIC;
COMMENT ON FUNCTION monday_sync._history_table(oid) IS
$$Internal (for as_of): the history table of a typed table's row type. SECURITY DEFINER; returns only a name, the caller reads the history with its own rights.$$;
COMMENT ON FUNCTION monday_sync.as_of(anyelement, timestamptz) IS
$$A typed table as it was at an instant, from the history enable_history keeps: SELECT * FROM monday_sync.as_of(NULL::public.deals, '2026-11-24 09:00+00'). Rows that existed then (deleted ones with state 'deleted'), with the values they had; raw and synced_at are NULL. The caller needs SELECT on the history table.$$;
REVOKE EXECUTE ON FUNCTION monday_sync.pull_account() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync.request_pull_account() FROM PUBLIC;
COMMENT ON FUNCTION monday_sync.request_pull_account() IS
$$Queue the worker's account job (pull_account) and return its id at once; a request while one waits joins it. The worker also queues it every monday_sync.account_interval. SECURITY DEFINER: GRANT EXECUTE lets a role queue it without access to the extension's tables.$$;
COMMENT ON FUNCTION monday_sync.pull_account() IS
$$Pull the account's users (every status, 1,000 a call), teams with their members and tags (one call), workspaces (every state) and folders (100 a call) into monday_sync.users, teams, tags, workspaces and folders. Deactivated users stay with enabled = false; what monday no longer lists is marked deleted_at, never dropped. Returns the counts and the API calls made.$$;
COMMENT ON FUNCTION monday_sync.user_names(bigint[]) IS
$$A people column's ids (users and teams) as names, in order; an unknown id shows as itself. Reads monday_sync.users and teams with the caller's rights (GRANT SELECT on them to the roles that use it).$$;
COMMENT ON FUNCTION monday_sync.tag_names(bigint[]) IS
$$A tags column's ids as tag names, in order; an unknown id shows as itself. Reads monday_sync.tags with the caller's rights.$$;
COMMENT ON TABLE monday_sync.users IS 'The account''s users (pull_account): status ACTIVE / INACTIVE (deactivated: enabled false) / PENDING, kind admin / member / guest / view_only, team_ids; deleted_at when monday no longer lists them.';
COMMENT ON TABLE monday_sync.teams IS 'The account''s teams (pull_account) and their members (user_ids); deleted_at when monday no longer lists them.';
COMMENT ON TABLE monday_sync.workspaces IS 'The account''s workspaces (pull_account): kind open / closed / template, state active / archived / deleted; deleted_at when deleted or no longer listed.';
COMMENT ON TABLE monday_sync.folders IS 'The account''s folders (pull_account): workspace, parent folder, the boards in them (board_ids); deleted_at when monday no longer lists them.';
COMMENT ON TABLE monday_sync.tags IS 'The account''s tags (pull_account); deleted_at when monday no longer lists them.';
REVOKE EXECUTE ON FUNCTION monday_sync.untrack_board(bigint, boolean) FROM PUBLIC;
COMMENT ON FUNCTION monday_sync.untrack_board(bigint, boolean) IS
$$Stop syncing a tracked board (and its subitems board): its webhooks are deleted on monday, its jobs, schedule, column mapping, outbox and key map forgotten, its write-back triggers removed. The typed tables stay with their rows (track_board(..., adopt => true) takes them back) unless drop_table => true drops them. Refused while write-back has changes not yet on monday, unless the board was deleted on monday. Run history (sync_runs) is kept. Returns what it did.$$;
REVOKE EXECUTE ON FUNCTION monday_sync.enable_write_back(bigint, text, text, boolean) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync.disable_write_back(bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync.set_column_direction(bigint, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync.retry_write(bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync.discard_write(bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync.resolve_conflict(bigint, text) FROM PUBLIC;
REVOKE ALL ON monday_sync.writes FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync.upsert_items(bigint, text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION monday_sync.upsert_items(bigint, text, jsonb) IS
$$Records keyed by another system's id (a CRM id in a column of the board, key_column: its SQL name or monday column id) → monday items: a new key creates the item, a known key updates only the columns that differ, an equal record sends nothing. rows: a JSON array of objects keyed by the typed table's column names (name, group_id and board columns), values as to_jsonb gives them. Runs through the table's write-back trigger with the caller's rights (write-back must be on); the worker sends the changes in batches. A key found on two items, a value monday would refuse, an unknown column: that record fails (listed in errors), the others go on. Returns {created, updated, unchanged, failed, errors, pending_writes}. The mapping is kept in monday_sync.item_keys.$$;
REVOKE EXECUTE ON FUNCTION monday_sync.request_upsert_items(bigint, text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION monday_sync.request_upsert_items(bigint, text, jsonb) IS
$$upsert_items for large sets, run by the background worker: the records are stored and an upsert job queued; returns the upsert's id at once. The worker goes through the records 1,000 a transaction with the rights of the role that asked (which needs SELECT, INSERT and UPDATE on the typed table), resuming where it stopped after a crash. Progress, counts and the first errors: monday_sync.upsert_progress.$$;
COMMENT ON TABLE monday_sync.upserts IS 'request_upsert_items: each set of records handed to the worker, its status and counts (see the view monday_sync.upsert_progress).';
COMMENT ON TABLE monday_sync._upsert_records IS 'The records of an upsert the worker has not gone through yet (deleted as it goes).';
COMMENT ON VIEW monday_sync.upsert_progress IS 'request_upsert_items as the worker goes through them: status, records processed of total, created / updated / unchanged / failed, the first errors, and the board''s writes still to send.';
COMMENT ON TABLE monday_sync.item_keys IS 'upsert_items: each external key (board, key column, key value) and the monday item it was written to (a negative id while the item is being created).';
COMMENT ON FUNCTION monday_sync.enable_write_back(bigint, text, text, boolean) IS
$$Turn write-back on for a tracked board (and its subitems table): from now on, in the user's own transaction, an UPDATE of the typed table is recorded in the outbox (monday_sync.writes) and sent to monday by the worker; an INSERT creates the item (the row gets a temporary negative item_id, then monday's); a DELETE archives the item (delete_action => 'delete' deletes it). Values monday would refuse, read-only columns and pull-only columns fail the statement at once. conflict_policy: local_wins (default: the change is sent), remote_wins (a field changed on monday since keeps monday's value), manual (the write waits for resolve_conflict). create_labels: status/dropdown labels missing on monday are created. Idempotent; calling it again changes the settings.$$;
COMMENT ON FUNCTION monday_sync.disable_write_back(bigint) IS
$$Turn write-back off for a board: rows changed from now on stay local. Returns how many writes are still open (pending, in conflict or failed); they stay in the outbox until write-back is enabled again or they are discarded.$$;
COMMENT ON FUNCTION monday_sync.set_column_direction(bigint, text, text) IS
$$Per column (monday's column id): 'both' (written back, the default) or 'pull' (monday's values only: an UPDATE of the column is refused).$$;
COMMENT ON FUNCTION monday_sync.retry_write(bigint) IS
$$Send a failed write again (monday refused a value, or retries ran out). If the item has a newer pending write, this one's changes are merged under it.$$;
COMMENT ON FUNCTION monday_sync.discard_write(bigint) IS
$$Drop a pending, failed or conflicting write; the item is fetched again so its row shows monday's values.$$;
COMMENT ON FUNCTION monday_sync.resolve_conflict(bigint, text) IS
$$A write waiting on a conflict (policy manual): keep => 'local' sends it over monday's value; 'remote' drops it and the row shows monday's value.$$;
COMMENT ON FUNCTION monday_sync._write_back() IS
$$Internal: the write-back trigger of a typed table (enable_write_back installs it). Checks, encodes and records each change in monday_sync.writes; during the extension's own writes it records nothing and keeps unsent fields as the user left them.$$;
COMMENT ON TABLE monday_sync.writes IS 'The write-back outbox: one entry per item and batch of changes (field → the JSON monday accepts; base: what monday showed when the change was made), its status (pending, sending, conflict, failed, sent, discarded), the request it went in, attempts, monday''s error and the column it named. Sent and discarded entries are deleted after monday_sync.activity_log_retention.';
COMMENT ON TABLE monday_sync._write_requests IS 'Internal: each write-back request as sent, with its Idempotency-Key: a retry (lost answer, 409, crash) resends exactly it, so monday applies it once.';
COMMENT ON VIEW monday_sync.pending_writes IS 'Writes not yet on monday: pending (waiting for the next batch), sending, or conflict (waiting for resolve_conflict; remote holds monday''s current cells).';
COMMENT ON VIEW monday_sync.write_errors IS 'Writes monday refused (error_code, error_column, error) or that ran out of retries: retry_write(write_id) or discard_write(write_id).';
COMMENT ON FUNCTION monday_sync.set_signing_secret(text) IS
$$Store your monday app's Signing Secret: webhooks created with an app token carry an HS256 JWT in Authorization, verified with it (signature, exp, and aud = monday_sync.webhook_public_url plus the path). Stored like the API token: only the extension's owner can read it. NULL removes it.$$;
COMMENT ON FUNCTION monday_sync.receive_webhook(text, text, text) IS
$$The webhook listener's checks and inbox, for installs that put their own front door (PostgREST, a serverless function, an API gateway) before PostgreSQL: receive_webhook(body, authorization, path DEFAULT '/webhook'). Returns the JSON to answer monday with: {"challenge": …} for a URL verification, else {"stored": true, "event_id": …} or {"stored": false, "duplicate_of": …}. Errors: 22P02 malformed body (answer 400), 28000 not authorized (answer 401). SECURITY DEFINER: GRANT EXECUTE to the front door's role.$$;
COMMENT ON FUNCTION monday_sync.subscribe_board(bigint, text) IS
$$Create on monday the webhooks that cover every item and subitem event of a tracked board, posting to <url>/webhook/<secret> (url defaults to monday_sync.webhook_public_url; the secret path is generated once per board and never shown). Idempotent: the board's webhooks on monday are read first and only what is missing is created. monday posts a challenge to the URL while creating each webhook, so the listener (or your front door) must be reachable.$$;
COMMENT ON FUNCTION monday_sync.unsubscribe_board(bigint) IS
$$Delete a board's webhooks on monday and forget its secret path; returns how many were deleted. The board goes back to being polled.$$;
COMMENT ON FUNCTION monday_sync._webhook_listener() IS
$$Internal: the shared-memory state behind monday_sync.webhook_listener.$$;
COMMENT ON TABLE monday_sync.webhook_events IS 'The webhook inbox: every accepted event once (retries and copies add to deliveries), with its board, item, type, trigger id, isRetry, payload, received_at, status (received, applied, ignored, failed), processed_at, attempts and error. Applied and ignored events are deleted after monday_sync.webhook_retention.';
COMMENT ON TABLE monday_sync.webhooks IS 'The webhook subscriptions subscribe_board created on monday (the URL without its secret path).';
COMMENT ON FUNCTION monday_sync.request_refresh(bigint) IS
$$Queue an incremental refresh of a tracked board for the background worker; returns the job id at once (safe in triggers and cron jobs). A request while an equal job is queued joins it. Warns when no worker serves this database. SECURITY DEFINER: GRANT EXECUTE lets a role queue jobs without access to the extension's tables.$$;
COMMENT ON FUNCTION monday_sync.request_pull(bigint) IS
$$Queue a full pull (reconcile) of a tracked board for the background worker; returns the job id at once. SECURITY DEFINER: GRANT EXECUTE lets a role queue jobs without access to the extension's tables.$$;
COMMENT ON FUNCTION monday_sync.track_board(bigint, text, boolean, boolean) IS
$$Start syncing a monday board: read its columns and groups, record them in monday_sync.columns / monday_sync.groups, and create the typed table (default public.<slug of the board name>; subitems go to <table>_subitems). Returns the table. Calling it again refreshes the mapping and recreates a dropped table or column. An existing table monday_sync did not create is refused (42P07) unless adopt => true (say, after a restore): its owner's triggers then run with that owner's rights. history => true also keeps every version of the rows (enable_history).$$;
COMMENT ON FUNCTION monday_sync._track_board(bigint, text, boolean, text) IS
$$Internal: the implementation of monday_sync.track_board (the wrapper passes the caller's current schema).$$;
COMMENT ON TABLE monday_sync._signing_secret IS 'The monday app''s signing secret that webhook JWTs are verified with (set_signing_secret). Readable only by the extension''s owner.';
COMMENT ON TABLE monday_sync._webhook_secrets IS 'Per subscribed board, the secret path segment of its webhook URL. Readable only by the extension''s owner; not dumped: run subscribe_board again after a restore.';
COMMENT ON TABLE monday_sync._webhook_versions IS 'Internal: the newest change applied from a webhook per item field, so an older event never overwrites newer state.';
COMMENT ON TABLE monday_sync._webhook_confirm IS 'Internal: items changed by webhooks waiting for their confirming items(ids:) fetch, and when it is due.';

-- Updates and files, whole workspaces.
REVOKE EXECUTE ON FUNCTION monday_sync.enable_updates(bigint) FROM PUBLIC;
COMMENT ON FUNCTION monday_sync.enable_updates(bigint) IS
$$Pull a tracked board's updates (comments, with their replies) into <table>_updates and its files into <table>_assets (and its subitems board's likewise), created next to the typed table and owned by its owner, then keep them current with every refresh (the updates created since the last pull; an unchanged board costs one call). The files of file columns cost a call only for asset ids not seen before; files no column names any more are marked removed_at. Returns the updates table.$$;
REVOKE EXECUTE ON FUNCTION monday_sync.disable_updates(bigint) FROM PUBLIC;
COMMENT ON FUNCTION monday_sync.disable_updates(bigint) IS
$$Stop pulling a board's updates and files, and delete its update webhooks on monday (when the board is subscribed); the tables stay as they are.$$;
REVOKE EXECUTE ON FUNCTION monday_sync.pull_updates(bigint, boolean) FROM PUBLIC;
COMMENT ON FUNCTION monday_sync.pull_updates(bigint, boolean) IS
$$Pull a board's updates and files now: the updates created since the last pull, or with full => true every update again (edits and deletions of older updates, replies to them; updates monday no longer has are marked deleted_at). Returns the counts and the API calls made.$$;
REVOKE EXECUTE ON FUNCTION monday_sync.track_workspace(bigint, text) FROM PUBLIC;
COMMENT ON FUNCTION monday_sync.track_workspace(bigint, text) IS
$$Track every board of a monday workspace into one schema (target_schema, or one named after the workspace; created when missing) and queue each new board's first pull for the worker. The worker then looks for boards created in the workspace every monday_sync.workspace_interval and tracks them too, as the role that called track_workspace; calling it again looks at once. A board that cannot be tracked is reported in the result (failed), the others go on. Returns what it did.$$;
REVOKE EXECUTE ON FUNCTION monday_sync.untrack_workspace(bigint) FROM PUBLIC;
COMMENT ON FUNCTION monday_sync.untrack_workspace(bigint) IS
$$Stop tracking new boards of a workspace; its boards tracked so far stay tracked (untrack_board each). Returns whether the workspace was tracked.$$;
COMMENT ON TABLE monday_sync.tracked_workspaces IS 'Workspaces tracked whole (track_workspace): their boards land in target_schema; the worker tracks boards created there later, as tracked_by.';
