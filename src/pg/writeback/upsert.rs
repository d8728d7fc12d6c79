//! `monday_sync.upsert_items`: records keyed by another system's id (a CRM id in a text column,
//! say) become monday items — created when the key is new, updated in the columns that differ,
//! left alone when equal. Each row goes through the typed table and its write-back trigger, in
//! the caller's transaction and with the caller's rights: the same checks, encoding, coalescing
//! and batched sending as any UPDATE or INSERT. The key → item mapping is kept in
//! `monday_sync.item_keys`; a key found on two items is an error for that record, not a guess.
#![allow(clippy::result_large_err)]

use super::super::errors::{err, R};
use super::super::spi::{exec, in_subtransaction_coded, one, q, spi_fail};
use super::super::track::{not_tracked, tracked};
use pgrx::prelude::*;
use pgrx::spi::Spi;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Errors listed in the answer, at most.
const MAX_ERRORS: usize = 20;

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

/// `monday_sync.upsert_items(board_id, key_column, rows)`: see the module comment. `key_column`
/// is the typed table's column (its SQL name, or monday's column id) holding the external key;
/// `rows` a JSON array of objects keyed by SQL column names, values as `to_jsonb` gives them.
/// Returns `{created, updated, unchanged, failed, errors: [{index, key, error}], …}`.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn upsert_items(board_id: i64, key_column: &str, rows: pgrx::JsonB) -> R<pgrx::JsonB> {
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
    let Value::Array(records) = rows.0 else {
        return Err(err(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "rows must be a JSON array of objects",
            "each object is one record: SQL column names → values, the key column included",
            "SELECT monday_sync.upsert_items(board_id, 'crm_id', jsonb_agg(to_jsonb(r))) FROM staging r;",
        ));
    };
    let t = tb.target()?;
    let table = t.qualified.clone();
    let cols = settable(board_id);
    let k = q(&key);

    // The table's keys as they are now (pending creates included, under their temporary ids).
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

    let (mut created, mut updated, mut unchanged, mut failed) = (0i64, 0i64, 0i64, 0i64);
    let mut errors: Vec<Value> = Vec::new();
    let fail = |errors: &mut Vec<Value>, i: usize, kv: &Value, msg: String| {
        if errors.len() < MAX_ERRORS {
            errors.push(json!({"index": i, "key": kv, "error": msg}));
        }
    };
    for (i, rec) in records.iter().enumerate() {
        let Value::Object(obj) = rec else {
            failed += 1;
            fail(&mut errors, i, &Value::Null, "not a JSON object".into());
            continue;
        };
        let kv = obj.get(&key).cloned().unwrap_or(Value::Null);
        // The key as the table's text form of it (a number key 42 matches '42').
        let key_text: Option<String> = match &kv {
            Value::Null => None,
            v => one(
                &format!(
                    "SELECT r.{k}::text FROM pg_catalog.jsonb_populate_record(NULL::{table}, $1) r"
                ),
                &[pgrx::JsonB(json!({ key.clone(): v })).into()],
            ),
        };
        let Some(key_text) = key_text else {
            failed += 1;
            fail(&mut errors, i, &kv, format!("the record has no {key}"));
            continue;
        };
        let unknown: Vec<&String> = obj.keys().filter(|c| !cols.contains(c)).collect();
        if !unknown.is_empty() {
            failed += 1;
            fail(
                &mut errors,
                i,
                &kv,
                format!("{table} has no settable column {unknown:?}"),
            );
            continue;
        }
        let names: Vec<String> = obj.keys().map(|c| q(c)).collect();
        let list = names.join(", ");
        let cur: Vec<String> = names.iter().map(|n| format!("t.{n}::text")).collect();
        let new: Vec<String> = names.iter().map(|n| format!("r.{n}::text")).collect();
        let vals: Vec<String> = names.iter().map(|n| format!("r.{n}")).collect();
        let ids = by_key.get(&key_text).cloned().unwrap_or_default();
        let arg = Value::Object(obj.clone());
        let outcome = match ids.as_slice() {
            [_, _, ..] => Err(format!(
                "the key {key_text} is on {} items ({}): not guessing which",
                ids.len(),
                ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
            )),
            [item] => {
                let item = *item;
                let mut n = 0;
                in_subtransaction_coded(|| {
                    n = exec(
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
                    if n > 0 {
                        updated += 1;
                    } else {
                        unchanged += 1;
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
                    created += 1;
                    by_key.insert(key_text.clone(), vec![id]);
                    id
                })
                .map_err(|(_, m)| m)
            }
        };
        match outcome {
            Ok(item) => {
                exec(
                    "INSERT INTO monday_sync.item_keys (board_id, key_column, key_value, item_id)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (board_id, key_column, key_value)
                     DO UPDATE SET item_id = excluded.item_id, upserted_at = pg_catalog.now()",
                    &[board_id.into(), key.clone().into(), key_text.into(), item.into()],
                );
            }
            Err(msg) => {
                failed += 1;
                fail(&mut errors, i, &kv, msg);
            }
        }
    }
    let pending: i64 = one(
        "SELECT count(*) FROM monday_sync.writes w JOIN monday_sync.boards b USING (board_id)
          WHERE (b.board_id = $1 OR b.parent_board_id = $1) AND w.status IN ('pending', 'sending')",
        &[board_id.into()],
    )
    .unwrap_or(0);
    Ok(pgrx::JsonB(json!({
        "board_id": board_id,
        "key_column": key,
        "records": records.len(),
        "created": created,
        "updated": updated,
        "unchanged": unchanged,
        "failed": failed,
        "errors": errors,
        "pending_writes": pending,
    })))
}
