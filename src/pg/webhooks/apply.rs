//! Stored events → typed rows.
//!
//! What a payload states (a value in the webhook dialect the codec reads, a name, a group, a
//! state, a new item's name and group) is written at once, without an API call, as the table's
//! owner. Every touched item is then queued for a confirming fetch: after the settle window one
//! `confirm` job fetches the board's queued items with `items(ids:)`, 100 a call, and writes them
//! exactly as a pull would (`raw` included). Per item field the newest applied change is kept, so
//! an older event (late, retried, reordered) never overwrites newer state, and an event applied
//! twice changes nothing the second time. An event whose board is not tracked, an update event of a
//! board without `enable_updates`, and the event types this version does not know are stored and
//! marked `ignored` with the reason. Update events go to `<table>_updates` (see `updates.rs`).
#![allow(clippy::result_large_err)]

use crate::codec;
use crate::pg::mapping::mapping;
use crate::pg::security::{as_owner, Target};
use crate::pg::settings;
use crate::pg::spi::{exec, one};
use crate::pg::track::{tracked, Tracked};
use crate::sync::rows::MappedColumn;
use crate::webhook::change::{change_of, Change};
use crate::webhook::{parse_body, Body, Event};
use pgrx::spi::Spi;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

/// A tracked board (items or subitems) as events need it, loaded once per batch.
struct Board {
    tb: Tracked,
    target: Option<Target>,
    cols: Vec<MappedColumn>,
    /// The board whose `confirm` job fetches this board's items (the parent for subitems).
    top: i64,
    /// Write-back is on: an event may be the echo of our own write.
    write_back: bool,
}

struct Row {
    event_id: i64,
    changed_at: Option<pgrx::datum::TimestampWithTimeZone>,
    payload: String,
}

enum Outcome {
    Applied(Option<String>),
    /// The board's rows are being written by a pull, refresh or confirming fetch (false), or its
    /// table is locked by another session (true): later.
    Deferred(i64, bool),
    Ignored(String),
    Failed(String),
}

fn board(cache: &mut HashMap<i64, Option<Board>>, board_id: i64) -> Option<&Board> {
    cache
        .entry(board_id)
        .or_insert_with(|| {
            let tb = tracked(board_id)?;
            let parent: Option<i64> = one(
                "SELECT parent_board_id FROM monday_sync.boards WHERE board_id = $1",
                &[board_id.into()],
            );
            let write_back: bool = one(
                "SELECT write_back FROM monday_sync.boards WHERE board_id = $1",
                &[board_id.into()],
            )
            .unwrap_or(false);
            let target = tb.target().ok();
            Some(Board {
                cols: mapping(board_id),
                top: parent.unwrap_or(board_id),
                write_back,
                target,
                tb,
            })
        })
        .as_ref()
}

/// Whether a change of `field` at `at` is not older than the newest applied one; records it if
/// so. Changes of the same instant apply in arrival order (the later one wins).
fn newer(
    board_id: i64,
    item_id: i64,
    field: &str,
    at: Option<pgrx::datum::TimestampWithTimeZone>,
) -> bool {
    let Some(at) = at else {
        // No time on the event: it cannot be ordered, so the payload is not trusted over what is
        // there; the confirming fetch decides.
        return false;
    };
    let n = exec(
        "INSERT INTO monday_sync._webhook_versions AS v (board_id, item_id, field, changed_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (board_id, item_id, field) DO UPDATE SET changed_at = excluded.changed_at
          WHERE v.changed_at <= excluded.changed_at",
        &[board_id.into(), item_id.into(), field.into(), at.into()],
    );
    n > 0
}

/// Sets fields of one row from a JSON object keyed by SQL column names (decoded values), as the
/// table's owner. Returns whether the row exists.
fn set_fields(t: &Target, item_id: i64, fields: &Map<String, Value>) -> bool {
    if fields.is_empty() {
        return false;
    }
    let names: Vec<String> = fields.keys().map(pgrx::spi::quote_identifier).collect();
    let cols = names.join(", ");
    let vals: Vec<String> = names.iter().map(|n| format!("r.{n}")).collect();
    let sql = format!(
        "UPDATE ONLY {t} SET ({cols}, synced_at) = (SELECT {vals}, pg_catalog.now()
                FROM pg_catalog.jsonb_populate_record(NULL::{t}, $1) r)
          WHERE item_id = $2",
        t = t.qualified,
        vals = vals.join(", "),
    );
    let obj = pgrx::JsonB(Value::Object(fields.clone()));
    as_owner(t.owner, || exec(&sql, &[obj.into(), item_id.into()])) > 0
}

