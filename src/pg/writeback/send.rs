//! The sender: the worker's `write` job for a board (and its subitems board).
//!
//! 1. Requests a crash or a failed call left unanswered are sent again first, verbatim, with the
//!    same `Idempotency-Key`: monday answers a request it already executed from its cache.
//! 2. Pending entries are claimed oldest first (a subitem whose parent is still being created
//!    waits for it). Under `remote_wins` / `manual`, the items are fetched first (`items(ids:)`,
//!    100 a call) and each change compared with the value it was based on.
//! 3. Up to [`writeback::max_aliases`] root fields go in one request, stored with its key and
//!    committed before it is sent; the entries are `sending`.
//! 4. monday's answer: each entry `sent` (its item written into the row exactly as a pull writes
//!    it; a created item's row re-keyed from its temporary id to monday's), `failed` (monday
//!    refused the value: not retried), or `pending` again (a transient refusal).
//!
//! Every write to a board's rows holds `writer::lock_rows`, as pulls and webhooks do.
#![allow(clippy::result_large_err)]

use super::super::errors::{api_err, R};
use super::super::mapping::mapping;
use super::super::progress::Progress;
use super::super::pull::{items_by_ids, items_of, Steps};
use super::super::runs::Stats;
use super::super::spi::{exec, one, spi_fail};
use super::super::track::{tracked, Tracked};
use super::super::writer::{lock_rows, Writer};
use crate::api::{documents, Client};
use crate::sync::id_of;
use crate::writeback::{self, AliasKind, Entry, Request};
use pgrx::spi::Spi;
use serde_json::{json, Map, Value};

/// Requests one job sends at most before it gives the queue's other jobs a turn.
const MAX_REQUESTS_PER_JOB: usize = 50;

/// A request as stored, with the entries it carries.
struct Stored {
    request_id: i64,
    key: String,
    req: Request,
}

fn load_request(request_id: i64) -> Option<Stored> {
    Spi::connect(|c| {
        let t = c.select(
            "SELECT idempotency_key, document, variables::text, aliases::text
               FROM monday_sync._write_requests WHERE request_id = $1",
            Some(1),
            &[request_id.into()],
        )?;
        if t.is_empty() {
            return Ok(None);
        }
        let r = t.first();
        let aliases: Vec<(String, i64, String)> =
            serde_json::from_str(&r.get::<String>(4)?.unwrap_or_default()).unwrap_or_default();
        Ok::<_, pgrx::spi::SpiError>(Some(Stored {
            request_id,
            key: r.get::<String>(1)?.unwrap_or_default(),
            req: Request {
                document: r.get::<String>(2)?.unwrap_or_default(),
                variables: serde_json::from_str(&r.get::<String>(3)?.unwrap_or_default())
                    .unwrap_or(Value::Null),
                aliases: aliases
                    .into_iter()
                    .map(|(a, w, k)| (a, w, kind_of(&k)))
                    .collect(),
            },
        }))
    })
    .unwrap_or_else(|e| spi_fail(e))
}

fn kind_name(k: AliasKind) -> &'static str {
    match k {
        AliasKind::Columns => "columns",
        AliasKind::Create => "create",
        AliasKind::CreateSubitem => "create_subitem",
        AliasKind::Group => "group",
        AliasKind::Archive => "archive",
        AliasKind::Delete => "delete",
    }
}

fn kind_of(s: &str) -> AliasKind {
    match s {
        "create" => AliasKind::Create,
        "create_subitem" => AliasKind::CreateSubitem,
        "group" => AliasKind::Group,
        "archive" => AliasKind::Archive,
        "delete" => AliasKind::Delete,
        _ => AliasKind::Columns,
    }
}

/// Requests of this board sent but not answered (their entries still `sending`).
fn unanswered(top: i64) -> Vec<i64> {
    Spi::connect(|c| {
        c.select(
            "SELECT DISTINCT w.request_id FROM monday_sync.writes w
               JOIN monday_sync.boards b USING (board_id)
              WHERE coalesce(b.parent_board_id, b.board_id) = $1 AND w.status = 'sending'
                AND w.request_id IS NOT NULL
              ORDER BY 1",
            None,
            &[top.into()],
        )?
        .map(|r| Ok(r.get::<i64>(1)?.unwrap_or_default()))
        .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
    })
    .unwrap_or_else(|e| spi_fail(e))
}

