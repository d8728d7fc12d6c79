//! The webhook worker: a background worker beside the job worker (started by the same launcher).
//!
//! When `monday_sync.webhook_listen` is set it serves HTTP through `crate::listener` (a helper
//! thread; no Postgres there) and, on this main thread, commits each batch of accepted events to
//! the inbox before their requests are answered. Whether or not it listens, it applies stored
//! events (from the listener or from `receive_webhook`) to the typed tables, prunes the inbox, and
//! queues a safety-net refresh for subscribed boards after a gap (its own start, a silence).
#![allow(clippy::result_large_err)]

use super::inbox::{self, Covers, Stored};
use crate::listener::{Config, Incoming, Limits, Listener};
use crate::pg::settings;
use crate::webhook::auth::Authorized;
use pgrx::bgworkers::{BackgroundWorker, SignalWakeFlags};
use pgrx::lwlock::PgLwLock;
use pgrx::prelude::*;
use pgrx::shmem::PGRXSharedMemory;
use pgrx::{pg_shmem_init, pg_sys};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub const COUNTERS: usize = 11;

#[derive(Copy, Clone)]
#[repr(C)]
pub struct HookState {
    pub pid: i32,
    /// 1 waiting for the extension, 2 applying only (no listener), 3 listening.
    pub state: u8,
    pub latch: usize,
    /// Bumped by every change of the secrets (subscribe_board, set_signing_secret): the worker
    /// reloads them.
    pub auth_gen: u64,
    pub counters: [u64; COUNTERS],
    pub addr: [u8; 64],
    pub error: [u8; 192],
    pub applied: i64,
    pub since_us: i64,
}

impl Default for HookState {
    fn default() -> Self {
        HookState {
            pid: 0,
            state: 0,
            latch: 0,
            auth_gen: 0,
            counters: [0; COUNTERS],
            addr: [0; 64],
            error: [0; 192],
            applied: 0,
            since_us: 0,
        }
    }
}

unsafe impl PGRXSharedMemory for HookState {}

/// One webhook worker per served database (indexed like the job workers' database entries).
#[derive(Copy, Clone)]
#[repr(C)]
pub struct AllHooks {
    pub dbs: [HookState; crate::multidb::MAX_DATABASES],
}

impl Default for AllHooks {
    fn default() -> Self {
        AllHooks {
            dbs: [HookState::default(); crate::multidb::MAX_DATABASES],
        }
    }
}

unsafe impl PGRXSharedMemory for AllHooks {}

pub static HOOKS: PgLwLock<AllHooks> = unsafe { PgLwLock::new(c"monday_sync webhooks") };

/// The webhook worker state of this process's database (None: no worker serves it).
pub fn mine() -> Option<HookState> {
    if !READY.load(Ordering::Acquire) {
        return None;
    }
    let i = crate::pg::worker::my_db_index()?;
    Some(HOOKS.share().dbs[i])
}

/// Changes this process's database's webhook worker state (nothing when no worker serves it).
fn with_mine<T>(f: impl FnOnce(&mut HookState) -> T) -> Option<T> {
    if !READY.load(Ordering::Acquire) {
        return None;
    }
    let i = crate::pg::worker::my_db_index()?;
    Some(f(&mut HOOKS.exclusive().dbs[i]))
}
pub static READY: AtomicBool = AtomicBool::new(false);

pub fn init_shmem() {
    pg_shmem_init!(HOOKS);
    READY.store(true, Ordering::Release);
}

/// A NUL-terminated text in a fixed shared-memory buffer (cut at a character boundary).
pub(crate) fn put(buf: &mut [u8], s: &str) {
    buf.fill(0);
    let b = s.as_bytes();
    let n = crate::codec::truncate_bytes(s, buf.len() - 1)
        .len()
        .min(b.len());
    buf[..n].copy_from_slice(&b[..n]);
}

pub fn text(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Whether a webhook worker runs (preloaded, and its process alive).
pub fn alive() -> bool {
    let Some(h) = mine() else {
        return false;
    };
    let pid = h.pid;
    pid > 0 && unsafe { libc::kill(pid, 0) } == 0
}

/// Wakes the webhook worker when the calling transaction commits: new events to apply, or new
/// secrets to load (`secrets` bumps the generation it compares).
pub fn wake_on_commit(secrets: bool) {
    if !READY.load(Ordering::Acquire) {
        return;
    }
    pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Commit, move || {
        let latch = with_mine(|h| {
            if secrets {
                h.auth_gen += 1;
            }
            h.latch
        })
        .unwrap_or(0);
        if latch != 0 {
            unsafe { pg_sys::SetLatch(latch as *mut pg_sys::Latch) };
        }
    });
}

