//! Pulls: `monday_sync.pull_board` walks every page of a board and of its subitems board, then
//! asks monday about the rows the walk did not see; `monday_sync.pull_item` fetches one item,
//! upserts it and returns its row. HTTP runs through `crate::api` (cancellable), between the
//! database steps (`Steps`: the caller's transaction for a SQL function, one per step in the
//! worker).
#![allow(clippy::result_large_err)] // ErrorReport is the SQL error type.

use super::budget::PgHooks;
use super::client::new_client;
use super::errors::{api_err, err, R};
use super::mapping::mapping;
use super::progress::{Figures, Progress};
use super::runs::{finish_run, start_job_run, start_run, Stats};
use super::security::{as_owner, lookup, Lookup};
use super::spi::{exec, one, q, spi_fail};
use super::track::{board_not_found, fetch_meta, not_tracked, reconcile, tracked, Tracked};
use super::writer::{mark_deleted, row_json, Writer};
use crate::api::{documents, ApiError, ApiErrorKind, Client, Pending};
use crate::sync::rows::{build_rows, get};
use crate::sync::walks::{GroupWalks, PageRequest};
use crate::sync::{board_meta, id_of, BoardMeta};
use pgrx::prelude::*;
use pgrx::spi::Spi;
use serde_json::{json, Value};
use serde_json_borrow::Value as Item;
use std::collections::VecDeque;
use std::time::Instant;

/// How a sync's database work is split into transactions. A SQL function (`pull_board`,
/// `refresh_board`) runs in its caller's transaction: `Inline`. The background worker commits each
/// step on its own, so a crash loses at most the page being written and HTTP never happens inside
/// a transaction.
pub(crate) trait Steps {
    fn step<T>(&mut self, f: impl FnOnce() -> R<T>) -> R<T>;
}

pub(super) struct Inline;

impl Steps for Inline {
    fn step<T>(&mut self, f: impl FnOnce() -> R<T>) -> R<T> {
        f()
    }
}

pub(super) fn items_of(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// `items` of an items page (`[]` when absent or not a list).
fn page_items<'v, 'a>(page: Option<&'v Item<'a>>) -> &'v [Item<'a>] {
    page.and_then(|p| get(p, "items"))
        .and_then(Item::as_array)
        .unwrap_or(&[])
}

/// A board of a page without its items, as `board_meta` reads it.
fn meta_value(board: &Item) -> Value {
    match board.as_object() {
        Some(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| *k != "items_page")
                .map(|(k, v)| (k.to_string(), Value::from(v)))
                .collect(),
        ),
        None => Value::Null,
    }
}