/// A pending entry with what the conflict check needs.
struct Candidate {
    entry: Entry,
    base: Map<String, Value>,
}

/// The board's claimable pending entries, oldest first, locked for this transaction.
fn candidates(top: i64, limit: i64) -> Vec<Candidate> {
    Spi::connect_mut(|c| {
        c.update(
            "SELECT w.write_id, w.board_id, w.item_id, w.op = 'create', w.parent_item_id,
                    w.changes::text, w.base::text
               FROM monday_sync.writes w JOIN monday_sync.boards b USING (board_id)
              WHERE coalesce(b.parent_board_id, b.board_id) = $1 AND w.status = 'pending'
                AND (w.op = 'create' OR w.item_id > 0)
                AND (w.parent_item_id IS NULL OR w.parent_item_id > 0)
              ORDER BY w.write_id
              LIMIT $2
                FOR UPDATE OF w SKIP LOCKED",
            None,
            &[top.into(), limit.into()],
        )?
        .map(|r| {
            let obj = |s: Option<String>| -> Map<String, Value> {
                s.and_then(|s| serde_json::from_str::<Value>(&s).ok())
                    .and_then(|v| v.as_object().cloned())
                    .unwrap_or_default()
            };
            Ok(Candidate {
                entry: Entry {
                    write_id: r.get::<i64>(1)?.unwrap_or_default(),
                    board_id: r.get::<i64>(2)?.unwrap_or_default(),
                    item_id: r.get::<i64>(3)?.unwrap_or_default(),
                    create: r.get::<bool>(4)?.unwrap_or(false),
                    parent_item_id: r.get::<i64>(5)?,
                    changes: obj(r.get::<String>(6)?),
                },
                base: obj(r.get::<String>(7)?),
            })
        })
        .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
    })
    .unwrap_or_else(|e| spi_fail(e))
}

fn policy(top: i64) -> (String, bool) {
    Spi::connect(|c| {
        let t = c.select(
            "SELECT conflict_policy, create_labels FROM monday_sync.boards WHERE board_id = $1",
            Some(1),
            &[top.into()],
        )?;
        let r = t.first();
        Ok::<_, pgrx::spi::SpiError>((
            r.get::<String>(1)?.unwrap_or_else(|| "local_wins".into()),
            r.get::<bool>(2)?.unwrap_or(false),
        ))
    })
    .unwrap_or_else(|e| spi_fail(e))
}

/// The tables' writers, by board id.
struct Writers {
    main: (i64, Writer),
    sub: Option<(i64, Writer)>,
}

impl Writers {
    fn new(tb: &Tracked, sub: Option<&Tracked>) -> Writers {
        Writers {
            main: (tb.board_id, Writer::new(tb, mapping(tb.board_id))),
            sub: sub.map(|s| (s.board_id, Writer::new(s, mapping(s.board_id)))),
        }
    }

    /// Writes items (as monday answered them, with `board { id }`) into their tables.
    fn write(&mut self, items: &[Value], stats: &mut Stats) -> R<()> {
        let on = |board: i64| -> Vec<Value> {
            items
                .iter()
                .filter(|it| it.pointer("/board/id").and_then(id_of) == Some(board))
                .cloned()
                .collect()
        };
        let main = on(self.main.0);
        stats.items_seen += main.len() as i64;
        self.main.1.write(&main, stats, false)?;
        if let Some((id, w)) = self.sub.as_mut() {
            let sub = on(*id);
            stats.items_seen += sub.len() as i64;
            w.write(&sub, stats, false)?;
        }
        Ok(())
    }
}

/// What one job did.
#[derive(Default)]
struct Tally {
    requests: usize,
    sent: i64,
    failed: i64,
    conflicts: i64,
    superseded: i64,
    retried: i64,
    failures: Vec<String>,
}