extern "C-unwind" {
    #[link_name = "die"]
    fn postgres_die(signal: std::ffi::c_int);
}

/// What the listener settings were when it was started; a reload that changes them restarts it.
#[derive(Clone, PartialEq, Debug)]
struct ListenSettings {
    listen: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    max_body: i32,
    header_timeout: i32,
    body_timeout: i32,
    max_connections: i32,
    queue: i32,
}

fn listen_settings() -> ListenSettings {
    ListenSettings {
        listen: settings::for_database(
            &settings::WEBHOOK_LISTEN,
            &crate::pg::worker::current_database(),
        ),
        cert: settings::optional(&settings::WEBHOOK_TLS_CERT),
        key: settings::optional(&settings::WEBHOOK_TLS_KEY),
        max_body: settings::WEBHOOK_MAX_BODY.get(),
        header_timeout: settings::WEBHOOK_HEADER_TIMEOUT.get(),
        body_timeout: settings::WEBHOOK_BODY_TIMEOUT.get(),
        max_connections: settings::WEBHOOK_MAX_CONNECTIONS.get(),
        queue: settings::WEBHOOK_QUEUE.get(),
    }
}

fn start_listener(
    s: &ListenSettings,
    auth: crate::webhook::auth::AuthConfig,
) -> Result<Listener, String> {
    let listen = s.listen.clone().unwrap_or_default();
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&listen)
        .map_err(|e| format!("monday_sync.webhook_listen \"{listen}\" is not host:port: {e}"))?
        .next()
        .ok_or_else(|| format!("monday_sync.webhook_listen \"{listen}\" names no address"))?;
    let tls = match (&s.cert, &s.key) {
        (None, None) => None,
        (Some(c), Some(k)) => Some(crate::listener::tls_config(c, k)?),
        _ => {
            return Err(
                "monday_sync.webhook_tls_cert and webhook_tls_key must be set together".into(),
            )
        }
    };
    Listener::start(Config {
        addr,
        tls,
        limits: Limits {
            max_body: s.max_body.max(1) as usize * 1024,
            header_timeout: Duration::from_millis(s.header_timeout.max(1) as u64),
            body_timeout: Duration::from_millis(s.body_timeout.max(1) as u64),
            max_connections: s.max_connections.max(1) as usize,
            queue: s.queue.max(1) as usize,
            commit_timeout: Duration::from_secs(10),
        },
        auth,
    })
}

fn set_error(msg: &str) {
    with_mine(|h| put(&mut h.error, msg));
}

fn publish(listener: Option<&Listener>) {
    with_mine(|h| match listener {
        Some(l) => {
            h.state = 3;
            put(&mut h.addr, &l.addr.to_string());
            for (i, (_, v)) in l.counters.snapshot().into_iter().enumerate().take(COUNTERS) {
                h.counters[i] = v;
            }
        }
        None => {
            h.state = 2;
            put(&mut h.addr, "");
        }
    });
}