/// A full walk of one board: every page, restarts on an expired cursor, then the reconciliation of
/// rows the walk did not see (archived, deleted, moved). Database work happens in `steps`; HTTP
/// happens between them.
pub(super) fn walk<S: Steps>(
    client: &mut Client,
    tb: &Tracked,
    stats: &mut Stats,
    progress: &Option<Progress>,
    base: &Figures,
    steps: &mut S,
) -> R<()> {
    let parallel = steps.step(|| {
        let target = tb.target()?;
        // The walk's seen-set lives in a temp table, not in memory: memory stays flat at any board
        // size. It outlives the worker's per-page transactions and is dropped after the walk. The
        // table's owner reads it in the final anti-join (which runs with the owner's rights).
        exec(
            "CREATE TEMP TABLE IF NOT EXISTS monday_sync_seen (item_id bigint PRIMARY KEY)",
            &[],
        );
        exec("TRUNCATE pg_temp.monday_sync_seen", &[]);
        let owner: Option<String> = one(
            "SELECT pg_catalog.pg_get_userbyid($1)::text",
            &[target.owner.into()],
        );
        if let Some(owner) = owner {
            exec(
                &format!("GRANT SELECT ON pg_temp.monday_sync_seen TO {}", q(&owner)),
                &[],
            );
        }
        Ok(parallel_walks(tb.board_id))
    })?;
    let what = format!("monday board {}", tb.board_id);
    let mut writer: Option<Writer> = None;
    let mut walked: i64 = 0;
    let report = |client: &Client, stats: &Stats, walked: i64, phase: u8| {
        if let Some(p) = progress {
            p.update(&Figures {
                phase,
                board_id: tb.board_id,
                items_seen: base.items_seen + walked,
                items_count: base.items_count + stats.items_count.unwrap_or(0),
                rows_written: base.rows_written + stats.rows_written,
                api_calls: client.http_calls() as i64,
                complexity: client.complexity_used(),
            });
        }
    };
    let done = match parallel {
        Some(width) => walk_groups(
            client,
            tb,
            stats,
            steps,
            width,
            &mut writer,
            &mut walked,
            &report,
        )?,
        None => false,
    };
    'walk: loop {
        if done {
            break;
        }
        // Pages are parsed once, borrowed (`Client::finish_body`): no `serde_json::Value` tree
        // per page.
        let answer = client
            .query_body(
                "BoardPage",
                documents::BOARD_PAGE,
                json!({ "board": tb.board_id.to_string(), "limit": documents::PAGE_LIMIT }),
            )
            .map_err(|e| api_err(e, &what))?;
        let data = answer.data();
        let board = get(data, "boards")
            .and_then(Item::as_array)
            .and_then(<[Item]>::first)
            .ok_or_else(|| board_not_found(tb.board_id))?;
        let meta = board_meta(&meta_value(board)).ok_or_else(|| board_not_found(tb.board_id))?;
        stats.items_count = meta.items_count;
        // Pipelined: the next page is requested before this one is written, so monday's latency
        // overlaps with our writing.
        let next = |client: &mut Client, page: Option<&Item>| {
            page.and_then(|p| get(p, "cursor"))
                .and_then(Item::as_str)
                .map(|c| {
                    client.begin(
                        "NextPage",
                        documents::NEXT_PAGE,
                        json!({ "cursor": c, "limit": documents::PAGE_LIMIT }),
                    )
                })
        };
        let page = get(board, "items_page");
        let mut pending = next(client, page);
        let first = page_items(page);
        walked += steps.step(|| {
            let w = match writer.as_mut() {
                Some(w) => w,
                None => {
                    let target = tb.target()?;
                    let mut notes = Vec::new();
                    let cols = reconcile(tb.board_id, Some(&target), &meta, &mut notes);
                    stats.note_all(notes);
                    writer.insert(Writer::new(tb, cols))
                }
            };
            Ok(w.write_page(first, stats, true)?.len() as i64)
        })?;
        drop(answer);
        report(client, stats, walked, 1);
        while let Some(p) = pending.take() {
            match client.finish_body(p) {
                Ok(answer) => {
                    let page = get(answer.data(), "next_items_page");
                    pending = next(client, page);
                    let w = writer.as_mut().expect("the first page made a writer");
                    walked += steps
                        .step(|| Ok(w.write_page(page_items(page), stats, true)?.len() as i64))?;
                    report(client, stats, walked, 1);
                }
                Err(e) if e.kind == ApiErrorKind::CursorExpired && stats.restarts < 3 => {
                    // Rows already written stay; the new walk skips nothing and rewrites nothing unchanged.
                    stats.restarts += 1;
                    continue 'walk;
                }
                Err(e) => return Err(api_err(e, &what)),
            }
        }
        break;
    }
    let mut w = writer.expect("the walk made a writer");

    // Rows that were active but did not come back in a complete walk: ask monday what became of them.
    let missing: Vec<i64> = steps.step(|| {
        stats.items_seen +=
            one::<i64>("SELECT count(*) FROM pg_temp.monday_sync_seen", &[]).unwrap_or(0);
        // As the table's owner (planning alone can run code the owner wrote: index and statistics
        // expressions), who was granted SELECT on the seen-set; ONLY: no child tables.
        let target = tb.target()?;
        Ok(as_owner(target.owner, || Spi::connect(|c| {
            c.select(
                &format!(
                    "SELECT item_id FROM ONLY {} t WHERE state = 'active'
                       AND NOT EXISTS (SELECT 1 FROM pg_temp.monday_sync_seen s WHERE s.item_id = t.item_id)
                     ORDER BY item_id",
                    target.qualified
                ),
                None,
                &[],
            )?
            .map(|r| Ok(r.get::<i64>(1)?.unwrap_or_default()))
            .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
        })
        .unwrap_or_else(|e| spi_fail(e))))
    })?;
    report(client, stats, stats.items_seen, 2);
    for chunk in missing.chunks(documents::IDS_PER_CALL) {
        let d = items_by_ids(client, chunk).map_err(|e| api_err(e, &what))?;
        steps.step(|| {
            let returned: Vec<Value> = items_of(d.get("items"))
                .iter()
                .filter(|it| it.pointer("/board/id").and_then(id_of) == Some(tb.board_id))
                .cloned()
                .collect();
            let written = w.write(&returned, stats, false)?;
            let gone: Vec<i64> = chunk
                .iter()
                .copied()
                .filter(|i| !written.contains(i))
                .collect();
            stats.marked_deleted += mark_deleted(tb, &gone)?;
            Ok(())
        })?;
    }
    steps.step(|| {
        exec("DROP TABLE IF EXISTS pg_temp.monday_sync_seen", &[]);
        Ok(())
    })?;
    if let Some(n) = stats.items_count {
        if n != stats.items_seen {
            stats.warnings += 1;
            stats.warning_texts.push(format!(
                "board {}: the walk saw {} items but monday's items_count is {n} (items changed during the pull?)",
                tb.board_id, stats.items_seen
            ));
        }
    }
    Ok(())
}