/// Whether the row already holds these fields' values (SQL names → decoded values), compared as
/// the column types compare them, as the table's owner.
fn row_holds(t: &Target, item_id: i64, fields: &Map<String, Value>) -> bool {
    if fields.is_empty() {
        return false;
    }
    let checks: Vec<String> = fields
        .keys()
        .map(|k| {
            let n = pgrx::spi::quote_identifier(k);
            format!("pg_catalog.to_jsonb(r.{n}) IS NOT DISTINCT FROM pg_catalog.to_jsonb(t.{n})")
        })
        .collect();
    let sql = format!(
        "SELECT {checks} FROM ONLY {t} t, pg_catalog.jsonb_populate_record(NULL::{t}, $1) r WHERE t.item_id = $2",
        checks = checks.join(" AND "),
        t = t.qualified,
    );
    let obj = pgrx::JsonB(Value::Object(fields.clone()));
    as_owner(t.owner, || one::<bool>(&sql, &[obj.into(), item_id.into()])).unwrap_or(false)
}

/// A cell's webhook value, decoded as a pull would decode the column.
fn decode_cell(col: &MappedColumn, value: Option<&Value>) -> Result<Value, String> {
    let Some(v) = value else {
        return Ok(Value::Null);
    };
    let mut cell = Map::new();
    cell.insert("value".into(), v.clone());
    match codec::decode(Some(&col.typ), &cell, col.settings.as_ref()) {
        Ok(d) if d.is_null() => Ok(Value::Null),
        Ok(d) => serde_json::from_str(&d.to_json()).map_err(|e| e.to_string()),
        Err(e) => Err(e.message),
    }
}

/// What one slice of events shares: boards loaded, the row locks held, what to confirm or
/// refresh after it.
struct Slice {
    cache: HashMap<i64, Option<Board>>,
    /// Top boards whose row lock this transaction holds, and those it could not take.
    locked: Vec<i64>,
    busy: Vec<i64>,
    /// Block on the row lock instead of deferring (no webhook worker: the caller's transaction).
    wait: bool,
    confirm: BTreeMap<i64, Vec<i64>>,
    refresh: Vec<i64>,
}

