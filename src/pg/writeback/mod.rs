//! Write-back: rows changed in a typed table become monday changes.
//!
//! - `enable_write_back` / `disable_write_back` put the table's triggers in place (the board's and
//!   its subitems table's) and set the board's policy.
//! - The trigger (`_write_back`) runs in the user's own transaction: an UPDATE, INSERT or DELETE of
//!   the table is checked (read-only and pull-only columns refused, every value encoded as monday
//!   will accept it, or the statement fails with the encoder's error) and recorded in the outbox
//!   (`monday_sync.writes`), coalescing with the item's pending entry; a `write` job is queued.
//! - While the extension itself writes the table (a pull, a refresh, a webhook, the sender writing
//!   monday's answer: `security::sync_writing`), nothing is recorded, and the fields of open
//!   entries are kept as the user left them: monday's news never overwrites an unsent change.
//! - The sender is the worker's `write` job (`send.rs`).
#![allow(clippy::result_large_err)] // ErrorReport is the SQL error type.

pub(crate) mod send;
pub(crate) mod upsert;

use super::errors::{err, R};
use super::jsonb::JsonbArg;
use super::security::{as_extension_owner, sync_writing};
use super::spi::{exec, one, q, spi_fail};
use super::track::tracked;
use crate::codec::encode::{encode, EncodeError};
use crate::codec::Kind;
use pgrx::datum::DatumWithOid;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::spi::Spi;
use serde_json::{json, Map, Value};

/// The table's fixed columns that are monday's alone: a change to them is refused.
const READ_ONLY_FIXED: &[&str] = &[
    "group_title",
    "parent_item_id",
    "created_at",
    "updated_at",
    "raw",
    "synced_at",
];

/// The board a typed table belongs to, and its write-back settings (from the top board).
struct BoardOf {
    board_id: i64,
    top: i64,
    is_sub: bool,
    write_back: bool,
    delete_action: String,
    create_labels: bool,
}

fn board_of(relid: pg_sys::Oid) -> Option<BoardOf> {
    Spi::connect(|c| {
        let t = c.select(
            "SELECT b.board_id, t.board_id, b.parent_board_id IS NOT NULL, b.write_back AND t.write_back,
                    t.delete_action, t.create_labels
               FROM monday_sync.boards b
               JOIN monday_sync.boards t ON t.board_id = coalesce(b.parent_board_id, b.board_id)
              WHERE b.table_oid = $1",
            Some(1),
            &[relid.into()],
        )?;
        if t.is_empty() {
            return Ok(None);
        }
        let r = t.first();
        Ok(Some(BoardOf {
            board_id: r.get::<i64>(1)?.unwrap_or_default(),
            top: r.get::<i64>(2)?.unwrap_or_default(),
            is_sub: r.get::<bool>(3)?.unwrap_or(false),
            write_back: r.get::<bool>(4)?.unwrap_or(false),
            delete_action: r.get::<String>(5)?.unwrap_or_else(|| "archive".into()),
            create_labels: r.get::<bool>(6)?.unwrap_or(false),
        }))
    })
    .unwrap_or_else(|e| spi_fail(e))
}

/// A mapped column as the trigger needs it.
struct Col {
    column_id: String,
    typ: String,
    settings: Option<Value>,
    sql_name: String,
    pull_only: bool,
}

fn columns_of(board_id: i64) -> Vec<Col> {
    Spi::connect(|c| {
        c.select(
            "SELECT column_id, column_type, settings::text, sql_name::text, direction = 'pull'
               FROM monday_sync.columns WHERE board_id = $1 AND removed_at IS NULL",
            None,
            &[board_id.into()],
        )?
        .map(|r| {
            Ok(Col {
                column_id: r.get::<String>(1)?.unwrap_or_default(),
                typ: r.get::<String>(2)?.unwrap_or_default(),
                settings: r
                    .get::<String>(3)?
                    .and_then(|s| serde_json::from_str(&s).ok()),
                sql_name: r.get::<String>(4)?.unwrap_or_default(),
                pull_only: r.get::<bool>(5)?.unwrap_or(false),
            })
        })
        .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
    })
    .unwrap_or_else(|e| spi_fail(e))
}

/// `to_jsonb` of a row of the table, as the role that changed it (a cast to json the owner
/// defined runs with that role's rights, as in any query of theirs), numbers exact.
unsafe fn row_json(
    tuple: *mut pg_sys::HeapTupleData,
    tupdesc: pg_sys::TupleDesc,
    reltype: pg_sys::Oid,
) -> Value {
    let datum = pg_sys::heap_copy_tuple_as_datum(tuple, tupdesc);
    Spi::connect(|c| {
        let arg = DatumWithOid::new(datum, reltype);
        let t = c.select("SELECT pg_catalog.to_jsonb($1)", Some(1), &[arg])?;
        let d = t.first().get_datum_by_ordinal(1)?;
        Ok::<_, pgrx::spi::SpiError>(match d {
            // SAFETY: a jsonb datum of this SPI result, read before the SPI context ends.
            Some(d) => match JsonbArg::from_polymorphic_datum(d, false, pg_sys::JSONBOID) {
                Some(j) => j.to_value_exact(),
                None => Value::Null,
            },
            None => Value::Null,
        })
    })
    .unwrap_or_else(|e| spi_fail(e))
}

