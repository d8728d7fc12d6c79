//! Refresh rounds. When several boards are due for a refresh at once (the worker's schedule,
//! pg_cron calling `request_refresh` for many boards), the worker claims their jobs together and
//! one call — the probe — reads the newest activity-log entries of up to
//! `monday_sync.refresh_round_size` boards (and their subitems boards), each from its own
//! watermark. A board with nothing after its watermark is done: its job succeeds with a run that
//! says so, and no call of its own is made. A board whose new entries are all in the answer (fewer
//! than `PROBE_LOG_LIMIT`) and touch only items has those items fetched together with the other
//! boards' (100 ids a call). Only the rest go on to their own refresh, exactly as before. An idle
//! round of N boards costs ceil(N / refresh_round_size) calls instead of N; a busy one adds a call
//! per 100 changed items.
//!
//! A board is never probed when its refresh must walk the board in full anyway (no watermark yet,
//! a watermark older than the log's retention or in the future): it goes straight to its own
//! refresh. A board the probe does not return (deleted on monday, no longer shared) does too, so
//! its own refresh reports it as today. A probe that fails (the API, the budget) probes nothing:
//! every board of the round then refreshes on its own.
#![allow(clippy::result_large_err)]

use super::errors::{api_err, R};
use super::mapping::mapping;
use super::pull::{items_by_ids, items_of};
use super::refresh::{move_watermark, watermark, CLOCK_SKEW_S};
use super::runs::Stats;
use super::settings;
use super::track::{tracked, Tracked};
use super::writer::{mark_deleted, Writer};
use crate::api::{documents, ApiErrorKind, Client};
use crate::sync::activity::{scan, Scan};
use crate::sync::id_of;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};

/// monday's limit on one query's complexity (FACTS.md §4.1): a probe aims at 80% of it.
const QUERY_COMPLEXITY_LIMIT: i64 = 5_000_000;
/// What one board id of a probe cost (`complexity.query` of the last probe ÷ its board ids;
/// 0 = not measured yet). The worker measures it with every probe and sizes the next by it.
static PROBE_COST_PER_ID: AtomicI64 = AtomicI64::new(0);
/// The fewest board ids a probe monday refused as too complex had (0 = none refused): later
/// probes stay below half of it.
static PROBE_REFUSED_AT: AtomicI64 = AtomicI64::new(0);

/// How many board ids the next probe may ask about: the setting, within what fits under monday's
/// single-query limit as measured so far.
fn probe_ids_that_fit(setting: usize) -> usize {
    let mut n = setting as i64;
    let cost = PROBE_COST_PER_ID.load(Ordering::Relaxed);
    if cost > 0 {
        n = n.min(QUERY_COMPLEXITY_LIMIT * 4 / 5 / cost);
    }
    let refused = PROBE_REFUSED_AT.load(Ordering::Relaxed);
    if refused > 0 {
        n = n.min(refused / 2);
    }
    n.max(1) as usize
}

/// A board of the round the probe may settle.
#[derive(Clone)]
pub(crate) struct Candidate {
    /// The board and its subitems board.
    pub boards: Vec<i64>,
    /// The watermark in activity-log ticks (100 ns since the Unix epoch), and as `from`.
    ticks: i64,
    from: String,
}

/// The board's candidate for a probe, or None when its refresh cannot be settled by one (a full
/// walk is due, or it is not tracked any more).
pub(crate) fn candidate(board_id: i64) -> Option<Candidate> {
    let tb = tracked(board_id)?;
    let wm = watermark(board_id)?;
    if wm.too_old || wm.in_future {
        return None;
    }
    Some(Candidate {
        boards: std::iter::once(board_id)
            .chain(tb.subitems_board_id)
            .collect(),
        ticks: wm.us.saturating_mul(10),
        from: wm.from,
    })
}

