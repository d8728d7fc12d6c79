//! Updates (an item's comments, with their replies) and assets (files) of a tracked board, in two
//! tables beside its typed table: `<table>_updates` and `<table>_assets`, owned by the table's
//! owner and written as that owner (like `<table>_history`).
//!
//! `enable_updates(board_id)` creates them for the board and its subitems board and pulls them in
//! full (`Board.updates_page`, 100 updates a call, replies and their files nested). Later pulls —
//! `pull_updates(board_id)`, and every refresh of the board (the worker's schedule, pg_cron,
//! `refresh_board`) — are incremental: the updates created since the last pull (minus a margin),
//! newest first, a page of 100 per call; an unchanged board costs one call. The files of file
//! columns are read from the typed table's file columns: only asset ids not yet known cost a call
//! (`assets(ids:)`, 100 a call), and files no longer in any column are marked `removed_at`.
//! `pull_updates(board_id, full => true)` walks every update again and marks those monday no
//! longer has (`deleted_at`): edits and deletions of older updates and replies posted to older
//! updates are seen by a full pull. Nothing is ever dropped.
#![allow(clippy::result_large_err)]

use super::budget::PgHooks;
use super::client::new_client;
use super::errors::{api_err, err, R};
use super::runs::{finish_run, start_run, Stats};
use super::security::{as_role, Lookup};
use super::spi::{exec, one, q, spi_fail};
use super::track::tracked;
use crate::api::{documents, Client};
use crate::sync::updates::{asset_row, flatten};
use pgrx::prelude::*;
use pgrx::spi::Spi;
use serde_json::{json, Value};

/// A walk reads at most this many pages (a million updates).
const MAX_PAGES: i64 = 10_000;

/// The incremental pull asks for updates created this long before the last pull began: monday's
/// clock and ours may differ, and an update posted while the last pull ran is read again.
const MARGIN: &str = "5 minutes";

/// The updates and assets tables of one board, as the owner of its typed table sees them.
struct Tables {
    board_id: i64,
    typed: super::security::Target,
    updates: String,
    assets: String,
    /// From when the incremental pull reads (ISO 8601, UTC), or None: never pulled.
    since: Option<String>,
}

fn tables(board_id: i64) -> Option<Tables> {
    type Row = (pg_sys::Oid, Option<String>, Option<String>, Option<String>);
    let row: Option<Row> =
        Spi::connect(|c| {
            let t = c.select(
                &format!(
                    "SELECT b.table_oid::pg_catalog.oid,
                            (SELECT c.oid::pg_catalog.regclass::text FROM pg_catalog.pg_class c WHERE c.oid = b.updates_oid),
                            (SELECT c.oid::pg_catalog.regclass::text FROM pg_catalog.pg_class c WHERE c.oid = b.assets_oid),
                            pg_catalog.to_char((b.updates_pulled_at - interval '{MARGIN}') AT TIME ZONE 'UTC',
                                               'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
                       FROM monday_sync.boards b WHERE b.board_id = $1 AND b.updates"
                ),
                None,
                &[board_id.into()],
            )?;
            if t.is_empty() {
                return Ok(None);
            }
            let r = t.first();
            Ok(Some((
                r.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::InvalidOid),
                r.get::<String>(2)?,
                r.get::<String>(3)?,
                r.get::<String>(4)?,
            )))
        })
        .unwrap_or_else(|e| spi_fail(e));
    let (oid, Some(updates), Some(assets), since) = row? else {
        return None;
    };
    match super::security::lookup(oid) {
        Lookup::Found(typed) => Some(Tables {
            board_id,
            typed,
            updates,
            assets,
            since,
        }),
        _ => None,
    }
}

/// What one pull did, summed over the board and its subitems board.
#[derive(Default)]
pub(crate) struct Pulled {
    pub updates: i64,
    pub assets: i64,
    pub removed: i64,
    pub deleted: i64,
    pub skipped: i64,
}

