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
    -- with this OID (one it created), never into whatever has the name now. A regclass, so that
    -- pg_dump writes the table's name and a restore reads it back as the restored table's new OID.
    target_schema name NOT NULL,
    target_table name NOT NULL,
    table_oid regclass,
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
    -- Write-back (enable_write_back): rows changed in the table become monday changes. Set on the
    -- board and its subitems board together.
    write_back boolean NOT NULL DEFAULT false,
    -- When monday's value changed since the one a local change was based on.
    conflict_policy text NOT NULL DEFAULT 'local_wins' CHECK (conflict_policy IN ('local_wins', 'remote_wins', 'manual')),
    -- What a DELETE of a row does to the item.
    delete_action text NOT NULL DEFAULT 'archive' CHECK (delete_action IN ('archive', 'delete')),
    -- Status and dropdown labels missing on monday are created (needs board-structure rights).
    create_labels boolean NOT NULL DEFAULT false,
    -- monday answered that the board does not exist (deleted, or no longer shared with the
    -- token's user): the worker's schedule stops; a successful pull or refresh clears it.
    deleted_on_monday_at timestamptz,
    -- enable_history: every version of the rows is kept in this table (<table>_history).
    history boolean NOT NULL DEFAULT false,
    history_oid regclass,
    -- enable_updates: the items' updates (with replies) and files are pulled into these tables
    -- (<table>_updates, <table>_assets) with every refresh; updates_pulled_at is the last pull's start.
    -- regclass, like table_oid: a dump and restore points them at the restored tables.
    updates boolean NOT NULL DEFAULT false,
    updates_oid regclass,
    assets_oid regclass,
    updates_pulled_at timestamptz,
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
    -- 'both': written back when write-back is on; 'pull': monday's only (an UPDATE is refused).
    direction text NOT NULL DEFAULT 'both' CHECK (direction IN ('pull', 'both')),
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
    kind text NOT NULL CHECK (kind IN ('track_board', 'pull_board', 'pull_item', 'refresh_board', 'confirm_items', 'write_items', 'upsert_items', 'pull_account', 'pull_updates', 'track_workspace')),
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
    -- NULL for the account's job (pull_account) and the workspaces' (new boards in tracked
    -- workspaces), which belong to no board.
    board_id bigint REFERENCES monday_sync.boards (board_id) ON DELETE CASCADE,
    command text NOT NULL CHECK (command IN ('refresh', 'pull', 'confirm', 'write', 'upsert', 'account', 'workspaces')),
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
CREATE UNIQUE INDEX jobs_one_account ON monday_sync.jobs (command) WHERE status = 'queued' AND board_id IS NULL;
ALTER TABLE monday_sync.jobs ADD CHECK ((board_id IS NULL) = (command IN ('account', 'workspaces')));
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

-- pg_dump keeps the mappings (not the token, not the history).
SELECT pg_catalog.pg_extension_config_dump('monday_sync.boards', '');
SELECT pg_catalog.pg_extension_config_dump('monday_sync.columns', '');
SELECT pg_catalog.pg_extension_config_dump('monday_sync.groups', '');
SELECT pg_catalog.pg_extension_config_dump('monday_sync.webhooks', '');
SELECT pg_catalog.pg_extension_config_dump('monday_sync.tracked_workspaces', '');
