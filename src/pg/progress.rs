//! Progress of pulls under way, visible from other sessions: a small table of slots in shared
//! memory (when monday_sync is in shared_preload_libraries), read by `monday_sync.pull_progress`.
//! A pull's own rows are invisible to others until it commits; these slots are not.

use pgrx::lwlock::PgLwLock;
use pgrx::prelude::*;
use pgrx::shmem::PGRXSharedMemory;
use pgrx::{pg_shmem_init, pg_sys};
use std::sync::atomic::{AtomicBool, Ordering};

const SLOTS: usize = 64;

#[derive(Copy, Clone, Default)]
#[repr(C)]
pub struct Slot {
    pid: i32,
    kind: u8,
    /// 1 = walking pages, 2 = resolving missing items, 4 = fetching changed items (refresh).
    phase: u8,
    runid: i64,
    board_id: i64,
    started_us: i64,
    items_seen: i64,
    items_count: i64,
    rows_written: i64,
    api_calls: i64,
    complexity: i64,
}

#[derive(Copy, Clone)]
#[repr(C)]
pub struct Slots {
    slots: [Slot; SLOTS],
}

impl Default for Slots {
    fn default() -> Self {
        Slots {
            slots: [Slot::default(); SLOTS],
        }
    }
}

unsafe impl PGRXSharedMemory for Slots {}

static PROGRESS: PgLwLock<Slots> = unsafe { PgLwLock::new(c"monday_sync progress") };
static READY: AtomicBool = AtomicBool::new(false);

/// Called from _PG_init: reserves the slots only while shared_preload_libraries is processed.
pub fn init() {
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        pg_shmem_init!(PROGRESS);
        READY.store(true, Ordering::Release);
    }
}

/// This backend's slot while a pull runs; cleared on drop (also when the pull errors out).
pub struct Progress {
    index: usize,
}

#[derive(Clone, Copy, Default)]
pub struct Figures {
    pub phase: u8,
    pub board_id: i64,
    pub items_seen: i64,
    pub items_count: i64,
    pub rows_written: i64,
    pub api_calls: i64,
    pub complexity: i64,
}

impl Progress {
    pub fn start(runid: i64, board_id: i64, kind: u8) -> Option<Progress> {
        if !READY.load(Ordering::Acquire) {
            return None;
        }
        let pid = unsafe { pg_sys::MyProcPid };
        let mut g = PROGRESS.exclusive();
        let index = g
            .slots
            .iter()
            .position(|s| s.pid == pid)
            .or_else(|| g.slots.iter().position(|s| s.pid == 0 || !alive(s.pid)))?;
        g.slots[index] = Slot {
            pid,
            kind,
            phase: 1,
            runid,
            board_id,
            started_us: unsafe { pg_sys::GetCurrentTimestamp() },
            ..Default::default()
        };
        Some(Progress { index })
    }

    pub fn update(&self, f: &Figures) {
        let mut g = PROGRESS.exclusive();
        let s = &mut g.slots[self.index];
        s.phase = f.phase;
        s.board_id = f.board_id;
        s.items_seen = f.items_seen;
        s.items_count = f.items_count;
        s.rows_written = f.rows_written;
        s.api_calls = f.api_calls;
        s.complexity = f.complexity;
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        let mut g = PROGRESS.exclusive();
        g.slots[self.index] = Slot::default();
    }
}

fn alive(pid: i32) -> bool {
    // Signal 0 checks existence; a backend that died without clearing its slot frees it.
    unsafe { libc_kill(pid, 0) == 0 }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[allow(clippy::type_complexity)]
#[pg_extern(volatile, parallel_safe, name = "_progress")]
#[search_path(pg_catalog, pg_temp)]
fn progress_rows() -> TableIterator<
    'static,
    (
        name!(pid, i32),
        name!(runid, i64),
        name!(board_id, i64),
        name!(kind, String),
        name!(phase, String),
        name!(started_us, i64),
        name!(items_seen, i64),
        name!(items_count, i64),
        name!(rows_written, i64),
        name!(api_calls, i64),
        name!(complexity_used, i64),
    ),
> {
    let rows: Vec<Slot> = if READY.load(Ordering::Acquire) {
        PROGRESS
            .share()
            .slots
            .iter()
            .copied()
            .filter(|s| s.pid != 0)
            .collect()
    } else {
        Vec::new()
    };
    TableIterator::new(rows.into_iter().map(|s| {
        (
            s.pid,
            s.runid,
            s.board_id,
            match s.kind {
                1 => "pull_board",
                2 => "pull_item",
                3 => "refresh_board",
                _ => "track_board",
            }
            .to_string(),
            match s.phase {
                1 => "walking pages",
                2 => "checking items missing from the walk",
                4 => "fetching changed items",
                _ => "starting",
            }
            .to_string(),
            s.started_us,
            s.items_seen,
            s.items_count,
            s.rows_written,
            s.api_calls,
            s.complexity,
        )
    }))
}

extension_sql!(
    r#"
CREATE VIEW monday_sync.pull_progress AS
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
"#,
    name = "pull_progress_view",
    requires = [progress_rows, "schema"]
);
