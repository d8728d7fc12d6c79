//! The account around the boards: `monday_sync.users`, `teams`, `tags`, `workspaces` and
//! `folders`, pulled by `pull_account()` (users a page of 1,000 at a time, teams with their
//! members and tags in one call, workspaces and folders 100 a page), and `user_names` /
//! `tag_names` to read a people or tags column as names. What monday no longer lists is marked
//! (`deleted_at`), never dropped; deactivated users stay with `enabled = false`.
#![allow(clippy::result_large_err)]

use super::budget::PgHooks;
use super::client::new_client;
use super::errors::{api_err, R};
use super::spi::{exec, one};
use crate::api::documents;
use pgrx::prelude::*;
use serde_json::{json, Value};

/// Pages of users read at most (a million users).
const MAX_USER_PAGES: i64 = 1_000;

const UPSERT_USERS: &str = r#"
INSERT INTO monday_sync.users AS u
       (user_id, name, email, title, status, kind, enabled, is_guest, is_admin, created_at,
        time_zone, team_ids, synced_at, deleted_at)
SELECT (r->>'id')::bigint, coalesce(r->>'name', ''), r->>'email', nullif(r->>'title', ''),
       r->>'status', r->>'kind', coalesce(r->>'status', '') <> 'INACTIVE',
       coalesce(r->>'kind', '') = 'guest', coalesce(r->>'kind', '') = 'admin',
       CASE WHEN r->>'created_at' ~ '^\d{4}-\d{2}-\d{2}' THEN (r->>'created_at')::timestamptz END,
       r->>'time_zone_identifier',
       coalesce((SELECT pg_catalog.array_agg((t->>'id')::bigint ORDER BY (t->>'id')::bigint)
                   FROM pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof(r->'teams') = 'array' THEN r->'teams' ELSE '[]' END) t
                  WHERE t->>'id' ~ '^\d{1,18}$'), '{}'),
       pg_catalog.now(),
       CASE WHEN r->>'is_deleted' = 'true' THEN pg_catalog.now() END
  FROM pg_catalog.jsonb_array_elements($1) r
 WHERE r->>'id' ~ '^\d{1,18}$'
ON CONFLICT (user_id) DO UPDATE
   SET name = excluded.name, email = excluded.email, title = excluded.title,
       status = excluded.status, kind = excluded.kind, enabled = excluded.enabled,
       is_guest = excluded.is_guest, is_admin = excluded.is_admin, created_at = excluded.created_at,
       time_zone = excluded.time_zone, team_ids = excluded.team_ids, synced_at = excluded.synced_at,
       deleted_at = CASE WHEN excluded.deleted_at IS NULL THEN NULL ELSE coalesce(u.deleted_at, excluded.deleted_at) END
"#;

const UPSERT_TEAMS: &str = r#"
INSERT INTO monday_sync.teams AS t (team_id, name, is_guest, user_ids, synced_at, deleted_at)
SELECT (r->>'id')::bigint, coalesce(r->>'name', ''),
       CASE WHEN r->>'is_guest' IN ('true', 'false') THEN (r->>'is_guest')::boolean END,
       coalesce((SELECT pg_catalog.array_agg((m->>'id')::bigint ORDER BY (m->>'id')::bigint)
                   FROM pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof(r->'users') = 'array' THEN r->'users' ELSE '[]' END) m
                  WHERE m->>'id' ~ '^\d{1,18}$'), '{}'),
       pg_catalog.now(), NULL
  FROM pg_catalog.jsonb_array_elements($1) r
 WHERE r->>'id' ~ '^\d{1,18}$'
ON CONFLICT (team_id) DO UPDATE
   SET name = excluded.name, is_guest = excluded.is_guest, user_ids = excluded.user_ids,
       synced_at = excluded.synced_at, deleted_at = NULL
"#;

const UPSERT_TAGS: &str = r#"
INSERT INTO monday_sync.tags AS g (tag_id, name, color, synced_at, deleted_at)
SELECT (r->>'id')::bigint, coalesce(r->>'name', ''), r->>'color', pg_catalog.now(), NULL
  FROM pg_catalog.jsonb_array_elements($1) r
 WHERE r->>'id' ~ '^\d{1,18}$'
ON CONFLICT (tag_id) DO UPDATE
   SET name = excluded.name, color = excluded.color, synced_at = excluded.synced_at, deleted_at = NULL
"#;

const UPSERT_WORKSPACES: &str = r#"
INSERT INTO monday_sync.workspaces AS w
       (workspace_id, name, kind, description, state, created_at, is_default, synced_at, deleted_at)