/// The role that changed the row (for `requested_by`).
fn current_role() -> String {
    unsafe {
        let name = pg_sys::GetUserNameFromId(pg_sys::GetUserId(), true);
        if name.is_null() {
            String::new()
        } else {
            std::ffi::CStr::from_ptr(name)
                .to_string_lossy()
                .into_owned()
        }
    }
}

fn encode_error(table: &str, column: &str, e: EncodeError) -> ErrorReport {
    err(
        super::codec::encode_sqlstate(e.code),
        format!(
            "monday_sync: {table}.{column} cannot be written to monday: {}",
            e.message
        ),
        e.detail,
        e.hint,
    )
}

fn refuse(message: String, detail: impl Into<String>, hint: &str) -> ErrorReport {
    err(
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        message,
        detail.into(),
        hint.to_string(),
    )
}

/// Settings the encoder reads, with what the board's write-back adds.
fn settings_for(col: &Col, create_labels: bool) -> Option<Value> {
    let mut s = match &col.settings {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    if create_labels {
        s.insert("create_labels_if_missing".into(), json!(true));
    }
    Some(Value::Object(s))
}

/// The daterange of a timeline or week column in `to_jsonb` form follows DateStyle; the encoder
/// reads ISO dates.
fn iso_daterange(typ: &str, v: Value) -> Value {
    match (&v, Kind::from_name(typ)) {
        (Value::String(text), Kind::Timeline | Kind::Week) => super::codec::daterange_iso(text)
            .map(Value::String)
            .unwrap_or(v),
        _ => v,
    }
}

/// The changed fields of a row: field → what monday accepts; and the base (what monday showed).
fn diff(
    table: &str,
    board: &BoardOf,
    new: &Value,
    old: Option<&Value>,
) -> R<(Map<String, Value>, Map<String, Value>)> {
    let mut changes = Map::new();
    let mut base = Map::new();
    let changed = |k: &str| match old {
        Some(o) => new.get(k) != o.get(k),
        None => new.get(k).is_some_and(|v| !v.is_null()),
    };
    for k in READ_ONLY_FIXED {
        // A new row may name its parent (a subitem), and gets synced_at's default; every other
        // fixed column is monday's.
        if (*k == "parent_item_id" || *k == "synced_at") && old.is_none() {
            continue;
        }
        if changed(k) {
            return Err(refuse(
                format!("monday_sync: {table}.{k} is monday's and cannot be written"),
                format!("monday board {} has write-back on; {k} is set by the sync", board.board_id),
                match *k {
                    "group_title" => "Change group_id to move the item to another group.",
                    "parent_item_id" => "Moving a subitem to another parent is not supported by write-back; do it on monday.",
                    _ => "Leave it out of the UPDATE or INSERT.",
                },
            ));
        }
    }
    if changed("name") {
        let v = new.get("name").cloned().unwrap_or(Value::Null);
        let enc = encode("name", &v, None).map_err(|e| encode_error(table, "name", e))?;
        changes.insert("name".into(), enc);
        base.insert(
            "name".into(),
            old.and_then(|o| o.get("name"))
                .cloned()
                .unwrap_or(Value::Null),
        );
    }
    if changed("group_id") {
        match new.get("group_id") {
            Some(Value::String(g)) if !g.is_empty() => {
                changes.insert("#group".into(), json!(g));
                base.insert(
                    "#group".into(),
                    old.and_then(|o| o.get("group_id")).cloned().unwrap_or(Value::Null),
                );
            }
            _ => {
                return Err(refuse(
                    format!("monday_sync: {table}.group_id cannot be cleared"),
                    "every monday item is in a group",
                    "Set group_id to one of the board's groups (SELECT group_id, title FROM monday_sync.groups WHERE board_id = …).",
                ))
            }
        }
    }
    if old.is_some() && changed("state") {
        let to = new.get("state").and_then(Value::as_str).unwrap_or("");
        if to != "archived" && to != "deleted" {
            return Err(refuse(
                format!("monday_sync: {table}.state cannot become '{to}' through write-back"),
                "monday's API archives and deletes items, but does not restore them",
                "Restore the item on monday (its recycle bin or archive); the sync brings the row back.",
            ));
        }
        changes.insert("#state".into(), json!(to));
        base.insert(
            "#state".into(),
            old.and_then(|o| o.get("state"))
                .cloned()
                .unwrap_or(Value::Null),
        );
    }
    // The extension's catalog, read as its owner (the trigger runs as the changing role).
    for col in as_extension_owner(|| columns_of(board.board_id)) {
        if !changed(&col.sql_name) {
            continue;
        }
        if col.pull_only {
            return Err(refuse(
                format!("monday_sync: {table}.{} is pull-only", col.sql_name),
                format!(
                    "column \"{}\" of monday board {} has direction 'pull': monday's values only",
                    col.column_id, board.board_id
                ),
                "Leave it out of the UPDATE, or let it be written: SELECT monday_sync.set_column_direction(board_id, column_id, 'both');",
            ));
        }
        let v = iso_daterange(
            &col.typ,
            new.get(&col.sql_name).cloned().unwrap_or(Value::Null),
        );
        let enc = encode(
            &col.typ,
            &v,
            settings_for(&col, board.create_labels).as_ref(),
        )
        .map_err(|e| encode_error(table, &col.sql_name, e))?;
        changes.insert(col.column_id.clone(), enc);
        base.insert(
            col.column_id.clone(),
            old.and_then(|o| o.pointer(&format!("/raw/{}", json_pointer_escape(&col.column_id))))
                .cloned()
                .unwrap_or(Value::Null),
        );
    }
    Ok((changes, base))
}

fn json_pointer_escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// Records a change in the outbox (coalescing with the item's pending entry) and queues the
/// board's `write` job, due after `monday_sync.write_delay` (changes made meanwhile share its
/// requests). As the extension's owner: the outbox is not the changing role's to write.
fn record(
    board: &BoardOf,
    item_id: i64,
    op: &str,
    changes: Map<String, Value>,
    base: Map<String, Value>,
    parent: Option<i64>,
) {
    let who = current_role();
    as_extension_owner(|| {
        exec(
            "INSERT INTO monday_sync.writes AS w (board_id, item_id, op, changes, base, parent_item_id, requested_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (board_id, item_id) WHERE status = 'pending'
             DO UPDATE SET changes = w.changes OPERATOR(pg_catalog.||) excluded.changes,
                           base = excluded.base OPERATOR(pg_catalog.||) w.base,
                           changed_at = pg_catalog.clock_timestamp()",
            &[
                board.board_id.into(),
                item_id.into(),
                op.into(),
                pgrx::JsonB(Value::Object(changes)).into(),
                pgrx::JsonB(Value::Object(base)).into(),
                parent.into(),
                who.clone().into(),
            ],
        );
        queue_write(board.top, &who);
    });
    super::worker::wake_on_commit();
}

pub(crate) fn queue_write(top: i64, who: &str) {
    exec(
        "INSERT INTO monday_sync.jobs (board_id, command, requested_by, not_before)
         VALUES ($1, 'write', $2, pg_catalog.now() + pg_catalog.make_interval(secs => $3::float8 / 1000))
         ON CONFLICT (board_id, command) WHERE status = 'queued'
         DO UPDATE SET not_before = least(jobs.not_before, excluded.not_before)",
        &[
            top.into(),
            who.into(),
            (super::settings::WRITE_DELAY.get() as i64).into(),
        ],
    );
}

/// The attribute numbers of the fields an open entry of the item changes; `None` when the item
/// is a create not yet on monday (its row is entirely ours).
fn protected(relid: pg_sys::Oid, board_id: i64, item_id: i64) -> Option<Vec<i16>> {
    let (creating, attnums): (bool, Vec<i16>) = as_extension_owner(|| {
        Spi::connect(|c| {
            let t = c.select(
                "SELECT coalesce(bool_or(w.op = 'create'), false),
                        coalesce(array_agg(DISTINCT a.attnum) FILTER (WHERE a.attnum IS NOT NULL), '{}')
                   FROM monday_sync.writes w
                   LEFT JOIN LATERAL pg_catalog.jsonb_object_keys(w.changes) k(key) ON true
                   LEFT JOIN monday_sync.columns c ON c.board_id = w.board_id AND c.column_id = k.key
                   LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = $1 AND NOT a.attisdropped
                        AND a.attname = ANY (CASE k.key WHEN 'name' THEN ARRAY['name']::name[]
                                                        WHEN '#group' THEN ARRAY['group_id', 'group_title']::name[]
                                                        WHEN '#state' THEN ARRAY['state']::name[]
                                                        ELSE ARRAY[c.sql_name] END)
                  WHERE w.board_id = $2 AND w.item_id = $3
                    AND w.status IN ('pending', 'sending', 'conflict', 'failed')",
                Some(1),
                &[relid.into(), board_id.into(), item_id.into()],
            )?;
            let r = t.first();
            Ok::<_, pgrx::spi::SpiError>((
                r.get::<bool>(1)?.unwrap_or(false),
                r.get::<Vec<i16>>(2)?.unwrap_or_default(),
            ))
        })
        .unwrap_or_else(|e| spi_fail(e))
    });
    if creating {
        None
    } else {
        Some(attnums)
    }
}

/// The write-back trigger of a typed table (see the module comment). BEFORE INSERT: a new row gets
/// a temporary negative `item_id`. BEFORE UPDATE during the extension's own writes: the fields of
/// open entries keep the user's values. AFTER INSERT/UPDATE/DELETE by anyone else: the change is
/// checked and recorded.
#[pg_trigger]
fn _write_back<'a>(
    trigger: &'a pgrx::PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgHeapTupleError> {
    let td = trigger.trigger_data();
    let before = matches!(trigger.when(), Ok(PgTriggerWhen::Before));
    let op = trigger.op().ok();
    let is_delete = matches!(op, Some(PgTriggerOperation::Delete));
    let same = |t: &'a pgrx::PgTrigger<'a>| match is_delete {
        true => t.old(),
        false => t.new(),
    };
    let rel = td.tg_relation;
    let (relid, tupdesc, reltype) =
        unsafe { ((*rel).rd_id, (*rel).rd_att, (*(*rel).rd_rel).reltype) };
    let Some(board) = as_extension_owner(|| board_of(relid)) else {
        return Ok(same(trigger));
    };
    if !board.write_back {
        return Ok(same(trigger));
    }
    let table = unsafe {
        let name = pg_sys::get_rel_name(relid);
        let nsp = pg_sys::get_namespace_name(pg_sys::get_rel_namespace(relid));
        format!(
            "{}.{}",
            q(&std::ffi::CStr::from_ptr(nsp).to_string_lossy()),
            q(&std::ffi::CStr::from_ptr(name).to_string_lossy())
        )
    };
    let item_attnum = unsafe { pg_sys::SPI_fnumber(tupdesc, c"item_id".as_ptr()) };

    if sync_writing() {
        // monday's news: never recorded; an unsent change is never overwritten.
        if !(before && matches!(op, Some(PgTriggerOperation::Update))) {
            return Ok(same(trigger));
        }
        let old = td.tg_trigtuple;
        let new = td.tg_newtuple;
        let item_id = unsafe {
            let mut isnull = false;
            let d = pg_sys::heap_getattr(old, item_attnum, tupdesc, &mut isnull);
            if isnull {
                return Ok(trigger.new());
            }
            d.value() as i64
        };
        // The sender re-keys a created item (temporary id → monday's): that row is ours to move.
        let new_id = unsafe {
            let mut isnull = false;
            pg_sys::heap_getattr(new, item_attnum, tupdesc, &mut isnull).value() as i64
        };
        if new_id != item_id {
            return Ok(trigger.new());
        }
        return match protected(relid, board.board_id, item_id) {
            None => Ok(None), // a row not yet on monday: nothing from monday applies to it
            Some(cols) if cols.is_empty() => Ok(trigger.new()),
            Some(cols) => unsafe {
                let n = cols.len();
                let mut nums: Vec<i32> = cols.iter().map(|c| *c as i32).collect();
                let mut values: Vec<pg_sys::Datum> = Vec::with_capacity(n);
                let mut nulls: Vec<bool> = Vec::with_capacity(n);
                for c in &cols {
                    let mut isnull = false;
                    values.push(pg_sys::heap_getattr(old, *c as i32, tupdesc, &mut isnull));
                    nulls.push(isnull);
                }
                let modified = pg_sys::heap_modify_tuple_by_cols(
                    new,
                    tupdesc,
                    n as i32,
                    nums.as_mut_ptr(),
                    values.as_mut_ptr(),
                    nulls.as_mut_ptr(),
                );
                Ok(Some(PgHeapTuple::from_heap_tuple(
                    pgrx::PgTupleDesc::from_pg_unchecked(tupdesc),
                    modified,
                )))
            },
        };
    }

    match (before, op) {
        (true, Some(PgTriggerOperation::Insert)) => unsafe {
            // A new item: a temporary id until monday gives it one.
            let new = td.tg_trigtuple;
            let mut isnull = false;
            let d = pg_sys::heap_getattr(new, item_attnum, tupdesc, &mut isnull);
            if !isnull {
                err(
                    PgSqlErrorCode::ERRCODE_GENERATED_ALWAYS,
                    format!("monday_sync: {table}.item_id is given by monday"),
                    format!("the INSERT set item_id = {}", d.value() as i64),
                    "Leave item_id out: the row gets a temporary negative id, replaced by monday's once the item is created.",
                )
                .report(PgLogLevel::ERROR);
            }
            let id: i64 = as_extension_owner(|| {
                one(
                    "SELECT -pg_catalog.nextval('monday_sync.pending_item_ids')",
                    &[],
                )
            })
            .unwrap_or(-1);
            let mut nums = [item_attnum];
            let mut values = [pg_sys::Datum::from(id)];
            let mut nulls = [false];
            let modified = pg_sys::heap_modify_tuple_by_cols(
                new,
                tupdesc,
                1,
                nums.as_mut_ptr(),
                values.as_mut_ptr(),
                nulls.as_mut_ptr(),
            );
            Ok(Some(PgHeapTuple::from_heap_tuple(
                pgrx::PgTupleDesc::from_pg_unchecked(tupdesc),
                modified,
            )))
        },
        (true, _) => Ok(same(trigger)),
        (false, Some(PgTriggerOperation::Update)) => {
            let (old, new) = unsafe {
                (
                    row_json(td.tg_trigtuple, tupdesc, reltype),
                    row_json(td.tg_newtuple, tupdesc, reltype),
                )
            };
            let item_id = old.get("item_id").and_then(Value::as_i64).unwrap_or(0);
            if new.get("item_id") != old.get("item_id") {
                refuse(
                    format!("monday_sync: {table}.item_id is monday's and cannot be written"),
                    format!("item {item_id}'s row was given another id"),
                    "Leave item_id out of the UPDATE.",
                )
                .report(PgLogLevel::ERROR);
            }
            let (changes, base) = diff(&table, &board, &new, Some(&old)).unwrap_or_else(|e| {
                e.report(PgLogLevel::ERROR);
                unreachable!()
            });
            if !changes.is_empty() {
                record(&board, item_id, "update", changes, base, None);
            }
            Ok(None)
        }
        (false, Some(PgTriggerOperation::Insert)) => {
            let new = unsafe { row_json(td.tg_trigtuple, tupdesc, reltype) };
            let item_id = new.get("item_id").and_then(Value::as_i64).unwrap_or(0);
            if new.get("name").is_none_or(Value::is_null) {
                err(
                    PgSqlErrorCode::ERRCODE_NOT_NULL_VIOLATION,
                    format!("monday_sync: a new row of {table} needs a name"),
                    "every monday item has a name",
                    "INSERT INTO … (name, …) VALUES ('…', …);",
                )
                .report(PgLogLevel::ERROR);
            }
            if new.get("state").and_then(Value::as_str).unwrap_or("active") != "active" {
                refuse(
                    format!("monday_sync: a new row of {table} must be active"),
                    "monday creates items active",
                    "Insert it, then UPDATE its state to 'archived'.",
                )
                .report(PgLogLevel::ERROR);
            }
            let parent = new.get("parent_item_id").and_then(Value::as_i64);
            if board.is_sub != parent.is_some() {
                refuse(
                    if board.is_sub {
                        format!("monday_sync: a new subitem in {table} needs its parent_item_id")
                    } else {
                        format!("monday_sync: {table} holds items, not subitems: parent_item_id must be NULL")
                    },
                    "subitems are created under an item of the parent board",
                    "Insert subitems into the subitems table with parent_item_id set to the parent's item_id.",
                )
                .report(PgLogLevel::ERROR);
            }
            let (changes, base) = diff(&table, &board, &new, None).unwrap_or_else(|e| {
                e.report(PgLogLevel::ERROR);
                unreachable!()
            });
            record(&board, item_id, "create", changes, base, parent);
            Ok(None)
        }
        (false, Some(PgTriggerOperation::Delete)) => {
            let old = unsafe { row_json(td.tg_trigtuple, tupdesc, reltype) };
            let item_id = old.get("item_id").and_then(Value::as_i64).unwrap_or(0);
            if item_id < 0 {
                // Not on monday yet: the create is called off (with subitems waiting for it).
                let cancelled = as_extension_owner(|| {
                    exec(
                        "DELETE FROM monday_sync.writes
                          WHERE status = 'pending' AND op = 'create'
                            AND ((board_id = $1 AND item_id = $2) OR parent_item_id = $2)",
                        &[board.board_id.into(), item_id.into()],
                    )
                });
                if cancelled > 0 {
                    return Ok(None);
                }
            }
            let state = if board.delete_action == "delete" {
                "deleted"
            } else {
                "archived"
            };
            if old.get("state").and_then(Value::as_str) == Some(state) {
                return Ok(None);
            }
            let mut changes = Map::new();
            changes.insert("#state".into(), json!(state));
            let mut base = Map::new();
            base.insert(
                "#state".into(),
                old.get("state").cloned().unwrap_or(Value::Null),
            );
            record(&board, item_id, "update", changes, base, None);
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// How far from our request's window monday's date of a change may be and still be our echo
/// (monday's clock against ours).
pub(crate) const ECHO_MARGIN: &str = "1 second";

/// Whether a change monday reports (a webhook event, an activity-log entry) is our own write
/// coming back: a write of this item and field sent in a request whose window (sent … answered,
/// give or take [`ECHO_MARGIN`]) holds the change's date. A create still in flight is matched by
/// the new item's name. Returns the write's id.
pub(crate) fn echo_of(
    board_id: i64,
    item_id: i64,
    field: &str,
    name: Option<&str>,
    at: Option<pgrx::datum::TimestampWithTimeZone>,
) -> Option<i64> {
    let at = at?;
    one(
        &format!(
            "SELECT w.write_id FROM monday_sync.writes w
               JOIN monday_sync._write_requests r ON r.request_id = w.request_id
              WHERE w.board_id = $1 AND w.status IN ('sending', 'sent')
                AND (w.item_id = $2 OR w.created_item_id = $2
                     OR ($3 = '#create' AND w.op = 'create' AND w.status = 'sending'
                         AND w.changes OPERATOR(pg_catalog.->>) 'name' = $4))
                AND (w.changes OPERATOR(pg_catalog.?) $3 OR ($3 = '#create' AND w.op = 'create'))
                AND $5 >= r.created_at - interval '{ECHO_MARGIN}'
                AND $5 <= coalesce(r.answered_at, 'infinity') + interval '{ECHO_MARGIN}'
              ORDER BY w.write_id DESC LIMIT 1"
        ),
        &[
            board_id.into(),
            item_id.into(),
            field.into(),
            name.into(),
            at.into(),
        ],
    )
}

/// The items of activity-log entries (board, item, field, ticks) that are all echoes of our
/// writes (none when write-back is off).
pub(crate) fn echoes_in(
    top: i64,
    touches: &[(i64, i64, Option<String>, i64)],
) -> std::collections::BTreeSet<i64> {
    use std::collections::{BTreeMap, BTreeSet};
    let on: bool = one(
        "SELECT write_back FROM monday_sync.boards WHERE board_id = $1",
        &[top.into()],
    )
    .unwrap_or(false);
    if !on {
        return BTreeSet::new();
    }
    let mut all_echo: BTreeMap<i64, bool> = BTreeMap::new();
    for (board, item, field, ticks) in touches {
        let prev = all_echo.get(item).copied().unwrap_or(true);
        if !prev {
            continue;
        }
        let echo = match field {
            None => false,
            Some(f) => {
                // ticks (100 ns) → a timestamptz
                let at: Option<pgrx::datum::TimestampWithTimeZone> = one(
                    "SELECT pg_catalog.to_timestamp($1::float8 / 10000000)",
                    &[(*ticks).into()],
                );
                let board = if *board != 0 { *board } else { top };
                echo_of(board, *item, f, None, at).is_some()
            }
        };
        all_echo.insert(*item, echo);
    }
    all_echo
        .into_iter()
        .filter(|(_, e)| *e)
        .map(|(i, _)| i)
        .collect()
}

// ---------- SQL functions ----------

fn top_board(board_id: i64, what: &str) -> R<super::track::Tracked> {
    super::track::top_board(board_id, what, "write-back", "enable_write_back")
}

/// The typed tables of a board and its subitems board (OIDs that still exist).
fn tables_of(top: i64) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    for id in [
        Some(top),
        one::<i64>(
            "SELECT subitems_board_id FROM monday_sync.boards WHERE board_id = $1",
            &[top.into()],
        ),
    ]
    .into_iter()
    .flatten()
    {
        if let Some(tb) = tracked(id) {
            if let Ok(t) = tb.target() {
                out.push((id, t.qualified));
            }
        }
    }
    out
}

/// `monday_sync.enable_write_back(board_id, conflict_policy, delete_action, create_labels)`:
/// from now on, rows changed in the board's typed table (and its subitems table) are sent to
/// monday. Idempotent; calling it again changes the settings.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn enable_write_back(
    board_id: i64,
    conflict_policy: default!(&str, "'local_wins'"),
    delete_action: default!(&str, "'archive'"),
    create_labels: default!(bool, false),
) -> R<pgrx::JsonB> {
    if !["local_wins", "remote_wins", "manual"].contains(&conflict_policy) {
        return Err(err(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("unknown conflict_policy '{conflict_policy}'"),
            "what happens when monday's value changed since the one a local change was based on",
            "Use 'local_wins' (send it anyway), 'remote_wins' (keep monday's) or 'manual' (wait for monday_sync.resolve_conflict).",
        ));
    }
    if !["archive", "delete"].contains(&delete_action) {
        return Err(err(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("unknown delete_action '{delete_action}'"),
            "what a DELETE of a row does to its monday item",
            "Use 'archive' (monday's archive, restorable for 30 days) or 'delete' (monday's recycle bin).",
        ));
    }
    let tb = top_board(
        board_id,
        "enable_write_back turns write-back on for a tracked board",
    )?;
    tb.target()?;
    exec(
        "UPDATE monday_sync.boards SET write_back = true, conflict_policy = $2, delete_action = $3, create_labels = $4
          WHERE board_id = $1 OR parent_board_id = $1",
        &[board_id.into(), conflict_policy.into(), delete_action.into(), create_labels.into()],
    );
    let tables = tables_of(board_id);
    for (_, t) in &tables {
        install_triggers(t);
    }
    Ok(pgrx::JsonB(json!({
        "board_id": board_id,
        "tables": tables.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>(),
        "conflict_policy": conflict_policy,
        "delete_action": delete_action,
        "create_labels": create_labels,
    })))
}

fn install_triggers(table: &str) {
    // As the caller: CREATE TRIGGER needs the table's TRIGGER privilege and EXECUTE on the
    // function (revoked from PUBLIC).
    exec(
        &format!(
            "CREATE OR REPLACE TRIGGER monday_sync_write_back_before BEFORE INSERT OR UPDATE ON {table}
               FOR EACH ROW EXECUTE FUNCTION monday_sync._write_back()"
        ),
        &[],
    );
    exec(
        &format!(
            "CREATE OR REPLACE TRIGGER monday_sync_write_back AFTER INSERT OR UPDATE OR DELETE ON {table}
               FOR EACH ROW EXECUTE FUNCTION monday_sync._write_back()"
        ),
        &[],
    );
}

/// `monday_sync.disable_write_back(board_id)`: rows changed from now on stay local. Entries not
/// yet sent stay in the outbox (sent when write-back is enabled again, or discarded).
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn disable_write_back(board_id: i64) -> R<i64> {
    top_board(
        board_id,
        "disable_write_back turns write-back off for a tracked board",
    )?;
    exec(
        "UPDATE monday_sync.boards SET write_back = false WHERE board_id = $1 OR parent_board_id = $1",
        &[board_id.into()],
    );
    for (_, t) in tables_of(board_id) {
        exec(
            &format!("DROP TRIGGER IF EXISTS monday_sync_write_back_before ON {t}"),
            &[],
        );
        exec(
            &format!("DROP TRIGGER IF EXISTS monday_sync_write_back ON {t}"),
            &[],
        );
    }
    Ok(one(
        "SELECT count(*) FROM monday_sync.writes w JOIN monday_sync.boards b USING (board_id)
          WHERE (b.board_id = $1 OR b.parent_board_id = $1) AND w.status IN ('pending', 'conflict', 'failed')",
        &[board_id.into()],
    )
    .unwrap_or(0))
}

/// `monday_sync.set_column_direction(board_id, column_id, direction)`: 'pull' (monday's values
/// only: an UPDATE of the column is refused) or 'both'.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn set_column_direction(board_id: i64, column_id: &str, direction: &str) -> R<()> {
    if direction != "pull" && direction != "both" {
        return Err(err(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("unknown direction '{direction}'"),
            "a column is written back ('both') or only pulled ('pull')",
            "Use 'pull' or 'both'.",
        ));
    }
    let n = exec(
        "UPDATE monday_sync.columns SET direction = $3 WHERE board_id = $1 AND column_id = $2",
        &[board_id.into(), column_id.into(), direction.into()],
    );
    if n == 0 {
        return Err(err(
            PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
            format!("monday board {board_id} has no column \"{column_id}\""),
            "column ids are monday's (monday_sync.columns.column_id), not the SQL names",
            format!(
                "SELECT column_id, sql_name FROM monday_sync.columns WHERE board_id = {board_id};"
            ),
        ));
    }
    Ok(())
}

