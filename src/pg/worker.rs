//! The background worker and its job queue.
//!
//! Registered when monday_sync is in shared_preload_libraries. It connects to
//! `monday_sync.database` (waiting quietly until that database and the extension exist, and, when
//! the database has another version's SQL than this library's, until `ALTER EXTENSION monday_sync
//! UPDATE`: a WARNING once, then a check every 2 s), marks
//! runs a crash left `running` as failed and queues their jobs again, then loops: enqueue the
//! boards whose own schedule is due, claim the oldest due job with `FOR UPDATE SKIP LOCKED`, run
//! it, sleep on its latch. Every step of a job commits on its own (see `Steps`), HTTP happens
//! between transactions, and a crash loses at most the page being written: the job runs again and
//! the upserts make the table exactly right. SIGTERM stops it at once (Postgres' `die`); SIGHUP
//! reloads settings.
#![allow(clippy::result_large_err)]

use super::budget::{self, PgHooks};
use super::client::token;
use super::errors::R;
use super::progress::Progress;
use super::pull::{pull_core, pull_text, Steps};
use super::refresh::refresh_core;
use super::runs::{fail_run, finish_run, start_job_run};
use super::settings;
use super::spi::exec;
use super::track::tracked;
use super::webhooks::worker::{put, text};
use crate::api::Client;
use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BackgroundWorkerStatus, DynamicBackgroundWorker,
    SignalWakeFlags,
};
use pgrx::lwlock::PgLwLock;
use pgrx::pg_sys::panic::{CaughtError, ErrorReport};
use pgrx::prelude::*;
use pgrx::shmem::PGRXSharedMemory;
use pgrx::{pg_shmem_init, pg_sys};
use serde_json::json;
use std::ffi::CString;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

// ---------- shared state: what the worker is doing, and its latch ----------

#[derive(Copy, Clone, Default)]
#[repr(C)]
pub struct WorkerState {
    pid: i32,
    /// 2 waiting for the extension, 3 idle, 4 running a job, 5 waiting
    /// for `ALTER EXTENSION monday_sync UPDATE` (another version's SQL in the database).
    state: u8,
    dboid: u32,
    /// `&MyProc->procLatch` (shared memory: valid in every backend).
    latch: usize,
    jobid: i64,
    board_id: i64,
    since_us: i64,
    jobs_done: i64,
}

unsafe impl PGRXSharedMemory for WorkerState {}

/// Job workers at most (`monday_sync.max_workers`).
pub const MAX_WORKERS: usize = 8;
pub use crate::multidb::MAX_DATABASES;

/// A database the launcher serves: its name and oid, whether the extension is there (for `*`), and
/// one slot per job worker; slot 0 is its primary (it also recovers after a restart, schedules and
/// cleans up).
#[derive(Copy, Clone)]
#[repr(C)]
pub struct DbEntry {
    used: bool,
    name: [u8; 64],
    dboid: u32,
    /// 0 not known yet, 1 the extension is installed (any version), 2 it is not (with `*`: the
    /// workers stopped; the launcher looks again at `recheck_us` or when a backend asks).
    present: u8,
    recheck_us: i64,
    /// A backend of this database queued a job or tracked a board: start its workers now.
    asked: bool,
    slots: [WorkerState; MAX_WORKERS],
}

impl Default for DbEntry {
    fn default() -> Self {
        DbEntry {
            used: false,
            name: [0; 64],
            dboid: 0,
            present: 0,
            recheck_us: 0,
            asked: false,
            slots: [WorkerState::default(); MAX_WORKERS],
        }
    }
}

#[derive(Copy, Clone)]
#[repr(C)]
pub struct Workers {
    dbs: [DbEntry; MAX_DATABASES],
    /// `&MyProc->procLatch` of the launcher.
    launcher_latch: usize,
}

impl Default for Workers {
    fn default() -> Self {
        Workers {
            dbs: [DbEntry::default(); MAX_DATABASES],
            launcher_latch: 0,
        }
    }
}

unsafe impl PGRXSharedMemory for Workers {}

static WORKER: PgLwLock<Workers> = unsafe { PgLwLock::new(c"monday_sync worker") };
static READY: AtomicBool = AtomicBool::new(false);
/// This process's slot (a job worker's; 0 elsewhere).
static MY_SLOT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// This worker process's database entry (job and webhook workers only).
static MY_DB: std::sync::OnceLock<(usize, String)> = std::sync::OnceLock::new();

fn my_slot() -> usize {
    MY_SLOT.load(Ordering::Relaxed)
}

/// The entry of the database this process is connected to: a worker's own, or, in a backend, the
/// entry the launcher keeps for its database (None: no worker serves it).
fn my_entry(all: &Workers) -> Option<usize> {
    if let Some((i, _)) = MY_DB.get() {
        return Some(*i);
    }
    let mine = unsafe { pg_sys::MyDatabaseId }.to_u32();
    all.dbs.iter().position(|d| d.used && d.dboid == mine)
}

/// A worker's database entry and name (set once at its start).
pub(crate) fn set_my_database(index: usize) -> String {
    let name = text(&WORKER.share().dbs[index].name);
    let _ = MY_DB.set((index, name.clone()));
    name
}

/// The database this process works in: a worker's from its start, a backend's from the catalog
/// (needs a transaction).
pub(crate) fn current_database() -> String {
    if let Some((_, n)) = MY_DB.get() {
        return n.clone();
    }
    unsafe {
        let p = pg_sys::get_database_name(pg_sys::MyDatabaseId);
        if p.is_null() {
            String::new()
        } else {
            std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    }
}

/// The job workers to run: `monday_sync.max_workers`.
fn workers_wanted() -> usize {
    (settings::MAX_WORKERS.get().max(1) as usize).min(MAX_WORKERS)
}

pub fn init() {
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        pg_shmem_init!(WORKER);
        super::webhooks::worker::init_shmem();
        READY.store(true, Ordering::Release);
        // The launcher connects to no database: it waits quietly for monday_sync.database to exist,
        // then starts the worker proper there, and starts it again whenever it stops.
        BackgroundWorkerBuilder::new("monday_sync launcher")
            .set_type("monday_sync launcher")
            .set_function("monday_sync_launcher_main")
            .set_library("monday_sync")
            .enable_spi_access()
            .set_restart_time(Some(Duration::from_secs(5)))
            .load();
    }
}

fn set_state(state: u8, jobid: i64, board_id: i64) {
    let Some((db, _)) = MY_DB.get() else { return };
    let mut all = WORKER.exclusive();
    let w = &mut all.dbs[*db].slots[my_slot()];
    w.state = state;
    w.jobid = jobid;
    w.board_id = board_id;
    w.since_us = unsafe { pg_sys::GetCurrentTimestamp() };
}