impl Pulled {
    pub fn text(&self) -> String {
        let mut s = format!(
            "{} updates and replies, {} files",
            self.updates, self.assets
        );
        if self.deleted > 0 {
            s.push_str(&format!(", {} updates marked deleted", self.deleted));
        }
        if self.removed > 0 {
            s.push_str(&format!(", {} files marked removed", self.removed));
        }
        if self.skipped > 0 {
            s.push_str(&format!(", {} malformed entries skipped", self.skipped));
        }
        s
    }
}

const UPSERT_UPDATES: &str = "
INSERT INTO {T} AS t (update_id, item_id, reply_to, creator_id, body_text, body_html,
                      created_at, updated_at, edited_at, deleted_at, synced_at)
SELECT r.update_id, r.item_id, r.reply_to, r.creator_id, r.body_text, r.body_html,
       r.created_at, r.updated_at, r.edited_at, NULL, pg_catalog.now()
  FROM pg_catalog.jsonb_to_recordset($1) AS r(update_id bigint, item_id bigint, reply_to bigint,
       creator_id bigint, body_text text, body_html text, created_at timestamptz,
       updated_at timestamptz, edited_at timestamptz)
ON CONFLICT (update_id) DO UPDATE
   SET item_id = excluded.item_id, reply_to = excluded.reply_to, creator_id = excluded.creator_id,
       body_text = excluded.body_text, body_html = excluded.body_html,
       created_at = excluded.created_at, updated_at = excluded.updated_at,
       edited_at = excluded.edited_at, deleted_at = NULL, synced_at = excluded.synced_at
 WHERE (t.item_id, t.reply_to, t.creator_id, t.body_text, t.body_html, t.created_at, t.updated_at,
        t.edited_at, t.deleted_at)
       IS DISTINCT FROM
       (excluded.item_id, excluded.reply_to, excluded.creator_id, excluded.body_text,
        excluded.body_html, excluded.created_at, excluded.updated_at, excluded.edited_at, NULL::timestamptz)";

/// Assets from updates (`update_id` set) or file columns (`column_id` set).
const UPSERT_ASSETS: &str = "
INSERT INTO {T} AS t (asset_id, item_id, column_id, update_id, name, file_extension, file_size,
                      url, created_at, uploaded_by, removed_at, synced_at)
SELECT r.asset_id, r.item_id, r.column_id, r.update_id, r.name, r.file_extension, r.file_size,
       r.url, r.created_at, r.uploaded_by, NULL, pg_catalog.now()
  FROM pg_catalog.jsonb_to_recordset($1) AS r(asset_id bigint, item_id bigint, column_id text,
       update_id bigint, name text, file_extension text, file_size bigint, url text,
       created_at timestamptz, uploaded_by bigint)
ON CONFLICT (asset_id) DO UPDATE
   SET item_id = excluded.item_id, column_id = excluded.column_id, update_id = excluded.update_id,
       name = excluded.name, file_extension = excluded.file_extension,
       file_size = excluded.file_size, url = excluded.url, created_at = excluded.created_at,
       uploaded_by = excluded.uploaded_by, removed_at = NULL, synced_at = excluded.synced_at
 WHERE (t.item_id, t.column_id, t.update_id, t.name, t.file_extension, t.file_size, t.url,
        t.created_at, t.uploaded_by, t.removed_at)
       IS DISTINCT FROM
       (excluded.item_id, excluded.column_id, excluded.update_id, excluded.name,
        excluded.file_extension, excluded.file_size, excluded.url, excluded.created_at,
        excluded.uploaded_by, NULL::timestamptz)";

/// Writes one page of updates (and their files) as the typed table's owner; returns the update
/// ids seen.
fn store(t: &Tables, page: &[Value], out: &mut Pulled) -> Vec<i64> {
    let flat = flatten(page);
    out.skipped += flat.skipped as i64;
    let ids: Vec<i64> = flat
        .updates
        .iter()
        .filter_map(|u| u["update_id"].as_i64())
        .collect();
    as_role(t.typed.owner, || {
        if !flat.updates.is_empty() {
            out.updates += exec(
                &UPSERT_UPDATES.replace("{T}", &t.updates),
                &[pgrx::JsonB(Value::Array(flat.updates)).into()],
            ) as i64;
        }
        if !flat.assets.is_empty() {
            let rows: Vec<Value> = flat
                .assets
                .into_iter()
                .map(|mut a| {
                    a["column_id"] = Value::Null;
                    a
                })
                .collect();
            out.assets += exec(
                &UPSERT_ASSETS.replace("{T}", &t.assets),
                &[pgrx::JsonB(Value::Array(rows)).into()],
            ) as i64;
        }
    });
    ids
}

