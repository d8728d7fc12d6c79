-- Descriptions a DBA reads with \dn+ and \df+ in psql.

COMMENT ON SCHEMA monday_sync IS
  'monday_sync: monday.com boards as typed PostgreSQL tables. Decoders, sync functions and their state live here.';

COMMENT ON FUNCTION monday_sync.decode(text, jsonb, jsonb) IS
$$Decode one monday column value into its native Postgres value, returned as to_jsonb(value); NULL when the cell is empty.
column_type: the ColumnType name (status, numbers, …) or a legacy/webhook name (color, multiple-person, tag, pulse-updated); NULL = column_value->>'type'.
column_value: one element of Item.column_values as monday returns it (value as a JSON-encoded string, typed fragment fields such as label, display_value, linked_item_ids), or a webhook event (value as a JSON object).
column_settings: the column's settings_str (parsed, or as a JSON string), used to turn status indexes and dropdown ids into labels.
Cast the result with ->> and the type from monday_sync.column_sql_type(column_type). Errors: 22P02 malformed JSON, 22023 wrong shape for the type.$$;

COMMENT ON FUNCTION monday_sync.decode_item(jsonb, jsonb) IS
$$Decode a whole monday item (an element of items_page.items: id, name, column_values[…]) into one object keyed by column id, plus "name". Empty cells are JSON null.
columns (optional): the board's columns [{id, type, settings_str}, …], for column types and label settings.$$;

COMMENT ON FUNCTION monday_sync.encode(text, jsonb, jsonb) IS
$$The inverse of decode, for writing to monday: to_jsonb of a value of the column's SQL type → the JSON monday accepts for the column in column_values. NULL clears. Read-only types and values monday would refuse (a label the column lacks, a week that is not 7 days, a latitude out of range) raise an error with DETAIL and HINT.
column_settings (optional): the column's settings (labels, rating scale), plus create_labels_if_missing, first_day_of_the_week, countryShortName.$$;

COMMENT ON FUNCTION monday_sync.column_sql_type(text) IS
$$The Postgres type monday_sync.decode converts a monday column type to (e.g. status → text, numbers → numeric, timeline → daterange, people → bigint[]). Unknown types → jsonb.$$;