fn alive(pid: i32) -> bool {
    pid > 0 && unsafe { libc_kill(pid, 0) == 0 }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

extern "C-unwind" {
    /// Postgres' SIGTERM handler for backends (sets ProcDiePending and the latch), unwrapped.
    #[link_name = "die"]
    fn postgres_die(signal: std::ffi::c_int);
}

/// Why a queued job may not run soon, for the requester's WARNING. None = a worker serves this
/// database.
fn worker_missing() -> Option<(String, String)> {
    if !READY.load(Ordering::Acquire) {
        return Some((
            "monday_sync is not in shared_preload_libraries: no background worker runs queued jobs".into(),
            "Add monday_sync to shared_preload_libraries and restart PostgreSQL, or call monday_sync.refresh_board / pull_board directly.".into(),
        ));
    }
    let all = *WORKER.share();
    let Some(i) = my_entry(&all) else {
        let served = match settings::served() {
            crate::multidb::Served::All => {
                "every database (the launcher has not reached this one yet)".to_string()
            }
            crate::multidb::Served::Named(n) => n
                .iter()
                .map(|d| format!("\"{d}\""))
                .collect::<Vec<_>>()
                .join(", "),
        };
        return Some((
            format!("no monday_sync background worker serves this database (monday_sync.databases: {served})"),
            "Add this database to monday_sync.databases (or set it to *) in postgresql.conf and reload (SELECT pg_reload_conf()).".into(),
        ));
    };
    let e = all.dbs[i];
    // With `*`, workers of a database that had no extension are started when this transaction
    // commits (see wake_on_commit): nothing to warn about.
    let every = settings::served() == crate::multidb::Served::All;
    if (every && e.present != 1) || alive(e.slots[0].pid) {
        return None;
    }
    Some((
        "the monday_sync background worker is not running".into(),
        "It restarts by itself within seconds after a crash; see the server log.".into(),
    ))
}

/// Whether this transaction already asked to wake the worker (a row trigger may request a refresh
/// for every row: one callback is enough).
static WAKE_REGISTERED: AtomicBool = AtomicBool::new(false);

/// Wakes the worker when the requesting transaction commits (before that it could not see the job).
pub(crate) fn wake_on_commit() {
    if !READY.load(Ordering::Acquire) || WAKE_REGISTERED.swap(true, Ordering::Relaxed) {
        return;
    }
    pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Commit, || {
        WAKE_REGISTERED.store(false, Ordering::Relaxed);
        // Every job worker of this database: whichever is idle claims the job. Workers that are
        // not running (with `*`, a database that had no extension until now): the launcher.
        let latches: Vec<usize> = {
            let mut all = WORKER.exclusive();
            match my_entry(&all) {
                Some(i) => {
                    let e = &mut all.dbs[i];
                    let mut l: Vec<usize> = e.slots.iter().map(|w| w.latch).collect();
                    if e.present != 1 || !alive(e.slots[0].pid) {
                        e.asked = true;
                        l.push(all.launcher_latch);
                    }
                    l
                }
                None => vec![],
            }
        };
        for latch in latches {
            if latch != 0 {
                unsafe { pg_sys::SetLatch(latch as *mut pg_sys::Latch) };
            }
        }
    });
    pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Abort, || {
        WAKE_REGISTERED.store(false, Ordering::Relaxed);
    });
}

// ---------- SQL: requests ----------

/// The role that asked for a job: under SECURITY DEFINER, the role that called, not the
/// function's owner.
pub(crate) fn requester() -> String {
    unsafe {
        let name = pg_sys::GetUserNameFromId(pg_sys::GetOuterUserId(), true);
        if name.is_null() {
            String::new()
        } else {
            std::ffi::CStr::from_ptr(name)
                .to_string_lossy()
                .into_owned()
        }
    }
}

fn enqueue(board_id: i64, command: &str) -> R<i64> {
    let is_top: Option<bool> = super::spi::one(
        "SELECT parent_board_id IS NULL FROM monday_sync.boards WHERE board_id = $1",
        &[board_id.into()],
    );
    match is_top {
        None => {
            return Err(super::track::not_tracked(
                board_id,
                &format!("request_{command} queues a {command} of a tracked board"),
            ))
        }
        Some(false) => {
            return Err(super::errors::err(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                format!("monday board {board_id} is a subitems board"),
                "its subitems are synced with their parent board",
                "Request the parent board: SELECT board_id FROM monday_sync.boards WHERE subitems_board_id = …;",
            ))
        }
        Some(true) => {}
    }
    // One queued job per board and command: a request while one waits joins it (and makes it due now).
    let requester = requester();
    let jobid: i64 = super::spi::one(
        "INSERT INTO monday_sync.jobs (board_id, command, requested_by) VALUES ($1, $2, $3)
         ON CONFLICT (board_id, command) WHERE status = 'queued'
         DO UPDATE SET not_before = least(jobs.not_before, now())
         RETURNING jobid",
        &[board_id.into(), command.into(), requester.into()],
    )
    .unwrap_or_else(|| pgrx::error!("monday_sync: the job was not queued"));
    if let Some((why, hint)) = worker_missing() {
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_WARNING,
            format!("job {jobid} is queued, but {why}"),
            "monday_sync",
        )
        .set_detail("The job waits in monday_sync.jobs until a worker claims it.")
        .set_hint(hint)
        .report(PgLogLevel::WARNING);
    }
    wake_on_commit();
    Ok(jobid)
}

/// `monday_sync.request_refresh(board_id)`: queues an incremental refresh and returns its job id at
/// once (safe in a trigger or a cron job). SECURITY DEFINER with a pinned search path, revoked
/// from PUBLIC: a role granted EXECUTE can queue jobs without any access to the extension's tables.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn request_refresh(board_id: i64) -> R<i64> {
    enqueue(board_id, "refresh")
}

/// `monday_sync.request_pull(board_id)`: queues a full pull (reconcile) and returns its job id.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn request_pull(board_id: i64) -> R<i64> {
    enqueue(board_id, "pull")
}

#[allow(clippy::type_complexity)]
#[pg_extern(volatile, parallel_safe, name = "_worker")]
#[search_path(pg_catalog, pg_temp)]
fn worker_row() -> TableIterator<
    'static,
    (
        name!(pid, Option<i32>),
        name!(state, String),
        name!(database_oid, Option<i64>),
        name!(jobid, Option<i64>),
        name!(board_id, Option<i64>),
        name!(since_us, Option<i64>),
        name!(jobs_done, i64),
    ),
> {
    let describe = |w: WorkerState| {
        let up = alive(w.pid);
        (
            up.then_some(w.pid),
            if !up {
                "not running".to_string()
            } else {
                match w.state {
                    2 => "waiting for CREATE EXTENSION monday_sync",
                    5 => "waiting for ALTER EXTENSION monday_sync UPDATE",
                    3 => "idle",
                    4 => "running a job",
                    _ => "starting",
                }
                .to_string()
            },
            (w.dboid != 0).then_some(w.dboid as i64),
            (up && w.state == 4).then_some(w.jobid),
            (up && w.state == 4).then_some(w.board_id),
            up.then_some(w.since_us),
            w.jobs_done,
        )
    };
    // One row per job worker (monday_sync.max_workers) of this database.
    let rows: Vec<_> = if READY.load(Ordering::Acquire) {
        let all = *WORKER.share();
        match my_entry(&all) {
            Some(i) => all.dbs[i].slots[..workers_wanted()]
                .iter()
                .map(|w| describe(*w))
                .collect(),
            None => vec![(
                None,
                "not serving this database (monday_sync.databases)".to_string(),
                None,
                None,
                None,
                None,
                0,
            )],
        }
    } else {
        vec![(None, "not preloaded".to_string(), None, None, None, None, 0)]
    };
    TableIterator::new(rows)
}

// ---------- transactions of the worker ----------

/// A failure as data: the worker records it and goes on (an ERROR would end the process).
#[derive(Debug, Clone)]
struct Failure {
    code: PgSqlErrorCode,
    message: String,
    detail: Option<String>,
}

impl Failure {
    fn text(&self) -> String {
        match &self.detail {
            Some(d) if !d.is_empty() => format!("{} ({d})", self.message),
            _ => self.message.clone(),
        }
    }

    /// Errors that another attempt cannot fix.
    fn permanent(&self) -> bool {
        use PgSqlErrorCode::*;
        matches!(
            self.code,
            ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION
                | ERRCODE_INSUFFICIENT_PRIVILEGE
                | ERRCODE_UNDEFINED_OBJECT
                | ERRCODE_UNDEFINED_TABLE
                | ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE
                | ERRCODE_INVALID_PARAMETER_VALUE
        )
    }

    fn daily_limit(&self) -> bool {
        self.code == PgSqlErrorCode::ERRCODE_CONFIGURATION_LIMIT_EXCEEDED
            && self.message.to_lowercase().contains("daily")
    }
}

fn failure_of_caught(e: CaughtError) -> Failure {
    match e {
        CaughtError::PostgresError(r)
        | CaughtError::ErrorReport(r)
        | CaughtError::RustPanic { ereport: r, .. } => Failure {
            code: r.sql_error_code(),
            message: r.message().to_string(),
            detail: r.detail().map(String::from),
        },
    }
}