/// The `write` job.
pub(crate) fn write_core<S: Steps>(
    client: &mut Client,
    tb: &Tracked,
    _progress: &Option<Progress>,
    steps: &mut S,
) -> R<(Stats, String)> {
    let _source = super::super::security::sync_source("write-back");
    let top = tb.board_id;
    let what = format!("monday board {top}");
    let mut stats = Stats::default();
    let mut tally = Tally::default();
    let (sub, mut writers) = steps.step(|| {
        tb.target()?;
        let sub = tb.subitems_board_id.and_then(tracked);
        let writers = Writers::new(tb, sub.as_ref());
        Ok((sub, writers))
    })?;

    // 1. What a crash or a failed call left unanswered: the same request, the same key.
    for request_id in steps.step(|| Ok(unanswered(top)))? {
        let Some(stored) = steps.step(|| Ok(load_request(request_id)))? else {
            continue;
        };
        send_and_apply(
            client,
            &what,
            &stored,
            tb,
            sub.as_ref(),
            &mut writers,
            &mut stats,
            &mut tally,
            steps,
        )?;
    }

    // 2. New entries, request after request.
    let per_request = writeback::max_aliases(600);
    while tally.requests < MAX_REQUESTS_PER_JOB {
        let (pol, create_labels) = steps.step(|| Ok(policy(top)))?;
        // Under remote_wins / manual: monday's current items, to compare with the bases.
        let current: Vec<Value> = if pol == "local_wins" {
            Vec::new()
        } else {
            let ids: Vec<i64> = steps.step(|| {
                Ok(candidates(top, per_request as i64)
                    .iter()
                    .filter(|c| !c.entry.create && !c.base.is_empty())
                    .map(|c| c.entry.item_id)
                    .collect())
            })?;
            let mut items = Vec::new();
            for chunk in ids.chunks(documents::IDS_PER_CALL) {
                let d = items_by_ids(client, chunk).map_err(|e| api_err(e, &what))?;
                items.extend(items_of(d.get("items")).iter().cloned());
            }
            items
        };
        let claimed = steps.step(|| {
            claim(
                top,
                &pol,
                create_labels,
                per_request,
                &current,
                tb,
                sub.as_ref(),
                &mut writers,
                &mut stats,
                &mut tally,
            )
        })?;
        let Some(stored) = claimed else { break };
        send_and_apply(
            client,
            &what,
            &stored,
            tb,
            sub.as_ref(),
            &mut writers,
            &mut stats,
            &mut tally,
            steps,
        )?;
    }
    steps.step(|| {
        // Sent and discarded entries, answered requests and finished upserts are kept as long as the
        // activity log (monday_sync.activity_log_retention).
        let keep = super::super::settings::LOG_RETENTION.get().max(3600) as i64;
        exec(
            "DELETE FROM monday_sync.writes w USING monday_sync.boards b
              WHERE b.board_id = w.board_id AND coalesce(b.parent_board_id, b.board_id) = $1
                AND w.status IN ('sent', 'discarded')
                AND w.changed_at < pg_catalog.now() - $2 * interval '1 second'",
            &[top.into(), keep.into()],
        );
        exec(
            "DELETE FROM monday_sync._write_requests r WHERE r.board_id = $1 AND r.answered_at < pg_catalog.now() - $2 * interval '1 second'
                AND NOT EXISTS (SELECT FROM monday_sync.writes w WHERE w.request_id = r.request_id AND w.status = 'sending')",
            &[top.into(), keep.into()],
        );
        exec(
            "DELETE FROM monday_sync.upserts WHERE board_id = $1 AND status IN ('done', 'failed')
                AND finished_at < pg_catalog.now() - $2 * interval '1 second'",
            &[top.into(), keep.into()],
        );
        Ok(())
    })?;
    if tally.requests >= MAX_REQUESTS_PER_JOB {
        // More waits: the next job, at once.
        steps.step(|| {
            super::queue_write(top, "monday_sync");
            Ok(())
        })?;
    }
    if !tally.failures.is_empty() {
        super::super::worker::post_alert(json!({
            "text": format!(
                "monday_sync: {} write(s) to monday board {top} failed for good: {}",
                tally.failed,
                tally.failures.join("; ")
            ),
            "board_id": top,
            "failed_writes": tally.failed,
        }));
    }
    let text = format!(
        "sent {} write(s) in {} request(s): {} failed, {} in conflict, {} kept monday's value, {} to retry",
        tally.sent, tally.requests, tally.failed, tally.conflicts, tally.superseded, tally.retried
    );
    Ok((stats, text))
}