fn entry_status(write_id: i64) -> R<(String, i64)> {
    Spi::connect(|c| {
        let t = c.select(
            "SELECT w.status, coalesce(b.parent_board_id, b.board_id)
               FROM monday_sync.writes w JOIN monday_sync.boards b USING (board_id) WHERE w.write_id = $1",
            Some(1),
            &[write_id.into()],
        )?;
        if t.is_empty() {
            return Ok(None);
        }
        let r = t.first();
        Ok::<_, pgrx::spi::SpiError>(Some((
            r.get::<String>(1)?.unwrap_or_default(),
            r.get::<i64>(2)?.unwrap_or_default(),
        )))
    })
    .unwrap_or_else(|e| spi_fail(e))
    .ok_or_else(|| {
        err(
            PgSqlErrorCode::ERRCODE_NO_DATA_FOUND,
            format!("there is no write {write_id}"),
            "write ids are monday_sync.writes.write_id",
            "SELECT * FROM monday_sync.pending_writes; or monday_sync.write_errors;",
        )
    })
}

fn wrong_status(write_id: i64, status: &str, wanted: &str, what: &str) -> ErrorReport {
    err(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("write {write_id} is {status}"),
        format!("{what} applies to a write that is {wanted}"),
        "SELECT write_id, status, error FROM monday_sync.writes WHERE write_id = …;",
    )
}