/// An ErrorReport value → a Failure (its SQLSTATE is only readable once raised).
fn failure_of(e: ErrorReport) -> Failure {
    PgTryBuilder::new(AssertUnwindSafe(move || -> Failure {
        e.report(PgLogLevel::ERROR);
        unreachable!("ERROR returns")
    }))
    .catch_others(failure_of_caught)
    .execute()
}

fn to_report(f: &Failure) -> ErrorReport {
    let r = ErrorReport::new(f.code, f.message.clone(), "monday_sync worker");
    match &f.detail {
        Some(d) => r.set_detail(d.clone()),
        None => r,
    }
}

/// Runs `f` in a transaction of its own: committed when it returns Ok, rolled back on an error
/// value or a Postgres ERROR (which becomes an error value: the worker goes on).
/// Each step has at most `monday_sync.worker_step_timeout`: a trigger a table owner wrote (a
/// sleep, a loop) cannot hold the one worker, and every board with it, for ever.
pub(crate) fn in_tx<T>(f: impl FnOnce() -> R<T>) -> R<T> {
    let timeout = settings::WORKER_STEP_TIMEOUT.get();
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
        if timeout > 0 {
            enable_timeout_after(STATEMENT_TIMEOUT, timeout);
        }
    }
    let _disarm = Disarm(timeout > 0);
    let mut committed = false;
    let done = &mut committed;
    let r: Result<T, Failure> = PgTryBuilder::new(AssertUnwindSafe(move || match f() {
        Ok(v) => {
            unsafe {
                pg_sys::PopActiveSnapshot();
                pg_sys::CommitTransactionCommand();
            }
            *done = true;
            Ok(v)
        }
        Err(e) => Err(failure_of(e)),
    }))
    .catch_others(|e| Err(failure_of_caught(e)))
    .execute();
    if !committed {
        unsafe { pg_sys::AbortCurrentTransaction() };
    }
    r.map_err(|f| to_report(&f))
}

// utils/timeout.h, which pgrx does not bind (PostgreSQL 15's TimeoutId: STATEMENT_TIMEOUT is 3).
const STATEMENT_TIMEOUT: u32 = 3;
extern "C-unwind" {
    fn enable_timeout_after(id: u32, delay_ms: i32);
    fn disable_timeout(id: u32, keep_indicator: bool);
}

/// Disarms the step's timeout however the step ends.
struct Disarm(bool);

impl Drop for Disarm {
    fn drop(&mut self) {
        if self.0 {
            unsafe { disable_timeout(STATEMENT_TIMEOUT, false) };
        }
    }
}

struct Committed;

impl Steps for Committed {
    fn step<T>(&mut self, f: impl FnOnce() -> R<T>) -> R<T> {
        in_tx(f)
    }
}

// ---------- the worker ----------

fn activity(text: &str) {
    let c = CString::new(text).unwrap_or_default();
    unsafe { pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_RUNNING, c.as_ptr()) };
}

fn idle() {
    unsafe { pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_IDLE, std::ptr::null()) };
}

fn reload_if_asked() {
    if BackgroundWorker::sighup_received() {
        unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
    }
}

fn naptime() -> Duration {
    Duration::from_millis(settings::NAPTIME.get().max(100) as u64)
}

/// The launcher's handles of one served database's workers.
struct Handles {
    jobs: Vec<Option<DynamicBackgroundWorker>>,
    hooks: Option<DynamicBackgroundWorker>,
}

fn running(w: &Option<DynamicBackgroundWorker>) -> bool {
    w.as_ref()
        .is_some_and(|w| matches!(w.pid(), Ok(_) | Err(BackgroundWorkerStatus::NotYetStarted)))
}

/// Starts a worker unless its handle says it runs. A worker that cannot be started (no free
/// background worker slot) is warned about once until it starts.
fn start(
    slot: &mut Option<DynamicBackgroundWorker>,
    name: &str,
    function: &str,
    arg: i64,
    warned: &mut std::collections::HashSet<String>,
) {
    if running(slot) {
        return;
    }
    *slot = None;
    match BackgroundWorkerBuilder::new(name)
        .set_type(if function == "monday_sync_worker_main" {
            "monday_sync worker"
        } else {
            "monday_sync webhooks"
        })
        .set_function(function)
        .set_library("monday_sync")
        .set_argument(arg.into_datum())
        .enable_spi_access()
        .set_notify_pid(unsafe { pg_sys::MyProcPid })
        .load_dynamic()
    {
        Ok(w) => {
            *slot = Some(w);
            warned.remove(name);
        }
        Err(e) => {
            if warned.insert(name.to_string()) {
                warning!(
                    "monday_sync launcher: could not start the {name}: {e:?} (raise max_worker_processes; retried every 5 s)"
                )
            }
        }
    }
}

/// How often, with `monday_sync.databases = '*'`, a database without the extension is looked at
/// again (a backend that tracks a board or queues a job there wakes the launcher at once).
const RECHECK_ABSENT_US: i64 = 60_000_000;

#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn monday_sync_launcher_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    unsafe { pg_sys::pqsignal(pg_sys::SIGTERM as i32, Some(postgres_die)) };
    // No database: shared catalogs (pg_database) only, so a missing database is no error.
    BackgroundWorker::connect_worker_to_spi(None, None);
    WORKER.exclusive().launcher_latch =
        unsafe { std::ptr::addr_of_mut!((*pg_sys::MyProc).procLatch) } as usize;
    // Per served database (by oid): its job workers and its webhook worker, each started again
    // whenever it stops (SIGTERM to it, a failure); a stopping worker wakes this loop
    // (bgw_notify_pid). A database no longer served (dropped, or taken out of
    // monday_sync.databases) has its workers stopped.
    let mut handles: std::collections::HashMap<u32, Handles> = Default::default();
    let mut said_waiting: std::collections::HashSet<String> = Default::default();
    let mut said_full = false;
    let mut warned: std::collections::HashSet<String> = Default::default();
    loop {
        let served = settings::served();
        let every = served == crate::multidb::Served::All;
        let existing = databases();
        let wanted: Vec<(String, u32)> = match &served {
            crate::multidb::Served::All => existing
                .iter()
                .filter(|d| d.allow_conn && !d.template)
                .map(|d| (d.name.clone(), d.oid))
                .collect(),
            crate::multidb::Served::Named(names) => names
                .iter()
                .filter_map(|n| match existing.iter().find(|d| &d.name == n) {
                    Some(d) if !d.allow_conn => {
                        if said_waiting.insert(n.clone()) {
                            warning!("monday_sync launcher: database \"{n}\" does not allow connections (ALTER DATABASE … ALLOW_CONNECTIONS true): no worker there");
                        }
                        None
                    }
                    Some(d) => {
                        said_waiting.remove(n);
                        Some((d.name.clone(), d.oid))
                    }
                    None => {
                        if said_waiting.insert(n.clone()) {
                            log!("monday_sync launcher: waiting for database \"{n}\" (monday_sync.databases)");
                        }
                        None
                    }
                })
                .collect(),
        };
        let n = workers_wanted();
        let many = every || wanted.len() > 1;
        // Entries: free those no longer served, keep or take one per served database.
        let mut assigned: Vec<(usize, u32, String)> = Vec::new();
        {
            let mut all = WORKER.exclusive();
            for e in all.dbs.iter_mut() {
                if e.used && !wanted.iter().any(|w| w.1 == e.dboid) {
                    *e = DbEntry::default();
                }
            }
            for (name, oid) in &wanted {
                let i = match all.dbs.iter().position(|e| e.used && e.dboid == *oid) {
                    Some(i) => i,
                    None => match all.dbs.iter().position(|e| !e.used) {
                        Some(i) => {
                            all.dbs[i] = DbEntry {
                                used: true,
                                dboid: *oid,
                                ..Default::default()
                            };
                            i
                        }
                        None => {
                            if !said_full {
                                warning!(
                                    "monday_sync launcher: more than {MAX_DATABASES} databases to serve; \"{name}\" and later ones get no worker"
                                );
                                said_full = true;
                            }
                            continue;
                        }
                    },
                };
                put(&mut all.dbs[i].name, name);
                assigned.push((i, *oid, name.clone()));
            }
        }
        handles.retain(|oid, h| {
            if assigned.iter().any(|a| a.1 == *oid) {
                return true;
            }
            for w in h
                .jobs
                .drain(..)
                .chain(std::iter::once(h.hooks.take()))
                .flatten()
            {
                let _ = w.terminate();
            }
            false
        });
        let now = unsafe { pg_sys::GetCurrentTimestamp() };
        for (i, oid, db) in assigned {
            let h = handles.entry(oid).or_insert_with(|| Handles {
                jobs: (0..n).map(|_| None).collect(),
                hooks: None,
            });
            // With `*`, a database is served in full once its primary found the extension there;
            // until then only the primary runs (it stops when there is none, and is started again
            // a minute later or when a backend there asks).
            let (all_of_it, primary) = {
                let mut all = WORKER.exclusive();
                let e = &mut all.dbs[i];
                let full = !every || e.present == 1;
                let again = e.present == 2 && (e.asked || now >= e.recheck_us);
                if every && again {
                    e.present = 0;
                    e.asked = false;
                }
                (full, full || e.present == 0)
            };
            let suffix = if many {
                format!(" in \"{db}\"")
            } else {
                String::new()
            };
            for (k, slot) in h.jobs.iter_mut().enumerate() {
                if (k == 0 && primary) || all_of_it {
                    let name = if k == 0 {
                        format!("monday_sync worker{suffix}")
                    } else {
                        format!("monday_sync worker {}{suffix}", k + 1)
                    };
                    start(
                        slot,
                        &name,
                        "monday_sync_worker_main",
                        (i * MAX_WORKERS + k) as i64,
                        &mut warned,
                    );
                }
            }
            if all_of_it {
                start(
                    &mut h.hooks,
                    &format!("monday_sync webhooks{suffix}"),
                    "monday_sync_webhooks_main",
                    i as i64,
                    &mut warned,
                );
            }
        }
        if !BackgroundWorker::wait_latch(Some(Duration::from_secs(5))) {
            return;
        }
        reload_if_asked();
    }
}

