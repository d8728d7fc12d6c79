//! `monday_sync.upsert_items`: records keyed by another system's id (a CRM id in a text column,
//! say) become monday items — created when the key is new, updated in the columns that differ,
//! left alone when equal. Each row goes through the typed table and its write-back trigger, with
//! the caller's rights: the same checks, encoding, coalescing and batched sending as any UPDATE or
//! INSERT. The key → item mapping is kept in `monday_sync.item_keys`; a key found on two items is
//! an error for that record, not a guess.
//!
//! Small sets run in the caller's transaction (`upsert_items`). Large ones are handed to the
//! worker (`request_upsert_items`): the records are stored, and the worker's `upsert` job goes
//! through them [`CHUNK`] at a time, one transaction each, as the role that asked — progress in
//! `monday_sync.upsert_progress`, resumed where it stopped after a crash.
#![allow(clippy::result_large_err)]

use super::super::errors::{err, R};
use super::super::progress::Progress;
use super::super::pull::Steps;
use super::super::runs::Stats;
use super::super::security::{as_extension_owner, as_role};
use super::super::spi::{exec, in_subtransaction_coded, one, q, spi_fail};
use super::super::track::{not_tracked, tracked, Tracked};
use pgrx::prelude::*;
use pgrx::spi::Spi;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Errors listed in the answer, at most.
const MAX_ERRORS: usize = 20;

/// Records the worker's `upsert` job takes in one transaction.
pub(crate) const CHUNK: i64 = 1_000;

/// The table's columns a record may set: the mapped ones and the writable fixed ones.
fn settable(board_id: i64) -> Vec<String> {
    let mut cols: Vec<String> = Spi::connect(|c| {
        c.select(
            "SELECT sql_name::text FROM monday_sync.columns WHERE board_id = $1 AND removed_at IS NULL",
            None,
            &[board_id.into()],
        )?
        .map(|r| Ok(r.get::<String>(1)?.unwrap_or_default()))
        .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
    })
    .unwrap_or_else(|e| spi_fail(e));
    cols.push("name".into());
    cols.push("group_id".into());
    cols
}

/// What both ways in check before a record is read: the board is tracked, write-back is on, the
/// key column exists. Returns the board and the key column's SQL name.
/// The extension's catalogs are read as its owner: the caller needs rights on the typed table only.
fn check(board_id: i64, key_column: &str) -> R<(Tracked, String)> {
    as_extension_owner(|| check_catalog(board_id, key_column))
}

fn check_catalog(board_id: i64, key_column: &str) -> R<(Tracked, String)> {
    let tb = tracked(board_id)
        .ok_or_else(|| not_tracked(board_id, "upsert_items writes to a tracked board"))?;
    let on: bool = one(
        "SELECT write_back FROM monday_sync.boards WHERE board_id = $1",
        &[board_id.into()],
    )
    .unwrap_or(false);
    if !on {
        return Err(err(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("write-back is off for monday board {board_id}"),
            "upsert_items sends its records through write-back",
            format!("SELECT monday_sync.enable_write_back({board_id});"),
        ));
    }
    let key: Option<String> = one(
        "SELECT sql_name::text FROM monday_sync.columns
          WHERE board_id = $1 AND removed_at IS NULL AND (sql_name = $2 OR column_id = $2)
          ORDER BY sql_name = $2 DESC LIMIT 1",
        &[board_id.into(), key_column.into()],
    );
    let Some(key) = key else {
        return Err(err(
            PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
            format!("monday board {board_id} has no column \"{key_column}\""),
            "the key column is a column of the board's typed table (its SQL name or monday's column id)",
            format!("SELECT column_id, sql_name, column_type FROM monday_sync.columns WHERE board_id = {board_id};"),
        ));
    };
    Ok((tb, key))
}

fn not_an_array() -> pgrx::pg_sys::panic::ErrorReport {
    err(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        "rows must be a JSON array of objects",
        "each object is one record: SQL column names → values, the key column included",
        "SELECT monday_sync.upsert_items(board_id, 'crm_id', jsonb_agg(to_jsonb(r))) FROM staging r;",
    )
}