/// Claims the next batch: conflicts decided, the request built and stored, entries `sending`.
#[allow(clippy::too_many_arguments)]
fn claim(
    top: i64,
    pol: &str,
    create_labels: bool,
    per_request: usize,
    current: &[Value],
    tb: &Tracked,
    sub: Option<&Tracked>,
    writers: &mut Writers,
    stats: &mut Stats,
    tally: &mut Tally,
) -> R<Option<Stored>> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut aliases = 0usize;
    let mut monday_wins: Vec<Value> = Vec::new();
    for c in candidates(top, per_request as i64) {
        let mut e = c.entry;
        if pol != "local_wins" && !e.create {
            let now = current
                .iter()
                .find(|it| it.get("id").and_then(id_of) == Some(e.item_id));
            if let Some(now) = now {
                let clash = writeback::conflicting(&e.changes, &c.base, now);
                if !clash.is_empty() {
                    let remote: Map<String, Value> = clash
                        .iter()
                        .map(|k| (k.clone(), field_of(now, k)))
                        .collect();
                    if pol == "manual" {
                        exec(
                            "UPDATE monday_sync.writes SET status = 'conflict', remote = $2,
                                    error = $3 WHERE write_id = $1",
                            &[
                                e.write_id.into(),
                                pgrx::JsonB(Value::Object(remote)).into(),
                                format!("changed on monday since: {}", clash.join(", ")).into(),
                            ],
                        );
                        tally.conflicts += 1;
                        continue;
                    }
                    // remote_wins: those fields keep monday's value.
                    for k in &clash {
                        e.changes.remove(k);
                    }
                    exec(
                        "UPDATE monday_sync.writes SET changes = $2, remote = $3,
                                error = $4 WHERE write_id = $1",
                        &[
                            e.write_id.into(),
                            pgrx::JsonB(Value::Object(e.changes.clone())).into(),
                            pgrx::JsonB(Value::Object(remote)).into(),
                            format!(
                                "monday's value kept (changed there since): {}",
                                clash.join(", ")
                            )
                            .into(),
                        ],
                    );
                    tally.superseded += 1;
                    monday_wins.push(now.clone());
                    if e.changes.is_empty() {
                        exec(
                            "UPDATE monday_sync.writes SET status = 'discarded' WHERE write_id = $1",
                            &[e.write_id.into()],
                        );
                        continue;
                    }
                }
            }
        }
        let n = writeback::alias_count(&e);
        if n == 0 {
            exec(
                "UPDATE monday_sync.writes SET status = 'sent', sent_at = pg_catalog.clock_timestamp() WHERE write_id = $1",
                &[e.write_id.into()],
            );
            continue;
        }
        if aliases + n > per_request && !entries.is_empty() {
            break;
        }
        aliases += n;
        entries.push(e);
    }
    if !monday_wins.is_empty() {
        // The rows show monday's values for the fields it kept (the entries' other fields stay
        // protected until sent).
        let _ = (tb, sub);
        lock_rows(top, true);
        writers.write(&monday_wins, stats)?;
    }
    if entries.is_empty() {
        return Ok(None);
    }
    let req = writeback::build(&entries, create_labels, documents::ITEM_FIELDS);
    let key = one::<String>("SELECT pg_catalog.gen_random_uuid()::text", &[]).unwrap_or_default();
    let aliases_json: Vec<Value> = req
        .aliases
        .iter()
        .map(|(a, w, k)| json!([a, w, kind_name(*k)]))
        .collect();
    let request_id: i64 = one(
        "INSERT INTO monday_sync._write_requests (board_id, idempotency_key, document, variables, aliases)
         VALUES ($1, $2, $3, $4, $5) RETURNING request_id",
        &[
            top.into(),
            key.clone().into(),
            req.document.clone().into(),
            pgrx::JsonB(req.variables.clone()).into(),
            pgrx::JsonB(Value::Array(aliases_json)).into(),
        ],
    )
    .unwrap_or_default();
    let ids: Vec<i64> = entries.iter().map(|e| e.write_id).collect();
    exec(
        "UPDATE monday_sync.writes SET status = 'sending', request_id = $2, attempts = attempts + 1,
                sent_at = pg_catalog.clock_timestamp()
          WHERE write_id = ANY ($1)",
        &[ids.into(), request_id.into()],
    );
    Ok(Some(Stored {
        request_id,
        key,
        req,
    }))
}

/// A field of an item as monday shows it now (for `remote`).
fn field_of(item: &Value, key: &str) -> Value {
    match key {
        "name" => item.get("name").cloned().unwrap_or(Value::Null),
        "#group" => item.pointer("/group/id").cloned().unwrap_or(Value::Null),
        "#state" => item.get("state").cloned().unwrap_or(Value::Null),
        col => item
            .get("column_values")
            .and_then(Value::as_array)
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c.get("id").and_then(Value::as_str) == Some(col))
            })
            .cloned()
            .unwrap_or(Value::Null),
    }
}