#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn monday_sync_worker_main(arg: pg_sys::Datum) {
    // The launcher's argument: the database's entry and the worker's slot in it.
    let arg = unsafe { i64::from_datum(arg, false) }.unwrap_or(0).max(0) as usize;
    let (index, slot) = (
        (arg / MAX_WORKERS).min(MAX_DATABASES - 1),
        arg % MAX_WORKERS,
    );
    MY_SLOT.store(slot, Ordering::Relaxed);
    let primary = slot == 0;
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    // SIGTERM (shutdown, pg_terminate_backend) ends the worker at the next interrupt check, even
    // in the middle of an HTTP wait: Postgres' own handler.
    unsafe { pg_sys::pqsignal(pg_sys::SIGTERM as i32, Some(postgres_die)) };
    let Some(dboid) = entry_oid(index) else {
        return; // the database is no longer served
    };
    set_my_database(index);
    {
        let mut all = WORKER.exclusive();
        let w = &mut all.dbs[index].slots[slot];
        *w = WorkerState {
            pid: unsafe { pg_sys::MyProcPid },
            latch: unsafe { std::ptr::addr_of_mut!((*pg_sys::MyProc).procLatch) } as usize,
            jobs_done: w.jobs_done,
            ..Default::default()
        };
    }
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(pg_sys::Oid::from(dboid)), None);
    // Every statement the worker runs resolves names in pg_catalog first and never in a schema a
    // user can create objects in (the database's or a role's search_path setting is overridden).
    super::security::pin_session_search_path();
    // A lock someone holds (a table owner's LOCK TABLE, a request left uncommitted) fails the step
    // after 30 s instead of stalling the worker; the job is retried later.
    super::security::pin_session_setting("lock_timeout", "30s");
    WORKER.exclusive().dbs[index].slots[slot].dboid = unsafe { pg_sys::MyDatabaseId }.to_u32();
    let mut recovered = false;
    let mut last_recover: Option<Instant> = None;
    let mut last_cleanup: Option<Instant> = None;
    // The version found while waiting for ALTER EXTENSION monday_sync UPDATE (logged once).
    let mut waited_for_update: Option<String> = None;
    loop {
        reload_if_asked();
        let found = installed();
        if !present(&found) {
            return; // monday_sync.databases = '*' and no extension here: the launcher looks again later
        }
        match found {
            Installed::Yes => {
                if waited_for_update.take().is_some() {
                    log!(
                        "monday_sync worker: the database has monday_sync {VERSION} now: resuming"
                    );
                }
            }
            other => {
                recovered = false;
                if let Installed::Other(v) = &other {
                    // Said once per version found, not every few seconds.
                    if waited_for_update.as_deref() != Some(v.as_str()) {
                        warning!("{}", version_mismatch(v));
                        waited_for_update = Some(v.clone());
                    }
                    set_state(5, 0, 0);
                } else {
                    waited_for_update = None;
                    set_state(2, 0, 0);
                }
                let recheck = Duration::from_secs(if other == Installed::No { 5 } else { 2 });
                if !BackgroundWorker::wait_latch(Some(recheck)) {
                    return;
                }
                continue;
            }
        }
        // The primary recovers what stopped workers left (at its start, then every minute),
        // cleans up and schedules; every job worker claims and runs jobs.
        if primary
            && (!recovered || last_recover.is_none_or(|t| t.elapsed() > Duration::from_secs(60)))
        {
            last_recover = Some(Instant::now());
            let first = !recovered;
            match in_tx(|| {
                recover();
                if first {
                    budget::seed_from_history();
                }
                Ok(())
            }) {
                Ok(()) => recovered = true,
                Err(e) => warning!(
                    "monday_sync worker: recovery failed: {}",
                    failure_of(e).text()
                ),
            }
        }
        if primary && last_cleanup.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
            last_cleanup = Some(Instant::now());
            let _ = in_tx(|| {
                exec(
                    "DELETE FROM monday_sync.jobs WHERE status IN ('succeeded', 'failed')
                       AND finished_at < now() - interval '30 days'",
                    &[],
                );
                Ok(())
            });
        }
        if let Err(e) = in_tx(|| {
            if primary {
                schedule();
            }
            Ok(())
        }) {
            warning!(
                "monday_sync worker: scheduling failed: {}",
                failure_of(e).text()
            );
        }
        // Run every job that is due, then sleep until woken or the naptime passes.
        while let Some(job) = claim() {
            if job.command == "refresh" && settings::REFRESH_ROUND_SIZE.get() > 1 {
                // Every other refresh that is due joins it: one probe settles the idle ones.
                let mut jobs = vec![job];
                jobs.extend(claim_refreshes(ROUND_JOBS));
                let n = jobs.len() as i64;
                round(jobs);
                WORKER.exclusive().dbs[index].slots[slot].jobs_done += n;
            } else {
                run(job);
                WORKER.exclusive().dbs[index].slots[slot].jobs_done += 1;
            }
            reload_if_asked();
        }
        set_state(3, 0, 0);
        let nap = sleep_for();
        idle();
        if !BackgroundWorker::wait_latch(Some(nap)) {
            return;
        }
    }
}

/// The entry of the database this process is connected to (None: no worker serves it).
pub(crate) fn my_db_index() -> Option<usize> {
    if !READY.load(Ordering::Acquire) {
        return None;
    }
    my_entry(&WORKER.share())
}

/// The oid of a served database's entry (None: the launcher no longer serves it).
pub(crate) fn entry_oid(index: usize) -> Option<u32> {
    let e = WORKER.share().dbs[index];
    (e.used && e.dboid != 0).then_some(e.dboid)
}

/// Records in the database's entry whether the extension is there (the launcher starts the other
/// workers of a `*` database once it is). False: this worker should stop, as `*` serves only
/// databases with the extension (the launcher looks again in a minute, or when asked).
pub(crate) fn present(found: &Installed) -> bool {
    let Some((index, _)) = MY_DB.get() else {
        return true;
    };
    let here = *found != Installed::No;
    let every = settings::served() == crate::multidb::Served::All;
    let launcher = {
        let mut all = WORKER.exclusive();
        let latch = all.launcher_latch;
        let e = &mut all.dbs[*index];
        let was = e.present;
        if here {
            e.present = 1;
        } else if every {
            e.present = 2;
            e.recheck_us = unsafe { pg_sys::GetCurrentTimestamp() } + RECHECK_ABSENT_US;
        } else {
            e.present = 0;
        }
        (was != e.present && (here || every)).then_some(latch)
    };
    if let Some(latch) = launcher.filter(|l| *l != 0) {
        unsafe { pg_sys::SetLatch(latch as *mut pg_sys::Latch) };
    }
    here || !every
}

