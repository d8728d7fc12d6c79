//! One API budget for the whole server: complexity per minute and calls per day, accounted in
//! shared memory by every session that calls `pull_*` / `refresh_board` and by the worker.
//!
//! monday reports the account's complexity budget with every answer (`complexity { before after
//! reset_in_x_seconds }`); the last report is kept here. The worker paces itself so that its calls
//! never take the budget below `(1 - monday_sync.worker_budget_share)` of
//! `monday_sync.complexity_per_minute`: it waits for the window to reset instead of triggering
//! COMPLEXITY_BUDGET_EXHAUSTED. Calls per day are counted per UTC day against
//! `monday_sync.daily_call_limit`; past it, calls are refused before they reach monday.
//! Without shared_preload_libraries there is no shared state: calls are not paced or counted.

use super::settings;
use crate::api::{ApiError, ApiErrorKind, CallRecord, Hooks};
use pgrx::lwlock::PgLwLock;
use pgrx::prelude::*;
use pgrx::shmem::PGRXSharedMemory;
use pgrx::{pg_shmem_init, pg_sys};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(Copy, Clone, Default)]
#[repr(C)]
pub struct Budget {
    /// UTC day (days since 2000-01-01) that `calls_today` counts.
    day: i64,
    calls_today: i64,
    /// The databases whose run history seeded calls_today after a start (each served database's
    /// primary worker seeds once), and the calls their histories held.
    seeded: [u32; crate::multidb::MAX_DATABASES],
    seeded_calls: i64,
    /// monday's last report: budget left, when the window resets (µs, Postgres epoch), when reported.
    left: i64,
    reset_at_us: i64,
    reported_at_us: i64,
    /// The largest single-query cost seen (what the next call may cost).
    max_cost: i64,
    /// Complexity our calls used in the current window (since the last reset).
    used_in_window: i64,
    /// Times monday answered COMPLEXITY_BUDGET_EXHAUSTED, and times the worker waited instead.
    exhausted: i64,
    paced: i64,
    paced_ms: i64,
}

unsafe impl PGRXSharedMemory for Budget {}

static BUDGET: PgLwLock<Budget> = unsafe { PgLwLock::new(c"monday_sync budget") };
static READY: AtomicBool = AtomicBool::new(false);

pub fn init() {
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        pg_shmem_init!(BUDGET);
        READY.store(true, Ordering::Release);
    }
}

pub fn shared() -> bool {
    READY.load(Ordering::Acquire)
}

fn now_us() -> i64 {
    unsafe { pg_sys::GetCurrentTimestamp() }
}

const DAY_US: i64 = 86_400_000_000;

fn day_of(us: i64) -> i64 {
    us.div_euclid(DAY_US)
}

/// Seeds today's call count from the run history (once per server start), so a restart does not
/// forget the calls already made today. Needs a transaction.
pub fn seed_from_history() {
    let db = unsafe { pg_sys::MyDatabaseId }.to_u32();
    if !shared() || BUDGET.share().seeded.contains(&db) {
        return;
    }
    let made: i64 = Spi::get_one(
        "SELECT coalesce(sum(api_calls), 0)::bigint FROM monday_sync.sync_runs
          WHERE started_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
    )
    .ok()
    .flatten()
    .unwrap_or(0);
    let mut b = BUDGET.exclusive();
    let today = day_of(now_us());
    if b.day != today {
        b.day = today;
        b.calls_today = 0;
        b.seeded_calls = 0;
    }
    // The server's count is the sum of the served databases' histories (calls made since the
    // start are in both the count and a history: the larger of the two stays).
    b.seeded_calls += made;
    b.calls_today = b.calls_today.max(b.seeded_calls);
    if let Some(free) = b.seeded.iter().position(|d| *d == 0) {
        b.seeded[free] = db;
    }
}

/// The hooks of a backend's client: interrupts, the daily count and (for the worker) pacing.
/// In the worker, SIGTERM is Postgres' own `die` handler, so `check_for_interrupts!` stops it too.
pub struct PgHooks {
    pub worker: bool,
}

fn refuse(kind: ApiErrorKind, message: String, detail: String, hint: &str) -> ApiError {
    ApiError {
        kind,
        message,
        detail,
        hint: hint.into(),
    }
}

impl Hooks for PgHooks {
    fn poll(&mut self) {
        pgrx::check_for_interrupts!();
    }

