-- The demo: a monday board becomes a typed table that stays current. Run by `pgrx-tests/run demo`
-- with :board set (the fake's sample board, or MONDAY_BOARD_ID against the real API).
\pset footer off
\echo
\echo '== track_board: read the board''s columns and groups, create the typed table'
SELECT monday_sync.track_board(:board) AS target \gset
\echo :target
SELECT column_id, title, column_type, sql_name, sql_type
  FROM monday_sync.columns WHERE board_id = :board ORDER BY position LIMIT 14;

\echo '== pull_board: a full backfill (pages of 500; subitems too)'
SELECT jsonb_pretty(monday_sync.pull_board(:board)) AS summary;

\echo '== the typed table'
SELECT item_id, name, group_title, state, synced_at::timestamp(0) AS synced_at
  FROM :target ORDER BY item_id LIMIT 6;
\echo '-- the first item, column by column (raw, the cells as fetched, left out)'
SELECT a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type, left(j.value, 70) AS value
  FROM pg_attribute a
  JOIN jsonb_each_text((SELECT to_jsonb(t) FROM :target t ORDER BY item_id LIMIT 1)) j ON j.key = a.attname
 WHERE a.attrelid = :'target'::regclass AND a.attnum > 0 AND a.attname <> 'raw'
 ORDER BY a.attnum;

\echo '== nothing changed on monday: a second pull writes no rows'
SELECT monday_sync.pull_board(:board) ->> 'rows_written' AS rows_written;

\echo '== pull_item: one item, fetched and upserted'
SELECT item_id AS first_item FROM :target ORDER BY item_id LIMIT 1 \gset
SELECT left((monday_sync.pull_item(:first_item))::text, 300) AS row;

\echo '== run history'
SELECT runid, kind, status, items_seen, rows_written, api_calls, complexity_used,
       round(extract(epoch FROM finished_at - started_at)::numeric, 2) AS seconds, message
  FROM monday_sync.sync_runs ORDER BY runid;
SELECT runid, call_no, operation, http_status, attempts, complexity_cost, complexity_after
  FROM monday_sync.api_calls ORDER BY runid, call_no LIMIT 10;

\echo '== refresh_board: only what changed since (monday''s activity log): nothing did, so one API call, no writes'
SELECT r ->> 'mode' AS mode, r ->> 'log_entries' AS log_entries, r ->> 'changed_items' AS changed_items,
       r ->> 'rows_written' AS rows_written, r ->> 'api_calls' AS api_calls
  FROM monday_sync.refresh_board(:board) AS r;

\echo '== the background worker: request_refresh queues a job and returns at once; the worker runs it'
CREATE FUNCTION pg_temp.wait_job(j bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE s text;
BEGIN
  FOR i IN 1..300 LOOP
    SELECT status INTO s FROM monday_sync.jobs WHERE jobid = j;
    EXIT WHEN s IN ('succeeded', 'failed');
    PERFORM pg_sleep(0.1);
  END LOOP;
  RETURN s;
END $$;
SELECT monday_sync.request_refresh(:board) AS job \gset
SELECT pg_temp.wait_job(:job) AS job_status;
SELECT jobid, command, status, attempts, requested_by, runid FROM monday_sync.jobs ORDER BY jobid;
SELECT board_id, board_name, table_name, last_success::timestamp(0), lag < interval '1 minute' AS current,
       queued_jobs, running_jobs, last_error
  FROM monday_sync.board_status;
SELECT pid IS NOT NULL AS running, state, database, jobs_done FROM monday_sync.worker;
SELECT calls_today, daily_call_limit, complexity_left, complexity_per_minute, worker_waits FROM monday_sync.api_budget;
\echo '-- keep it current: SELECT cron.schedule(''board'', ''*/5 * * * *'', ''SELECT monday_sync.request_refresh(<board>)'');'
\echo '--   or, without pg_cron: SELECT monday_sync.set_schedule(<board>, ''5 minutes'', ''1 day'');'