/// The probe's document: one aliased `boards` field per candidate (`p0`, `p1`, …), each with its
/// board ids and its own `from`, all sent as variables. Built here rather than kept as a file:
/// its size depends on the round; the fake monday server validates it against the schema like
/// every request.
fn probe_document<'a>(cands: impl Iterator<Item = &'a Candidate>) -> (String, Value) {
    let mut params = vec!["$limit: Int".to_string()];
    let mut fields = Vec::new();
    let mut vars = serde_json::Map::new();
    vars.insert("limit".into(), json!(documents::PROBE_LOG_LIMIT));
    for (k, c) in cands.enumerate() {
        params.push(format!("$b{k}: [ID!], $f{k}: ISO8601DateTime"));
        fields.push(format!(
            "  p{k}: boards(ids: $b{k}, limit: {}) {{ id activity_logs(from: $f{k}, limit: $limit) {{ id event entity data created_at }} }}",
            c.boards.len()
        ));
        vars.insert(
            format!("b{k}"),
            json!(c.boards.iter().map(i64::to_string).collect::<Vec<_>>()),
        );
        vars.insert(format!("f{k}"), json!(c.from));
    }
    (
        format!(
            "query RefreshProbe({}) {{\n  complexity {{ before after query reset_in_x_seconds }}\n{}\n}}\n",
            params.join(", "),
            fields.join("\n")
        ),
        Value::Object(vars),
    )
}

/// What the probe found for a board.
pub(crate) enum Verdict {
    /// Nothing after the watermark: the board is current.
    Idle,
    /// Only item changes, every one of them in the probe's answer: the round fetches these items
    /// (with other boards', 100 a call) and no call of the board's own is needed.
    Items(Changes),
    /// Anything else (a board-level change, more entries than the probe asked for, an entry in
    /// the future, a board monday did not return): the board's own refresh.
    Own,
}

pub(crate) struct Changes {
    pub items: std::collections::BTreeSet<i64>,
    pub touches: Vec<(i64, i64, Option<String>, i64)>,
    pub newest: Option<i64>,
    pub entries: i64,
}

/// Asks monday, in as few calls as the round size allows, what happened on each candidate's
/// boards since its watermark.
pub(crate) fn probe(client: &mut Client, cands: &[Candidate]) -> R<Vec<Verdict>> {
    let size = settings::REFRESH_ROUND_SIZE.get().max(1) as usize;
    let mut verdicts: Vec<Verdict> = cands.iter().map(|_| Verdict::Own).collect();
    // In watermark order (rounds with the same boards ask in the same order).
    let mut order: Vec<usize> = (0..cands.len()).collect();
    order.sort_by_key(|&i| cands[i].ticks);
    // Now, in ticks, plus the skew allowed: entries after it are "in the future".
    let latest =
        (unsafe { pg_sys::GetCurrentTimestamp() } + 946_684_800_000_000 + CLOCK_SKEW_S * 1_000_000)
            .saturating_mul(10);
    let mut start = 0;
    while start < order.len() {
        // Up to `size` board ids in a call (fewer when monday's single-query complexity limit
        // says so), a board and its subitems board together; each board with its own watermark
        // as `from` (an alias per board), so the answer holds only what is new.
        let fit = probe_ids_that_fit(size);
        let mut end = start;
        let mut n_ids = 0;
        while end < order.len() && (n_ids == 0 || n_ids + cands[order[end]].boards.len() <= fit) {
            n_ids += cands[order[end]].boards.len();
            end += 1;
        }
        let chunk = &order[start..end];
        let (doc, vars) = probe_document(chunk.iter().map(|&i| &cands[i]));
        let d = match client.query("RefreshProbe", &doc, vars) {
            Ok(d) => d,
            // Too big for one query: remember it and ask again, in smaller calls.
            Err(e) if e.kind == ApiErrorKind::TooComplex && chunk.len() > 1 => {
                let refused = PROBE_REFUSED_AT.load(Ordering::Relaxed);
                let n = n_ids as i64;
                if refused == 0 || n < refused {
                    PROBE_REFUSED_AT.store(n, Ordering::Relaxed);
                }
                continue;
            }
            Err(e) => {
                return Err(api_err(
                    e,
                    &format!("a refresh round of {} boards", chunk.len()),
                ))
            }
        };
        if let Some(q) = d.pointer("/complexity/query").and_then(Value::as_i64) {
            let n = n_ids.max(1) as i64;
            PROBE_COST_PER_ID.store((q + n - 1) / n, Ordering::Relaxed);
        }
        for (k, &i) in chunk.iter().enumerate() {
            let c = &cands[i];
            let returned = items_of(d.get(format!("p{k}").as_str()));
            let mut s = Scan::default();
            let mut complete = true;
            let mut seen_all = true;
            for b in &c.boards {
                match returned
                    .iter()
                    .find(|r| r.get("id").and_then(id_of) == Some(*b))
                {
                    Some(r) => {
                        let logs = items_of(r.get("activity_logs"));
                        let mut one = Scan::default();
                        scan(logs, c.ticks, latest, &mut one);
                        // Newest first: a short page, or an entry at or before the watermark,
                        // means every entry after the watermark is here.
                        complete &= (logs.len() as i64) < documents::PROBE_LOG_LIMIT
                            || one.reached_watermark;
                        s.entries += one.entries;
                        s.board_events += one.board_events;
                        s.future += one.future;
                        s.newest = s.newest.max(one.newest);
                        s.items.extend(one.items);
                        s.touches.extend(one.touches);
                    }
                    None => seen_all = false,
                }
            }
            verdicts[i] = if !seen_all {
                Verdict::Own
            } else if s.entries == 0 {
                Verdict::Idle
            } else if complete && s.board_events == 0 && s.future == 0 {
                Verdict::Items(Changes {
                    items: s.items,
                    touches: s.touches,
                    newest: s.newest,
                    entries: s.entries,
                })
            } else {
                Verdict::Own
            };
        }
        start = end;
    }
    Ok(verdicts)
}