    fn before(&mut self, _operation: &'static str) -> Result<(), ApiError> {
        if !shared() {
            return Ok(());
        }
        let daily = settings::DAILY_CALL_LIMIT.get() as i64;
        {
            let mut b = BUDGET.exclusive();
            let now = now_us();
            if b.day != day_of(now) {
                b.day = day_of(now);
                b.calls_today = 0;
            }
            if daily > 0 && b.calls_today >= daily {
                let next = (b.day + 1) * DAY_US;
                return Err(refuse(
                    ApiErrorKind::DailyLimit,
                    format!("monday_sync.daily_call_limit ({daily} calls) is reached for today"),
                    format!(
                        "{} calls made since 00:00 UTC; the count resets in {} min",
                        b.calls_today,
                        (next - now) / 60_000_000 + 1
                    ),
                    "Wait for midnight UTC, or raise monday_sync.daily_call_limit if your monday plan allows more calls (ALTER SYSTEM SET … ; SELECT pg_reload_conf();).",
                ));
            }
        }
        if self.worker {
            self.pace()?;
        }
        let mut b = BUDGET.exclusive();
        b.calls_today += 1;
        Ok(())
    }

    fn after(&mut self, call: &CallRecord) {
        if !shared() {
            return;
        }
        let mut b = BUDGET.exclusive();
        // Every attempt was counted by `before`.
        let now = now_us();
        if call
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("COMPLEXITY_BUDGET_EXHAUSTED"))
        {
            b.exhausted += 1;
        }
        if let Some(c) = call.complexity {
            if now >= b.reset_at_us {
                b.used_in_window = 0;
            }
            b.left = c.after;
            // The client bounds `reset_in_seconds` to monday's one-minute window.
            b.reset_at_us = now + c.reset_in_seconds * 1_000_000;
            b.reported_at_us = now;
            b.max_cost = b.max_cost.max(c.query);
            b.used_in_window += c.query;
        }
    }
}

impl PgHooks {
    /// Waits (polling) while the next call could take the budget below the reserve left for
    /// everyone else.
    fn pace(&mut self) -> Result<(), ApiError> {
        let limit = settings::COMPLEXITY_PER_MINUTE.get() as i64;
        let share = settings::WORKER_BUDGET_SHARE.get().clamp(0.01, 1.0);
        let reserve = (limit as f64 * (1.0 - share)) as i64;
        let max_wait = Duration::from_secs(settings::MAX_WAIT.get().max(0) as u64);
        let started = std::time::Instant::now();
        loop {
            let wait_us = {
                let b = BUDGET.share();
                let now = now_us();
                // Nothing known about this window, or room left above the reserve: go.
                let unknown = b.reported_at_us == 0 || now >= b.reset_at_us;
                if unknown || b.left - b.max_cost.max(1) >= reserve {
                    0
                } else {
                    b.reset_at_us - now
                }
            };
            if wait_us <= 0 {
                let waited = started.elapsed();
                if waited.as_millis() > 0 {
                    let mut b = BUDGET.exclusive();
                    b.paced += 1;
                    b.paced_ms += waited.as_millis() as i64;
                }
                return Ok(());
            }
            if started.elapsed() + Duration::from_micros(wait_us as u64)
                > max_wait + Duration::from_secs(1)
            {
                return Err(refuse(
                    ApiErrorKind::WaitTooLong,
                    "the worker's share of monday's complexity budget is used up".into(),
                    format!("the budget resets in {} s; monday_sync.max_wait is {} s", wait_us / 1_000_000 + 1, max_wait.as_secs()),
                    "Raise monday_sync.worker_budget_share or monday_sync.max_wait, or refresh less often.",
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
            self.poll();
        }
    }
}

#[allow(clippy::type_complexity)]
#[pg_extern(volatile, parallel_safe, name = "_budget")]
#[search_path(pg_catalog, pg_temp)]
fn budget_row() -> TableIterator<
    'static,
    (
        name!(shared, bool),
        name!(calls_today, i64),
        name!(complexity_left, Option<i64>),
        name!(reset_at_us, Option<i64>),
        name!(reported_at_us, Option<i64>),
        name!(used_in_window, i64),
        name!(max_query_cost, i64),
        name!(exhausted, i64),
        name!(paced, i64),
        name!(paced_ms, i64),
    ),
> {
    let b = if shared() {
        let mut b = *BUDGET.share();
        if b.day != day_of(now_us()) {
            b.calls_today = 0;
        }
        Some(b)
    } else {
        None
    };
    let row = match b {
        Some(b) => {
            let known = b.reported_at_us != 0 && now_us() < b.reset_at_us;
            (
                true,
                b.calls_today,
                known.then_some(b.left),
                known.then_some(b.reset_at_us),
                (b.reported_at_us != 0).then_some(b.reported_at_us),
                if known { b.used_in_window } else { 0 },
                b.max_cost,
                b.exhausted,
                b.paced,
                b.paced_ms,
            )
        }
        None => (false, 0, None, None, None, 0, 0, 0, 0, 0),
    };
    TableIterator::new(std::iter::once(row))
}

extension_sql!(
    r#"
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

CREATE VIEW monday_sync.api_budget AS
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
"#,
    name = "api_budget_view",
    requires = [budget_row, "schema"]
);