fn apply_one(ev: &Event, row: &Row, sl: &mut Slice) -> Outcome {
    let Slice {
        cache,
        locked,
        busy,
        wait,
        confirm,
        refresh,
    } = sl;
    let change = change_of(ev);
    if let Change::Ignore(why) = &change {
        return Outcome::Ignored(why.to_string());
    }
    // move_subitem names no board: its subitem lives on the subitems board of the parent's board.
    let board_id = match ev.board_id {
        Some(b) => b,
        None => match ev.parent_board_id.and_then(|p| {
            one::<i64>(
                "SELECT subitems_board_id FROM monday_sync.boards WHERE board_id = $1",
                &[p.into()],
            )
        }) {
            Some(b) => b,
            None => return Outcome::Ignored("the event names no tracked board".into()),
        },
    };
    let Some(b) = board(cache, board_id) else {
        return Outcome::Ignored(format!("monday board {board_id} is not tracked"));
    };
    // Updates (comments) go to <table>_updates, not to the typed rows: no row lock, no fetch.
    if let Change::Update {
        kind,
        update_id,
        reply_id,
        body,
        text,
    } = &change
    {
        let Some(item_id) = ev.item_id else {
            return Outcome::Ignored("the event names no item".into());
        };
        let ev_update = crate::pg::updates::EventUpdate {
            kind: *kind,
            update_id: *update_id,
            reply_id: *reply_id,
            item_id,
            creator_id: ev.user_id.filter(|u| *u > 0),
            body: body.clone(),
            text: text.clone(),
            at: ev.trigger_time.clone(),
        };
        return match crate::pg::updates::apply_event(board_id, &ev_update) {
            Ok(()) => Outcome::Applied(None),
            Err(why) => Outcome::Ignored(why),
        };
    }
    if busy.contains(&b.top) {
        return Outcome::Deferred(board_id, false);
    }
    if !locked.contains(&b.top) {
        if !crate::pg::writer::lock_rows(b.top, *wait) {
            busy.push(b.top);
            return Outcome::Deferred(board_id, false);
        }
        locked.push(b.top);
    }
    let Some(t) = b.target.clone() else {
        return Outcome::Failed(format!(
            "the table of monday board {board_id} ({}) is gone; track the board again",
            b.tb.recorded()
        ));
    };
    let top = b.top;
    if let Change::NewColumn { .. } = &change {
        // The board's structure changed: a refresh reconciles the columns (and fetches changes).
        if !refresh.contains(&top) {
            refresh.push(top);
        }
        return Outcome::Applied(None);
    }
    let Some(item_id) = ev.item_id else {
        return Outcome::Ignored("the event names no item".into());
    };
    let at = row.changed_at;
    if b.write_back {
        // Our own write coming back: the row already holds monday's answer (or will, from the
        // sender); nothing to write, nothing to fetch. An event of the same item and field in
        // the request's window whose value the row does not hold is someone else's change.
        let mut holds = Map::new();
        let (field, name) = match &change {
            Change::Cell {
                column_id, value, ..
            } => {
                if let Some(col) = b.cols.iter().find(|c| c.column_id == *column_id) {
                    if let Ok(v) = decode_cell(col, value.as_ref()) {
                        holds.insert(col.sql_name.clone(), v);
                    }
                }
                (column_id.clone(), None)
            }
            Change::Name(n) => {
                holds.insert("name".into(), json!(n));
                ("name".to_string(), None)
            }
            Change::Group(g) => {
                holds.insert("group_id".into(), json!(g));
                ("#group".to_string(), None)
            }
            Change::State(s) => {
                holds.insert("state".into(), json!(s));
                ("#state".to_string(), None)
            }
            Change::Created { name, .. } => ("#create".to_string(), name.clone()),
            _ => (String::new(), None),
        };
        if !field.is_empty() {
            if let Some(w) =
                crate::pg::writeback::echo_of(board_id, item_id, &field, name.as_deref(), at)
            {
                let sending: bool = one(
                    "SELECT status = 'sending' FROM monday_sync.writes WHERE write_id = $1",
                    &[w.into()],
                )
                .unwrap_or(false);
                // While the write is being sent, the answer (written next) is monday's word.
                if field == "#create" || sending || row_holds(&t, item_id, &holds) {
                    return Outcome::Ignored(format!("the echo of write-back {w}: nothing to do"));
                }
            }
        }
    }
    let mut note = None;
    match change {
        Change::Cell {
            column_id, value, ..
        } => {
            match b.cols.iter().find(|c| c.column_id == column_id) {
                None => {
                    // A column the mapping does not know yet: the refresh adds it.
                    if !refresh.contains(&top) {
                        refresh.push(top);
                    }
                    note = Some(format!(
                        "column {column_id} is not mapped yet; the board is refreshed"
                    ));
                }
                Some(col) => {
                    if newer(board_id, item_id, &column_id, at) {
                        match decode_cell(col, value.as_ref()) {
                            Ok(v) => {
                                let mut m = Map::new();
                                m.insert(col.sql_name.clone(), v);
                                set_fields(&t, item_id, &m);
                            }
                            Err(e) => {
                                note = Some(format!(
                                    "the payload's value of column {column_id} was not decoded ({e}); the fetch writes it"
                                ))
                            }
                        }
                    } else {
                        note = Some("an equal or newer change was applied already".into());
                    }
                }
            }
        }
        Change::Name(name) => {
            if newer(board_id, item_id, "#name", at) {
                let mut m = Map::new();
                m.insert("name".into(), Value::String(name));
                set_fields(&t, item_id, &m);
            }
        }
        Change::Group(g) => {
            if newer(board_id, item_id, "#group", at) {
                let title: Option<String> = one(
                    "SELECT title FROM monday_sync.groups WHERE board_id = $1 AND group_id = $2",
                    &[board_id.into(), g.as_str().into()],
                );
                let mut m = Map::new();
                m.insert("group_id".into(), Value::String(g));
                m.insert(
                    "group_title".into(),
                    title.map(Value::String).unwrap_or(Value::Null),
                );
                set_fields(&t, item_id, &m);
            }
        }
        Change::State(s) => {
            if newer(board_id, item_id, "#state", at) {
                let mut m = Map::new();
                m.insert("state".into(), Value::String(s.into()));
                set_fields(&t, item_id, &m);
            }
            // A delete is confirmed too: the fetch finds the item deleted (or gone, and marks it
            // so), and a forged one cannot leave a live row marked deleted.
        }
        Change::Created {
            name,
            group_id,
            cells,
        } => {
            // A provisional row at once; the confirming fetch writes the rest.
            let mut m = Map::new();
            m.insert("item_id".into(), json!(item_id));
            m.insert(
                "name".into(),
                name.map(Value::String).unwrap_or(Value::Null),
            );
            m.insert(
                "group_id".into(),
                group_id.map(Value::String).unwrap_or(Value::Null),
            );
            m.insert("state".into(), json!("active"));
            if let Some(p) = ev.parent_item_id {
                m.insert("parent_item_id".into(), json!(p));
            }
            for (cid, v) in cells {
                if let Some(col) = b.cols.iter().find(|c| c.column_id == cid) {
                    if let Ok(d) = decode_cell(col, Some(&v)) {
                        m.insert(col.sql_name.clone(), d);
                    }
                }
            }
            let names: Vec<String> = m.keys().map(pgrx::spi::quote_identifier).collect();
            let sql = format!(
                "INSERT INTO {t} ({cols}) SELECT {vals} FROM pg_catalog.jsonb_populate_record(NULL::{t}, $1) r
                 ON CONFLICT (item_id) DO NOTHING",
                t = t.qualified,
                cols = names.join(", "),
                vals = names.iter().map(|n| format!("r.{n}")).collect::<Vec<_>>().join(", "),
            );
            let obj = pgrx::JsonB(Value::Object(m));
            as_owner(t.owner, || exec(&sql, &[obj.into()]));
        }
        Change::SubitemMoved {
            from_parent,
            to_parent,
        } => {
            if let Some(p) = to_parent {
                if newer(board_id, item_id, "#parent", at) {
                    let mut m = Map::new();
                    m.insert("parent_item_id".into(), json!(p));
                    set_fields(&t, item_id, &m);
                }
            }
            // Both parents' subitems lists changed: the same batched fetch confirms them.
            let e = confirm.entry(top).or_default();
            e.extend(from_parent);
            e.extend(to_parent);
        }
        Change::NewColumn { .. } | Change::Ignore(_) | Change::Update { .. } => {
            unreachable!("handled above")
        }
    }
    let e = confirm.entry(top).or_default();
    e.push(item_id);
    // A subitem's change may change its parent's subitems list (an archive, a delete, a create).
    e.extend(ev.parent_item_id);
    Outcome::Applied(note)
}