/// Whether a walk of this board runs its groups in parallel, and how many at once: when
/// `monday_sync.parallel_pull_walks` > 1 and the board, as last seen (track_board, the last pull),
/// has at least `monday_sync.parallel_pull_threshold` items in two groups or more.
fn parallel_walks(board_id: i64) -> Option<usize> {
    let width = super::settings::PARALLEL_PULL_WALKS.get();
    if width < 2 {
        return None;
    }
    let threshold = super::settings::PARALLEL_PULL_THRESHOLD.get() as i64;
    let count: i64 = one(
        "SELECT coalesce(items_count, 0)::bigint FROM monday_sync.boards WHERE board_id = $1",
        &[board_id.into()],
    )
    .unwrap_or(0);
    if count < threshold {
        return None;
    }
    let groups: i64 = one(
        "SELECT count(*) FROM monday_sync.groups WHERE board_id = $1 AND removed_at IS NULL",
        &[board_id.into()],
    )
    .unwrap_or(0);
    (groups >= 2).then_some(width as usize)
}

/// The walk of a big board, `width` groups at once (`crate::sync::walks`): the board's metadata
/// first (its groups as monday has them now), then each group's cursor chain — its first page
/// filtered by group, then `next_items_page` — with up to `width` requests in flight on the
/// client's helper threads. This thread writes each page as it comes (the oldest request first),
/// through the one writer and seen-set, one step per page, after sending that walk's next
/// request. An expired cursor restarts its group's walk only; any other error ends the pull.
/// Items moved between groups during the walk may be missed by both walks: the reconciliation
/// after the walk asks monday about them. Returns false (nothing walked) for a board without
/// groups: the one-cursor walk does it.
#[allow(clippy::too_many_arguments)]
fn walk_groups<S: Steps>(
    client: &mut Client,
    tb: &Tracked,
    stats: &mut Stats,
    steps: &mut S,
    width: usize,
    writer: &mut Option<Writer>,
    walked: &mut i64,
    report: &dyn Fn(&Client, &Stats, i64, u8),
) -> R<bool> {
    let what = format!("monday board {}", tb.board_id);
    let meta: BoardMeta = fetch_meta(client, tb.board_id)?;
    if meta.groups.is_empty() {
        return Ok(false);
    }
    stats.items_count = meta.items_count;
    steps.step(|| {
        let target = tb.target()?;
        let mut notes = Vec::new();
        let cols = reconcile(tb.board_id, Some(&target), &meta, &mut notes);
        stats.note_all(notes);
        *writer = Some(Writer::new(tb, cols));
        Ok(())
    })?;
    let mut plan = GroupWalks::new(meta.groups.iter().map(|g| g.id.clone()).collect(), width, 3);
    let board = tb.board_id.to_string();
    let send = |client: &mut Client, group: &str, r: &PageRequest| match r {
        PageRequest::First => {
            let vars = json!({ "board": board, "groups": [group], "limit": documents::PAGE_LIMIT });
            client.begin("GroupPage", documents::GROUP_PAGE, vars)
        }
        PageRequest::Next(c) => {
            let vars = json!({ "cursor": c, "limit": documents::PAGE_LIMIT });
            client.begin("NextPage", documents::NEXT_PAGE, vars)
        }
    };
    // The walks' requests in the order sent; the oldest is finished first (its answer is usually
    // the first to come: each walk has one request in flight).
    let mut inflight: VecDeque<(String, bool, Pending)> = VecDeque::new();
    let starts = plan.start();
    stats.walks = stats.walks.max(starts.len() as i64);
    for (g, r) in starts {
        let p = send(client, &g, &r);
        inflight.push_back((g, true, p));
    }
    while let Some((group, first, p)) = inflight.pop_front() {
        match client.finish_body(p) {
            Ok(answer) => {
                let data = answer.data();
                let page = if first {
                    let board = get(data, "boards")
                        .and_then(Item::as_array)
                        .and_then(<[Item]>::first)
                        .ok_or_else(|| board_not_found(tb.board_id))?;
                    get(board, "items_page")
                } else {
                    get(data, "next_items_page")
                };
                // The walk's next request goes out before this page is written.
                let cursor = page
                    .and_then(|p| get(p, "cursor"))
                    .and_then(Item::as_str)
                    .map(String::from);
                if let Some((g, r)) = plan.page(&group, cursor) {
                    let p = send(client, &g, &r);
                    inflight.push_back((g, r == PageRequest::First, p));
                }
                let w = writer.as_mut().expect("the metadata made a writer");
                *walked +=
                    steps.step(|| Ok(w.write_page(page_items(page), stats, true)?.len() as i64))?;
                report(client, stats, *walked, 1);
            }
            Err(e) if e.kind == ApiErrorKind::CursorExpired => match plan.expired(&group) {
                Some((g, r)) => {
                    stats.restarts += 1;
                    let p = send(client, &g, &r);
                    inflight.push_back((g, true, p));
                }
                None => return Err(api_err(e, &what)),
            },
            Err(e) => return Err(api_err(e, &what)),
        }
    }
    Ok(true)
}