/// Waits on the latch and, when listening, on the listener's wake pipe.
fn wait(fd: Option<i32>, timeout: Duration) {
    let mut events =
        (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32;
    let sock = match fd {
        Some(fd) => {
            events |= pg_sys::WL_SOCKET_READABLE as i32;
            fd
        }
        None => -1 as pg_sys::pgsocket,
    };
    unsafe {
        pg_sys::WaitLatchOrSocket(
            pg_sys::MyLatch,
            events,
            sock,
            timeout.as_millis().min(i64::MAX as u128) as std::ffi::c_long,
            pg_sys::PG_WAIT_EXTENSION,
        );
        pg_sys::ResetLatch(pg_sys::MyLatch);
    }
    pgrx::check_for_interrupts!();
}

const BATCH: usize = 512;
/// Events applied per transaction while requests are arriving: small, so that they wait for at
/// most one slice (a few milliseconds) before their batch is committed and answered; larger when
/// nothing arrived (fewer transactions for the same work).
const APPLY_SLICE_RECEIVING: i64 = 16;
const APPLY_SLICE: i64 = 128;
/// How long the events of a board wait before they are tried again: while a job of ours writes
/// its rows (a short transaction), and while another session holds a lock on its table (each try
/// costs up to the 50 ms lock_timeout of the apply).
const DEFER_WRITING: Duration = Duration::from_millis(20);
const DEFER_LOCKED: Duration = Duration::from_millis(500);

#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn monday_sync_webhooks_main(arg: pg_sys::Datum) {
    // The launcher's argument: the database's entry.
    let index = (unsafe { i64::from_datum(arg, false) }.unwrap_or(0).max(0) as usize)
        .min(crate::multidb::MAX_DATABASES - 1);
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    unsafe { pg_sys::pqsignal(pg_sys::SIGTERM as i32, Some(postgres_die)) };
    let Some(dboid) = crate::pg::worker::entry_oid(index) else {
        return; // the database is no longer served
    };
    crate::pg::worker::set_my_database(index);
    with_mine(|h| {
        h.pid = unsafe { pg_sys::MyProcPid };
        h.latch = unsafe { std::ptr::addr_of_mut!((*pg_sys::MyProc).procLatch) } as usize;
        h.state = 1;
        h.since_us = unsafe { pg_sys::GetCurrentTimestamp() };
    });
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(pg_sys::Oid::from(dboid)), None);
    crate::pg::security::pin_session_search_path();
    crate::pg::security::pin_session_setting("lock_timeout", "30s");
    let mut listener: Option<Listener> = None;
    let mut started: Option<ListenSettings> = None;
    let mut covers: Covers = Default::default();
    let mut auth_gen = u64::MAX;
    let mut recovered = false;
    let mut last_housekeeping: Option<Instant> = None;
    let mut last_publish = Instant::now();
    let mut last_failed_start: Option<Instant> = None;
    let mut deferred: Vec<(i64, Instant)> = Vec::new();
    let mut installed = false;
    let mut installed_at: Option<Instant> = None;
    loop {
        if BackgroundWorker::sighup_received() {
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
            auth_gen = u64::MAX; // the public URL or allow_unauthenticated may have changed
        }
        // Checked once a second, not per batch: under load it would be a transaction per loop.
        // (Meanwhile a DROP EXTENSION makes the inbox writes fail and the answers 503.)
        if installed_at.is_none_or(|t| t.elapsed() > Duration::from_secs(1)) {
            // Another version's SQL (a new library before ALTER EXTENSION … UPDATE; the job worker
            // logs it) counts as not installed: no inbox of the shape this library writes.
            let found = super::super::worker::installed();
            if !super::super::worker::present(&found) {
                return; // monday_sync.databases = '*' and no extension here
            }
            installed = found == super::super::worker::Installed::Yes;
            installed_at = Some(Instant::now());
        }
        if !installed {
            installed_at = None;
            // DROP EXTENSION: stop serving (no inbox to commit to) until it is back.
            listener = None;
            started = None;
            recovered = false;
            with_mine(|h| h.state = 1);
            wait(None, Duration::from_secs(5));
            continue;
        }
        // Secrets: at start, on a reload and whenever a transaction changed them.
        let gen = mine().map_or(0, |h| h.auth_gen);
        if gen != auth_gen {
            match super::super::worker::in_tx(|| Ok(inbox::auth_config())) {
                Ok((auth, c)) => {
                    covers = c;
                    if let Some(l) = &listener {
                        l.set_auth(auth);
                    }
                    auth_gen = gen;
                }
                Err(e) => warning!(
                    "monday_sync webhooks: could not read the secrets: {}",
                    e.message()
                ),
            }
        }
        // Start, restart or stop the listener as the settings say.
        let want = listen_settings();
        if started.as_ref() != Some(&want) {
            let retry_due = last_failed_start.is_none_or(|t| t.elapsed() > Duration::from_secs(10))
                || started.is_some();
            if retry_due {
                listener = None; // the old one stops (its port is free again)
                started = None;
                if want.listen.is_some() {
                    let auth = super::super::worker::in_tx(|| Ok(inbox::auth_config()));
                    let r = auth
                        .map_err(|e| e.message().to_string())
                        .and_then(|(a, _)| start_listener(&want, a));
                    match r {
                        Ok(l) => {
                            log!(
                                "monday_sync webhooks: listening on {}{}",
                                l.addr,
                                if want.cert.is_some() { " (TLS)" } else { "" }
                            );
                            set_error("");
                            listener = Some(l);
                            // Nothing listened until now: what monday sent meanwhile may be lost.
                            recovered = false;
                            started = Some(want.clone());
                            last_failed_start = None;
                        }
                        Err(e) => {
                            warning!("monday_sync webhooks: the listener did not start: {e}");
                            set_error(&e);
                            last_failed_start = Some(Instant::now());
                        }
                    }
                } else {
                    started = Some(want.clone());
                    set_error("");
                }
                publish(listener.as_ref());
            }
        }
        if !recovered {
            // Events may have been sent while nothing listened: subscribed boards catch up from
            // their activity log.
            match super::super::worker::in_tx(|| {
                Ok(super::apply::after_gap("the webhook worker started"))
            }) {
                Ok(_) => recovered = true,
                Err(e) => warning!("monday_sync webhooks: recovery failed: {}", e.message()),
            }
        }
        // 1. Commit what arrived, then answer it.
        let mut busy = false;
        if let Some(l) = &listener {
            l.clear_wake();
            loop {
                let mut batch: Vec<Incoming> = Vec::new();
                while batch.len() < BATCH {
                    match l.try_recv() {
                        Some(i) => batch.push(i),
                        None => break,
                    }
                }
                if batch.is_empty() {
                    break;
                }
                busy = true;
                commit_batch(batch, &covers);
            }
        }
        // 2. Apply stored events (a bounded slice, so new arrivals are not kept waiting).
        // Boards whose rows are being written or locked elsewhere are skipped a moment.
        deferred.retain(|(_, until)| *until > Instant::now());
        let skip: Vec<i64> = deferred.iter().map(|(b, _)| *b).collect();
        match super::super::worker::in_tx(|| {
            let slice = if busy {
                APPLY_SLICE_RECEIVING
            } else {
                APPLY_SLICE
            };
            Ok(super::apply::apply_pending(slice, false, &skip))
        }) {
            Ok(done) => {
                if done.processed > 0 {
                    busy = true;
                    with_mine(|h| h.applied += done.processed);
                }
                if !done.failed.is_empty() {
                    super::failed_events(&done.failed);
                }
                let now = Instant::now();
                deferred.extend(done.deferred.into_iter().map(|(b, locked)| {
                    (b, now + if locked { DEFER_LOCKED } else { DEFER_WRITING })
                }));
            }
            Err(e) => warning!(
                "monday_sync webhooks: applying events failed: {}",
                e.message()
            ),
        }
        // 3. Housekeeping, once a minute: prune, silence check.
        if last_housekeeping.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
            last_housekeeping = Some(Instant::now());
            if let Err(e) = super::super::worker::in_tx(|| {
                super::apply::housekeeping();
                Ok(())
            }) {
                warning!("monday_sync webhooks: housekeeping failed: {}", e.message());
            }
        }
        if last_publish.elapsed() > Duration::from_millis(500) {
            last_publish = Instant::now();
            publish(listener.as_ref());
        }
        if busy {
            continue;
        }
        unsafe {
            pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_IDLE, std::ptr::null())
        };
        wait(
            listener.as_ref().map(|l| l.wake_fd()),
            if deferred.is_empty() {
                Duration::from_secs(1)
            } else {
                // Deferred events: look again soon (the job's transaction is short).
                DEFER_WRITING
            },
        );
    }
}