fn updates_of(data: &Value, field: &str) -> Vec<Value> {
    let board = &data["boards"][0];
    let list = match field {
        "updates_page" => &board["updates_page"]["updates"],
        _ => &board["updates"],
    };
    list.as_array().cloned().unwrap_or_default()
}

/// Every update of the board again (cursor pages); those monday no longer lists are marked.
fn walk(client: &mut Client, t: &Tables, out: &mut Pulled) -> R<()> {
    let what = format!("the updates of monday board {}", t.board_id);
    let mut seen: Vec<i64> = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let data = client
            .query(
                "BoardUpdates",
                documents::BOARD_UPDATES,
                json!({ "board": t.board_id.to_string(), "limit": documents::UPDATES_PER_PAGE, "cursor": cursor }),
            )
            .map_err(|e| api_err(e, &what))?;
        if data["boards"].as_array().is_some_and(|b| b.is_empty()) {
            return Err(err(
                PgSqlErrorCode::ERRCODE_NO_DATA_FOUND,
                format!("monday board {} was not found", t.board_id),
                "monday answered the updates query without the board (deleted, or not shared with the token's user)",
                "Check the board on monday; SELECT monday_sync.untrack_board(board_id) stops syncing it.",
            ));
        }
        seen.extend(store(t, &updates_of(&data, "updates_page"), out));
        cursor = data["boards"][0]["updates_page"]["cursor"]
            .as_str()
            .map(String::from);
        if cursor.is_none() {
            break;
        }
    }
    as_role(t.typed.owner, || {
        out.deleted += exec(
            &format!(
                "UPDATE {} SET deleted_at = pg_catalog.now()
                  WHERE deleted_at IS NULL AND update_id <> ALL($1)",
                t.updates
            ),
            &[seen.into()],
        ) as i64;
        // Files of updates that are gone are gone too.
        out.removed += exec(
            &format!(
                "UPDATE {} a SET removed_at = pg_catalog.now()
                  WHERE a.removed_at IS NULL AND a.update_id IS NOT NULL
                    AND EXISTS (SELECT 1 FROM {} u WHERE u.update_id = a.update_id AND u.deleted_at IS NOT NULL)",
                t.assets, t.updates
            ),
            &[],
        ) as i64;
    });
    Ok(())
}

/// The updates created since `since`, newest first, until a short page.
fn since(client: &mut Client, t: &Tables, from: &str, out: &mut Pulled) -> R<()> {
    let what = format!("the updates of monday board {}", t.board_id);
    for page in 1..=MAX_PAGES {
        let data = client
            .query(
                "BoardUpdatesSince",
                documents::BOARD_UPDATES_SINCE,
                json!({ "board": t.board_id.to_string(), "limit": documents::UPDATES_PER_PAGE,
                        "page": page, "from": from }),
            )
            .map_err(|e| api_err(e, &what))?;
        let list = updates_of(&data, "updates");
        let n = list.len() as i64;
        store(t, &list, out);
        if n < documents::UPDATES_PER_PAGE {
            break;
        }
    }
    Ok(())
}