/// Runs a unit of work in a transaction of its own (the worker's `in_tx`).
pub(crate) type Step = dyn FnMut(&mut dyn FnMut() -> R<()>) -> R<()>;

/// One board of a round whose changed items the round fetches.
pub(crate) struct ItemWork {
    pub board_id: i64,
    pub changes: Changes,
}

/// What a board of the round got: its figures and its run's text, or the error that fails its job.
pub(crate) type Outcome = Result<(Stats, String), ErrorReport>;

/// Fetches the changed items of several boards together (items(ids:), 100 ids a call, whatever
/// board they are on), writes each into its board's table (or subitems table) exactly as a
/// refresh would, marks the ones monday no longer returns, and moves each board's watermark.
/// `in_step` runs a unit of work in its own transaction (the worker commits after each call's
/// items). Returns one outcome per board, in order.
pub(crate) fn refresh_items(
    client: &mut Client,
    work: &[ItemWork],
    in_step: &mut Step,
) -> Vec<Outcome> {
    struct Board {
        tb: Tracked,
        sub: Option<Tracked>,
        main: Writer,
        subw: Option<Writer>,
        ids: Vec<i64>,
        stats: Stats,
        sub_stats: Stats,
        failed: bool,
    }
    let mut boards: Vec<Option<Board>> = Vec::new();
    let mut outcomes: Vec<Option<Outcome>> = work.iter().map(|_| None).collect();
    let r = in_step(&mut || {
        for w in work {
            let Some(tb) = tracked(w.board_id) else {
                boards.push(None);
                continue;
            };
            let sub = tb.subitems_board_id.and_then(tracked);
            // Our own writes coming back (write-back) are in the rows already.
            let echoes = crate::pg::writeback::echoes_in(w.board_id, &w.changes.touches);
            let ids: Vec<i64> = w
                .changes
                .items
                .iter()
                .copied()
                .filter(|i| !echoes.contains(i))
                .collect();
            let main = Writer::new(&tb, mapping(tb.board_id));
            let subw = sub.as_ref().map(|s| Writer::new(s, mapping(s.board_id)));
            boards.push(Some(Board {
                tb,
                sub,
                main,
                subw,
                ids,
                stats: Stats::default(),
                sub_stats: Stats::default(),
                failed: false,
            }));
        }
        Ok(())
    });
    if let Err(e) = r {
        let text = e.message().to_string();
        return work
            .iter()
            .map(|_| {
                Err(super::errors::err(
                    PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                    "a refresh round could not start",
                    text.clone(),
                    "The board's next refresh runs on its own.",
                ))
            })
            .collect();
    }
    for (i, b) in boards.iter().enumerate() {
        if b.is_none() {
            outcomes[i] = Some(Err(super::track::not_tracked(
                work[i].board_id,
                "the board was untracked after the job was queued",
            )));
        }
    }
    // Every id with the boards that expect it.
    let mut fail: Option<Fail> = None;
    let mut first_report: Option<ErrorReport> = None;
    let mut all: Vec<i64> = boards
        .iter()
        .flatten()
        .flat_map(|b| b.ids.iter().copied())
        .collect();
    all.sort_unstable();
    all.dedup();
    for chunk in all.chunks(documents::IDS_PER_CALL) {
        let d = match items_by_ids(client, chunk) {
            Ok(d) => d,
            Err(e) => {
                // The boards with items in this call (and after it) fail; their jobs retry.
                for b in boards.iter_mut().flatten() {
                    if b.ids.iter().any(|i| *i >= chunk[0]) {
                        b.failed = true;
                    }
                }
                fail = Some(Fail::Api(e));
                break;
            }
        };
        let r = in_step(&mut || {
            let _source = super::security::sync_source("refresh");
            // Each returned item under the board it is on, once per call.
            let mut on: HashMap<i64, Vec<&Value>> = HashMap::new();
            for it in items_of(d.get("items")) {
                if let Some(board) = it.pointer("/board/id").and_then(id_of) {
                    on.entry(board).or_default().push(it);
                }
            }
            for b in boards.iter_mut().flatten() {
                if b.failed {
                    continue;
                }
                // b.ids is in ascending order (from the scan's set).
                let mine: HashSet<i64> = chunk
                    .iter()
                    .copied()
                    .filter(|i| b.ids.binary_search(i).is_ok())
                    .collect();
                if mine.is_empty() {
                    continue;
                }
                let on = |board: i64| -> Vec<Value> {
                    on.get(&board)
                        .into_iter()
                        .flatten()
                        .filter(|it| {
                            it.get("id")
                                .and_then(id_of)
                                .is_some_and(|i| mine.contains(&i))
                        })
                        .map(|it| (*it).clone())
                        .collect()
                };
                let main_items = on(b.tb.board_id);
                b.stats.items_seen += main_items.len() as i64;
                let mut written = b.main.write(&main_items, &mut b.stats, false)?;
                if let (Some(s), Some(w)) = (&b.sub, b.subw.as_mut()) {
                    let sub_items = on(s.board_id);
                    b.sub_stats.items_seen += sub_items.len() as i64;
                    written.extend(w.write(&sub_items, &mut b.sub_stats, false)?);
                }
                // Not returned (deleted for good) or now on another board: kept, marked deleted.
                let written: HashSet<i64> = written.into_iter().collect();
                let gone: Vec<i64> = mine
                    .iter()
                    .copied()
                    .filter(|i| !written.contains(i))
                    .collect();
                b.stats.marked_deleted += mark_deleted(&b.tb, &gone)?;
                if let Some(s) = &b.sub {
                    b.sub_stats.marked_deleted += mark_deleted(s, &gone)?;
                }
            }
            Ok(())
        });
        if let Err(e) = r {
            // Rolled back: every board not yet done fails (the written ones wrote in this step).
            for b in boards.iter_mut().flatten() {
                b.failed = true;
            }
            fail = Some(Fail::Step(e.message().to_string()));
            first_report = Some(e);
            break;
        }
    }
    // The watermarks of the boards that got all their items.
    for (i, b) in boards.into_iter().enumerate() {
        let Some(b) = b else { continue };
        if b.failed {
            let report = match &fail {
                Some(f) => f.report(&mut first_report),
                None => super::errors::err(
                    PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                    "a refresh round failed",
                    "",
                    "The board's job is retried on its own.",
                ),
            };
            outcomes[i] = Some(Err(report));
            continue;
        }
        let ids: Vec<i64> = std::iter::once(b.tb.board_id)
            .chain(b.sub.as_ref().map(|s| s.board_id))
            .collect();
        let moved = in_step(&mut || {
            move_watermark(&ids, work[i].changes.newest);
            Ok(())
        });
        let total = b.stats.plus(&b.sub_stats);
        outcomes[i] = Some(moved.map(|_| {
            let text = format!(
                "incremental: {} activity-log entries, {} changed items fetched, {} rows written, {} marked deleted (in a refresh round)",
                work[i].changes.entries,
                b.ids.len(),
                total.rows_written,
                total.marked_deleted
            );
            (total, text)
        }));
    }
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Ok((Stats::default(), String::new()))))
        .collect()
}

/// An error shared by several boards of a round (an `ErrorReport` is neither `Clone` nor
/// readable for its code): monday's error is made again for each board; a Postgres error is kept
/// for the first board and named for the others.
enum Fail {
    Api(crate::api::ApiError),
    Step(String),
}

impl Fail {
    fn report(&self, first: &mut Option<ErrorReport>) -> ErrorReport {
        match self {
            Fail::Api(e) => api_err(e.clone(), "a refresh round"),
            Fail::Step(m) => first.take().unwrap_or_else(|| {
                super::errors::err(
                    PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                    "a refresh round failed while writing another board",
                    m.clone(),
                    "The board's job is retried on its own.",
                )
            }),
        }
    }
}
