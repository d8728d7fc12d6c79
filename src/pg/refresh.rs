//! Incremental refresh: monday's activity log since the board's watermark names the items that
//! changed; `items(ids:)` fetches them, 100 per call. A refresh that finds nothing costs one call
//! and writes nothing. When the log cannot cover the gap (no watermark yet, a watermark older than
//! the log's retention, more entries than its 10,000-entry reach) it falls back to a full
//! reconcile and says so in the run history.
#![allow(clippy::result_large_err)]

use super::budget::PgHooks;
use super::client::token;
use super::errors::{api_err, R};
use super::mapping::mapping;
use super::progress::{Figures, Progress};
use super::pull::{items_by_ids, items_of, pull_core, pull_text, Inline, Steps};
use super::runs::{finish_run, start_job_run, Stats};
use super::settings;
use super::spi::{exec, spi_fail};
use super::track::{board_not_found, not_tracked, reconcile, tracked, Tracked};
use super::writer::{mark_deleted, Writer};
use crate::api::{documents, Client};
use crate::sync::activity::{scan, Scan};
use crate::sync::{board_meta, id_of};
use pgrx::prelude::*;
use pgrx::spi::Spi;
use serde_json::{json, Value};
use std::time::Instant;

pub(super) struct Refreshed {
    pub main: Stats,
    pub sub: Option<Stats>,
    /// Why the refresh walked the whole board instead; None = incremental.
    pub full_reason: Option<String>,
    pub log_entries: i64,
    pub changed_items: i64,
}

impl Refreshed {
    pub fn total(&self) -> Stats {
        self.main
            .plus(self.sub.as_ref().unwrap_or(&Stats::default()))
    }

    pub fn mode(&self) -> &'static str {
        if self.full_reason.is_some() {
            "full"
        } else {
            "incremental"
        }
    }

    pub fn text(&self) -> String {
        let total = self.total();
        match &self.full_reason {
            Some(r) => format!("full reconcile ({r}): {}", pull_text(&total)),
            None => format!(
                "incremental: {} activity-log entries, {} changed items fetched, {} rows written, {} marked deleted",
                self.log_entries, self.changed_items, total.rows_written, total.marked_deleted
            ),
        }
    }
}

pub(super) struct Watermark {
    /// µs since the Unix epoch.
    pub us: i64,
    /// The `from` argument: the watermark floored to the second, ISO 8601 UTC.
    pub from: String,
    pub too_old: bool,
    /// Later than now (plus clock skew): set by an impossible entry before this was guarded.
    pub in_future: bool,
}

/// How far in the future an activity-log entry may be dated (clock skew between monday and us).
pub(super) const CLOCK_SKEW_S: i64 = 300;

