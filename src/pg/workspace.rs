//! Whole workspaces: `track_workspace(workspace_id, target_schema)` tracks every board of a monday
//! workspace into one schema (by default named after the workspace, created when missing) and
//! queues each new board's first pull for the worker. The workspace stays in
//! `monday_sync.tracked_workspaces`: the worker looks for boards created there since every
//! `monday_sync.workspace_interval` (and calling `track_workspace` again does the same at once),
//! so a board added on monday becomes a table without anyone asking. `untrack_workspace` stops
//! the looking; the boards stay tracked (`untrack_board` each to stop them).
#![allow(clippy::result_large_err)]

use super::budget::PgHooks;
use super::client::new_client;
use super::errors::{api_err, err, R};
use super::runs::{finish_run, start_job_run, Stats};
use super::security::as_role;
use super::spi::{exec, in_subtransaction_coded, one, q, spi_fail};
use super::track::{track_with, tracked};
use crate::api::{documents, Client};
use pgrx::prelude::*;
use pgrx::spi::Spi;
use serde_json::{json, Value};

/// Pages of boards read per workspace at most (100,000 boards).
const MAX_PAGES: i64 = 1_000;

/// A workspace as monday lists it, with its boards (items boards only: subitems boards come with
/// their parents, documents and dashboards have no items).
struct Listed {
    name: String,
    boards: Vec<(i64, String)>,
}

fn list(client: &mut Client, workspace_id: i64) -> R<Listed> {
    let what = format!("monday workspace {workspace_id}");
    let mut name = None;
    let mut boards = Vec::new();
    for page in 1..=MAX_PAGES {
        let data = client
            .query(
                "WorkspaceBoards",
                documents::WORKSPACE_BOARDS,
                json!({ "workspace": workspace_id.to_string(), "limit": documents::BOARDS_PER_PAGE, "page": page }),
            )
            .map_err(|e| api_err(e, &what))?;
        if name.is_none() {
            let ws = data["workspaces"]
                .as_array()
                .and_then(|a| a.first())
                .filter(|w| w["state"].as_str() != Some("deleted"))
                .ok_or_else(|| {
                    err(
                        PgSqlErrorCode::ERRCODE_NO_DATA_FOUND,
                        format!("monday workspace {workspace_id} was not found"),
                        "monday lists no such workspace (deleted, or the token's user is not a member of a closed one)",
                        "SELECT workspace_id, name, state FROM monday_sync.workspaces (after monday_sync.pull_account()) lists the workspaces the token sees.",
                    )
                })?;
            name = Some(ws["name"].as_str().unwrap_or_default().to_string());
        }
        let page_boards = data["boards"].as_array().cloned().unwrap_or_default();
        let n = page_boards.len() as i64;
        for b in page_boards {
            let typ = b["type"].as_str().unwrap_or("board");
            if typ != "board" {
                continue;
            }
            if let Some(id) = crate::sync::id_of(&b["id"]) {
                boards.push((id, b["name"].as_str().unwrap_or_default().to_string()));
            }
        }
        if n < documents::BOARDS_PER_PAGE {
            break;
        }
    }
    Ok(Listed {
        name: name.unwrap_or_default(),
        boards,
    })
}