/// The files the typed table's file columns name: new asset ids are read from monday (100 a
/// call), files no column names any more are marked `removed_at`.
fn column_files(client: &mut Client, t: &Tables, out: &mut Pulled) -> R<()> {
    let cols: Vec<(String, String)> = Spi::connect(|c| {
        let r = c.select(
            "SELECT m.column_id, m.sql_name::text FROM monday_sync.columns m
               JOIN pg_catalog.pg_attribute a ON a.attrelid = $2 AND a.attname = m.sql_name
              WHERE m.board_id = $1 AND m.column_type = 'file' AND m.removed_at IS NULL
                AND a.atttypid = 'pg_catalog.jsonb'::pg_catalog.regtype AND NOT a.attisdropped
              ORDER BY m.position",
            None,
            &[t.board_id.into(), t.typed.oid.into()],
        )?;
        r.map(|row| {
            Ok((
                row.get::<String>(1)?.unwrap_or_default(),
                row.get::<String>(2)?.unwrap_or_default(),
            ))
        })
        .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
    })
    .unwrap_or_else(|e| spi_fail(e));
    // (asset, item, column) for every file of every file column, as the owner reads the table.
    let mut refs: Vec<(i64, i64, String)> = Vec::new();
    for (column_id, sql_name) in &cols {
        let sql = format!(
            "SELECT (f->>'assetId')::bigint, t.item_id
               FROM ONLY {} t,
                    pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof(t.{}->'files') = 'array'
                                                         THEN t.{}->'files' ELSE '[]' END) f
              WHERE f->>'assetId' ~ '^[0-9]{{1,18}}$' AND coalesce(f->>'fileType', 'ASSET') = 'ASSET'",
            t.typed.qualified,
            q(sql_name),
            q(sql_name)
        );
        let rows: Vec<(i64, i64)> = as_role(t.typed.owner, || {
            Spi::connect(|c| {
                c.select(&sql, None, &[])?
                    .map(|r| Ok((r.get::<i64>(1)?.unwrap_or(0), r.get::<i64>(2)?.unwrap_or(0))))
                    .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
            })
            .unwrap_or_else(|e| spi_fail(e))
        });
        refs.extend(rows.into_iter().map(|(a, i)| (a, i, column_id.clone())));
    }
    let all: Vec<i64> = refs.iter().map(|r| r.0).collect();
    let known: Vec<i64> = as_role(t.typed.owner, || {
        Spi::connect(|c| {
            c.select(
                &format!(
                    "SELECT asset_id FROM {} WHERE column_id IS NOT NULL AND removed_at IS NULL
                        AND asset_id = ANY($1)",
                    t.assets
                ),
                None,
                &[all.clone().into()],
            )?
            .map(|r| Ok(r.get::<i64>(1)?.unwrap_or(0)))
            .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
        })
        .unwrap_or_else(|e| spi_fail(e))
    });
    let known: std::collections::HashSet<i64> = known.into_iter().collect();
    let mut new: Vec<&(i64, i64, String)> = Vec::new();
    let mut queued = std::collections::HashSet::new();
    for r in &refs {
        if !known.contains(&r.0) && queued.insert(r.0) {
            new.push(r);
        }
    }
    let what = format!("the files of monday board {}", t.board_id);
    for chunk in new.chunks(documents::IDS_PER_CALL) {
        let ids: Vec<String> = chunk.iter().map(|r| r.0.to_string()).collect();
        let data = client
            .query(
                "AssetsByIds",
                documents::ASSETS_BY_IDS,
                json!({ "ids": ids }),
            )
            .map_err(|e| api_err(e, &what))?;
        let rows: Vec<Value> = data["assets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| {
                let aid = crate::sync::updates::id(a.get("id"))?;
                let r = chunk.iter().find(|r| r.0 == aid)?;
                let mut row = asset_row(a, Some(r.1), None)?;
                row["column_id"] = Value::String(r.2.clone());
                Some(row)
            })
            .collect();
        if !rows.is_empty() {
            as_role(t.typed.owner, || {
                out.assets += exec(
                    &UPSERT_ASSETS.replace("{T}", &t.assets),
                    &[pgrx::JsonB(Value::Array(rows)).into()],
                ) as i64;
            });
        }
    }
    as_role(t.typed.owner, || {
        out.removed += exec(
            &format!(
                "UPDATE {} SET removed_at = pg_catalog.now()
                  WHERE column_id IS NOT NULL AND removed_at IS NULL AND asset_id <> ALL($1)",
                t.assets
            ),
            &[all.into()],
        ) as i64;
    });
    Ok(())
}