pub(super) fn watermark(board_id: i64) -> Option<Watermark> {
    let retention = settings::LOG_RETENTION.get() as f64;
    Spi::connect(|c| {
        let t = c.select(
            "SELECT (extract(epoch FROM activity_watermark) * 1000000)::bigint,
                    to_char(activity_watermark AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                    activity_watermark < now() - make_interval(secs => $2),
                    activity_watermark > now() + make_interval(secs => $3)
               FROM monday_sync.boards WHERE board_id = $1 AND activity_watermark IS NOT NULL",
            Some(1),
            &[board_id.into(), retention.into(), (CLOCK_SKEW_S as f64).into()],
        )?;
        if t.is_empty() {
            return Ok::<_, pgrx::spi::SpiError>(None);
        }
        let r = t.first();
        Ok(Some(Watermark {
            us: r.get::<i64>(1)?.unwrap_or(0),
            from: r.get::<String>(2)?.unwrap_or_default(),
            too_old: r.get::<bool>(3)?.unwrap_or(false),
            in_future: r.get::<bool>(4)?.unwrap_or(false),
        }))
    })
    .unwrap_or_else(|e| spi_fail(e))
}

/// After a refresh applied the log up to its newest entry (`newest`, in ticks; None: nothing
/// new): the boards' watermark moves there, rounded up to the microsecond — the next refresh
/// starts after it — and they count as refreshed now.
pub(super) fn move_watermark(boards: &[i64], newest: Option<i64>) {
    let next_us = newest.map(|t| (t + 9) / 10);
    exec(
        "UPDATE monday_sync.boards
            SET activity_watermark = coalesce(timestamptz 'epoch' + $2 * interval '1 microsecond', activity_watermark),
                last_refreshed_at = now()
          WHERE board_id = ANY ($1)",
        &[boards.to_vec().into(), next_us.into()],
    );
}

/// The live columns of the boards and their types: a refresh that changes it pulls in full.
fn columns_fingerprint(boards: &[i64]) -> Option<String> {
    super::spi::one(
        "SELECT pg_catalog.string_agg(board_id || ':' || column_id || ':' || column_type, ',' ORDER BY board_id, column_id)
           FROM monday_sync.columns WHERE board_id = ANY ($1) AND removed_at IS NULL",
        &[boards.to_vec().into()],
    )
}

fn full<S: Steps>(
    client: &mut Client,
    tb: &Tracked,
    progress: &Option<Progress>,
    steps: &mut S,
    reason: String,
) -> R<Refreshed> {
    let (main, sub) = pull_core(client, tb, progress, steps)?;
    Ok(Refreshed {
        main,
        sub,
        full_reason: Some(reason),
        log_entries: 0,
        changed_items: 0,
    })
}

/// One refresh of a tracked board and its subitems board.
pub(super) fn refresh_core<S: Steps>(
    client: &mut Client,
    tb: &Tracked,
    progress: &Option<Progress>,
    steps: &mut S,
) -> R<Refreshed> {
    let _source = super::security::sync_source("refresh");
    let what = format!("monday board {}", tb.board_id);
    let (wm, sub) = steps.step(|| {
        tb.target()?;
        Ok((
            watermark(tb.board_id),
            tb.subitems_board_id.and_then(tracked),
        ))
    })?;
    let wm = match wm {
        None => {
            return full(
                client,
                tb,
                progress,
                steps,
                "no watermark yet: the board was never pulled in full".into(),
            )
        }
        Some(w) if w.in_future => {
            let reason = format!(
                "the watermark {} is in the future (set from an impossible activity-log date)",
                w.from
            );
            return full(client, tb, progress, steps, reason);
        }
        Some(w) if w.too_old => {
            let reason = format!(
                "the watermark {} is older than monday_sync.activity_log_retention ({} s)",
                w.from,
                settings::LOG_RETENTION.get()
            );
            return full(client, tb, progress, steps, reason);
        }
        Some(w) => w,
    };
    let wm_ticks = wm.us.saturating_mul(10);
    // Now, in activity-log ticks (100 ns since the Unix epoch), plus the skew allowed.
    let latest_ticks =
        (unsafe { pg_sys::GetCurrentTimestamp() } + 946_684_800_000_000 + CLOCK_SKEW_S * 1_000_000)
            .saturating_mul(10);
    let boards: Vec<i64> = std::iter::once(tb.board_id)
        .chain(sub.as_ref().map(|s| s.board_id))
        .collect();
    let mut found = Scan::default();
    let mut asking = boards.clone();
    let mut cols = (Vec::new(), Vec::new());
    let mut page: i64 = 1;
    let mut fetched: std::collections::HashMap<i64, i64> = Default::default();
    let mut notes_out: Vec<String> = Vec::new();
    loop {
        let (op, doc) = if page == 1 {
            ("BoardChanges", documents::BOARD_CHANGES)
        } else {
            ("ActivityPage", documents::ACTIVITY_PAGE)
        };
        let ids: Vec<String> = asking.iter().map(i64::to_string).collect();
        let d = client
            .query(
                op,
                doc,
                json!({ "boards": ids, "from": wm.from, "limit": documents::LOG_PAGE_LIMIT, "page": page }),
            )
            .map_err(|e| api_err(e, &what))?;
        let returned = items_of(d.get("boards"));
        if page == 1 {
            // The metadata came with the first page: follow new and removed columns.
            let meta_of = |id: i64| {
                returned
                    .iter()
                    .find(|b| b.get("id").and_then(id_of) == Some(id))
                    .and_then(board_meta)
            };
            let main_meta = meta_of(tb.board_id).ok_or_else(|| board_not_found(tb.board_id))?;
            let sub_meta = sub.as_ref().and_then(|s| meta_of(s.board_id));
            let mut changed = None;
            cols = steps.step(|| {
                let mut notes = Vec::new();
                let before = columns_fingerprint(&boards);
                let main_cols = reconcile(tb.board_id, Some(&tb.target()?), &main_meta, &mut notes);
                let sub_cols = match (&sub, &sub_meta) {
                    (Some(s), Some(m)) => reconcile(s.board_id, Some(&s.target()?), m, &mut notes),
                    (Some(s), None) => mapping(s.board_id),
                    _ => Vec::new(),
                };
                if columns_fingerprint(&boards) != before {
                    changed = Some(notes.clone());
                }
                notes_out.extend(notes);
                Ok((main_cols, sub_cols))
            })?;
            if let Some(notes) = changed {
                // A column added, removed or retyped on monday: its values (a duplicated column
                // has them on every item) are in no activity-log entry, so every item is fetched.
                let what = if notes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", notes.join("; "))
                };
                let reason = format!(
                    "the board's columns changed on monday{what}: every item is fetched again"
                );
                return full(client, tb, progress, steps, reason);
            }
        }
        // A board's log goes on until a page is empty or reaches the watermark. A short page is
        // not taken as the end: monday does not document a maximum `limit` for activity_logs, and
        // a silently capped page must not hide older entries. (It costs one empty page.)
        let mut more = Vec::new();
        for b in returned {
            let logs = items_of(b.get("activity_logs"));
            let mut s = Scan::default();
            scan(logs, wm_ticks, latest_ticks, &mut s);
            let id = b.get("id").and_then(id_of).unwrap_or(0);
            let n = fetched.entry(id).or_insert(0);
            *n += logs.len() as i64;
            if !logs.is_empty() && !s.reached_watermark {
                if *n >= documents::LOG_REACH {
                    let reason = format!(
                        "more than {} activity-log entries since the watermark {}: beyond the log's reach",
                        documents::LOG_REACH,
                        wm.from
                    );
                    return full(client, tb, progress, steps, reason);
                }
                more.push(id);
            }
            found.entries += s.entries;
            found.board_events += s.board_events;
            found.items.extend(s.items);
            found.touches.extend(s.touches);
            found.newest = found.newest.max(s.newest);
            found.future += s.future;
        }
        if more.is_empty() {
            break;
        }
        asking = more;
        page += 1;
    }

    // Our own writes coming back (write-back) are in the rows already: an item whose every entry
    // is one is not fetched.
    let echoes = steps.step(|| Ok(crate::pg::writeback::echoes_in(tb.board_id, &found.touches)))?;
    // Fetch what changed, 100 items a call, and write each batch.
    let ids: Vec<i64> = found
        .items
        .iter()
        .copied()
        .filter(|i| !echoes.contains(i))
        .collect();
    let mut main = Stats::default();
    main.note_all(notes_out);
    if found.future > 0 {
        main.note(format!(
            "board {}: {} activity-log entr{} dated in the future: their items were fetched, the watermark was not moved past now",
            tb.board_id,
            found.future,
            if found.future == 1 { "y" } else { "ies" }
        ));
    }
    let mut sub_stats = sub.as_ref().map(|_| Stats::default());
    fetch_and_write(
        client,
        tb,
        sub.as_ref(),
        cols,
        &ids,
        (&mut main, &mut sub_stats),
        progress,
        steps,
        &mut |_| {},
    )?;
    steps.step(|| {
        move_watermark(&boards, found.newest);
        Ok(())
    })?;
    Ok(Refreshed {
        main,
        sub: sub_stats,
        full_reason: None,
        log_entries: found.entries,
        changed_items: ids.len() as i64,
    })
}