/// A row of `pg_database`, as the launcher needs it.
struct Database {
    name: String,
    oid: u32,
    allow_conn: bool,
    template: bool,
}

/// Every database, read from `pg_database` by a process connected to no database (a heap scan
/// of the shared catalog, as the autovacuum launcher does: no index, no pg_class).
fn databases() -> Vec<Database> {
    in_tx(|| {
        let mut found = Vec::new();
        unsafe {
            let lock = pg_sys::AccessShareLock as pg_sys::LOCKMODE;
            let rel = pg_sys::table_open(pg_sys::DatabaseRelationId, lock);
            let scan = pg_sys::table_beginscan_catalog(rel, 0, std::ptr::null_mut());
            loop {
                let tup = pg_sys::heap_getnext(scan, pg_sys::ScanDirection::ForwardScanDirection);
                if tup.is_null() {
                    break;
                }
                let form = pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_database>(tup);
                found.push(Database {
                    name: std::ffi::CStr::from_ptr((*form).datname.data.as_ptr())
                        .to_string_lossy()
                        .into_owned(),
                    oid: (*form).oid.to_u32(),
                    allow_conn: (*form).datallowconn,
                    template: (*form).datistemplate,
                });
            }
            pg_sys::table_endscan(scan);
            pg_sys::table_close(rel, lock);
        }
        Ok(found)
    })
    .unwrap_or_default()
}

/// Runs left `running` by a crash or a restart: failed, and their jobs queued again.
/// The advisory-lock key of a running job (`jobid`: the SQL for its id): the worker running it holds it (session-level) from
/// its claim to its end, so a job marked running whose lock nobody holds was left by a worker that
/// stopped (a crash, a restart, pg_terminate_backend).
fn job_lock(jobid: &str) -> String {
    format!("1835955555, ({jobid} % 2147483647)::int")
}

/// Jobs left `running` by a worker that stopped: their runs failed, the jobs queued again (or
/// failed, after the last attempt). The primary worker runs this at its start and every minute.
fn recover() {
    // In this transaction's own locks: released at its end; a job another worker runs is skipped.
    let stale: Vec<i64> = Spi::connect_mut(|c| {
        c.update(
            &format!(
                "SELECT jobid FROM (SELECT jobid FROM monday_sync.jobs WHERE status = 'running' OFFSET 0) r
                  WHERE pg_catalog.pg_try_advisory_xact_lock({})",
                job_lock("jobid")
            ),
            None,
            &[],
        )?
        .map(|r| r.get::<i64>(1).map(|v| v.unwrap_or(0)))
        .collect::<Result<Vec<_>, _>>()
    })
    .unwrap_or_default();
    if stale.is_empty() {
        return;
    }
    let n = exec(
        "UPDATE monday_sync.sync_runs SET status = 'failed', finished_at = clock_timestamp(),
                message = 'server restarted (or its worker stopped) during this run: crash, restart or pg_terminate_backend; its job runs again'
          WHERE status IN ('starting', 'running') AND jobid = ANY ($1)",
        &[stale.clone().into()],
    );
    let max = settings::MAX_ATTEMPTS.get();
    // A job that was running goes back to the queue unless an equal job is queued already.
    let requeued = exec(
        "UPDATE monday_sync.jobs j SET status = CASE WHEN j.attempts < $1 THEN 'queued' ELSE 'failed' END,
                finished_at = now(), not_before = now(), last_error = 'server restarted'
          WHERE j.status = 'running' AND j.jobid = ANY ($2)
            AND NOT EXISTS (SELECT 1 FROM monday_sync.jobs q
                             WHERE q.board_id = j.board_id AND q.command = j.command AND q.status = 'queued')",
        &[max.into(), stale.clone().into()],
    );
    let merged = exec(
        "UPDATE monday_sync.jobs SET status = 'failed', finished_at = now(),
                last_error = 'server restarted; an equal job is queued'
          WHERE status = 'running' AND jobid = ANY ($1)",
        &[stale.into()],
    );
    if n + requeued + merged > 0 {
        log!(
            "monday_sync worker: after a restart, {n} interrupted run(s) marked failed, {requeued} job(s) queued again"
        );
    }
}

/// Boards on the worker's own schedule (for installs without pg_cron). A board is due for a
/// refresh when no refresh was queued within `refresh_interval`, and for a reconcile when its last
/// full pull is older than `reconcile_interval`; nothing is queued while an equal job waits or
/// runs, and a reconcile that failed for good is not tried again for an hour.
/// The stretch last warned about, and when (the worker's own state).
static PLAN_WARNED: std::sync::Mutex<Option<(f64, Instant)>> = std::sync::Mutex::new(None);

/// The daily plan: when the schedules need more calls a day than 90% of
/// `monday_sync.daily_call_limit`, refresh intervals are stretched so the day's calls fit
/// (`api_budget.schedule_stretch`), with a WARNING when that starts or changes (and hourly).
fn plan_stretch() -> f64 {
    let row: Option<(f64, f64, i64)> = Spi::connect(|c| {
        let t = c.select(
            "SELECT schedule_stretch::float8, scheduled_calls_per_day::float8,
                    pg_catalog.current_setting('monday_sync.daily_call_limit')::bigint
               FROM monday_sync.api_budget",
            Some(1),
            &[],
        )?;
        if t.is_empty() {
            return Ok::<_, pgrx::spi::SpiError>(None);
        }
        let r = t.first();
        Ok(Some((
            r.get::<f64>(1)?.unwrap_or(1.0),
            r.get::<f64>(2)?.unwrap_or(0.0),
            r.get::<i64>(3)?.unwrap_or(0),
        )))
    })
    .unwrap_or(None);
    let Some((stretch, per_day, limit)) = row else {
        return 1.0;
    };
    let stretch = stretch.max(1.0);
    let mut warned = PLAN_WARNED.lock().unwrap_or_else(|p| p.into_inner());
    let due = match *warned {
        None => stretch > 1.0,
        Some((s, at)) => {
            (stretch - s).abs() > 0.05 * s
                || (stretch > 1.0 && at.elapsed() > Duration::from_secs(3600))
        }
    };
    if due {
        if stretch > 1.0 {
            warning!(
                "monday_sync worker: the schedules need {per_day:.0} API calls a day, more than 90% of monday_sync.daily_call_limit ({limit}): refresh intervals are stretched ×{stretch:.2} so that the day's calls fit (SELECT * FROM monday_sync.api_plan); lengthen the schedules, subscribe boards to webhooks, or raise the limit"
            );
        } else {
            log!("monday_sync worker: the schedules fit monday_sync.daily_call_limit again; refresh intervals are as set");
        }
        *warned = Some((stretch, Instant::now()));
    }
    stretch
}