/// `items(ids:)` for at most 100 ids, with the explicit `limit` (its default is 25).
pub(super) fn items_by_ids(client: &mut Client, ids: &[i64]) -> Result<Value, ApiError> {
    let strs: Vec<String> = ids.iter().map(i64::to_string).collect();
    client.query(
        "ItemsByIds",
        documents::ITEMS_BY_IDS,
        json!({ "ids": strs, "limit": ids.len() }),
    )
}

/// A full pull of a board and its subitems board: both walks, then the watermark for incremental
/// refreshes (the walk's start: changes logged since then are replayed by the next refresh).
pub(super) fn pull_core<S: Steps>(
    client: &mut Client,
    tb: &Tracked,
    progress: &Option<Progress>,
    steps: &mut S,
) -> R<(Stats, Option<Stats>)> {
    let _source = super::security::sync_source("pull");
    let started: pgrx::datum::TimestampWithTimeZone =
        steps.step(|| Ok(one("SELECT clock_timestamp()", &[]).expect("clock_timestamp")))?;
    let mut stats = Stats::default();
    walk(client, tb, &mut stats, progress, &Figures::default(), steps)?;
    let mut sub_stats = None;
    if let Some(sub) = steps.step(|| Ok(tb.subitems_board_id.and_then(tracked)))? {
        let mut s = Stats::default();
        let base = Figures {
            items_seen: stats.items_seen,
            items_count: stats.items_count.unwrap_or(0),
            rows_written: stats.rows_written,
            ..Default::default()
        };
        walk(client, &sub, &mut s, progress, &base, steps)?;
        sub_stats = Some(s);
    }
    steps.step(|| {
        exec(
            "UPDATE monday_sync.boards SET last_pulled_at = now(), last_full_at = now(), activity_watermark = $2
              WHERE board_id = ANY ($1)",
            &[
                vec![Some(tb.board_id), tb.subitems_board_id]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<i64>>()
                    .into(),
                started.into(),
            ],
        );
        Ok(())
    })?;
    Ok((stats, sub_stats))
}

pub(super) fn pull_text(total: &Stats) -> String {
    format!(
        "{} items seen, {} rows written, {} marked deleted{}",
        total.items_seen,
        total.rows_written,
        total.marked_deleted,
        if total.restarts > 0 {
            format!(", {} cursor restarts", total.restarts)
        } else {
            String::new()
        }
    )
}

pub(super) fn summary(
    runid: i64,
    board_id: i64,
    stats: &Stats,
    sub: Option<&Stats>,
    client: &Client,
    started: Instant,
) -> Value {
    let mut v = json!({
        "runid": runid,
        "board_id": board_id,
        "items_seen": stats.items_seen,
        "rows_written": stats.rows_written,
        "marked_deleted": stats.marked_deleted,
        "api_calls": client.http_calls(),
        "complexity_used": client.complexity_used(),
        "duration_ms": started.elapsed().as_millis() as i64,
        "warnings": stats.warnings,
        "cursor_restarts": stats.restarts,
    });
    if stats.walks > 0 {
        // Group walks at once (a parallel pull; absent: one cursor).
        v["parallel_walks"] = json!(stats.walks);
    }
    if let Some(s) = sub {
        v["subitems"] = s.summary();
    }
    v
}