SELECT (r->>'id')::bigint, coalesce(r->>'name', ''), r->>'kind', r->>'description', r->>'state',
       CASE WHEN r->>'created_at' ~ '^\d{4}-\d{2}-\d{2}' THEN pg_catalog.left(r->>'created_at', 10)::date END,
       CASE WHEN r->>'is_default_workspace' IN ('true', 'false') THEN (r->>'is_default_workspace')::boolean END,
       pg_catalog.now(), CASE WHEN r->>'state' = 'deleted' THEN pg_catalog.now() END
  FROM pg_catalog.jsonb_array_elements($1) r
 WHERE r->>'id' ~ '^\d{1,18}$'
ON CONFLICT (workspace_id) DO UPDATE
   SET name = excluded.name, kind = excluded.kind, description = excluded.description,
       state = excluded.state, created_at = excluded.created_at, is_default = excluded.is_default,
       synced_at = excluded.synced_at,
       deleted_at = CASE WHEN excluded.deleted_at IS NULL THEN NULL ELSE coalesce(w.deleted_at, excluded.deleted_at) END
"#;

const UPSERT_FOLDERS: &str = r#"
INSERT INTO monday_sync.folders AS f
       (folder_id, name, workspace_id, parent_folder_id, color, created_at, board_ids, synced_at, deleted_at)
SELECT (r->>'id')::bigint, coalesce(r->>'name', ''),
       CASE WHEN r#>>'{workspace,id}' ~ '^\d{1,18}$' THEN (r#>>'{workspace,id}')::bigint END,
       CASE WHEN r#>>'{parent,id}' ~ '^\d{1,18}$' THEN (r#>>'{parent,id}')::bigint END,
       r->>'color',
       CASE WHEN r->>'created_at' ~ '^\d{4}-\d{2}-\d{2}' THEN pg_catalog.left(r->>'created_at', 10)::date END,
       coalesce((SELECT pg_catalog.array_agg((c->>'id')::bigint ORDER BY (c->>'id')::bigint)
                   FROM pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof(r->'children') = 'array' THEN r->'children' ELSE '[]' END) c
                  WHERE c->>'id' ~ '^\d{1,18}$'), '{}'),
       pg_catalog.now(), NULL
  FROM pg_catalog.jsonb_array_elements($1) r
 WHERE r->>'id' ~ '^\d{1,18}$'
ON CONFLICT (folder_id) DO UPDATE
   SET name = excluded.name, workspace_id = excluded.workspace_id,
       parent_folder_id = excluded.parent_folder_id, color = excluded.color,
       created_at = excluded.created_at, board_ids = excluded.board_ids,
       synced_at = excluded.synced_at, deleted_at = NULL
"#;

/// Every page of a paged list (`workspaces`, `folders`) upserted with `upsert`; returns the rows.
fn paged(
    client: &mut crate::api::Client,
    name: &'static str,
    doc: &'static str,
    key: &str,
    upsert: &str,
) -> R<i64> {
    let mut rows = 0i64;
    let mut page = 1i64;
    loop {
        let data = client
            .query(
                name,
                doc,
                json!({ "limit": documents::SPACES_PER_PAGE, "page": page }),
            )
            .map_err(|e| api_err(e, "the monday account"))?;
        let batch = list(&data, key);
        let n = batch.as_array().map(Vec::len).unwrap_or(0) as i64;
        if n > 0 {
            exec(upsert, &[pgrx::JsonB(batch).into()]);
        }
        rows += n;
        if n < documents::SPACES_PER_PAGE || page >= MAX_USER_PAGES {
            return Ok(rows);
        }
        page += 1;
    }
}

fn list(data: &Value, key: &str) -> Value {
    match data.get(key) {
        Some(Value::Array(a)) => Value::Array(a.clone()),
        _ => json!([]),
    }
}

/// `monday_sync.pull_account()`: see the module comment. Returns the counts and the calls made.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn pull_account() -> R<pgrx::JsonB> {
    let mut hooks = PgHooks { worker: false };
    let mut client = new_client(&mut hooks)?;
    account_core(&mut client).map(pgrx::JsonB)
}

