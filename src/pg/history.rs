//! History of item values: `enable_history(board_id)` keeps every version of each row of a
//! board's typed tables in `<table>_history` (`item_id`, `valid_from`, `valid_to`, `source`, `row`),
//! written by a row trigger as the table's owner. Versions come from what the sync writes (a pull,
//! a refresh, a webhook, a write-back answer) and from local changes; a write that changes nothing
//! but `raw` or `synced_at` adds no version, and the history costs no API call.
//! `monday_sync.as_of(NULL::<table>, t)` returns the table as it was at `t`.
#![allow(clippy::result_large_err)]

use super::errors::{err, R};
use super::security::{as_extension_owner, as_role, change_source, Lookup};
use super::spi::{exec, one, q, spi_fail};
use super::track::{not_tracked, tracked};
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::Spi;

/// The history table of a typed table (by the typed table's OID) and its owner.
fn history_of(relid: pg_sys::Oid) -> Option<(String, pg_sys::Oid)> {
    Spi::connect(|c| {
        let t = c.select(
            "SELECT h.oid::pg_catalog.regclass::pg_catalog.text, h.relowner
               FROM monday_sync.boards b JOIN pg_catalog.pg_class h ON h.oid = b.history_oid
              WHERE b.table_oid = $1 AND b.history",
            Some(1),
            &[relid.into()],
        )?;
        if t.is_empty() {
            return Ok::<_, pgrx::spi::SpiError>(None);
        }
        let r = t.first();
        Ok(Some((
            r.get::<String>(1)?.unwrap_or_default(),
            r.get::<pg_sys::Oid>(2)?.unwrap_or(pg_sys::InvalidOid),
        )))
    })
    .unwrap_or_else(|e| spi_fail(e))
}

/// A row as history keeps it (`to_jsonb` without `raw` and `synced_at`), and its item id. As the
/// role that changed the row, like any query of theirs.
unsafe fn version_of(
    tuple: *mut pg_sys::HeapTupleData,
    tupdesc: pg_sys::TupleDesc,
    reltype: pg_sys::Oid,
) -> (String, i64) {
    let datum = pg_sys::heap_copy_tuple_as_datum(tuple, tupdesc);
    Spi::connect(|c| {
        let t = c.select(
            "SELECT (j - 'raw' - 'synced_at')::pg_catalog.text, (j ->> 'item_id')::pg_catalog.int8
               FROM (SELECT pg_catalog.to_jsonb($1) AS j) s",
            Some(1),
            &[DatumWithOid::new(datum, reltype)],
        )?;
        let r = t.first();
        Ok::<_, pgrx::spi::SpiError>((
            r.get::<String>(1)?.unwrap_or_default(),
            r.get::<i64>(2)?.unwrap_or_default(),
        ))
    })
    .unwrap_or_else(|e| spi_fail(e))
}

/// A row's `item_id`, read from the tuple.
unsafe fn item_of(tuple: *mut pg_sys::HeapTupleData, tupdesc: pg_sys::TupleDesc) -> i64 {
    let attnum = pg_sys::SPI_fnumber(tupdesc, c"item_id".as_ptr());
    if attnum <= 0 {
        return 0;
    }
    let mut isnull = false;
    let d = pg_sys::heap_getattr(tuple, attnum as i32, tupdesc, &mut isnull);
    if isnull {
        0
    } else {
        d.value() as i64
    }
}

/// The item's open version: whether it began before this transaction, and whether it equals `row`.
fn current(hist: &str, item: i64, row: &str) -> Option<(bool, bool)> {
    Spi::connect(|c| {
        let t = c.select(
            &format!(
                "SELECT valid_from < pg_catalog.now(), row = $2::pg_catalog.jsonb FROM {hist}
                  WHERE item_id = $1 AND valid_to IS NULL ORDER BY valid_from DESC LIMIT 1"
            ),
            Some(1),
            &[item.into(), row.into()],
        )?;
        if t.is_empty() {
            return Ok::<_, pgrx::spi::SpiError>(None);
        }
        let r = t.first();
        Ok(Some((
            r.get::<bool>(1)?.unwrap_or(true),
            r.get::<bool>(2)?.unwrap_or(false),
        )))
    })
    .unwrap_or_else(|e| spi_fail(e))
}