/// Counts of a set of records, and the first errors.
#[derive(Default)]
struct Counts {
    created: i64,
    updated: i64,
    unchanged: i64,
    failed: i64,
    errors: Vec<Value>,
}

impl Counts {
    fn fail(&mut self, index: i64, kv: &Value, msg: String) {
        self.failed += 1;
        if self.errors.len() < MAX_ERRORS {
            self.errors
                .push(json!({"index": index, "key": kv, "error": msg}));
        }
    }
}

/// One pass over records of one board: the table, its settable columns and its keys as they are
/// now (pending creates included, under their temporary ids).
struct Pass {
    board_id: i64,
    key: String,
    table: String,
    cols: Vec<String>,
    by_key: HashMap<String, Vec<i64>>,
}

impl Pass {
    fn new(tb: &Tracked, key: String) -> R<Pass> {
        let t = as_extension_owner(|| tb.target())?;
        let table = t.qualified.clone();
        let k = q(&key);
        let mut by_key: HashMap<String, Vec<i64>> = HashMap::new();
        Spi::connect(|c| {
            let rows = c.select(
                &format!(
                    "SELECT {k}::text, item_id FROM ONLY {table} WHERE {k} IS NOT NULL AND state = 'active'"
                ),
                None,
                &[],
            )?;
            for r in rows {
                if let (Some(kv), Some(id)) = (r.get::<String>(1)?, r.get::<i64>(2)?) {
                    by_key.entry(kv).or_default().push(id);
                }
            }
            Ok::<_, pgrx::spi::SpiError>(())
        })
        .unwrap_or_else(|e| spi_fail(e));
        Ok(Pass {
            board_id: tb.board_id,
            cols: as_extension_owner(|| settable(tb.board_id)),
            key,
            table,
            by_key,
        })
    }