/// `monday_sync.retry_write(write_id)`: a failed write goes again (the next `write` job).
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn retry_write(write_id: i64) -> R<()> {
    let (status, top) = entry_status(write_id)?;
    if status != "failed" {
        return Err(wrong_status(write_id, &status, "failed", "retry_write"));
    }
    // A newer pending entry of the item takes this one's changes under it (they are older).
    exec(
        "WITH f AS (SELECT * FROM monday_sync.writes WHERE write_id = $1),
              merged AS (
                UPDATE monday_sync.writes p SET changes = f.changes OPERATOR(pg_catalog.||) p.changes,
                                               base = p.base OPERATOR(pg_catalog.||) f.base
                  FROM f WHERE p.board_id = f.board_id AND p.item_id = f.item_id AND p.status = 'pending'
                RETURNING p.write_id)
         UPDATE monday_sync.writes w
            SET status = CASE WHEN EXISTS (SELECT FROM merged) THEN 'discarded' ELSE 'pending' END,
                error = CASE WHEN EXISTS (SELECT FROM merged) THEN 'merged into the item''s pending write' END,
                error_code = NULL, error_column = NULL, attempts = 0, request_id = NULL
          WHERE w.write_id = $1",
        &[write_id.into()],
    );
    queue_write(top, &current_role());
    super::worker::wake_on_commit();
    Ok(())
}