fn record(hist: &str, item: i64, row: Option<&str>, source: &str) {
    let close = || {
        exec(
            &format!(
                "UPDATE {hist} SET valid_to = pg_catalog.now()
                  WHERE item_id = $1 AND valid_to IS NULL AND valid_from < pg_catalog.now()"
            ),
            &[item.into()],
        );
    };
    match row {
        // Deleted: the open version ends (one made in this transaction goes).
        None => match current(hist, item, "null") {
            Some((true, _)) => close(),
            Some((false, _)) => {
                exec(
                    &format!("DELETE FROM {hist} WHERE item_id = $1 AND valid_to IS NULL"),
                    &[item.into()],
                );
            }
            None => {}
        },
        Some(row) => match current(hist, item, row) {
            Some((_, true)) => {}
            Some((false, false)) => {
                exec(
                    &format!(
                        "UPDATE {hist} SET row = $2::pg_catalog.jsonb, source = $3
                          WHERE item_id = $1 AND valid_to IS NULL"
                    ),
                    &[item.into(), row.into(), source.into()],
                );
            }
            open => {
                if open.is_some() {
                    close();
                }
                exec(
                    &format!(
                        "INSERT INTO {hist} (item_id, valid_from, source, row)
                         VALUES ($1, pg_catalog.now(), $3, $2::pg_catalog.jsonb)"
                    ),
                    &[item.into(), row.into(), source.into()],
                );
            }
        },
    }
}

/// The history trigger of a typed table (`enable_history` installs it): AFTER INSERT, UPDATE and
/// DELETE, for every writer.
#[pg_trigger]
fn _history<'a>(
    trigger: &'a pgrx::PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgHeapTupleError> {
    let td = trigger.trigger_data();
    let rel = td.tg_relation;
    let (relid, tupdesc, reltype) =
        unsafe { ((*rel).rd_id, (*rel).rd_att, (*(*rel).rd_rel).reltype) };
    let Some((hist, owner)) = as_extension_owner(|| history_of(relid)) else {
        return Ok(None);
    };
    let source = change_source();
    match trigger.op().ok() {
        Some(PgTriggerOperation::Insert) => {
            let (row, item) = unsafe { version_of(td.tg_trigtuple, tupdesc, reltype) };
            as_role(owner, || record(&hist, item, Some(&row), source));
        }
        Some(PgTriggerOperation::Update) => {
            let old_item = unsafe { item_of(td.tg_trigtuple, tupdesc) };
            let (row, item) = unsafe { version_of(td.tg_newtuple, tupdesc, reltype) };
            as_role(owner, || {
                if old_item != item {
                    // A created item re-keyed from its temporary id to monday's.
                    exec(
                        &format!("UPDATE {hist} SET item_id = $2 WHERE item_id = $1"),
                        &[old_item.into(), item.into()],
                    );
                }
                record(&hist, item, Some(&row), source)
            });
        }
        Some(PgTriggerOperation::Delete) => {
            let item = unsafe { item_of(td.tg_trigtuple, tupdesc) };
            as_role(owner, || record(&hist, item, None, source));
        }
        _ => {}
    }
    Ok(None)
}

/// Creates (or finds) the history table of one typed table, fills it with the rows as they are,
/// and installs the trigger. Returns the history table's OID.
fn enable_for(board_id: i64) -> R<Option<pg_sys::Oid>> {
    let Some(tb) = tracked(board_id) else {
        return Ok(None);
    };
    if tb.table_oid == pg_sys::InvalidOid {
        return Ok(None);
    }
    let t = match super::security::lookup(tb.table_oid) {
        Lookup::Found(t) => t,
        _ => return Ok(None),
    };
    let existing: Option<pg_sys::Oid> = one(
        "SELECT h.oid FROM monday_sync.boards b JOIN pg_catalog.pg_class h ON h.oid = b.history_oid
          WHERE b.board_id = $1",
        &[board_id.into()],
    );
    let hist_oid = match existing {
        Some(o) => o,
        None => {
            let (schema, name) = super::security::schema_and_name(t.oid);
            let hname = crate::sync::names::history_table_name(&name);
            let qualified = format!("{}.{}", q(&schema), q(&hname));
            super::security::side_table_free(
                &qualified,
                format!("enable_history keeps the history of {} there", t.qualified),
                "enable_history",
            )?;
            // As the typed table's owner: the history is theirs to read and grant, like the table.
            as_role(t.owner, || {
                exec(
                    &format!(
                        "CREATE TABLE {qualified} (
                            item_id bigint NOT NULL,
                            valid_from timestamptz NOT NULL,
                            valid_to timestamptz,
                            source text NOT NULL,
                            row jsonb NOT NULL,
                            CHECK (valid_to IS NULL OR valid_to >= valid_from))"
                    ),
                    &[],
                );
                exec(
                    &format!(
                        "CREATE INDEX ON {qualified} (item_id, valid_from);
                         CREATE INDEX ON {qualified} (valid_from, valid_to)"
                    ),
                    &[],
                );
                exec(
                    &format!(
                        "COMMENT ON TABLE {qualified} IS 'monday_sync: every version of the rows of {}: valid from valid_from to valid_to (NULL: current), from source (pull, refresh, webhook, write-back, local, enabled). The board as it was at T: SELECT * FROM monday_sync.as_of(NULL::{}, T).'",
                        t.qualified.replace('\'', "''"),
                        t.qualified.replace('\'', "''")
                    ),
                    &[],
                );
            });
            let oid: pg_sys::Oid = one(
                "SELECT $1::pg_catalog.regclass::pg_catalog.oid",
                &[qualified.clone().into()],
            )
            .unwrap_or(pg_sys::InvalidOid);
            // The rows as they are now: the first version of each.
            as_role(t.owner, || {
                exec(
                    &format!(
                        "INSERT INTO {qualified} (item_id, valid_from, source, row)
                         SELECT t.item_id, pg_catalog.now(), 'enabled', pg_catalog.to_jsonb(t) - 'raw' - 'synced_at'
                           FROM ONLY {} t",
                        t.qualified
                    ),
                    &[],
                );
            });
            oid
        }
    };
    exec(
        "UPDATE monday_sync.boards SET history = true, history_oid = $2 WHERE board_id = $1",
        &[board_id.into(), hist_oid.into()],
    );
    exec(
        &format!(
            "CREATE OR REPLACE TRIGGER monday_sync_history AFTER INSERT OR UPDATE OR DELETE ON {}
               FOR EACH ROW EXECUTE FUNCTION monday_sync._history()",
            t.qualified
        ),
        &[],
    );
    Ok(Some(hist_oid))
}