/// Fetches items by id, 100 a call, and writes each batch into the board's table (and its subitems
/// board's) exactly as a pull would; an id monday no longer returns is marked deleted. `done` runs
/// in each batch's transaction with the ids of that batch (the confirm queue forgets them there).
#[allow(clippy::too_many_arguments)]
pub(crate) fn fetch_and_write<S: Steps>(
    client: &mut Client,
    tb: &Tracked,
    sub: Option<&Tracked>,
    cols: (
        Vec<crate::sync::rows::MappedColumn>,
        Vec<crate::sync::rows::MappedColumn>,
    ),
    ids: &[i64],
    stats: (&mut Stats, &mut Option<Stats>),
    progress: &Option<Progress>,
    steps: &mut S,
    done: &mut dyn FnMut(&[i64]),
) -> R<()> {
    let what = format!("monday board {}", tb.board_id);
    let (main, sub_stats) = stats;
    let mut w_main = Writer::new(tb, cols.0);
    let mut w_sub = sub.map(|s| Writer::new(s, cols.1));
    for chunk in ids.chunks(documents::IDS_PER_CALL) {
        let d = items_by_ids(client, chunk).map_err(|e| api_err(e, &what))?;
        steps.step(|| {
            let items = items_of(d.get("items"));
            let on = |board: i64| -> Vec<Value> {
                items
                    .iter()
                    .filter(|it| it.pointer("/board/id").and_then(id_of) == Some(board))
                    .cloned()
                    .collect()
            };
            let main_items = on(tb.board_id);
            main.items_seen += main_items.len() as i64;
            let mut written = w_main.write(&main_items, main, false)?;
            if let (Some(s), Some(w), Some(st)) = (sub, w_sub.as_mut(), sub_stats.as_mut()) {
                let sub_items = on(s.board_id);
                st.items_seen += sub_items.len() as i64;
                written.extend(w.write(&sub_items, st, false)?);
            }
            // Not returned (deleted for good) or now on another board: kept, marked deleted.
            let gone: Vec<i64> = chunk
                .iter()
                .copied()
                .filter(|i| !written.contains(i))
                .collect();
            main.marked_deleted += mark_deleted(tb, &gone)?;
            if let (Some(s), Some(st)) = (sub, sub_stats.as_mut()) {
                st.marked_deleted += mark_deleted(s, &gone)?;
            }
            done(chunk);
            Ok(())
        })?;
        if let Some(p) = progress {
            p.update(&Figures {
                phase: 4,
                board_id: tb.board_id,
                items_seen: main.items_seen + sub_stats.as_ref().map_or(0, |s| s.items_seen),
                items_count: ids.len() as i64,
                rows_written: main.rows_written + sub_stats.as_ref().map_or(0, |s| s.rows_written),
                api_calls: client.http_calls() as i64,
                complexity: client.complexity_used(),
            });
        }
    }
    Ok(())
}