    /// Record `index` (its place in the caller's array, from 0): created, updated, unchanged or
    /// failed, each in a subtransaction of its own.
    fn apply(&mut self, index: i64, rec: &Value, n: &mut Counts) {
        let (key, table) = (&self.key, &self.table);
        let k = q(key);
        let Value::Object(obj) = rec else {
            n.fail(index, &Value::Null, "not a JSON object".into());
            return;
        };
        let kv = obj.get(key).cloned().unwrap_or(Value::Null);
        // The key as the table's text form of it (a number key 42 matches '42').
        let key_text: Option<String> = match &kv {
            Value::Null => None,
            v => {
                let mut t = None;
                let r = in_subtransaction_coded(|| {
                    t = one(
                        &format!(
                            "SELECT r.{k}::text FROM pg_catalog.jsonb_populate_record(NULL::{table}, $1) r"
                        ),
                        &[pgrx::JsonB(json!({ key.clone(): v })).into()],
                    );
                });
                if let Err((_, m)) = r {
                    n.fail(index, &kv, m);
                    return;
                }
                t
            }
        };
        let Some(key_text) = key_text else {
            n.fail(index, &kv, format!("the record has no {key}"));
            return;
        };
        let unknown: Vec<&String> = obj.keys().filter(|c| !self.cols.contains(c)).collect();
        if !unknown.is_empty() {
            n.fail(
                index,
                &kv,
                format!("{table} has no settable column {unknown:?}"),
            );
            return;
        }
        let names: Vec<String> = obj.keys().map(|c| q(c)).collect();
        let list = names.join(", ");
        let cur: Vec<String> = names.iter().map(|n| format!("t.{n}::text")).collect();
        let new: Vec<String> = names.iter().map(|n| format!("r.{n}::text")).collect();
        let vals: Vec<String> = names.iter().map(|n| format!("r.{n}")).collect();
        let ids = self.by_key.get(&key_text).cloned().unwrap_or_default();
        let arg = Value::Object(obj.clone());
        let outcome = match ids.as_slice() {
            [_, _, ..] => Err(format!(
                "the key {key_text} is on {} items ({}): not guessing which",
                ids.len(),
                ids.iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            [item] => {
                let item = *item;
                let mut changed = 0;
                in_subtransaction_coded(|| {
                    changed = exec(
                        &format!(
                            "UPDATE ONLY {table} t SET ({list}) = ROW({vals})
                              FROM pg_catalog.jsonb_populate_record(NULL::{table}, $1) r
                             WHERE t.item_id = $2 AND ROW({cur}) IS DISTINCT FROM ROW({new})",
                            vals = vals.join(", "),
                            cur = cur.join(", "),
                            new = new.join(", "),
                        ),
                        &[pgrx::JsonB(arg.clone()).into(), item.into()],
                    );
                })
                .map(|_| {
                    if changed > 0 {
                        n.updated += 1;
                    } else {
                        n.unchanged += 1;
                    }
                    item
                })
                .map_err(|(_, m)| m)
            }
            [] => {
                let mut id = 0i64;
                in_subtransaction_coded(|| {
                    id = one(
                        &format!(
                            "INSERT INTO {table} ({list}) SELECT {vals} FROM pg_catalog.jsonb_populate_record(NULL::{table}, $1) r RETURNING item_id",
                            vals = vals.join(", "),
                        ),
                        &[pgrx::JsonB(arg.clone()).into()],
                    )
                    .unwrap_or_default();
                })
                .map(|_| {
                    n.created += 1;
                    self.by_key.insert(key_text.clone(), vec![id]);
                    id
                })
                .map_err(|(_, m)| m)
            }
        };
        match outcome {
            Ok(item) => {
                // The mapping is the extension's bookkeeping: written as its owner.
                let (board_id, key) = (self.board_id, key.clone());
                as_extension_owner(|| {
                    exec(
                        "INSERT INTO monday_sync.item_keys (board_id, key_column, key_value, item_id)
                         VALUES ($1, $2, $3, $4)
                         ON CONFLICT (board_id, key_column, key_value)
                         DO UPDATE SET item_id = excluded.item_id, upserted_at = pg_catalog.now()",
                        &[board_id.into(), key.into(), key_text.into(), item.into()],
                    )
                });
            }
            Err(msg) => n.fail(index, &kv, msg),
        }
    }
}

fn pending_of(board_id: i64) -> i64 {
    one(
        "SELECT count(*) FROM monday_sync.writes w JOIN monday_sync.boards b USING (board_id)
          WHERE (b.board_id = $1 OR b.parent_board_id = $1) AND w.status IN ('pending', 'sending')",
        &[board_id.into()],
    )
    .unwrap_or(0)
}

/// `monday_sync.upsert_items(board_id, key_column, rows)`: see the module comment. `key_column`
/// is the typed table's column (its SQL name, or monday's column id) holding the external key;
/// `rows` a JSON array of objects keyed by SQL column names, values as `to_jsonb` gives them.
/// Returns `{created, updated, unchanged, failed, errors: [{index, key, error}], …}`.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn upsert_items(board_id: i64, key_column: &str, rows: pgrx::JsonB) -> R<pgrx::JsonB> {
    let (tb, key) = check(board_id, key_column)?;
    let Value::Array(records) = rows.0 else {
        return Err(not_an_array());
    };
    let mut pass = Pass::new(&tb, key.clone())?;
    let mut n = Counts::default();
    for (i, rec) in records.iter().enumerate() {
        pass.apply(i as i64, rec, &mut n);
    }
    Ok(pgrx::JsonB(json!({
        "board_id": board_id,
        "key_column": key,
        "records": records.len(),
        "created": n.created,
        "updated": n.updated,
        "unchanged": n.unchanged,
        "failed": n.failed,
        "errors": n.errors,
        "pending_writes": as_extension_owner(|| pending_of(board_id)),
    })))
}

/// `monday_sync.request_upsert_items(board_id, key_column, rows)`: the same as `upsert_items`,
/// run by the worker: the records are checked for shape, stored, and an `upsert` job queued; the
/// call returns the upsert's id at once. The job runs as the role that asked (which must be able
/// to SELECT, INSERT and UPDATE the typed table), [`CHUNK`] records a transaction; its progress is in
/// `monday_sync.upsert_progress`.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn request_upsert_items(board_id: i64, key_column: &str, rows: pgrx::JsonB) -> R<i64> {
    let (tb, key) = check(board_id, key_column)?;
    let Value::Array(records) = &rows.0 else {
        return Err(not_an_array());
    };
    let user = unsafe { pg_sys::GetUserId() };
    let t = as_extension_owner(|| tb.target())?;
    let allowed: bool = one(
        "SELECT pg_catalog.has_table_privilege($1, $2, 'SELECT')
            AND pg_catalog.has_table_privilege($1, $2, 'INSERT') AND pg_catalog.has_table_privilege($1, $2, 'UPDATE')",
        &[user.into(), t.oid.into()],
    )
    .unwrap_or(false);
    if !allowed {
        return Err(err(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("permission denied for table {}", t.qualified),
            "the worker runs an upsert with the rights of the role that asks for it: SELECT, INSERT and UPDATE on the typed table",
            format!("GRANT SELECT, INSERT, UPDATE ON {} TO …;", t.qualified),
        ));
    }
    let total = records.len() as i64;
    let board = tb.board_id;
    let id: i64 = as_extension_owner(|| {
        let id: i64 = one(
            "INSERT INTO monday_sync.upserts (board_id, key_column, total, requested_by)
             VALUES ($1, $2, $3, $4) RETURNING upsert_id",
            &[board.into(), key.clone().into(), total.into(), user.into()],
        )
        .unwrap_or_default();
        exec(
            "INSERT INTO monday_sync._upsert_records (upsert_id, n, record)
             SELECT $1, e.n - 1, e.r FROM pg_catalog.jsonb_array_elements($2) WITH ORDINALITY e (r, n)",
            &[id.into(), rows.into()],
        );
        exec(
            "INSERT INTO monday_sync.jobs (board_id, command, requested_by)
             VALUES ($1, 'upsert', (SELECT rolname FROM pg_catalog.pg_roles WHERE oid = $2))
             ON CONFLICT (board_id, command) WHERE status = 'queued'
             DO UPDATE SET not_before = least(jobs.not_before, pg_catalog.now())",
            &[board.into(), user.into()],
        );
        id
    });
    super::super::worker::wake_on_commit();
    Ok(id)
}