#[allow(clippy::too_many_arguments)]
fn send_and_apply<S: Steps>(
    client: &mut Client,
    what: &str,
    stored: &Stored,
    tb: &Tracked,
    sub: Option<&Tracked>,
    writers: &mut Writers,
    stats: &mut Stats,
    tally: &mut Tally,
    steps: &mut S,
) -> R<()> {
    let p = client.begin_keyed(
        writeback::OPERATION,
        &stored.req.document,
        stored.req.variables.clone(),
        Some(stored.key.clone()),
    );
    // A failed call leaves the entries `sending`: the next job sends the same request again.
    let body = client.finish_mutation(p).map_err(|e| api_err(e, what))?;
    tally.requests += 1;
    steps.step(|| apply(stored, &body, tb, sub, writers, stats, tally))
}

/// monday's answer → the entries' statuses and the rows.
fn apply(
    stored: &Stored,
    body: &Value,
    tb: &Tracked,
    sub: Option<&Tracked>,
    writers: &mut Writers,
    stats: &mut Stats,
    tally: &mut Tally,
) -> R<()> {
    lock_rows(tb.board_id, true);
    exec(
        "UPDATE monday_sync._write_requests SET answered_at = pg_catalog.clock_timestamp() WHERE request_id = $1",
        &[stored.request_id.into()],
    );
    let max_attempts = super::super::settings::MAX_ATTEMPTS.get().max(1) as i64;
    let mut items: Vec<Value> = Vec::new();
    for o in writeback::read(body, &stored.req) {
        // The entry as claimed (a create's temporary id, its board).
        let Some((board_id, item_id, create, attempts)) = entry_row(o.write_id) else {
            continue;
        };
        let created = o
            .done
            .iter()
            .any(|k| matches!(k, AliasKind::Create | AliasKind::CreateSubitem));
        if created {
            if let Some(real) = o.item.as_ref().and_then(|it| it.get("id")).and_then(id_of) {
                rekey(board_id, item_id, real, tb, sub)?;
                exec(
                    "UPDATE monday_sync.writes SET created_item_id = $2 WHERE write_id = $1",
                    &[o.write_id.into(), real.into()],
                );
            }
        }
        match &o.refusal {
            None => {
                exec(
                    "UPDATE monday_sync.writes SET status = 'sent', error = NULL WHERE write_id = $1",
                    &[o.write_id.into()],
                );
                tally.sent += 1;
            }
            Some(r) if r.transient && attempts < max_attempts && !(create && created) => {
                // Again later: merged under a newer pending entry of the item, if there is one.
                requeue(o.write_id, &r.message);
                tally.retried += 1;
            }
            Some(r) => {
                exec(
                    "UPDATE monday_sync.writes SET status = 'failed', error_code = $2, error_column = $3,
                            error = $4 WHERE write_id = $1",
                    &[
                        o.write_id.into(),
                        r.code.clone().into(),
                        r.column.clone().into(),
                        r.message.clone().into(),
                    ],
                );
                tally.failed += 1;
                if tally.failures.len() < 5 {
                    tally.failures.push(format!(
                        "item {}{}: {}",
                        if created {
                            o.item
                                .as_ref()
                                .and_then(|it| it.get("id"))
                                .and_then(id_of)
                                .unwrap_or(item_id)
                        } else {
                            item_id
                        },
                        r.column
                            .as_ref()
                            .map(|c| format!(", column {c}"))
                            .unwrap_or_default(),
                        r.message
                    ));
                }
            }
        }
        let _ = create;
        if let Some(it) = o.item {
            items.push(it);
        }
    }
    // Each item's last answer, written as a pull writes it (fields of newer open entries keep the
    // user's values: the trigger protects them).
    let mut last: Vec<Value> = Vec::new();
    for it in items.into_iter().rev() {
        let id = it.get("id").and_then(id_of);
        if !last.iter().any(|l| l.get("id").and_then(id_of) == id) {
            last.push(it);
        }
    }
    last.reverse();
    writers.write(&last, stats)?;
    Ok(())
}