fn schedule() {
    let stretch = plan_stretch();
    // A board with webhooks subscribed gets its changes pushed: its polling backs off to the
    // webhook safety net's interval (monday_sync.webhook_silence) when that is longer. Refreshes
    // are due at the boundaries of their interval (counted from the epoch), not `interval` after
    // each board's last one: boards on the same schedule come due together and one refresh round
    // (one probe call) serves them all.
    exec(
        "INSERT INTO monday_sync.jobs (board_id, command, requested_by)
         SELECT b.board_id, 'refresh', 'monday_sync schedule' FROM monday_sync.boards b
          CROSS JOIN LATERAL (SELECT $2 * extract(epoch FROM CASE WHEN EXISTS (SELECT 1 FROM monday_sync.webhooks w WHERE w.board_id = b.board_id)
                                                                  THEN GREATEST(b.refresh_interval, $1 * interval '1 second')
                                                                  ELSE b.refresh_interval END) AS every) e
          WHERE b.refresh_interval IS NOT NULL AND b.parent_board_id IS NULL
            AND b.deleted_on_monday_at IS NULL
            AND NOT EXISTS (SELECT 1 FROM monday_sync.jobs j
                             WHERE j.board_id = b.board_id AND j.command = 'refresh'
                               AND (j.status IN ('queued', 'running')
                                    OR floor(extract(epoch FROM j.queued_at) / e.every) = floor(extract(epoch FROM now()) / e.every)))
         ON CONFLICT DO NOTHING",
        &[settings::WEBHOOK_SILENCE.get().into(), stretch.into()],
    );
    exec(
        "INSERT INTO monday_sync.jobs (board_id, command, requested_by)
         SELECT b.board_id, 'pull', 'monday_sync schedule' FROM monday_sync.boards b
          WHERE b.reconcile_interval IS NOT NULL AND b.parent_board_id IS NULL
            AND b.deleted_on_monday_at IS NULL
            AND coalesce(b.last_full_at, '-infinity') <= now() - b.reconcile_interval
            AND NOT EXISTS (SELECT 1 FROM monday_sync.jobs j
                             WHERE j.board_id = b.board_id AND j.command = 'pull'
                               AND (j.status IN ('queued', 'running')
                                    OR (j.status = 'failed' AND j.finished_at > now() - least(b.reconcile_interval, interval '1 hour'))))
         ON CONFLICT DO NOTHING",
        &[],
    );
    // The account, every monday_sync.account_interval (0: only on request); tracked workspaces,
    // every monday_sync.workspace_interval (boards created there since), when there are any.
    for (command, every, wanted) in [
        ("account", settings::ACCOUNT_INTERVAL.get(), "true"),
        (
            "workspaces",
            settings::WORKSPACE_INTERVAL.get(),
            "EXISTS (SELECT 1 FROM monday_sync.tracked_workspaces)",
        ),
    ] {
        if every > 0 {
            exec(
                &format!(
                    "INSERT INTO monday_sync.jobs (board_id, command, requested_by)
                     SELECT NULL, $2, 'monday_sync schedule'
                      WHERE {wanted}
                        AND NOT EXISTS (SELECT 1 FROM monday_sync.jobs j
                                         WHERE j.command = $2
                                           AND (j.status IN ('queued', 'running')
                                                OR j.queued_at > now() - $1 * interval '1 second'))
                     ON CONFLICT DO NOTHING"
                ),
                &[every.into(), command.into()],
            );
        }
    }
    // Write-back left waiting (a call that failed, a restart): sent again, a minute after a
    // write job failed.
    exec(
        "INSERT INTO monday_sync.jobs (board_id, command, requested_by)
         SELECT DISTINCT coalesce(b.parent_board_id, b.board_id), 'write', 'monday_sync schedule'
           FROM monday_sync.writes w JOIN monday_sync.boards b USING (board_id)
          WHERE b.write_back AND b.deleted_on_monday_at IS NULL
            AND (w.status = 'sending'
                 OR (w.status = 'pending' AND (w.op = 'create' OR w.item_id > 0)
                     AND (w.parent_item_id IS NULL OR w.parent_item_id > 0)))
            AND NOT EXISTS (SELECT 1 FROM monday_sync.jobs j
                             WHERE j.board_id = coalesce(b.parent_board_id, b.board_id) AND j.command = 'write'
                               AND (j.status IN ('queued', 'running')
                                    OR (j.status = 'failed' AND j.finished_at > now() - interval '1 minute')))
         ON CONFLICT DO NOTHING",
        &[],
    );
}

/// How long the worker may sleep: the naptime, or less when a queued job is due sooner.
fn sleep_for() -> Duration {
    let nap = naptime();
    let due_ms: Option<i64> = in_tx(|| {
        Ok(super::spi::one::<i64>(
            "SELECT (extract(epoch FROM min(not_before) - clock_timestamp()) * 1000)::bigint
               FROM monday_sync.jobs WHERE status = 'queued'",
            &[],
        ))
    })
    .ok()
    .flatten();
    match due_ms {
        Some(ms) => nap.min(Duration::from_millis(ms.max(5) as u64)),
        None => nap,
    }
}

struct Job {
    jobid: i64,
    board_id: i64,
    command: String,
    attempts: i32,
}

/// Claims are made one at a time across the job workers (this transaction lock), so "no job of
/// this board is running" holds when a job is claimed: jobs of one board never run at once, and a
/// board's writes stay in order. A board-less job (the account, workspaces) waits for a running
/// one of its command. The claimed job's lock (`job_lock`) is taken in the same transaction.
const CLAIMABLE: &str = "status = 'queued' AND not_before <= now()
    AND NOT EXISTS (SELECT 1 FROM monday_sync.jobs r
                     WHERE r.status = 'running'
                       AND r.board_id IS NOT DISTINCT FROM q.board_id
                       AND (q.board_id IS NOT NULL OR r.command = q.command))";

fn claim() -> Option<Job> {
    claim_jobs("", 1).pop()
}

/// Refresh jobs a round claims at most (its probe asks refresh_round_size boards a call).
const ROUND_JOBS: i64 = 2_000;

/// The other refresh jobs that are due, claimed like `claim` does (at most `limit`).
fn claim_refreshes(limit: i64) -> Vec<Job> {
    claim_jobs("AND command = 'refresh'", limit)
}

/// Claims up to `limit` due jobs (`filter`: a fixed extra condition, never user input), oldest
/// first, each with its job lock.
fn claim_jobs(filter: &str, limit: i64) -> Vec<Job> {
    in_tx(|| {
        Ok(Spi::connect_mut(|c| {
            c.update(
                "SELECT pg_catalog.pg_advisory_xact_lock(1835955556)",
                None,
                &[],
            )?;
            c.update(
                &format!(
                    "UPDATE monday_sync.jobs SET status = 'running', attempts = attempts + 1,
                            started_at = clock_timestamp(), finished_at = NULL
                      WHERE jobid IN (SELECT jobid FROM monday_sync.jobs q
                                       WHERE {CLAIMABLE} {filter}
                                       ORDER BY not_before, jobid
                                       FOR UPDATE SKIP LOCKED LIMIT $1)
                     RETURNING jobid, board_id, command, attempts,
                               pg_catalog.pg_advisory_lock({}) IS NULL",
                    job_lock("jobid")
                ),
                None,
                &[limit.into()],
            )?
            .map(|r| {
                Ok(Job {
                    jobid: r.get::<i64>(1)?.unwrap_or(0),
                    board_id: r.get::<i64>(2)?.unwrap_or(0),
                    command: r.get::<String>(3)?.unwrap_or_default(),
                    attempts: r.get::<i32>(4)?.unwrap_or(1),
                })
            })
            .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
        })
        .unwrap_or_else(|e| super::spi::spi_fail(e)))
    })
    .unwrap_or_default()
}