/// `monday_sync.enable_history(board_id)`: see the module comment. For the board and its
/// subitems board; returns the board's history table.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
pub(crate) fn enable_history(board_id: i64) -> R<super::jsonb::RegClass> {
    let tb = super::track::top_board(
        board_id,
        "enable_history keeps the history of a tracked board",
        "history",
        "enable_history",
    )?;
    let main = enable_for(board_id)?.ok_or_else(|| {
        err(
            PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
            format!("monday board {board_id} has no typed table"),
            "its table was dropped, or it was never created",
            format!("SELECT monday_sync.track_board({board_id});"),
        )
    })?;
    if let Some(sub) = tb.subitems_board_id {
        enable_for(sub)?;
    }
    Ok(super::jsonb::RegClass(main))
}

/// `monday_sync.disable_history(board_id)`: versions stop being kept; the history tables stay.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn disable_history(board_id: i64) -> R<()> {
    let Some(tb) = tracked(board_id) else {
        return Err(not_tracked(
            board_id,
            "disable_history is for a tracked board",
        ));
    };
    for b in [Some(board_id), tb.subitems_board_id].into_iter().flatten() {
        if let Some(t) = tracked(b) {
            if let Lookup::Found(t) = super::security::lookup(t.table_oid) {
                exec(
                    &format!(
                        "DROP TRIGGER IF EXISTS monday_sync_history ON {}",
                        t.qualified
                    ),
                    &[],
                );
            }
        }
        exec(
            "UPDATE monday_sync.boards SET history = false WHERE board_id = $1",
            &[b.into()],
        );
    }
    Ok(())
}

/// The history table of a typed table's row type (for `as_of`): SECURITY DEFINER, it reads only
/// the extension's catalog and returns a name; the caller reads the history with its own rights.
#[pg_extern(stable, parallel_safe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn _history_table(rowtype: pg_sys::Oid) -> Option<super::jsonb::RegClass> {
    one::<pg_sys::Oid>(
        "SELECT b.history_oid::pg_catalog.oid FROM monday_sync.boards b JOIN pg_catalog.pg_class c ON c.oid = b.table_oid
          JOIN pg_catalog.pg_class h ON h.oid = b.history_oid
          WHERE c.reltype = $1",
        &[rowtype.into()],
    )
    .map(super::jsonb::RegClass)
}

extension_sql!(
    r#"
ALTER FUNCTION monday_sync._history() SET search_path = pg_catalog, pg_temp;
REVOKE EXECUTE ON FUNCTION monday_sync._history() FROM PUBLIC;

-- The typed table as it was at an instant: SELECT * FROM monday_sync.as_of(NULL::public.deals, '2026-11-24 09:00');
CREATE FUNCTION monday_sync.as_of(tbl anyelement, at timestamptz) RETURNS SETOF anyelement
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE h regclass := monday_sync._history_table(pg_catalog.pg_typeof(tbl)::oid);
BEGIN
  IF h IS NULL THEN
    RAISE EXCEPTION 'monday_sync: % has no history', pg_catalog.pg_typeof(tbl)
      USING ERRCODE = '55000',
            DETAIL = 'as_of reads the history that enable_history keeps for a typed table',
            HINT = 'SELECT monday_sync.enable_history(board_id); the history starts then.';
  END IF;
  RETURN QUERY EXECUTE pg_catalog.format(
    'SELECT (pg_catalog.jsonb_populate_record($1, h.row)).* FROM %s h
      WHERE h.valid_from <= $2 AND (h.valid_to IS NULL OR h.valid_to > $2)
      ORDER BY h.item_id', h)
    USING tbl, at;
END $$;
"#,
    name = "history_objects",
    requires = [_history, _history_table, enable_history, "schema"]
);