pub(super) fn summary(
    runid: i64,
    board_id: i64,
    r: &Refreshed,
    client: &Client,
    started: Instant,
) -> Value {
    let total = r.total();
    let mut v = json!({
        "runid": runid,
        "board_id": board_id,
        "mode": r.mode(),
        "log_entries": r.log_entries,
        "changed_items": r.changed_items,
        "items_seen": total.items_seen,
        "rows_written": total.rows_written,
        "marked_deleted": total.marked_deleted,
        "api_calls": client.http_calls(),
        "complexity_used": client.complexity_used(),
        "duration_ms": started.elapsed().as_millis() as i64,
        "warnings": total.warnings,
    });
    if let Some(reason) = &r.full_reason {
        v["full_reason"] = json!(reason);
    }
    if let Some(s) = &r.sub {
        v["subitems"] = s.summary();
    }
    v
}

/// `monday_sync.refresh_board(board_id)`: an incremental refresh in the caller's transaction.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn refresh_board(board_id: i64) -> R<pgrx::JsonB> {
    let tb = tracked(board_id).ok_or_else(|| {
        not_tracked(
            board_id,
            "refresh_board applies changes to the table that track_board creates",
        )
    })?;
    let mut hooks = PgHooks { worker: false };
    let mut client = Client::new(settings::api_config(token()?), &mut hooks);
    let started = Instant::now();
    let runid = start_job_run(board_id, "refresh_board", None, None);
    let progress = Progress::start(runid, board_id, 3);
    let r = refresh_core(&mut client, &tb, &progress, &mut Inline)?;
    let mut text = r.text();
    // A board that pulls its updates pulls the new ones with every refresh.
    if super::updates::enabled(board_id) {
        let p = super::updates::updates_core(&mut client, board_id, false)?;
        text.push_str(&format!("; {}", p.text()));
    }
    finish_run(runid, &client, &r.total(), &text, Some(r.mode()));
    Ok(pgrx::JsonB(summary(runid, board_id, &r, &client, started)))
}