/// `monday_sync.request_pull_account()`: queues the worker's account job and returns its id at
/// once (a request while one waits joins it). SECURITY DEFINER, revoked from PUBLIC, like
/// `request_refresh`.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn request_pull_account() -> i64 {
    let requester = super::worker::requester();
    let jobid: i64 = one(
        "INSERT INTO monday_sync.jobs (board_id, command, requested_by) VALUES (NULL, 'account', $1)
         ON CONFLICT (command) WHERE status = 'queued' AND board_id IS NULL
         DO UPDATE SET not_before = least(jobs.not_before, pg_catalog.now())
         RETURNING jobid",
        &[requester.into()],
    )
    .unwrap_or_default();
    super::worker::wake_on_commit();
    jobid
}

/// The account pull itself, in the caller's transaction (the SQL function) or a worker step.
pub(crate) fn account_core(client: &mut crate::api::Client) -> R<Value> {
    let what = "the monday account";
    let mut users = 0i64;
    let mut page = 1i64;
    loop {
        let data = client
            .query(
                "AccountUsers",
                documents::ACCOUNT_USERS,
                json!({ "limit": documents::USERS_PER_PAGE, "page": page }),
            )
            .map_err(|e| api_err(e, what))?;
        let batch = list(&data, "users");
        let n = batch.as_array().map(Vec::len).unwrap_or(0) as i64;
        if n > 0 {
            exec(UPSERT_USERS, &[pgrx::JsonB(batch).into()]);
        }
        users += n;
        if n < documents::USERS_PER_PAGE || page >= MAX_USER_PAGES {
            break;
        }
        page += 1;
    }
    let data = client
        .query("AccountRefs", documents::ACCOUNT_REFS, json!({}))
        .map_err(|e| api_err(e, what))?;
    let teams = list(&data, "teams");
    let tags = list(&data, "tags");
    let (n_teams, n_tags) = (
        teams.as_array().map(Vec::len).unwrap_or(0),
        tags.as_array().map(Vec::len).unwrap_or(0),
    );
    exec(UPSERT_TEAMS, &[pgrx::JsonB(teams).into()]);
    exec(UPSERT_TAGS, &[pgrx::JsonB(tags).into()]);
    let n_workspaces = paged(
        client,
        "AccountWorkspaces",
        documents::ACCOUNT_WORKSPACES,
        "workspaces",
        UPSERT_WORKSPACES,
    )?;
    let n_folders = paged(
        client,
        "AccountFolders",
        documents::ACCOUNT_FOLDERS,
        "folders",
        UPSERT_FOLDERS,
    )?;
    // What monday no longer lists: marked, kept.
    let gone = |table: &str| -> i64 {
        exec(
            &format!(
                "UPDATE monday_sync.{table} SET deleted_at = pg_catalog.now()
                  WHERE deleted_at IS NULL AND synced_at < pg_catalog.now()"
            ),
            &[],
        ) as i64
    };
    let (gone_users, gone_teams, gone_tags) = (gone("users"), gone("teams"), gone("tags"));
    let (gone_workspaces, gone_folders) = (gone("workspaces"), gone("folders"));
    let deactivated: i64 = one(
        "SELECT count(*) FROM monday_sync.users WHERE NOT enabled AND deleted_at IS NULL",
        &[],
    )
    .unwrap_or(0);
    Ok(json!({
        "users": users,
        "deactivated_users": deactivated,
        "teams": n_teams,
        "tags": n_tags,
        "workspaces": n_workspaces,
        "folders": n_folders,
        "marked_deleted": {"users": gone_users, "teams": gone_teams, "tags": gone_tags,
                           "workspaces": gone_workspaces, "folders": gone_folders},
        "api_calls": client.http_calls(),
    }))
}

extension_sql!(
    r#"
-- A people column's ids (users and teams) as names, in order; an id not known shows as itself.
CREATE FUNCTION monday_sync.user_names(ids bigint[]) RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.array_agg(coalesce(u.name, t.name, x.id::pg_catalog.text) ORDER BY x.n)
    FROM pg_catalog.unnest(ids) WITH ORDINALITY AS x(id, n)
    LEFT JOIN monday_sync.users u ON u.user_id = x.id
    LEFT JOIN monday_sync.teams t ON t.team_id = x.id
$$;

-- A tags column's ids as tag names, in order.
CREATE FUNCTION monday_sync.tag_names(ids bigint[]) RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.array_agg(coalesce(g.name, x.id::pg_catalog.text) ORDER BY x.n)
    FROM pg_catalog.unnest(ids) WITH ORDINALITY AS x(id, n)
    LEFT JOIN monday_sync.tags g ON g.tag_id = x.id
$$;
"#,
    name = "account_functions",
    requires = ["schema"]
);
