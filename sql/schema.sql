-- monday_sync's tables. Loaded first (bootstrap); COMMENTs are in comments.sql.

-- The schema holds the codec functions every role may call; each table, view and sync function
-- keeps its own privileges (none for PUBLIC).
GRANT USAGE ON SCHEMA monday_sync TO PUBLIC;

-- The API token. Only the extension's owner (and superusers) can read it: no grants, ever.
CREATE TABLE monday_sync._credentials (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    token text NOT NULL,
    set_at timestamptz NOT NULL DEFAULT now(),
    set_by name NOT NULL DEFAULT current_user
);
REVOKE ALL ON monday_sync._credentials FROM PUBLIC;

-- Tracked boards and where they land.
CREATE TABLE monday_sync.boards (
    board_id bigint PRIMARY KEY,
    board_name text NOT NULL,
    board_kind text NOT NULL DEFAULT 'board',
    -- Where the table was created, and the table itself: monday_sync writes only into the table
    -- with this OID (one it created), never into whatever has the name now.
    target_schema name NOT NULL,
    target_table name NOT NULL,
    table_oid oid,
    parent_board_id bigint REFERENCES monday_sync.boards (board_id) ON DELETE CASCADE,
    subitems_board_id bigint,
    items_count bigint,
    tracked_at timestamptz NOT NULL DEFAULT now(),
    last_pulled_at timestamptz,
    -- Incremental refresh: activity-log entries after this instant are still to be applied.
    activity_watermark timestamptz,
    last_refreshed_at timestamptz,
    last_full_at timestamptz,
    -- The worker's own schedule (for installs without pg_cron); NULL = not scheduled.
    refresh_interval interval CHECK (refresh_interval >= interval '1 second'),
    reconcile_interval interval CHECK (reconcile_interval >= interval '1 minute'),
    UNIQUE (target_schema, target_table)
);

-- monday column → SQL column, one row per column ever seen (removed ones keep their row).
CREATE TABLE monday_sync.columns (
    board_id bigint NOT NULL REFERENCES monday_sync.boards (board_id) ON DELETE CASCADE,
    column_id text NOT NULL,
    title text NOT NULL,
    column_type text NOT NULL,
    settings jsonb,
    sql_name name NOT NULL,
    sql_type regtype NOT NULL,
    position int NOT NULL,
    added_at timestamptz NOT NULL DEFAULT now(),
    removed_at timestamptz,
    PRIMARY KEY (board_id, column_id),
    UNIQUE (board_id, sql_name)
);

CREATE TABLE monday_sync.groups (
    board_id bigint NOT NULL REFERENCES monday_sync.boards (board_id) ON DELETE CASCADE,
    group_id text NOT NULL,
    title text NOT NULL,
    position text,
    removed_at timestamptz,
    PRIMARY KEY (board_id, group_id)
);

-- Run history, in pg_cron's vocabulary.
CREATE TABLE monday_sync.sync_runs (
    runid bigserial PRIMARY KEY,
    board_id bigint NOT NULL,
    kind text NOT NULL CHECK (kind IN ('track_board', 'pull_board', 'pull_item', 'refresh_board')),
    status text NOT NULL CHECK (status IN ('starting', 'running', 'succeeded', 'failed')),
    -- The queued job the worker ran this for (NULL: a SQL function call).
    jobid bigint,
    -- pull_board / refresh_board: 'full' (every page) or 'incremental' (activity log).
    mode text CHECK (mode IN ('full', 'incremental')),
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    items_seen bigint NOT NULL DEFAULT 0,
    rows_written bigint NOT NULL DEFAULT 0,
    api_calls int NOT NULL DEFAULT 0,
    complexity_used bigint NOT NULL DEFAULT 0,
    warnings int NOT NULL DEFAULT 0,
    message text
);
CREATE INDEX ON monday_sync.sync_runs (board_id, started_at DESC);

-- The worker's job queue. request_refresh / request_pull add a job; the worker claims them with
-- FOR UPDATE SKIP LOCKED. At most one queued job per board and command: requests coalesce.
CREATE TABLE monday_sync.jobs (
    jobid bigserial PRIMARY KEY,
    board_id bigint NOT NULL REFERENCES monday_sync.boards (board_id) ON DELETE CASCADE,
    command text NOT NULL CHECK (command IN ('refresh', 'pull')),
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    attempts int NOT NULL DEFAULT 0,
    queued_at timestamptz NOT NULL DEFAULT now(),
    not_before timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    runid bigint,
    requested_by name NOT NULL DEFAULT current_user,
    last_error text
);
CREATE UNIQUE INDEX jobs_one_queued ON monday_sync.jobs (board_id, command) WHERE status = 'queued';
CREATE INDEX jobs_due ON monday_sync.jobs (not_before, jobid) WHERE status = 'queued';
CREATE INDEX ON monday_sync.jobs (board_id, jobid DESC);

-- Every API call of a run: what it cost against monday's limits.
CREATE TABLE monday_sync.api_calls (
    runid bigint NOT NULL REFERENCES monday_sync.sync_runs (runid) ON DELETE CASCADE,
    call_no int NOT NULL,
    operation text NOT NULL,
    http_status int,
    attempts int NOT NULL,
    waited_ms bigint NOT NULL,
    duration_ms bigint NOT NULL,
    complexity_before bigint,
    complexity_after bigint,
    complexity_cost bigint,
    reset_in_seconds int,
    last_error text,
    PRIMARY KEY (runid, call_no)
);

-- pg_dump keeps the mappings (not the token, not the history).
SELECT pg_catalog.pg_extension_config_dump('monday_sync.boards', '');
SELECT pg_catalog.pg_extension_config_dump('monday_sync.columns', '');
SELECT pg_catalog.pg_extension_config_dump('monday_sync.groups', '');