/// `monday_sync.pull_board(board_id)`: a full backfill / reconcile of a tracked board and its
/// subitems. Returns a summary; the run is recorded in `monday_sync.sync_runs`.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn pull_board(board_id: i64) -> R<pgrx::JsonB> {
    let tb = tracked(board_id).ok_or_else(|| {
        not_tracked(
            board_id,
            "pull_board fills the table that track_board creates",
        )
    })?;
    let mut hooks = PgHooks { worker: false };
    let mut client = new_client(&mut hooks)?;
    let started = Instant::now();
    let runid = start_job_run(board_id, "pull_board", None, Some("full"));
    let progress = Progress::start(runid, board_id, 1);
    let (stats, sub_stats) = pull_core(&mut client, &tb, &progress, &mut Inline)?;
    let total = stats.plus(sub_stats.as_ref().unwrap_or(&Stats::default()));
    finish_run(runid, &client, &total, &pull_text(&total), None);
    if total.warnings > 0 {
        pgrx::notice!(
            "monday_sync: {} warning(s) during the pull of board {board_id}; see monday_sync.sync_runs (runid {runid})",
            total.warnings
        );
    }
    Ok(pgrx::JsonB(summary(
        runid,
        board_id,
        &stats,
        sub_stats.as_ref(),
        &client,
        started,
    )))
}

/// `monday_sync.pull_item(item_id)`: fetches one item (or subitem), upserts it, returns its row.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn pull_item(item_id: i64) -> R<pgrx::JsonB> {
    let _source = super::security::sync_source("pull");
    let mut hooks = PgHooks { worker: false };
    let mut client = new_client(&mut hooks)?;
    let what = format!("monday item {item_id}");
    let d = client
        .query(
            "ItemsByIds",
            documents::ITEMS_BY_IDS,
            json!({ "ids": [item_id.to_string()], "limit": 1 }),
        )
        .map_err(|e| api_err(e, &what))?;
    let items = items_of(d.get("items")).to_vec();
    let Some(item) = items.first() else {
        // Gone from monday: keep the row, mark it deleted.
        let boards: Vec<i64> = Spi::connect(|c| {
            c.select(
                "SELECT board_id FROM monday_sync.boards ORDER BY board_id",
                None,
                &[],
            )?
            .map(|r| Ok(r.get::<i64>(1)?.unwrap_or_default()))
            .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
        })
        .unwrap_or_else(|e| spi_fail(e));
        for b in boards {
            let Some(tb) = tracked(b) else { continue };
            let Lookup::Found(t) = lookup(tb.table_oid) else {
                continue;
            };
            as_owner(t.owner, || {
                exec(
                    &format!("UPDATE ONLY {} SET state = 'deleted', synced_at = pg_catalog.now() WHERE item_id = $1 AND state <> 'deleted'", t.qualified),
                    &[item_id.into()],
                )
            });
            let row = row_json(&t, item_id);
            if let Some(row) = row {
                let runid = start_run(b, "pull_item");
                let stats = Stats {
                    items_seen: 0,
                    rows_written: 1,
                    marked_deleted: 1,
                    ..Default::default()
                };
                finish_run(
                    runid,
                    &client,
                    &stats,
                    &format!("item {item_id} no longer exists on monday: marked deleted"),
                    None,
                );
                let mut v = row.0;
                v["state"] = json!("deleted");
                return Ok(pgrx::JsonB(v));
            }
        }
        return Err(err(
            PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            format!("monday item {item_id} was not found"),
            format!("items(ids: [{item_id}]) returned nothing and no tracked table holds it"),
            "Check the item id (the number after /pulses/ in the item's URL).",
        ));
    };
    let board_id = item.pointer("/board/id").and_then(id_of).unwrap_or(0);
    let tb = tracked(board_id).ok_or_else(|| {
        not_tracked(
            board_id,
            &format!("item {item_id} belongs to monday board {board_id}"),
        )
    })?;
    let target = tb.target()?;
    let runid = start_run(board_id, "pull_item");
    let mut cols = mapping(board_id);
    let mut stats = Stats {
        items_seen: 1,
        ..Default::default()
    };
    let borrowed: Vec<Item> = items.iter().map(Item::from).collect();
    if !build_rows(&borrowed, &cols).unmapped.is_empty() {
        // A column was added on monday since the last pull: map it first.
        let meta = fetch_meta(&mut client, board_id)?;
        let mut notes = Vec::new();
        cols = reconcile(board_id, Some(&target), &meta, &mut notes);
        stats.note_all(notes);
    }
    Writer::new(&tb, cols).write(&items, &mut stats, false)?;
    let text = format!(
        "item {item_id}: {} row{} written",
        stats.rows_written,
        if stats.rows_written == 1 { "" } else { "s" }
    );
    finish_run(runid, &client, &stats, &text, None);
    row_json(&target, item_id).ok_or_else(|| {
        pgrx::error!("monday_sync: item {item_id} was written but cannot be read back")
    })
}