/// A refresh round (see `round.rs`): one probe for every job's board; the idle ones succeed with
/// a run of their own (the probe's calls are recorded on the first), the others refresh as usual.
fn round(jobs: Vec<Job>) {
    if jobs.len() == 1 {
        return jobs.into_iter().for_each(run);
    }
    set_state(4, jobs[0].jobid, jobs[0].board_id);
    activity(&format!(
        "monday_sync: a refresh round of {} boards",
        jobs.len()
    ));
    let prepared = in_tx(|| {
        let cands: Vec<Option<super::round::Candidate>> = jobs
            .iter()
            .map(|j| super::round::candidate(j.board_id))
            .collect();
        Ok((cands, token()?))
    });
    let Ok((cands, tok)) = prepared else {
        return jobs.into_iter().for_each(run);
    };
    let probed: Vec<(usize, super::round::Candidate)> = cands
        .into_iter()
        .enumerate()
        .filter_map(|(i, c)| c.map(|c| (i, c)))
        .collect();
    let mut hooks = PgHooks { worker: true };
    let mut client = Client::new(settings::api_config(tok), &mut hooks);
    let list: Vec<super::round::Candidate> = probed.iter().map(|(_, c)| c.clone()).collect();
    let verdicts = match super::round::probe(&mut client, &list) {
        Ok(v) => v,
        Err(e) => {
            log!(
                "monday_sync worker: the probe of a refresh round failed ({}); every board refreshes on its own",
                failure_of(e).text()
            );
            return jobs.into_iter().for_each(run);
        }
    };
    let n = jobs.len();
    let mut verdict_of: Vec<Option<super::round::Verdict>> = (0..n).map(|_| None).collect();
    for ((i, _), v) in probed.iter().zip(verdicts) {
        verdict_of[*i] = Some(v);
    }
    // The boards whose changed items the round fetches together.
    let mut work = Vec::new();
    let mut work_jobs = Vec::new();
    let mut idle = Vec::new();
    let mut own = Vec::new();
    for (job, v) in jobs.into_iter().zip(verdict_of) {
        match v {
            Some(super::round::Verdict::Idle) => idle.push(job),
            Some(super::round::Verdict::Items(changes)) => {
                work.push(super::round::ItemWork {
                    board_id: job.board_id,
                    changes,
                });
                work_jobs.push(job);
            }
            _ => own.push(job),
        }
    }
    let outcomes = super::round::refresh_items(&mut client, &work, &mut |f| in_tx(&mut *f));
    // Every board's run; the round's calls are recorded on the first of them.
    let calls = client.http_calls();
    let mut first_run: Option<i64> = None;
    // The other runs record no call of their own.
    let mut none_hooks = PgHooks { worker: true };
    let none = Client::new(settings::api_config(String::new()), &mut none_hooks);
    let settled = idle
        .into_iter()
        .map(|j| {
            (
                j,
                Ok((
                    super::runs::Stats::default(),
                    "incremental: no activity since the watermark".to_string(),
                )),
            )
        })
        .chain(work_jobs.into_iter().zip(outcomes));
    for (job, outcome) in settled {
        let shared = match first_run {
            None => format!(
                " (a refresh round of {n} boards: its {calls} call(s) are recorded on this run)"
            ),
            Some(r) => format!(
                " (a refresh round of {n} boards: its {calls} call(s) are recorded on run {r})"
            ),
        };
        let recorded = in_tx(|| {
            let runid = start_job_run(
                job.board_id,
                "refresh_board",
                Some(job.jobid),
                Some("incremental"),
            );
            let who = if first_run.is_none() { &client } else { &none };
            match &outcome {
                Ok((stats, text)) => {
                    finish_run(
                        runid,
                        who,
                        stats,
                        &format!("{text}{shared}"),
                        Some("incremental"),
                    );
                    if stats.rows_written == 0 && stats.marked_deleted == 0 {
                        exec(
                            "UPDATE monday_sync.boards SET last_refreshed_at = now()
                              WHERE board_id = $1 OR parent_board_id = $1",
                            &[job.board_id.into()],
                        );
                    }
                }
                Err(e) => fail_run(runid, who, &format!("{}{shared}", e.message())),
            }
            Ok(runid)
        });
        let Ok(runid) = recorded else {
            own.push(job);
            continue;
        };
        first_run.get_or_insert(runid);
        let result = match outcome {
            Ok((_, text)) => Ok(Done {
                runid,
                message: text,
            }),
            Err(e) => Err(failure_of(e)),
        };
        finish_job(&job, result, Some(runid));
    }
    for job in own {
        run(job);
    }
}

struct Done {
    runid: i64,
    message: String,
}

fn run(job: Job) {
    set_state(4, job.jobid, job.board_id);
    activity(&format!(
        "monday_sync: {} of board {} (job {})",
        job.command, job.board_id, job.jobid
    ));
    let mut runid: Option<i64> = None;
    let result = execute(&job, &mut runid);
    finish_job(&job, result, runid);
}

/// The end of a job: its status (retried with a backoff, merged into a twin, failed for good),
/// the board marked when monday no longer has it, a NOTIFY, a log line and an alert.
fn finish_job(job: &Job, result: Result<Done, Failure>, runid: Option<i64>) {
    let mut runid = runid;
    let (status, message) = match &result {
        Ok(d) => {
            runid = Some(d.runid);
            ("succeeded", d.message.clone())
        }
        Err(f) => ("failed", f.text()),
    };
    let max = settings::MAX_ATTEMPTS.get();
    let (final_status, retry_in): (&str, Option<String>) = match &result {
        Ok(_) => ("succeeded", None),
        Err(f) if f.daily_limit() => (
            // Not the job's fault: it waits for the count to reset at midnight UTC.
            "queued",
            Some(
                "date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '1 day'"
                    .into(),
            ),
        ),
        Err(f) if f.permanent() || job.attempts >= max => ("failed", None),
        Err(_) => (
            "queued",
            Some(format!(
                "now() + interval '{} seconds'",
                (30i64 << (job.attempts - 1).clamp(0, 7)).min(3600)
            )),
        ),
    };
    // Any role may LISTEN: the payload carries only ids and a status. The rest (the error, the
    // figures) is in monday_sync.jobs / sync_runs, which only privileged roles read.
    let payload = json!({
        "jobid": job.jobid,
        "board_id": job.board_id,
        "command": job.command,
        "status": if final_status == "queued" { "retrying" } else { status },
        "runid": runid,
    });
    let daily = matches!(&result, Err(f) if f.daily_limit());
    let mut final_status = final_status;
    let mut message = message;
    let mut merged = false;
    // The board itself is gone (deleted on monday, or no longer shared with the token's user):
    // marked, and the schedule stops asking, instead of failing every interval.
    let gone = matches!(&result, Err(f) if f.code == PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT
        && f.message == format!("monday board {} was not found", job.board_id));
    if gone {
        message = format!(
            "{message}: deleted on monday, or no longer shared with the token's user; the worker's schedule for it is stopped (restore it on monday and run pull_board, or untrack_board)"
        );
    }
    let recorded = in_tx(|| {
        if gone {
            exec(
                "UPDATE monday_sync.boards SET deleted_on_monday_at = coalesce(deleted_on_monday_at, now())
                  WHERE board_id = $1 OR parent_board_id = $1",
                &[job.board_id.into()],
            );
        }
        let not_before = retry_in.as_deref().unwrap_or("now()");
        if final_status == "queued" {
            // An equal job was queued while this one ran (one may wait per board and command):
            // that one carries the retry, and this attempt ends as failed, pointing at it.
            let twin: Option<i64> = super::spi::one(
                &format!(
                    "UPDATE monday_sync.jobs SET not_before = least(not_before, {not_before}),
                            attempts = greatest(attempts, $4)
                      WHERE board_id IS NOT DISTINCT FROM $1 AND command = $2 AND status = 'queued' AND jobid <> $3
                  RETURNING jobid"
                ),
                &[
                    // The account's and the workspaces' jobs have no board.
                    (!matches!(job.command.as_str(), "account" | "workspaces"))
                        .then_some(job.board_id)
                        .into(),
                    job.command.as_str().into(),
                    job.jobid.into(),
                    (job.attempts - i32::from(daily)).into(),
                ],
            );
            if let Some(t) = twin {
                final_status = "failed";
                message = format!("{message} (retried as job {t})");
                merged = true;
            }
        }
        // `not_before` is one of the two expressions above, never user input.
        exec(
            &format!(
                "UPDATE monday_sync.jobs SET status = $2, finished_at = now(), runid = coalesce($3, runid),
                        last_error = $4, not_before = {not_before},
                        attempts = attempts - CASE WHEN $5 THEN 1 ELSE 0 END
                  WHERE jobid = $1"
            ),
            &[
                job.jobid.into(),
                final_status.into(),
                runid.into(),
                (status == "failed").then_some(message.as_str()).into(),
                daily.into(),
            ],
        );
        exec(
            "SELECT pg_notify('monday_sync', $1)",
            &[payload.to_string().into()],
        );
        Ok(())
    });
    if let Err(e) = recorded {
        warning!(
            "monday_sync worker: could not record the end of job {}: {}",
            job.jobid,
            failure_of(e).text()
        );
    }
    // The job is no longer this worker's (its claim lock goes, recorded or not).
    let _ = in_tx(|| {
        exec(
            &format!("SELECT pg_catalog.pg_advisory_unlock({})", job_lock("$1")),
            &[job.jobid.into()],
        );
        Ok(())
    });
    if status == "failed" && final_status == "failed" && !merged {
        warning!(
            "monday_sync worker: job {} ({} of board {}) failed for good after {} attempt(s): {message}",
            job.jobid,
            job.command,
            job.board_id,
            job.attempts
        );
        alert(job, &message);
    } else if status == "failed" {
        log!(
            "monday_sync worker: job {} ({} of board {}) failed, will retry: {message}",
            job.jobid,
            job.command,
            job.board_id
        );
    }
    idle();
}