/// Applies up to `limit` stored events in arrival order; returns how many were processed and the
/// events that failed (for the alert, sent after the commit).
/// Events of boards in `skip` (deferred a moment ago) are left for later. Returns how many were
/// processed, those that failed (for the alert, sent after the commit) and the boards whose events
/// were deferred because their rows are being written. `wait`: block on a board's row lock instead.
pub fn apply_pending(limit: i64, wait: bool, skip: &[i64]) -> Applied {
    let _source = crate::pg::security::sync_source("webhook");
    let rows: Vec<Row> = Spi::connect_mut(|c| {
        let r = c.update(
            "SELECT event_id, changed_at, payload::text FROM monday_sync.webhook_events
              WHERE status = 'received' AND (board_id IS NULL OR board_id <> ALL ($2))
              ORDER BY event_id LIMIT $1 FOR UPDATE SKIP LOCKED",
            None,
            &[limit.into(), skip.to_vec().into()],
        )?;
        let mut v = Vec::new();
        for row in r {
            v.push(Row {
                event_id: row.get(1)?.unwrap_or(0),
                changed_at: row.get(2)?,
                payload: row.get(3)?.unwrap_or_default(),
            });
        }
        Ok::<_, pgrx::spi::Error>(v)
    })
    .unwrap_or_else(|e| pgrx::error!("monday_sync: reading webhook events failed: {e}"));
    let mut done = Applied::default();
    if rows.is_empty() {
        return done;
    }
    if !wait {
        // The worker also answers monday: a lock held elsewhere defers a board, never stalls it.
        exec("SET LOCAL lock_timeout = '50ms'", &[]);
    }
    let mut sl = Slice {
        cache: HashMap::new(),
        locked: Vec::new(),
        busy: Vec::new(),
        wait,
        confirm: BTreeMap::new(),
        refresh: Vec::new(),
    };
    let mut ids = Vec::new();
    let mut statuses = Vec::new();
    let mut errors: Vec<Option<String>> = Vec::new();
    let mut failed = Vec::new();
    let mut applied_boards: BTreeMap<i64, i64> = BTreeMap::new();
    for row in &rows {
        let ev = match parse_body(row.payload.as_bytes()) {
            Ok(Body::Event(ev)) => ev,
            _ => {
                ids.push(row.event_id);
                statuses.push("failed");
                errors.push(Some(
                    "the stored payload is no longer a webhook event".into(),
                ));
                continue;
            }
        };
        // Each event in its own subtransaction: one that fails (an owner's trigger raising, a
        // value the column rejects) is marked failed and the batch goes on.
        let mut out = None;
        let outcome = match crate::pg::spi::in_subtransaction_coded(|| {
            out = Some(apply_one(&ev, row, &mut sl));
        }) {
            Ok(()) => out.unwrap_or_else(|| Outcome::Failed("not applied".into())),
            // A table locked by someone else (a DBA's ALTER, a user's open transaction): the
            // worker does not wait, the board's events wait for a later round.
            Err((pgrx::PgSqlErrorCode::ERRCODE_LOCK_NOT_AVAILABLE, _)) if !sl.wait => {
                let b = ev.board_id.or(ev.parent_board_id).unwrap_or(0);
                if let Some(Some(bd)) = sl.cache.get(&b) {
                    let top = bd.top;
                    if !sl.busy.contains(&top) {
                        sl.busy.push(top);
                    }
                }
                Outcome::Deferred(b, true)
            }
            Err((_, e)) => Outcome::Failed(e),
        };
        if let Outcome::Deferred(b, locked_elsewhere) = outcome {
            if !done.deferred.iter().any(|(d, _)| *d == b) {
                done.deferred.push((b, locked_elsewhere));
            }
            continue;
        }
        ids.push(row.event_id);
        match outcome {
            Outcome::Deferred(..) => unreachable!("handled above"),
            Outcome::Applied(note) => {
                statuses.push("applied");
                errors.push(note);
                if let Some(b) = ev.board_id {
                    *applied_boards.entry(b).or_insert(0) += 1;
                }
            }
            Outcome::Ignored(why) => {
                statuses.push("ignored");
                errors.push(Some(why));
            }
            Outcome::Failed(why) => {
                statuses.push("failed");
                failed.push((row.event_id, why.clone()));
                errors.push(Some(why));
            }
        }
    }
    let ids_len = ids.len() as i64;
    exec(
        "UPDATE monday_sync.webhook_events w
            SET status = u.s, error = u.e, processed_at = pg_catalog.clock_timestamp(), attempts = w.attempts + 1
           FROM ROWS FROM (pg_catalog.unnest($1::bigint[]), pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[])) AS u(id, s, e)
          WHERE w.event_id = u.id",
        &[ids.into(), statuses.into(), errors.into()],
    );
    let settle_ms = settings::WEBHOOK_SETTLE.get().max(0) as i64;
    for (top, mut items) in sl.confirm {
        // One entry per item: ON CONFLICT cannot touch a row twice in one statement.
        items.sort_unstable();
        items.dedup();
        exec(
            "INSERT INTO monday_sync._webhook_confirm (board_id, item_id, due)
             SELECT $1, i, pg_catalog.clock_timestamp() + $3 * interval '1 millisecond'
               FROM pg_catalog.unnest($2::bigint[]) i
             ON CONFLICT (board_id, item_id) DO UPDATE SET touched = pg_catalog.clock_timestamp()",
            &[top.into(), items.into(), settle_ms.into()],
        );
        queue_job(top, "confirm", settle_ms);
    }
    for top in sl.refresh {
        queue_job(top, "refresh", 0);
    }
    for (b, n) in &applied_boards {
        exec(
            "SELECT pg_catalog.pg_notify('monday_sync', $1)",
            &[
                json!({"board_id": b, "command": "webhook", "status": "applied", "events": n})
                    .to_string()
                    .into(),
            ],
        );
    }
    done.processed = ids_len;
    done.failed = failed;
    done
}