/// `monday_sync.discard_write(write_id)`: a write that failed or waits on a conflict is dropped;
/// the item is fetched again so its row shows monday's values.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn discard_write(write_id: i64) -> R<()> {
    let (status, _) = entry_status(write_id)?;
    if !["failed", "conflict", "pending"].contains(&status.as_str()) {
        return Err(wrong_status(
            write_id,
            &status,
            "pending, failed or in conflict",
            "discard_write",
        ));
    }
    exec(
        "UPDATE monday_sync.writes SET status = 'discarded', error = coalesce(error, 'discarded') WHERE write_id = $1",
        &[write_id.into()],
    );
    send::refetch_item(write_id);
    Ok(())
}

/// `monday_sync.resolve_conflict(write_id, keep)`: a write waiting on a conflict ('manual'
/// policy) is sent as it is (`keep => 'local'`) or dropped for monday's values (`'remote'`).
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn resolve_conflict(write_id: i64, keep: &str) -> R<()> {
    let (status, top) = entry_status(write_id)?;
    if status != "conflict" {
        return Err(wrong_status(
            write_id,
            &status,
            "in conflict",
            "resolve_conflict",
        ));
    }
    match keep {
        "local" => {
            exec(
                "UPDATE monday_sync.writes SET status = 'pending', base = '{}', remote = NULL WHERE write_id = $1",
                &[write_id.into()],
            );
            queue_write(top, &current_role());
            super::worker::wake_on_commit();
        }
        "remote" => {
            exec(
                "UPDATE monday_sync.writes SET status = 'discarded', error = 'conflict resolved: monday''s values kept' WHERE write_id = $1",
                &[write_id.into()],
            );
            send::refetch_item(write_id);
        }
        _ => {
            return Err(err(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                format!("keep must be 'local' or 'remote', not '{keep}'"),
                "'local' sends the change over monday's value; 'remote' keeps monday's",
                format!("SELECT monday_sync.resolve_conflict({write_id}, 'local');"),
            ))
        }
    }
    Ok(())
}