/// One transaction for the whole batch; the answers go out after the commit. A failed commit
/// answers 503 (monday retries; nothing of the batch was stored).
fn commit_batch(batch: Vec<Incoming>, covers: &Covers) {
    let mut refused = Vec::new();
    let mut ok = Vec::new();
    for i in batch {
        let allowed = match &i.authorized {
            Authorized::SecretPath { board_id } => inbox::covered(covers, *board_id, &i.event),
            _ => true,
        };
        if allowed {
            ok.push(i);
        } else {
            refused.push(i);
        }
    }
    for i in refused {
        i.answer(401, "{\"error\":\"not authorized for this board\"}");
    }
    if ok.is_empty() {
        return;
    }
    let stored = super::super::worker::in_tx(|| {
        let events: Vec<&crate::webhook::Event> = ok.iter().map(|i| &i.event).collect();
        let received: Vec<i64> = ok.iter().map(|i| i.received_ms).collect();
        Ok(inbox::store(&events, "listener", &received))
    });
    match stored {
        Ok(s) => {
            for (i, st) in ok.into_iter().zip(s) {
                let body = match st {
                    Stored::New(id) => format!("{{\"stored\":true,\"event_id\":{id}}}"),
                    Stored::Duplicate(id) => format!("{{\"stored\":false,\"duplicate_of\":{id}}}"),
                };
                i.answer(200, body);
            }
        }
        Err(e) => {
            warning!(
                "monday_sync webhooks: storing {} event(s) failed: {}",
                ok.len(),
                e.message()
            );
            for i in ok {
                i.answer(503, "{\"error\":\"not stored; retry\"}");
            }
        }
    }
}