/// What [`apply_pending`] did.
#[derive(Default)]
pub struct Applied {
    pub processed: i64,
    pub failed: Vec<(i64, String)>,
    /// Boards whose events wait, and whether another session's lock (not a writer of ours) held
    /// them up.
    pub deferred: Vec<(i64, bool)>,
}

/// Queues a job for the job worker (joining a queued one), due after `delay_ms`.
pub fn queue_job(board_id: i64, command: &str, delay_ms: i64) {
    exec(
        "INSERT INTO monday_sync.jobs (board_id, command, requested_by, not_before)
         VALUES ($1, $2, 'monday_sync webhooks', pg_catalog.clock_timestamp() + $3 * interval '1 millisecond')
         ON CONFLICT (board_id, command) WHERE status = 'queued'
         DO UPDATE SET not_before = least(jobs.not_before, excluded.not_before)",
        &[board_id.into(), command.into(), delay_ms.into()],
    );
    crate::pg::worker::wake_on_commit();
}

/// After a gap (the worker's start; deliveries may have been missed): every subscribed board gets
/// an activity-log refresh, and a leftover confirm queue its job.
pub fn after_gap(_why: &str) -> i64 {
    let boards: Vec<i64> = Spi::connect(|c| {
        c.select(
            "SELECT DISTINCT board_id FROM monday_sync.webhooks
             UNION SELECT DISTINCT board_id FROM monday_sync._webhook_confirm",
            None,
            &[],
        )?
        .map(|r| r.get::<i64>(1).map(|v| v.unwrap_or(0)))
        .collect::<Result<Vec<_>, _>>()
    })
    .unwrap_or_default();
    for b in &boards {
        queue_job(*b, "refresh", 0);
    }
    boards.len() as i64
}

