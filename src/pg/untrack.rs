//! `monday_sync.untrack_board`: the end of a board's sync. Its jobs, schedule, mapping and outbox
//! are forgotten, its webhooks deleted on monday, its write-back triggers removed; the typed tables
//! stay (with their rows, and their history, updates and files tables) unless asked to go. Run history (`sync_runs`) is kept.
#![allow(clippy::result_large_err)]

use super::errors::{err, R};
use super::security::Lookup;
use super::spi::{exec, one};
use super::track::tracked;
use pgrx::prelude::*;
use serde_json::json;

/// A tracked table's current name, when it still exists.
fn table_of(board_id: i64) -> Option<String> {
    let tb = tracked(board_id)?;
    if tb.table_oid == pg_sys::InvalidOid {
        return None;
    }
    match super::security::lookup(tb.table_oid) {
        Lookup::Found(t) => Some(t.qualified),
        _ => None,
    }
}

/// `monday_sync.untrack_board(board_id, drop_table)`: see the module comment. Refused while
/// write-back has changes not yet on monday (unless the board is gone from monday, where they can
/// never go). Returns what it did.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn untrack_board(board_id: i64, drop_table: default!(bool, false)) -> R<pgrx::JsonB> {
    let tb = super::track::top_board(
        board_id,
        "untrack_board stops the sync of a tracked board",
        "sync",
        "untrack_board",
    )?;
    // One untrack at a time, and the worker's steps for the board wait for it.
    exec(
        "SELECT FROM monday_sync.boards WHERE board_id = $1 FOR UPDATE",
        &[board_id.into()],
    );
    let gone: bool = one(
        "SELECT deleted_on_monday_at IS NOT NULL FROM monday_sync.boards WHERE board_id = $1",
        &[board_id.into()],
    )
    .unwrap_or(false);
    let open: i64 = one(
        "SELECT count(*) FROM monday_sync.writes w JOIN monday_sync.boards b USING (board_id)
          WHERE (b.board_id = $1 OR b.parent_board_id = $1) AND w.status IN ('pending', 'sending', 'conflict')",
        &[board_id.into()],
    )
    .unwrap_or(0);
    if open > 0 && !gone {
        return Err(err(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("monday board {board_id} has {open} write(s) not yet on monday"),
            "untracking now would lose changes made in PostgreSQL that monday has not received",
            format!(
                "Wait for them (SELECT * FROM monday_sync.pending_writes WHERE board_id = {board_id}), or drop them first: SELECT monday_sync.discard_write(write_id) FROM monday_sync.pending_writes WHERE board_id = {board_id};"
            ),
        ));
    }
    let hooks: i64 = one(
        "SELECT count(*) FROM monday_sync.webhooks WHERE board_id = $1",
        &[board_id.into()],
    )
    .unwrap_or(0);
    // The webhooks live on monday: deleted there first (an API error stops the untrack, nothing
    // changed). A board gone from monday took its webhooks with it.
    let webhooks_deleted = if hooks > 0 && !gone {
        super::webhooks::unsubscribe_core(board_id)?
    } else {
        0
    };
    let jobs: i64 = one(
        "SELECT count(*) FROM monday_sync.jobs WHERE board_id = $1 AND status IN ('queued', 'running')",
        &[board_id.into()],
    )
    .unwrap_or(0);
    let main = table_of(board_id);
    let sub = tb.subitems_board_id.and_then(table_of);
    let tables: Vec<&String> = [main.as_ref(), sub.as_ref()]
        .into_iter()
        .flatten()
        .collect();
    // As the caller: dropping a trigger or a table takes the table's ownership.
    for t in &tables {
        exec(
            &format!("DROP TRIGGER IF EXISTS monday_sync_write_back_before ON {t}"),
            &[],
        );
        exec(
            &format!("DROP TRIGGER IF EXISTS monday_sync_write_back ON {t}"),
            &[],
        );
        exec(
            &format!("DROP TRIGGER IF EXISTS monday_sync_history ON {t}"),
            &[],
        );
    }
    // History, updates and files tables go with their typed tables, and stay with them.
    let histories: Vec<String> = if drop_table {
        [Some(board_id), tb.subitems_board_id]
            .into_iter()
            .flatten()
            .flat_map(|b| {
                ["history_oid", "updates_oid", "assets_oid"]
                    .into_iter()
                    .filter_map(move |col| {
                        one::<String>(
                            &format!(
                                "SELECT h.oid::pg_catalog.regclass::pg_catalog.text FROM monday_sync.boards b
                                   JOIN pg_catalog.pg_class h ON h.oid = b.{col} WHERE b.board_id = $1"
                            ),
                            &[b.into()],
                        )
                    })
            })
            .collect()
    } else {
        Vec::new()
    };
    exec(
        "DELETE FROM monday_sync._webhook_secrets WHERE board_id = $1",
        &[board_id.into()],
    );
    // Cascades to the subitems board's row, the mapping, groups, jobs, webhooks, the outbox and
    // the upsert key map.
    exec(
        "DELETE FROM monday_sync.boards WHERE board_id = $1",
        &[board_id.into()],
    );
    if drop_table {
        for t in tables.iter().rev() {
            exec(&format!("DROP TABLE {t}"), &[]);
        }
        for h in &histories {
            exec(&format!("DROP TABLE {h}"), &[]);
        }
    }
    super::worker::wake_on_commit();
    Ok(pgrx::JsonB(json!({
        "board_id": board_id,
        "table": main,
        "subitems_table": sub,
        "table_dropped": drop_table && main.is_some(),
        "webhooks_deleted": webhooks_deleted,
        "jobs_cancelled": jobs,
        "writes_dropped": open,
    })))
}