/// Pulls the updates and files of a board and of its subitems board (those with updates on):
/// in full without a previous pull or when `full`, incrementally otherwise.
pub(crate) fn updates_core(client: &mut Client, board_id: i64, full: bool) -> R<Pulled> {
    let mut out = Pulled::default();
    let sub = tracked(board_id).and_then(|tb| tb.subitems_board_id);
    for b in std::iter::once(board_id).chain(sub) {
        let Some(t) = tables(b) else { continue };
        let started: String = one("SELECT pg_catalog.now()::text", &[]).unwrap_or_default();
        match (&t.since, full) {
            (Some(from), false) => since(client, &t, from, &mut out)?,
            _ => walk(client, &t, &mut out)?,
        }
        column_files(client, &t, &mut out)?;
        exec(
            "UPDATE monday_sync.boards SET updates_pulled_at = $2::timestamptz WHERE board_id = $1",
            &[b.into(), started.into()],
        );
    }
    Ok(out)
}

/// Whether a board pulls its updates (a refresh then pulls them too).
pub(crate) fn enabled(board_id: i64) -> bool {
    one::<bool>(
        "SELECT updates FROM monday_sync.boards WHERE board_id = $1",
        &[board_id.into()],
    )
    .unwrap_or(false)
}

/// Creates the two tables of one board (or finds them) as its typed table's owner.
fn create_for(board_id: i64) -> R<Option<pg_sys::Oid>> {
    let Some(tb) = tracked(board_id) else {
        return Ok(None);
    };
    let t = match super::security::lookup(tb.table_oid) {
        Lookup::Found(t) => t,
        _ => return Ok(None),
    };
    let (schema, name) = super::security::schema_and_name(t.oid);
    let existing: Option<(Option<pg_sys::Oid>, Option<pg_sys::Oid>)> = Spi::connect(|c| {
        let r = c.select(
            "SELECT (SELECT c.oid FROM pg_catalog.pg_class c WHERE c.oid = b.updates_oid),
                    (SELECT c.oid FROM pg_catalog.pg_class c WHERE c.oid = b.assets_oid)
               FROM monday_sync.boards b WHERE b.board_id = $1",
            Some(1),
            &[board_id.into()],
        )?;
        let r = r.first();
        Ok::<_, pgrx::spi::SpiError>(Some((r.get(1)?, r.get(2)?)))
    })
    .unwrap_or_else(|e| spi_fail(e));
    let (mut updates_oid, mut assets_oid) = existing.unwrap_or((None, None));
    let quoted = |n: &str| format!("{}.{}", q(&schema), q(n));
    let make = |n: String, ddl: &str, comment: String| -> R<pg_sys::Oid> {
        let qualified = quoted(&n);
        super::security::side_table_free(
            &qualified,
            format!(
                "enable_updates keeps the updates and files of {} there",
                t.qualified
            ),
            "enable_updates",
        )?;
        as_role(t.owner, || {
            exec(&format!("CREATE TABLE {qualified} ({ddl})"), &[]);
            exec(
                &format!(
                    "COMMENT ON TABLE {qualified} IS {}",
                    pgrx::spi::quote_literal(&comment)
                ),
                &[],
            );
        });
        Ok(one(
            "SELECT $1::pg_catalog.regclass::pg_catalog.oid",
            &[qualified.into()],
        )
        .unwrap_or(pg_sys::InvalidOid))
    };
    if updates_oid.is_none() {
        let n = crate::sync::names::suffixed_table_name(&name, "_updates");
        updates_oid = Some(make(
            n.clone(),
            "update_id bigint PRIMARY KEY,
             item_id bigint NOT NULL,
             reply_to bigint,
             creator_id bigint,
             body_text text,
             body_html text,
             created_at timestamptz,
             updated_at timestamptz,
             edited_at timestamptz,
             deleted_at timestamptz,
             synced_at timestamptz NOT NULL",
            format!(
                "monday_sync: the updates (comments) of the items of {}, and their replies (reply_to = the update). Marked deleted_at when monday no longer has them.",
                t.qualified
            ),
        )?);
        as_role(t.owner, || {
            exec(
                &format!("CREATE INDEX ON {} (item_id, created_at)", quoted(&n)),
                &[],
            )
        });
    }
    if assets_oid.is_none() {
        let n = crate::sync::names::suffixed_table_name(&name, "_assets");
        assets_oid = Some(make(
            n.clone(),
            "asset_id bigint PRIMARY KEY,
             item_id bigint,
             column_id text,
             update_id bigint,
             name text,
             file_extension text,
             file_size bigint,
             url text,
             created_at timestamptz,
             uploaded_by bigint,
             removed_at timestamptz,
             synced_at timestamptz NOT NULL",
            format!(
                "monday_sync: the files of {} (of a file column: column_id; of an update or reply: update_id). url needs a monday login; no signed link is stored. Marked removed_at when no column or update holds them.",
                t.qualified
            ),
        )?);
        as_role(t.owner, || {
            exec(&format!("CREATE INDEX ON {} (item_id)", quoted(&n)), &[])
        });
    }
    exec(
        "UPDATE monday_sync.boards SET updates = true, updates_oid = $2, assets_oid = $3
          WHERE board_id = $1",
        &[board_id.into(), updates_oid.into(), assets_oid.into()],
    );
    Ok(updates_oid)
}