/// Tracks the boards of `workspace_id` not tracked yet into `schema`, each in a subtransaction
/// (a board that cannot be tracked is reported, the others go on), and queues their first pull.
fn track_new(client: &mut Client, workspace_id: i64, schema: &str, requested_by: &str) -> R<Value> {
    let listed = list(client, workspace_id)?;
    let mut added = Vec::new();
    let mut failed = Vec::new();
    let mut already = 0;
    for (board_id, name) in &listed.boards {
        if tracked(*board_id).is_some() {
            already += 1;
            continue;
        }
        let r = in_subtransaction_coded(|| {
            if let Err(e) = track_with(client, *board_id, None, false, None, Some(schema)) {
                e.report(PgLogLevel::ERROR);
            }
        });
        match r {
            Ok(()) => {
                exec(
                    "INSERT INTO monday_sync.jobs (board_id, command, requested_by) VALUES ($1, 'pull', $2)
                     ON CONFLICT DO NOTHING",
                    &[(*board_id).into(), requested_by.into()],
                );
                added.push(json!({"board_id": board_id, "name": name}));
            }
            Err((code, message)) => failed.push(json!({
                "board_id": board_id,
                "name": name,
                "sqlstate": crate::pg::errors::sqlstate(code),
                "error": message,
            })),
        }
    }
    exec(
        "UPDATE monday_sync.tracked_workspaces
            SET workspace_name = $2, last_checked_at = pg_catalog.now(), boards_seen = $3
          WHERE workspace_id = $1",
        &[
            workspace_id.into(),
            listed.name.clone().into(),
            (listed.boards.len() as i64).into(),
        ],
    );
    if !added.is_empty() {
        super::worker::wake_on_commit();
    }
    Ok(json!({
        "workspace_id": workspace_id,
        "workspace_name": listed.name,
        "schema": schema,
        "boards": listed.boards.len(),
        "already_tracked": already,
        "tracked": added,
        "failed": failed,
    }))
}

/// `monday_sync.track_workspace(workspace_id, target_schema)`: see the module comment.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn track_workspace(
    workspace_id: Option<i64>,
    target_schema: default!(Option<&str>, "NULL"),
) -> R<pgrx::JsonB> {
    let Some(workspace_id) = workspace_id else {
        return Err(err(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            "workspace_id must not be NULL",
            "track_workspace needs the id of a monday workspace",
            "SELECT workspace_id, name FROM monday_sync.workspaces lists them (after monday_sync.pull_account()).",
        ));
    };
    let mut hooks = PgHooks { worker: false };
    let mut client = new_client(&mut hooks)?;
    let runid = start_job_run(0, "track_workspace", None, None);
    let recorded: Option<String> = one(
        "SELECT target_schema::text FROM monday_sync.tracked_workspaces WHERE workspace_id = $1",
        &[workspace_id.into()],
    );
    let schema = match (recorded, target_schema.map(str::trim)) {
        (Some(r), Some(t)) if r != t => {
            return Err(err(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                format!("monday workspace {workspace_id} is already tracked into schema {}", q(&r)),
                format!("asked for schema {}", q(t)),
                format!("SELECT monday_sync.untrack_workspace({workspace_id}); then track it again (its boards stay where they are)."),
            ))
        }
        (Some(r), _) => r,
        (None, Some("")) => {
            return Err(err(
                PgSqlErrorCode::ERRCODE_INVALID_SCHEMA_NAME,
                "target_schema must not be empty",
                "track_workspace creates the boards' tables in that schema",
                "Pass a schema name, or NULL for one named after the workspace.",
            ))
        }
        (None, Some(t)) => t.to_string(),
        (None, None) => {
            let listed = list(&mut client, workspace_id)?;
            crate::sync::names::table_name(&listed.name, workspace_id)
        }
    };
    if schema.len() > 63
        || schema.starts_with("pg_")
        || ["monday_sync", "information_schema"].contains(&schema.as_str())
    {
        return Err(err(
            PgSqlErrorCode::ERRCODE_INVALID_SCHEMA_NAME,
            format!("{} cannot hold the workspace's tables", q(&schema)),
            "a schema name is at most 63 bytes; pg_ names, information_schema and the extension's own schema are reserved",
            "Pass another target_schema.",
        ));
    }
    // As the caller, like track_board's tables: the schema is theirs when it is new.
    exec(&format!("CREATE SCHEMA IF NOT EXISTS {}", q(&schema)), &[]);
    let requested_by = super::worker::requester();
    exec(
        "INSERT INTO monday_sync.tracked_workspaces (workspace_id, target_schema, tracked_by)
         VALUES ($1, $2, $3) ON CONFLICT (workspace_id) DO NOTHING",
        &[
            workspace_id.into(),
            schema.clone().into(),
            requested_by.clone().into(),
        ],
    );
    let v = track_new(&mut client, workspace_id, &schema, &requested_by)?;
    let stats = Stats {
        items_seen: v["boards"].as_i64().unwrap_or(0),
        ..Default::default()
    };
    finish_run(runid, &client, &stats, &summary(&v), None);
    let mut v = v;
    v["api_calls"] = json!(client.http_calls());
    Ok(pgrx::JsonB(v))
}

