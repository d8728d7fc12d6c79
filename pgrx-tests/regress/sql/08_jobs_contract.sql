-- The job queue and the schedule where no worker runs (this cluster does not preload monday_sync):
-- requests are queued and say that no worker will run them; errors carry DETAIL and HINT.

-- Boards that are not tracked.
SELECT regress.err($q$SELECT monday_sync.request_refresh(18414630189)$q$);
SELECT regress.err($q$SELECT monday_sync.request_pull(18414630189)$q$);
SELECT regress.err($q$SELECT monday_sync.refresh_board(18414630189)$q$);
SELECT regress.err($q$SELECT monday_sync.set_schedule(18414630189, '5 minutes')$q$);

-- A tracked board (as track_board records it) and its subitems board.
INSERT INTO monday_sync.boards (board_id, board_name, target_schema, target_table)
VALUES (18414630189, 'Q3 Launch plan', 'public', 'q3_launch_plan');
INSERT INTO monday_sync.boards (board_id, board_name, board_kind, target_schema, target_table, parent_board_id)
VALUES (18414630191, 'Subitems of Q3 Launch plan', 'sub_items_board', 'public', 'q3_launch_plan_subitems', 18414630189);

-- Queued at once, with a WARNING that no worker runs here; a second request joins the first.
SELECT monday_sync.request_refresh(18414630189) AS first_job \gset
SELECT monday_sync.request_refresh(18414630189) = :first_job AS joined;
SELECT monday_sync.request_pull(18414630189) <> :first_job AS pull_is_another_job;
SELECT board_id, command, status, attempts, requested_by = current_user AS by_me FROM monday_sync.jobs ORDER BY jobid;
SELECT regress.err($q$SELECT monday_sync.request_refresh(18414630191)$q$);

-- refresh_board needs the table.
SELECT monday_sync.set_token('some-token');
SELECT regress.err($q$SELECT monday_sync.refresh_board(18414630189)$q$);
SELECT monday_sync.set_token(NULL);

-- The worker's own schedule.
SELECT monday_sync.set_schedule(18414630189, '5 minutes');
SELECT refresh_interval, reconcile_interval FROM monday_sync.boards WHERE board_id = 18414630189;
SELECT regress.err($q$SELECT monday_sync.set_schedule(18414630189, '10 milliseconds')$q$);
SELECT regress.err($q$SELECT monday_sync.set_schedule(18414630191, '5 minutes')$q$);
SELECT monday_sync.set_schedule(18414630189, NULL, NULL);

-- The views a DBA reads.
SELECT board_id, board_name, table_name, last_success, queued_jobs, running_jobs, last_error FROM monday_sync.board_status;
SELECT pid, state, database, jobid FROM monday_sync.worker;
SELECT accounted, calls_today, complexity_left, daily_call_limit, complexity_per_minute, worker_share FROM monday_sync.api_budget;

-- Worker settings are server-wide (postgresql.conf / ALTER SYSTEM), not per session.
SELECT regress.err($q$SET monday_sync.daily_call_limit = 5$q$);
SELECT regress.err($q$SET monday_sync.database = 'other'$q$);

DELETE FROM monday_sync.boards;
SELECT count(*) AS jobs_left FROM monday_sync.jobs;