fn entry_row(write_id: i64) -> Option<(i64, i64, bool, i64)> {
    Spi::connect(|c| {
        let t = c.select(
            "SELECT board_id, item_id, op = 'create', attempts FROM monday_sync.writes WHERE write_id = $1",
            Some(1),
            &[write_id.into()],
        )?;
        if t.is_empty() {
            return Ok(None);
        }
        let r = t.first();
        Ok::<_, pgrx::spi::SpiError>(Some((
            r.get::<i64>(1)?.unwrap_or_default(),
            r.get::<i64>(2)?.unwrap_or_default(),
            r.get::<bool>(3)?.unwrap_or(false),
            r.get::<i32>(4)?.unwrap_or_default() as i64,
        )))
    })
    .unwrap_or_else(|e| spi_fail(e))
}

fn requeue(write_id: i64, why: &str) {
    exec(
        "WITH f AS (SELECT * FROM monday_sync.writes WHERE write_id = $1),
              merged AS (
                UPDATE monday_sync.writes p SET changes = f.changes OPERATOR(pg_catalog.||) p.changes,
                                               base = p.base OPERATOR(pg_catalog.||) f.base
                  FROM f WHERE p.board_id = f.board_id AND p.item_id = f.item_id AND p.status = 'pending'
                RETURNING p.write_id)
         UPDATE monday_sync.writes w
            SET status = CASE WHEN EXISTS (SELECT FROM merged) THEN 'discarded' ELSE 'pending' END,
                error = $2, request_id = NULL
          WHERE w.write_id = $1",
        &[write_id.into(), why.into()],
    );
}

/// A created item: its row (and the outbox entries and subitems that name it) move from the
/// temporary id to monday's.
fn rekey(board_id: i64, temp: i64, real: i64, tb: &Tracked, sub: Option<&Tracked>) -> R<()> {
    if temp >= 0 {
        return Ok(());
    }
    let table = if board_id == tb.board_id {
        Some(tb)
    } else {
        sub.filter(|s| s.board_id == board_id)
    };
    if let Some(t) = table {
        let target = t.target()?;
        super::super::security::as_owner(target.owner, || {
            // A pull or a webhook may have brought the new item in already: that copy goes (the
            // answer is written next), and the row the user inserted takes monday's id.
            exec(
                &format!(
                    "DELETE FROM ONLY {t} WHERE item_id = $2 AND EXISTS (SELECT FROM ONLY {t} WHERE item_id = $1)",
                    t = target.qualified
                ),
                &[temp.into(), real.into()],
            );
            exec(
                &format!(
                    "UPDATE ONLY {} SET item_id = $2 WHERE item_id = $1",
                    target.qualified
                ),
                &[temp.into(), real.into()],
            )
        });
    }
    if board_id == tb.board_id {
        if let Some(s) = sub {
            let target = s.target()?;
            super::super::security::as_owner(target.owner, || {
                exec(
                    &format!(
                        "UPDATE ONLY {} SET parent_item_id = $2 WHERE parent_item_id = $1",
                        target.qualified
                    ),
                    &[temp.into(), real.into()],
                )
            });
        }
    }
    exec(
        "UPDATE monday_sync.writes SET item_id = $3 WHERE board_id = $1 AND item_id = $2 AND op = 'update'",
        &[board_id.into(), temp.into(), real.into()],
    );
    exec(
        "UPDATE monday_sync.writes SET parent_item_id = $2 WHERE parent_item_id = $1",
        &[temp.into(), real.into()],
    );
    exec(
        "UPDATE monday_sync.item_keys SET item_id = $2 WHERE item_id = $1",
        &[temp.into(), real.into()],
    );
    Ok(())
}

/// The item of a dropped write is fetched again (the board's `confirm` job) so its row shows
/// monday's values.
pub(crate) fn refetch_item(write_id: i64) {
    exec(
        "INSERT INTO monday_sync._webhook_confirm (board_id, item_id, due)
         SELECT coalesce(b.parent_board_id, b.board_id), coalesce(w.created_item_id, w.item_id), pg_catalog.clock_timestamp()
           FROM monday_sync.writes w JOIN monday_sync.boards b USING (board_id)
          WHERE w.write_id = $1 AND coalesce(w.created_item_id, w.item_id) > 0
         ON CONFLICT (board_id, item_id) DO UPDATE SET due = excluded.due",
        &[write_id.into()],
    );
    let top: Option<i64> = one(
        "SELECT coalesce(b.parent_board_id, b.board_id) FROM monday_sync.writes w
           JOIN monday_sync.boards b USING (board_id) WHERE w.write_id = $1",
        &[write_id.into()],
    );
    if let Some(top) = top {
        crate::pg::webhooks::apply::queue_job(top, "confirm", 0);
    }
}