/// Runs a pull of updates as a recorded run (`sync_runs.kind = 'pull_updates'`).
fn run_pull(board_id: i64, full: bool) -> R<pgrx::JsonB> {
    let mut hooks = PgHooks { worker: false };
    let mut client = new_client(&mut hooks)?;
    let runid = start_run(board_id, "pull_updates");
    let p = updates_core(&mut client, board_id, full)?;
    let stats = Stats {
        items_seen: p.updates,
        rows_written: p.updates + p.assets,
        ..Default::default()
    };
    finish_run(
        runid,
        &client,
        &stats,
        &p.text(),
        Some(if full { "full" } else { "incremental" }),
    );
    Ok(pgrx::JsonB(json!({
        "runid": runid,
        "board_id": board_id,
        "updates_written": p.updates,
        "assets_written": p.assets,
        "updates_marked_deleted": p.deleted,
        "assets_marked_removed": p.removed,
        "skipped": p.skipped,
        "api_calls": client.http_calls(),
    })))
}

/// `monday_sync.enable_updates(board_id)`: see the module comment. Returns the board's updates
/// table; its files are in `<table>_assets`.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn enable_updates(board_id: i64) -> R<super::jsonb::RegClass> {
    let tb = super::track::top_board(
        board_id,
        "enable_updates pulls the updates and files of a tracked board",
        "updates",
        "enable_updates",
    )?;
    let main = create_for(board_id)?.ok_or_else(|| {
        err(
            PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
            format!("monday board {board_id} has no typed table"),
            "its table was dropped, or it was never created",
            format!("SELECT monday_sync.track_board({board_id});"),
        )
    })?;
    if let Some(sub) = tb.subitems_board_id {
        create_for(sub)?;
    }
    run_pull(board_id, true)?;
    // A board on webhooks gets the update events too (what is subscribed already stays).
    let base: Option<String> = one(
        "SELECT pg_catalog.regexp_replace(url, '/webhook/.*$', '') FROM monday_sync.webhooks
          WHERE board_id = $1 ORDER BY webhook_id LIMIT 1",
        &[board_id.into()],
    );
    if let Some(base) = base {
        super::webhooks::subscribe_board(board_id, Some(&base))?;
    }
    Ok(super::jsonb::RegClass(main))
}

/// `monday_sync.disable_updates(board_id)`: updates and files are no longer pulled (and no
/// longer received by webhook: those subscriptions are deleted on monday); the tables stay.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn disable_updates(board_id: i64) -> R<()> {
    let tb = super::track::top_board(
        board_id,
        "disable_updates stops pulling the updates of a tracked board",
        "updates",
        "disable_updates",
    )?;
    for b in std::iter::once(board_id).chain(tb.subitems_board_id) {
        exec(
            "UPDATE monday_sync.boards SET updates = false WHERE board_id = $1",
            &[b.into()],
        );
    }
    // Its update webhooks (if the board is subscribed) are deleted on monday.
    super::webhooks::unsubscribe_events(board_id, Some(super::webhooks::UPDATE_EVENTS))?;
    Ok(())
}

