-- monday_sync 0.2.0 → 0.3.0, run by ALTER EXTENSION monday_sync UPDATE.
--
-- Written by hand; pgrx-tests/run upgrade installs 0.1.0, updates it through 0.2.0 to this
-- version and compares every object of the extension with a fresh CREATE EXTENSION.
--
-- 0.3.0 (issue 13, scale): the daily plan — monday_sync.api_plan (the calls the schedules need a
-- day) and four new columns at the end of monday_sync.api_budget (scheduled_calls_per_day,
-- projected_calls_today, plan_fits, schedule_stretch). Refresh rounds and the aligned schedule
-- are in the library; monday_sync.refresh_round_size is a setting, not a catalog object.

SET LOCAL search_path = pg_catalog, pg_temp;

-- The calls the schedules need in a day, by kind: refreshes (one probe per round of
-- refresh_round_size boards per interval; a subscribed board's interval backed off to
-- webhook_silence), reconciles (a page per 500 items), the account and workspace jobs. Changed
-- items cost one more call per 100 on top of this (what changes is not known in advance).
CREATE VIEW monday_sync.api_plan AS
WITH g AS (
    -- In their base units (seconds), as pg_settings shows them; the defaults when the library
    -- is not loaded in this session.
    SELECT name, setting::int AS v FROM pg_settings
     WHERE name IN ('monday_sync.refresh_round_size', 'monday_sync.webhook_silence',
                    'monday_sync.account_interval', 'monday_sync.workspace_interval')
), s AS (
    SELECT greatest(coalesce((SELECT v FROM g WHERE name = 'monday_sync.refresh_round_size'), 500), 1) AS round_size,
           coalesce((SELECT v FROM g WHERE name = 'monday_sync.webhook_silence'), 3600) AS silence,
           coalesce((SELECT v FROM g WHERE name = 'monday_sync.account_interval'), 0) AS account_every,
           coalesce((SELECT v FROM g WHERE name = 'monday_sync.workspace_interval'), 300) AS workspaces_every
), refresh AS (
    SELECT CASE WHEN EXISTS (SELECT 1 FROM monday_sync.webhooks w WHERE w.board_id = b.board_id)
                THEN greatest(b.refresh_interval, s.silence * interval '1 second')
                ELSE b.refresh_interval END AS every,
           1 + (b.subitems_board_id IS NOT NULL)::int AS ids
      FROM monday_sync.boards b, s
     WHERE b.refresh_interval IS NOT NULL AND b.parent_board_id IS NULL AND b.deleted_on_monday_at IS NULL
)
SELECT 'refresh'::text AS kind, count(*) AS boards, r.every,
       round(86400 / extract(epoch FROM r.every)
             * CASE WHEN s.round_size = 1 THEN count(*) ELSE ceil(sum(r.ids)::numeric / s.round_size) END, 1) AS calls_per_day
  FROM refresh r, s
 GROUP BY r.every, s.round_size
UNION ALL
SELECT 'reconcile', count(*), b.reconcile_interval,
       round(sum(86400 / extract(epoch FROM b.reconcile_interval)
                 * (greatest(ceil(coalesce(b.items_count, 0) / 500.0), 1)
                    + coalesce((SELECT greatest(ceil(coalesce(sb.items_count, 0) / 500.0), 1)
                                  FROM monday_sync.boards sb WHERE sb.board_id = b.subitems_board_id), 0))), 1)
  FROM monday_sync.boards b
 WHERE b.reconcile_interval IS NOT NULL AND b.parent_board_id IS NULL AND b.deleted_on_monday_at IS NULL
 GROUP BY b.reconcile_interval
UNION ALL
SELECT 'account', NULL, s.account_every * interval '1 second',
       round(86400.0 / s.account_every * (ceil((SELECT count(*) FROM monday_sync.users) / 1000.0) + 3), 1)
  FROM s WHERE s.account_every > 0
UNION ALL
SELECT 'workspaces', NULL, s.workspaces_every * interval '1 second',
       round(86400.0 / s.workspaces_every * (SELECT count(*) FROM monday_sync.tracked_workspaces), 1)
  FROM s WHERE s.workspaces_every > 0 AND EXISTS (SELECT 1 FROM monday_sync.tracked_workspaces);
COMMENT ON VIEW monday_sync.api_plan IS
  'The API calls the worker''s schedules need in a day, by kind (refresh rounds per interval, reconciles, the account, tracked workspaces); changed items cost one call per 100 on top. Summed in monday_sync.api_budget.scheduled_calls_per_day.';

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
       timestamptz '2000-01-01 00:00:00+00' + b.reported_at_us * interval '1 microsecond' AS reported_at,
       p.per_day AS scheduled_calls_per_day,
       round(b.calls_today + p.per_day * extract(epoch FROM (date_trunc('day', now() AT TIME ZONE 'UTC') + interval '1 day') - now() AT TIME ZONE 'UTC') / 86400) AS projected_calls_today,
       current_setting('monday_sync.daily_call_limit')::bigint = 0
         OR p.per_day <= current_setting('monday_sync.daily_call_limit')::bigint * 0.9 AS plan_fits,
       CASE WHEN current_setting('monday_sync.daily_call_limit')::bigint = 0 THEN 1.0
            ELSE round(greatest(p.per_day / (current_setting('monday_sync.daily_call_limit')::bigint * 0.9), 1), 2) END AS schedule_stretch
  FROM monday_sync._budget() b,
       (SELECT coalesce(sum(calls_per_day), 0) AS per_day FROM monday_sync.api_plan) p;
COMMENT ON VIEW monday_sync.api_budget IS
  'monday''s API budget as this server sees it (needs monday_sync in shared_preload_libraries): complexity left in the current minute window (as monday last reported it), calls made today (UTC) against monday_sync.daily_call_limit, how often the worker waited for the window to reset instead of exhausting it; and the plan: the calls the schedules need a day (monday_sync.api_plan), today''s projected total, whether the plan fits in 90% of the daily limit, and by how much the worker stretches the refresh intervals when it does not.';
