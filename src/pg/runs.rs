//! Run history in pg_cron's vocabulary (`monday_sync.sync_runs`): a run row for every track, pull
//! and refresh, its figures (`Stats`) and warnings, and every API call it made
//! (`monday_sync.api_calls`).

use super::spi::{exec, one};
use crate::api::Client;
use serde_json::{json, Value};

#[derive(Default, Debug)]
pub(crate) struct Stats {
    pub items_seen: i64,
    pub rows_written: i64,
    pub marked_deleted: i64,
    pub warnings: i64,
    pub warning_texts: Vec<String>,
    pub restarts: i64,
    pub items_count: Option<i64>,
    /// Group walks at once when the board was walked in parallel (0: one cursor).
    pub walks: i64,
}

impl Stats {
    /// The board's walk plus its subitems board's, for the run row.
    /// The figures a summary shows for one board (the subitems board's, in `"subitems"`).
    pub fn summary(&self) -> Value {
        let mut v = json!({
            "items_seen": self.items_seen,
            "rows_written": self.rows_written,
            "marked_deleted": self.marked_deleted,
            "warnings": self.warnings,
        });
        if self.walks > 0 {
            v["parallel_walks"] = json!(self.walks);
        }
        v
    }

    /// A warning for the run history (the first five are kept word for word).
    pub fn note(&mut self, text: String) {
        self.warnings += 1;
        if self.warning_texts.len() < 5 {
            self.warning_texts.push(text);
        }
    }

    pub fn note_all(&mut self, texts: Vec<String>) {
        for t in texts {
            self.note(t);
        }
    }

    pub fn plus(&self, o: &Stats) -> Stats {
        Stats {
            items_seen: self.items_seen + o.items_seen,
            rows_written: self.rows_written + o.rows_written,
            marked_deleted: self.marked_deleted + o.marked_deleted,
            warnings: self.warnings + o.warnings,
            warning_texts: self
                .warning_texts
                .iter()
                .chain(&o.warning_texts)
                .cloned()
                .collect(),
            restarts: self.restarts + o.restarts,
            items_count: None,
            walks: self.walks.max(o.walks),
        }
    }
}

pub(crate) fn start_run(board_id: i64, kind: &str) -> i64 {
    start_job_run(board_id, kind, None, None)
}

/// A run row; `jobid` when the worker runs it for a queued job, `mode` for pulls and refreshes.
pub(crate) fn start_job_run(
    board_id: i64,
    kind: &str,
    jobid: Option<i64>,
    mode: Option<&str>,
) -> i64 {
    one(
        "INSERT INTO monday_sync.sync_runs (board_id, kind, status, jobid, mode) VALUES ($1, $2, 'running', $3, $4) RETURNING runid",
        &[board_id.into(), kind.into(), jobid.into(), mode.into()],
    )
    .unwrap_or_else(|| pgrx::error!("monday_sync: could not start a run"))
}

/// A run that ended in an error (only the worker can record one: a SQL function's error rolls
/// back its run with everything else).
pub(crate) fn fail_run(runid: i64, client: &Client, message: &str) {
    record_calls(runid, client);
    let notes = client.notes();
    let message = if notes.is_empty() {
        message.to_string()
    } else {
        format!("{message}; warnings: {}", notes.join("; "))
    };
    let message = message.as_str();
    exec(
        "UPDATE monday_sync.sync_runs SET status = 'failed', finished_at = clock_timestamp(), message = $2,
                api_calls = $3, complexity_used = $4
          WHERE runid = $1",
        &[
            runid.into(),
            message.into(),
            (client.http_calls() as i32).into(),
            client.complexity_used().into(),
        ],
    );
}

fn record_calls(runid: i64, client: &Client) {
    for (i, c) in client.calls.iter().enumerate() {
        exec(
            "INSERT INTO monday_sync.api_calls (runid, call_no, operation, http_status, attempts, waited_ms, duration_ms,
                    complexity_before, complexity_after, complexity_cost, reset_in_seconds, last_error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                runid.into(),
                (i as i32 + 1).into(),
                c.operation.into(),
                (c.http_status as i32).into(),
                (c.attempts as i32).into(),
                (c.waited.as_millis() as i64).into(),
                (c.elapsed.as_millis() as i64).into(),
                c.complexity.map(|x| x.before).into(),
                c.complexity.map(|x| x.after).into(),
                c.complexity.map(|x| x.query).into(),
                c.complexity.map(|x| x.reset_in_seconds as i32).into(),
                c.last_error.clone().into(),
            ],
        );
    }
}

/// A run that succeeded; `mode` when only the end knows it (a refresh that fell back to full).
pub(crate) fn finish_run(
    runid: i64,
    client: &Client,
    stats: &Stats,
    summary: &str,
    mode: Option<&str>,
) {
    record_calls(runid, client);
    // What monday answered that could not be true (clamped waits and resets) is a warning too.
    let mut texts = stats.warning_texts.clone();
    let notes = client.notes();
    let warnings = stats.warnings + notes.len() as i64;
    texts.extend(notes.into_iter().take(5));
    let mut message = summary.to_string();
    if !texts.is_empty() {
        message.push_str("; warnings: ");
        message.push_str(&texts.join("; "));
        if warnings as usize > texts.len() {
            message.push_str(&format!("; … {} more", warnings as usize - texts.len()));
        }
    }
    exec(
        "UPDATE monday_sync.sync_runs SET status = 'succeeded', finished_at = clock_timestamp(),
                items_seen = $2, rows_written = $3, api_calls = $4, complexity_used = $5, warnings = $6, message = $7,
                mode = coalesce($8, mode)
          WHERE runid = $1",
        &[runid.into(), stats.items_seen.into(), stats.rows_written.into(), (client.http_calls() as i32).into(), client.complexity_used().into(), (warnings as i32).into(), message.into(), mode.into()],
    );
    // The board answered: it is there again (restored on monday, shared again).
    exec(
        "UPDATE monday_sync.boards b SET deleted_on_monday_at = NULL
           FROM monday_sync.sync_runs r
          WHERE r.runid = $1 AND r.kind IN ('pull_board', 'refresh_board')
            AND b.deleted_on_monday_at IS NOT NULL
            AND (b.board_id = r.board_id OR b.parent_board_id = r.board_id)",
        &[runid.into()],
    );
}