/// `monday_sync.pull_updates(board_id, full => false)`: see the module comment.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn pull_updates(board_id: i64, full: default!(bool, false)) -> R<pgrx::JsonB> {
    super::track::top_board(
        board_id,
        "pull_updates pulls the updates and files of a tracked board",
        "updates",
        "pull_updates",
    )?;
    if !enabled(board_id) {
        return Err(err(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("monday board {board_id} does not pull its updates"),
            "updates and files are pulled into <table>_updates and <table>_assets once enable_updates created them",
            format!("SELECT monday_sync.enable_updates({board_id});"),
        ));
    }
    run_pull(board_id, full)
}

/// An update event from a webhook (`create_update`, `edit_update`, `delete_update`).
pub(crate) struct EventUpdate {
    pub kind: crate::webhook::change::UpdateKind,
    pub update_id: i64,
    pub reply_id: Option<i64>,
    pub item_id: i64,
    pub creator_id: Option<i64>,
    pub body: Option<String>,
    pub text: Option<String>,
    /// `triggerTime` (ISO 8601).
    pub at: Option<String>,
}

/// Writes an update event into the board's `<table>_updates` as the table's owner, at once and
/// without an API call. An older event never overwrites what a newer one wrote (`updated_at`); the
/// next pull writes what monday has. `Err` is why the event is ignored.
pub(crate) fn apply_event(board_id: i64, e: &EventUpdate) -> Result<(), String> {
    use crate::webhook::change::UpdateKind;
    let Some(t) = tables(board_id) else {
        return Err(format!(
            "monday board {board_id} does not pull its updates (enable_updates)"
        ));
    };
    let at =
        e.at.as_deref()
            .and_then(crate::codec::datetime::timestamptz_utc)
            .map(|s| s.to_string());
    let (id, reply_to) = match e.reply_id {
        Some(r) => (r, Some(e.update_id)),
        None => (e.update_id, None),
    };
    as_role(t.typed.owner, || match e.kind {
        UpdateKind::Deleted => {
            exec(
                &format!(
                    "UPDATE {} SET deleted_at = coalesce($2::timestamptz, pg_catalog.now()), synced_at = pg_catalog.now()
                      WHERE update_id = $1 AND deleted_at IS NULL",
                    t.updates
                ),
                &[id.into(), at.clone().into()],
            );
            exec(
                &format!(
                    "UPDATE {} SET removed_at = pg_catalog.now() WHERE update_id = $1 AND removed_at IS NULL",
                    t.assets
                ),
                &[id.into()],
            );
        }
        kind => {
            let created = kind == UpdateKind::Created;
            exec(
                &format!(
                    "INSERT INTO {} AS t (update_id, item_id, reply_to, creator_id, body_text, body_html,
                                          created_at, updated_at, edited_at, synced_at)
                     VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $8 THEN $7::timestamptz END, $7::timestamptz,
                             $7::timestamptz, pg_catalog.now())
                     ON CONFLICT (update_id) DO UPDATE
                        SET body_text = coalesce(excluded.body_text, t.body_text),
                            body_html = coalesce(excluded.body_html, t.body_html),
                            updated_at = excluded.updated_at,
                            edited_at = CASE WHEN $8 THEN t.edited_at ELSE excluded.edited_at END,
                            deleted_at = NULL, synced_at = excluded.synced_at
                      WHERE t.updated_at IS NULL OR excluded.updated_at IS NULL
                         OR t.updated_at <= excluded.updated_at",
                    t.updates
                ),
                &[
                    id.into(),
                    e.item_id.into(),
                    reply_to.into(),
                    e.creator_id.into(),
                    e.text.clone().into(),
                    e.body.clone().into(),
                    at.clone().into(),
                    created.into(),
                ],
            );
        }
    });
    Ok(())
}