extension_sql!(
    r#"
CREATE SEQUENCE monday_sync.pending_item_ids;
REVOKE ALL ON SEQUENCE monday_sync.pending_item_ids FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION monday_sync._write_back() FROM PUBLIC;
ALTER FUNCTION monday_sync._write_back() SET search_path = pg_catalog, pg_temp;

-- What waits to be sent, or waits on someone: one row per outbox entry not yet sent.
CREATE VIEW monday_sync.pending_writes AS
SELECT w.write_id, w.board_id, w.item_id, w.op, w.status,
       w.changes, w.base, w.remote, w.attempts, w.queued_at, w.changed_at, w.requested_by,
       w.error
  FROM monday_sync.writes w
 WHERE w.status IN ('pending', 'sending', 'conflict');

-- Writes monday refused, or that ran out of retries: retry_write or discard_write them.
CREATE VIEW monday_sync.write_errors AS
SELECT w.write_id, w.board_id, w.item_id, w.op, w.changes, w.error_code, w.error_column, w.error,
       w.attempts, w.sent_at AS failed_at, w.requested_by
  FROM monday_sync.writes w
 WHERE w.status = 'failed';
REVOKE ALL ON monday_sync.pending_writes, monday_sync.write_errors FROM PUBLIC;

-- request_upsert_items as the worker goes through them.
CREATE VIEW monday_sync.upsert_progress AS
SELECT u.upsert_id, u.board_id, u.key_column, u.status, u.total, u.processed,
       pg_catalog.round(100.0 * u.processed / GREATEST(u.total, 1), 1) AS percent,
       u.created, u.updated, u.unchanged, u.failed, u.errors,
       (SELECT pg_catalog.count(*) FROM monday_sync.writes w JOIN monday_sync.boards b USING (board_id)
         WHERE (b.board_id = u.board_id OR b.parent_board_id = u.board_id)
           AND w.status IN ('pending', 'sending')) AS board_pending_writes,
       u.requested_by::pg_catalog.regrole AS requested_by, u.requested_at, u.started_at,
       u.finished_at, u.message
  FROM monday_sync.upserts u;
REVOKE ALL ON monday_sync.upsert_progress FROM PUBLIC;
"#,
    name = "writeback_objects",
    requires = [_write_back, "schema"]
);