fn summary(v: &Value) -> String {
    let tracked = v["tracked"].as_array().map(Vec::len).unwrap_or(0);
    let failed = v["failed"].as_array().map(Vec::len).unwrap_or(0);
    let mut s = format!(
        "workspace {}: {} boards, {} newly tracked",
        v["workspace_id"], v["boards"], tracked
    );
    if failed > 0 {
        s.push_str(&format!(
            "; {failed} could not be tracked: {}",
            crate::codec::truncate_bytes(&v["failed"].to_string(), 400)
        ));
    }
    s
}

/// `monday_sync.untrack_workspace(workspace_id)`: new boards there are no longer tracked; the
/// boards tracked so far stay (untrack_board each). Returns whether the workspace was tracked.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn untrack_workspace(workspace_id: i64) -> bool {
    exec(
        "DELETE FROM monday_sync.tracked_workspaces WHERE workspace_id = $1",
        &[workspace_id.into()],
    ) > 0
}

/// The worker's `workspaces` job: every tracked workspace is listed again and its new boards
/// tracked (each workspace in its own subtransaction: one that fails is reported, the others go
/// on). Returns the run's summary.
pub(crate) fn discover_all(client: &mut Client) -> R<(Stats, String)> {
    let list: Vec<(i64, String, String)> = Spi::connect(|c| {
        c.select(
            "SELECT workspace_id, target_schema::text, tracked_by::text
               FROM monday_sync.tracked_workspaces ORDER BY workspace_id",
            None,
            &[],
        )?
        .map(|r| {
            Ok((
                r.get::<i64>(1)?.unwrap_or(0),
                r.get::<String>(2)?.unwrap_or_default(),
                r.get::<String>(3)?.unwrap_or_default(),
            ))
        })
        .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
    })
    .unwrap_or_else(|e| spi_fail(e));
    let mut stats = Stats::default();
    let mut texts = Vec::new();
    for (ws, schema, by) in list {
        // The boards' tables are created as the role that tracked the workspace, as if it had
        // called track_board: never as the worker's superuser.
        let Some(role) = one::<pg_sys::Oid>(
            "SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1",
            &[by.clone().into()],
        ) else {
            stats.note(format!(
                "workspace {ws}: the role {by} that tracked it no longer exists; track_workspace({ws}) again as another role"
            ));
            continue;
        };
        let mut out = None;
        let r = in_subtransaction_coded(|| {
            match as_role(role, || track_new(client, ws, &schema, &by)) {
                Ok(v) => out = Some(v),
                Err(e) => e.report(PgLogLevel::ERROR),
            }
        });
        match (r, out) {
            (Ok(()), Some(v)) => {
                stats.items_seen += v["boards"].as_i64().unwrap_or(0);
                if v["tracked"].as_array().is_some_and(|a| !a.is_empty())
                    || v["failed"].as_array().is_some_and(|a| !a.is_empty())
                {
                    texts.push(summary(&v));
                }
            }
            (Err((_, m)), _) => stats.note(format!("workspace {ws}: {m}")),
            (Ok(()), None) => {}
        }
    }
    let text = if texts.is_empty() {
        "no new boards".to_string()
    } else {
        texts.join("; ")
    };
    Ok((stats, text))
}