/// Prunes old events and versions; boards whose subscriptions have been silent for
/// `webhook_silence` get a safety-net refresh.
pub fn housekeeping() {
    let keep = settings::WEBHOOK_RETENTION.get().max(60) as i64;
    exec(
        "DELETE FROM monday_sync.webhook_events
          WHERE status IN ('applied', 'ignored') AND received_at < pg_catalog.now() - $1 * interval '1 second'",
        &[keep.into()],
    );
    exec(
        "DELETE FROM monday_sync._webhook_versions
          WHERE changed_at < pg_catalog.now() - $1 * interval '1 second'",
        &[keep.into()],
    );
    let silence = settings::WEBHOOK_SILENCE.get().max(10) as i64;
    let quiet: Vec<i64> = Spi::connect(|c| {
        c.select(
            "SELECT w.board_id FROM monday_sync.webhooks w
              GROUP BY w.board_id
             HAVING coalesce((SELECT max(e.received_at) FROM monday_sync.webhook_events e
                               WHERE e.board_id = w.board_id
                                  OR e.board_id = (SELECT b.subitems_board_id FROM monday_sync.boards b WHERE b.board_id = w.board_id)),
                             min(w.created_at)) < pg_catalog.now() - $1 * interval '1 second'
                AND coalesce((SELECT b.last_refreshed_at FROM monday_sync.boards b WHERE b.board_id = w.board_id), '-infinity')
                    < pg_catalog.now() - $1 * interval '1 second'
                AND NOT EXISTS (SELECT FROM monday_sync.boards b
                                 WHERE b.board_id = w.board_id AND b.deleted_on_monday_at IS NOT NULL)",
            None,
            &[silence.into()],
        )?
        .map(|r| r.get::<i64>(1).map(|v| v.unwrap_or(0)))
        .collect::<Result<Vec<_>, _>>()
    })
    .unwrap_or_default();
    for b in quiet {
        queue_job(b, "refresh", 0);
    }
}

/// The items of a board waiting for their confirming fetch, at most `limit`, once the first of
/// them is due: all of them, so that a steady stream of changes costs one batched fetch per
/// settle window instead of one per item's own window (an item changed again after the fetch
/// began keeps its entry and is fetched next time).
pub fn due_confirms(board_id: i64, limit: i64) -> Vec<i64> {
    Spi::connect(|c| {
        c.select(
            "SELECT item_id FROM monday_sync._webhook_confirm
              WHERE board_id = $1
                AND EXISTS (SELECT 1 FROM monday_sync._webhook_confirm d
                             WHERE d.board_id = $1 AND d.due <= pg_catalog.clock_timestamp() + interval '50 milliseconds')
              ORDER BY due, item_id LIMIT $2",
            None,
            &[board_id.into(), limit.into()],
        )?
        .map(|r| r.get::<i64>(1).map(|v| v.unwrap_or(0)))
        .collect::<Result<Vec<_>, _>>()
    })
    .unwrap_or_default()
}

/// The fetch that began at `since` (`clock_timestamp()`) wrote these items: their entries go,
/// unless an event touched them since (its payload was applied after the fetch read the item).
pub fn confirmed(board_id: i64, items: &[i64], since: pgrx::datum::TimestampWithTimeZone) {
    exec(
        "DELETE FROM monday_sync._webhook_confirm
          WHERE board_id = $1 AND item_id = ANY ($2) AND touched < $3",
        &[board_id.into(), items.to_vec().into(), since.into()],
    );
}
