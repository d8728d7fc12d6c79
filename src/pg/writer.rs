//! Writing rows into a board's typed table: the upsert built from the mapping (`upsert_sql`), the
//! `Writer` that writes pages of items into the table it finds by OID, with its owner's rights,
//! marking rows deleted, and reading a row back (`row_json`). Identifiers are quoted by
//! `quote_identifier`; values always travel as parameters.
#![allow(clippy::result_large_err)] // ErrorReport is the SQL error type.

use super::errors::R;
use super::runs::Stats;
use super::security::{as_owner, open_target, Target};
use super::spi::{exec, one, q};
use super::track::Tracked;
use crate::sync::names::FIXED_COLUMNS;
use crate::sync::rows::{build_rows, MappedColumn};
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;
use serde_json::Value;

/// The upsert for one table: rows come as one JSON array; unchanged rows are not written.
fn upsert_sql(table: &str, cols: &[MappedColumn]) -> String {
    // The item's own fields: every fixed column but `raw` and `synced_at`, which come last.
    let fixed = &FIXED_COLUMNS[..FIXED_COLUMNS.len() - 2];
    let mut all: Vec<String> = fixed.iter().map(|c| q(c)).collect();
    all.extend(cols.iter().map(|c| q(&c.sql_name)));
    all.push(q("raw"));
    let rest = &all[1..];
    let list = all.join(", ");
    let set_cols = rest.join(", ");
    let set_vals: Vec<String> = rest.iter().map(|c| format!("excluded.{c}")).collect();
    // Typed columns compare as text: a column retyped with map_column may lack an equality operator.
    let cmp = |prefix: &str| -> String {
        rest.iter()
            .enumerate()
            .map(|(i, c)| {
                if i >= fixed.len() - 1 && c != "raw" {
                    format!("{prefix}.{c}::text")
                } else {
                    format!("{prefix}.{c}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    // Explicit casts apply type modifiers (numeric(12,2), varchar(n)) that the record type alone does not.
    let mut select: Vec<String> = fixed.iter().map(|c| q(c)).collect();
    select.extend(cols.iter().map(|c| {
        if c.sql_type.is_empty() {
            q(&c.sql_name)
        } else {
            format!("CAST({} AS {})", q(&c.sql_name), c.sql_type)
        }
    }));
    select.push(q("raw"));
    format!(
        "INSERT INTO {t} AS t ({list}, synced_at)
         SELECT {select}, now() FROM json_populate_recordset(NULL::{t}, $1::json)
         ON CONFLICT (item_id) DO UPDATE SET ({set_cols}, synced_at) = ROW({vals}, now())
         WHERE ({old}) IS DISTINCT FROM ({new})",
        t = table,
        vals = set_vals.join(", "),
        select = select.join(", "),
        old = cmp("t"),
        new = cmp("excluded"),
    )
}

/// Every writer of a board's rows (and its subitems board's) takes this transaction lock first:
/// pulls, refreshes and confirming fetches wait for it; the webhook apply only tries it (its
/// worker also answers monday, and must not block) and defers the board's events when it is
/// taken. Without it, two transactions updating the same rows in different orders deadlock. The
/// key is the top board (the parent of a subitems board), hashed into its own namespace.
pub(crate) fn lock_rows(board_id: i64, wait: bool) -> bool {
    let key = "pg_catalog.hashtextextended('monday_sync board rows',
                 coalesce((SELECT b.parent_board_id FROM monday_sync.boards b WHERE b.board_id = $1), $1))";
    let sql = if wait {
        format!("SELECT true FROM (SELECT pg_catalog.pg_advisory_xact_lock({key})) l")
    } else {
        format!("SELECT pg_catalog.pg_try_advisory_xact_lock({key})")
    };
    one::<bool>(&sql, &[board_id.into()]).unwrap_or(false)
}

pub(crate) struct Writer {
    board_id: i64,
    oid: pg_sys::Oid,
    recorded: String,
    /// The upsert, and the table name it was built for (the table is found by OID on every page:
    /// a rename between pages rebuilds it).
    sql: String,
    built_for: String,
    cols: Vec<MappedColumn>,
    /// Everything Postgres allocates for one page (the rows' text, SPI) lives here and is freed
    /// after the page: the backend's memory stays flat however many pages a walk has.
    page_memory: PgMemoryContexts,
}

impl Writer {
    pub fn new(tb: &Tracked, cols: Vec<MappedColumn>) -> Writer {
        // A child of TopMemoryContext: the worker commits between pages, which frees every
        // transaction context.
        let page_memory = unsafe {
            PgMemoryContexts::TopMemoryContext
                .switch_to(|_| PgMemoryContexts::new("monday_sync page"))
        };
        Writer {
            board_id: tb.board_id,
            oid: tb.table_oid,
            recorded: tb.recorded(),
            sql: String::new(),
            built_for: String::new(),
            cols,
            page_memory,
        }
    }

    /// Writes one page into the board's own table (by OID), with its owner's rights; the ids go to
    /// the walk's seen-set when `seen`.
    pub fn write(&mut self, items: &[Value], stats: &mut Stats, seen: bool) -> R<Vec<i64>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let target = open_target(self.oid, self.board_id, &self.recorded)?;
        lock_rows(self.board_id, true);
        if target.qualified != self.built_for {
            self.sql = upsert_sql(&target.qualified, &self.cols);
            self.built_for = target.qualified.clone();
        }
        let (sql, cols) = (&self.sql, &self.cols);
        // SAFETY: nothing allocated in the page context outlives this call (results are Rust values).
        let ids = unsafe {
            self.page_memory
                .switch_to(|_| Self::write_page(sql, cols, &target, items, stats, seen))
        };
        unsafe { self.page_memory.reset() };
        Ok(ids)
    }

    fn write_page(
        sql: &str,
        cols: &[MappedColumn],
        target: &Target,
        items: &[Value],
        stats: &mut Stats,
        seen: bool,
    ) -> Vec<i64> {
        let page = build_rows(items, cols);
        stats.rows_written += as_owner(target.owner, || exec(sql, &[page.json.into()])) as i64;
        // The page kept the first of its warnings word for word and counted the rest.
        stats.warnings += (page.warning_count - page.warnings.len()) as i64;
        stats.note_all(page.warnings);
        if seen {
            exec(
                "INSERT INTO pg_temp.monday_sync_seen SELECT pg_catalog.unnest($1::bigint[]) ON CONFLICT DO NOTHING",
                &[page.ids.clone().into()],
            );
        }
        page.ids
    }
}

/// Marks rows deleted (kept, never dropped), as the table's owner; returns how many changed.
pub(crate) fn mark_deleted(tb: &Tracked, ids: &[i64]) -> R<i64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let t = tb.target()?;
    lock_rows(tb.board_id, true);
    let sql = format!(
        "UPDATE ONLY {} SET state = 'deleted', synced_at = pg_catalog.now() WHERE item_id = ANY ($1) AND state <> 'deleted'",
        t.qualified
    );
    Ok(as_owner(t.owner, || exec(&sql, &[ids.to_vec().into()])) as i64)
}

/// One row of a typed table as jsonb, without `raw`. As the table's owner: `to_jsonb` may call a
/// cast the owner defined for a column's type.
pub(crate) fn row_json(t: &Target, item_id: i64) -> Option<pgrx::JsonB> {
    as_owner(t.owner, || {
        one(
            &format!(
                "SELECT pg_catalog.to_jsonb(t) OPERATOR(pg_catalog.-) 'raw' FROM ONLY {} t WHERE item_id = $1",
                t.qualified
            ),
            &[item_id.into()],
        )
    })
}