-- The sync surface. Everything that reaches monday's API uses the token: revoked from PUBLIC.
REVOKE EXECUTE ON FUNCTION monday_sync.set_token(text) FROM PUBLIC;
-- A failing set_token('…') (a read-only transaction, say) does not print its statement, and with
-- it the token, on the server log's STATEMENT: line. monday_sync.token_file avoids SQL text altogether.
ALTER FUNCTION monday_sync.set_token(text) SET log_min_error_statement = 'panic';
REVOKE EXECUTE ON FUNCTION monday_sync.track_board(bigint, text, boolean, boolean) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync._track_board(bigint, text, boolean, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync._map_column(bigint, text, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync.map_column(bigint, text, text, regtype) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync.pull_board(bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync.pull_item(bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync._progress() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync.refresh_board(bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync.request_refresh(bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync.request_pull(bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync.set_schedule(bigint, interval, interval) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync._budget() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync._worker() FROM PUBLIC;
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

COMMENT ON FUNCTION monday_sync.refresh_board(bigint) IS
$$Incremental refresh of a tracked board and its subitems, in this transaction: reads monday's activity log since the board's watermark and fetches only the items it names (items(ids:), 100 per call). With nothing changed it costs one API call and writes nothing. Falls back to a full reconcile (and says why in the summary and the run history) when there is no watermark yet, the watermark is older than monday_sync.activity_log_retention, or the log holds more than 10,000 entries since it.$$;

COMMENT ON FUNCTION monday_sync.request_refresh(bigint) IS
$$Queue an incremental refresh of a tracked board for the background worker; returns the job id at once (safe in triggers and cron jobs). A request while an equal job is queued joins it. Warns when no worker serves this database. SECURITY DEFINER: GRANT EXECUTE lets a role queue jobs without access to the extension's tables.$$;

COMMENT ON FUNCTION monday_sync.request_pull(bigint) IS
$$Queue a full pull (reconcile) of a tracked board for the background worker; returns the job id at once. SECURITY DEFINER: GRANT EXECUTE lets a role queue jobs without access to the extension's tables.$$;

COMMENT ON FUNCTION monday_sync.set_schedule(bigint, interval, interval) IS
$$The worker's own schedule for installs without pg_cron: set_schedule(board_id, refresh_every, reconcile_every DEFAULT '1 day'). NULLs turn a schedule off.$$;

COMMENT ON FUNCTION monday_sync._budget() IS
$$Internal: the shared-memory API budget behind monday_sync.api_budget.$$;

COMMENT ON FUNCTION monday_sync._worker() IS
$$Internal: the shared-memory worker state behind monday_sync.worker.$$;

COMMENT ON TABLE monday_sync.jobs IS 'The background worker''s job queue: refresh and pull requests, their status (queued, running, succeeded, failed), attempts, the run they produced and their last error.';

COMMENT ON FUNCTION monday_sync.set_token(text) IS
$$Store the monday API token (personal or app token). Only the extension's owner can read it; it never appears in settings, logs or errors. NULL removes it.$$;

COMMENT ON FUNCTION monday_sync.track_board(bigint, text, boolean, boolean) IS
$$Start syncing a monday board: read its columns and groups, record them in monday_sync.columns / monday_sync.groups, and create the typed table (default public.<slug of the board name>; subitems go to <table>_subitems). Returns the table. Calling it again refreshes the mapping and recreates a dropped table or column. An existing table monday_sync did not create is refused (42P07) unless adopt => true (say, after a restore): its owner's triggers then run with that owner's rights. history => true also keeps every version of the rows (enable_history).$$;

COMMENT ON FUNCTION monday_sync._track_board(bigint, text, boolean, text) IS
$$Internal: the implementation of monday_sync.track_board (the wrapper passes the caller's current schema).$$;

COMMENT ON FUNCTION monday_sync.map_column(bigint, text, text, regtype) IS
$$Rename (and optionally retype) the SQL column of one monday column: map_column(board_id, column_id, sql_name, sql_type DEFAULT NULL). The new name is kept on every later pull.$$;

COMMENT ON FUNCTION monday_sync._map_column(bigint, text, text, text) IS
$$Internal: the implementation of monday_sync.map_column.$$;

COMMENT ON FUNCTION monday_sync.pull_board(bigint) IS
$$Full backfill / reconcile of a tracked board and its subitems: pages of 500 items, unchanged rows left alone, rows missing from monday marked archived or deleted (never dropped). Returns a summary (items_seen, rows_written, marked_deleted, api_calls, complexity_used, duration_ms, warnings); the run is recorded in monday_sync.sync_runs.$$;

COMMENT ON FUNCTION monday_sync.pull_item(bigint) IS
$$Fetch one item (or subitem) from monday, upsert it into its board's table, and return its row as jsonb (without raw). An item deleted on monday keeps its row with state = 'deleted'.$$;

COMMENT ON TABLE monday_sync._credentials IS 'The monday API token. Readable only by the extension''s owner.';
COMMENT ON TABLE monday_sync.boards IS 'Tracked monday boards and the tables they sync into.';
COMMENT ON TABLE monday_sync.columns IS 'monday column → SQL column of each tracked board. removed_at is set when the column disappears from monday; the SQL column and its data stay.';
COMMENT ON TABLE monday_sync.groups IS 'Groups of each tracked board.';
COMMENT ON TABLE monday_sync.sync_runs IS 'One row per track_board / pull_board / pull_item: status, items seen, rows written, API calls, complexity used, warnings.';
COMMENT ON TABLE monday_sync.api_calls IS 'Every monday API call of a run: HTTP status, attempts, time waited on rate limits, complexity before/after/cost.';

COMMENT ON FUNCTION monday_sync._progress() IS
$$Internal: the shared-memory progress slots behind monday_sync.pull_progress.$$;
COMMENT ON TABLE monday_sync._signing_secret IS 'The monday app''s signing secret that webhook JWTs are verified with (set_signing_secret). Readable only by the extension''s owner.';
COMMENT ON TABLE monday_sync._webhook_secrets IS 'Per subscribed board, the secret path segment of its webhook URL. Readable only by the extension''s owner; not dumped: run subscribe_board again after a restore.';
COMMENT ON TABLE monday_sync._webhook_versions IS 'Internal: the newest change applied from a webhook per item field, so an older event never overwrites newer state.';
COMMENT ON TABLE monday_sync._webhook_confirm IS 'Internal: items changed by webhooks waiting for their confirming items(ids:) fetch, and when it is due.';