/// The worker's `upsert` job: the board's stored upserts, oldest first, [`CHUNK`] records a
/// transaction, each as the role that asked for it. Returns what it did and its run's text.
pub(crate) fn upsert_core(
    tb: &Tracked,
    _progress: &Option<Progress>,
    steps: &mut impl Steps,
) -> R<(Stats, String)> {
    let mut total = Stats::default();
    let (mut records, mut created, mut updated, mut failed) = (0i64, 0i64, 0i64, 0i64);
    loop {
        let more = steps.step(|| {
            let next: Option<(i64, String, i64, i64, i64)> = Spi::connect_mut(|c| {
                let t = c.update(
                    "SELECT upsert_id, key_column::text, processed, total, requested_by::int8
                       FROM monday_sync.upserts
                      WHERE board_id = $1 AND status IN ('queued', 'running')
                      ORDER BY upsert_id LIMIT 1 FOR UPDATE",
                    Some(1),
                    &[tb.board_id.into()],
                )?;
                if t.is_empty() {
                    return Ok(None);
                }
                let r = t.first();
                Ok::<_, pgrx::spi::SpiError>(Some((
                    r.get::<i64>(1)?.unwrap_or_default(),
                    r.get::<String>(2)?.unwrap_or_default(),
                    r.get::<i64>(3)?.unwrap_or_default(),
                    r.get::<i64>(4)?.unwrap_or_default(),
                    r.get::<i64>(5)?.unwrap_or_default(),
                )))
            })
            .unwrap_or_else(|e| spi_fail(e));
            let Some((id, key, processed, all, role)) = next else {
                return Ok(false);
            };
            let role = pg_sys::Oid::from(role as u32);
            let exists: bool = one(
                "SELECT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE oid = $1)",
                &[role.into()],
            )
            .unwrap_or(false);
            let gone = |why: String| {
                exec(
                    "UPDATE monday_sync.upserts SET status = 'failed', message = $2, finished_at = pg_catalog.now() WHERE upsert_id = $1",
                    &[id.into(), why.into()],
                );
                exec("DELETE FROM monday_sync._upsert_records WHERE upsert_id = $1", &[id.into()]);
            };
            if !exists {
                gone(format!("the role that asked for upsert {id} no longer exists"));
                return Ok(true);
            }
            let chunk: Vec<(i64, Value)> = Spi::connect(|c| {
                c.select(
                    "SELECT n, record FROM monday_sync._upsert_records
                      WHERE upsert_id = $1 AND n >= $2 ORDER BY n LIMIT $3",
                    None,
                    &[id.into(), processed.into(), CHUNK.into()],
                )?
                .map(|r| {
                    Ok((
                        r.get::<i64>(1)?.unwrap_or_default(),
                        r.get::<pgrx::JsonB>(2)?.map(|j| j.0).unwrap_or(Value::Null),
                    ))
                })
                .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
            })
            .unwrap_or_else(|e| spi_fail(e));
            let mut n = Counts::default();
            // As the role that asked: its rights on the table, its triggers' checks. An error
            // outside a record's own subtransaction (the role lost SELECT on the table, say)
            // fails this upsert, not the job: the board's other upserts go on.
            let mut inner: R<()> = Ok(());
            let caught = in_subtransaction_coded(|| {
                inner = as_role(role, || -> R<()> {
                    let (tb, key) = check(tb.board_id, &key)?;
                    let mut pass = Pass::new(&tb, key)?;
                    for (i, rec) in &chunk {
                        pass.apply(*i, rec, &mut n);
                    }
                    Ok(())
                });
            });
            match (caught, inner) {
                (Err((_, m)), _) => {
                    gone(m);
                    return Ok(true);
                }
                (Ok(()), Err(e)) => {
                    gone(e.message().to_string());
                    return Ok(true);
                }
                _ => {}
            }
            let last = chunk.last().map(|(i, _)| i + 1).unwrap_or(all);
            let done = chunk.len() < CHUNK as usize || last >= all;
            exec(
                "UPDATE monday_sync.upserts
                    SET processed = $2, created = created + $3, updated = updated + $4,
                        unchanged = unchanged + $5, failed = failed + $6,
                        errors = coalesce((SELECT pg_catalog.jsonb_agg(e) FROM (
                                    SELECT e FROM pg_catalog.jsonb_array_elements(errors || $7) e LIMIT $8) s), '[]'),
                        status = CASE WHEN $9 THEN 'done' ELSE 'running' END,
                        started_at = coalesce(started_at, pg_catalog.now()),
                        finished_at = CASE WHEN $9 THEN pg_catalog.now() END
                  WHERE upsert_id = $1",
                &[
                    id.into(),
                    (if done { all } else { last }).into(),
                    n.created.into(),
                    n.updated.into(),
                    n.unchanged.into(),
                    n.failed.into(),
                    pgrx::JsonB(Value::Array(n.errors)).into(),
                    (MAX_ERRORS as i64).into(),
                    done.into(),
                ],
            );
            exec(
                "DELETE FROM monday_sync._upsert_records WHERE upsert_id = $1 AND n < $2",
                &[id.into(), (if done { i64::MAX } else { last }).into()],
            );
            records += chunk.len() as i64;
            created += n.created;
            updated += n.updated;
            failed += n.failed;
            Ok(true)
        })?;
        if !more {
            break;
        }
    }
    total.items_seen = records;
    total.rows_written = created + updated;
    Ok((
        total,
        format!("{records} records: {created} created, {updated} updated, {failed} failed"),
    ))
}