fn execute(job: &Job, runid_out: &mut Option<i64>) -> Result<Done, Failure> {
    let fail = |e: ErrorReport| failure_of(e);
    // The account's and the workspaces' jobs belong to no board.
    let account = matches!(job.command.as_str(), "account" | "workspaces");
    let (tb, tok) = in_tx(|| {
        let tb = if account {
            None
        } else {
            Some(tracked(job.board_id).ok_or_else(|| {
                super::track::not_tracked(
                    job.board_id,
                    "the board was untracked after the job was queued",
                )
            })?)
        };
        Ok((tb, token()?))
    })
    .map_err(fail)?;
    let mut hooks = PgHooks { worker: true };
    let mut client = Client::new(settings::api_config(tok), &mut hooks);
    let (kind, mode) = match job.command.as_str() {
        "pull" => ("pull_board", Some("full")),
        "confirm" => ("confirm_items", None),
        "write" => ("write_items", None),
        "upsert" => ("upsert_items", None),
        "account" => ("pull_account", None),
        "workspaces" => ("track_workspace", None),
        _ => ("refresh_board", None),
    };
    let runid = in_tx(|| {
        let runid = start_job_run(job.board_id, kind, Some(job.jobid), mode);
        exec(
            "UPDATE monday_sync.jobs SET runid = $2 WHERE jobid = $1",
            &[job.jobid.into(), runid.into()],
        );
        Ok(runid)
    })
    .map_err(fail)?;
    *runid_out = Some(runid);
    let progress = match account {
        true => None,
        false => Progress::start(
            runid,
            job.board_id,
            if job.command == "pull" { 1 } else { 3 },
        ),
    };
    let result = match &tb {
        None if job.command == "workspaces" => {
            in_tx(|| super::workspace::discover_all(&mut client)).map(|(s, t)| (s, t, None))
        }
        None => in_tx(|| super::account::account_core(&mut client)).map(|v| {
            let text = format!(
                "{} users ({} deactivated), {} teams, {} tags; marked deleted: {}",
                v["users"], v["deactivated_users"], v["teams"], v["tags"], v["marked_deleted"]
            );
            let stats = super::runs::Stats {
                items_seen: v["users"].as_i64().unwrap_or(0),
                ..Default::default()
            };
            (stats, text, None)
        }),
        Some(tb) => match job.command.as_str() {
            "pull" => pull_core(&mut client, tb, &progress, &mut Committed).map(|(s, sub)| {
                let total = s.plus(sub.as_ref().unwrap_or(&Default::default()));
                let text = pull_text(&total);
                (total, text, Some("full"))
            }),
            "confirm" => super::webhooks::confirm_core(&mut client, tb, &progress, &mut Committed)
                .map(|(total, text)| (total, text, None)),
            "write" => {
                super::writeback::send::write_core(&mut client, tb, &progress, &mut Committed)
                    .map(|(total, text)| (total, text, None))
            }
            "upsert" => super::writeback::upsert::upsert_core(tb, &progress, &mut Committed)
                .map(|(total, text)| (total, text, None)),
            _ => refresh_core(&mut client, tb, &progress, &mut Committed)
                .map(|r| (r.total(), r.text(), Some(r.mode())))
                .and_then(|(total, mut text, mode)| {
                    // A board that pulls its updates pulls the new ones with every refresh.
                    if in_tx(|| Ok(super::updates::enabled(tb.board_id)))? {
                        let p = in_tx(|| {
                            super::updates::updates_core(&mut client, tb.board_id, false)
                        })?;
                        text.push_str(&format!("; {}", p.text()));
                    }
                    Ok((total, text, mode))
                }),
        },
    };
    drop(progress);
    match result {
        Ok((total, text, mode)) => {
            in_tx(|| {
                finish_run(runid, &client, &total, &text, mode);
                Ok(())
            })
            .map_err(fail)?;
            Ok(Done {
                runid,
                message: text,
            })
        }
        Err(e) => {
            let f = failure_of(e);
            let text = f.text();
            let _ = in_tx(|| {
                fail_run(runid, &client, &text);
                Ok(())
            });
            Err(f)
        }
    }
}

/// `monday_sync.alert_url`: a JSON POST with a `text` field (a Slack incoming webhook works as is).
fn alert(job: &Job, message: &str) {
    if settings::alert_url().is_none() {
        return;
    }
    let board_name: String = in_tx(|| {
        Ok(super::spi::one::<String>(
            "SELECT board_name FROM monday_sync.boards WHERE board_id = $1",
            &[job.board_id.into()],
        )
        .unwrap_or_default())
    })
    .unwrap_or_default();
    post_alert(json!({
        "text": format!(
            "monday_sync: the {} of monday board \"{board_name}\" ({}) failed after {} attempt(s): {message}",
            job.command, job.board_id, job.attempts
        ),
        "jobid": job.jobid,
        "board_id": job.board_id,
        "board_name": board_name,
        "command": job.command,
        "attempts": job.attempts,
        "error": message,
        "database": current_database(),
    }));
}

/// POSTs a JSON body to `monday_sync.alert_url` (5 s at most; a failure is a WARNING). Call it
/// outside a transaction that holds locks others wait for.
pub(crate) fn post_alert(body: serde_json::Value) {
    let Some(url) = settings::alert_url() else {
        return;
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .new_agent();
    match agent
        .post(&url)
        .header("Content-Type", "application/json")
        .send(body.to_string())
    {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => warning!(
            "monday_sync: alert_url answered HTTP {}",
            r.status().as_u16()
        ),
        Err(e) => warning!("monday_sync: alert_url could not be reached: {e}"),
    }
}

extension_sql!(
    r#"
CREATE VIEW monday_sync.worker AS
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

CREATE VIEW monday_sync.board_status AS
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

CREATE FUNCTION monday_sync.set_schedule(board_id bigint, refresh_every interval, reconcile_every interval DEFAULT interval '1 day')
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
"#,
    name = "worker_views",
    requires = [worker_row, "schema"]
);

/// The version this library was built as; the worker serves a database only when its
/// `pg_extension.extversion` says the same.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What `CREATE EXTENSION monday_sync` left in the worker's database.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum Installed {
    /// No extension (or the catalog could not be read): wait.
    No,
    /// Another version's SQL: the library was replaced (a new package, a new `.so`) and
    /// `ALTER EXTENSION monday_sync UPDATE` has not run yet. The worker must not touch tables
    /// whose shape it does not know: wait.
    Other(String),
    /// This library's version.
    Yes,
}

/// Which monday_sync is installed in the worker's database (read in a transaction of its own; an
/// error is "not installed", never an ERROR that would end the worker).
pub(crate) fn installed() -> Installed {
    in_tx(|| {
        Ok(Spi::get_one::<String>(
            "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'monday_sync'",
        )
        .ok()
        .flatten())
    })
    .ok()
    .flatten()
    .map_or(Installed::No, |v| {
        if v == VERSION {
            Installed::Yes
        } else {
            Installed::Other(v)
        }
    })
}

/// The message of a worker that waits for `ALTER EXTENSION monday_sync UPDATE`.
pub(crate) fn version_mismatch(database_has: &str) -> String {
    format!(
        "monday_sync {VERSION} is loaded but the database has {database_has}: run ALTER EXTENSION monday_sync UPDATE"
    )
}
