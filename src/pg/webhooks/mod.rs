//! Real time: monday webhooks received, verified and applied inside the database.
//!
//! - `worker`: the background worker that serves HTTP (when `monday_sync.webhook_listen` is set)
//!   and applies stored events;
//! - `inbox`: storing events once each, and the secrets that decide who may post;
//! - `apply`: events → typed rows, the confirming fetch queue, the safety nets;
//! - here: the SQL surface — `set_signing_secret`, `receive_webhook`, `subscribe_board`,
//!   `unsubscribe_board`, the confirming fetch a `confirm` job runs, and the views.
#![allow(clippy::result_large_err)]

pub mod apply;
pub mod inbox;
pub mod worker;

use crate::api::documents;
use crate::pg::budget::PgHooks;
use crate::pg::client::new_client;
use crate::pg::errors::{api_err, err, R};
use crate::pg::settings;
use crate::pg::spi::{exec, one};
use crate::pg::track::{not_tracked, tracked};
use crate::webhook::auth::{authorize, route, Authorized, Route};
use crate::webhook::{parse_body, Body};
use pgrx::prelude::*;
use pgrx::spi::Spi;
use serde_json::{json, Value};

/// The events `subscribe_board` subscribes: every item and subitem event the sync applies.
pub const EVENTS: &[&str] = &[
    "create_item",
    "change_column_value",
    "change_name",
    "item_archived",
    "item_deleted",
    "item_restored",
    "item_moved_to_any_group",
    "create_subitem",
    "change_subitem_column_value",
    "change_subitem_name",
    "move_subitem",
    "subitem_archived",
    "subitem_deleted",
    "create_column",
];

/// Subscribed too when the board pulls its updates (`enable_updates`): updates and replies reach
/// `<table>_updates` in real time (a subitem's through `create_subitem_update`).
pub const UPDATE_EVENTS: &[&str] = &[
    "create_update",
    "create_subitem_update",
    "edit_update",
    "delete_update",
];

/// The events a board's subscription covers.
fn events_for(board_id: i64) -> Vec<&'static str> {
    let mut v = EVENTS.to_vec();
    if crate::pg::updates::enabled(board_id) {
        v.extend_from_slice(UPDATE_EVENTS);
    }
    v
}

/// monday's limit on a webhook URL.
const MAX_URL: usize = 255;

/// `monday_sync.set_signing_secret(secret)`: the app's signing secret that webhook JWTs are
/// verified with. Stored like the API token (no role but the owner can read it). NULL removes it.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn set_signing_secret(secret: Option<&str>) -> R<()> {
    match secret.map(str::trim) {
        None => {
            exec("DELETE FROM monday_sync._signing_secret", &[]);
        }
        Some(s) if s.len() < 16 => {
            return Err(err(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                "the signing secret is too short",
                "a signing secret has at least 16 characters",
                "Copy it from your monday app: Developer center → your app → Basic information → Signing Secret.",
            ))
        }
        Some(s) => {
            exec(
                "INSERT INTO monday_sync._signing_secret (id, secret) VALUES (true, $1)
                 ON CONFLICT (id) DO UPDATE SET secret = excluded.secret, set_at = now(), set_by = current_user",
                &[s.into()],
            );
        }
    }
    worker::wake_on_commit(true);
    Ok(())
}

/// `monday_sync.receive_webhook(body, authorization, path)`: the listener's checks and inbox for
/// installs that put their own front door (PostgREST, a serverless function, an API gateway)
/// before PostgreSQL. Returns what to answer monday: `{"challenge": …}` for a URL verification,
/// else `{"stored": true|false, "event_id": …}`. SECURITY DEFINER: GRANT EXECUTE to the front
/// door's role, which then needs no access to the extension's tables.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn receive_webhook(
    body: &str,
    authorization: default!(Option<&str>, "NULL"),
    path: default!(Option<&str>, "NULL"),
) -> R<pgrx::JsonB> {
    let path = path.unwrap_or("/webhook");
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    if matches!(route(&path), Route::NotFound | Route::Health) {
        return Err(err(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            // Not quoted: a front door's own prefix before /webhook/<secret> would put the
            // secret in the log.
            format!("the path given ({} bytes) is not a webhook path", path.len()),
            "webhook paths are /webhook (JWT-signed) and /webhook/<secret> (a subscription's secret path)",
            "Pass the path monday posted to, as your front door received it.",
        ));
    }
    let parsed = parse_body(body.as_bytes()).map_err(|e| {
        err(
            PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
            "the webhook body is malformed",
            e.message,
            "monday posts {\"event\": {…}} or {\"challenge\": \"…\"}; answer HTTP 400 to anything else.",
        )
    })?;
    let ev = match parsed {
        Body::Challenge(c) => return Ok(pgrx::JsonB(json!({ "challenge": c }))),
        Body::Event(ev) => ev,
    };
    let (auth, covers) = inbox::auth_config();
    let now_s = unsafe { pg_sys::GetCurrentTimestamp() } / 1_000_000 + 946_684_800;
    let unauthorized = |why: String| {
        err(
            PgSqlErrorCode::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
            "the webhook is not authorized",
            why,
            "Answer HTTP 401. monday signs app webhooks (monday_sync.set_signing_secret); subscribe_board's URLs carry a secret path.",
        )
    };
    let who = authorize(&auth, &path, authorization, now_s).map_err(|e| unauthorized(e.reason))?;
    if let Authorized::SecretPath { board_id } = who {
        if !inbox::covered(&covers, board_id, &ev) {
            return Err(unauthorized(format!(
                "the secret path belongs to another board than {}",
                ev.board_id.unwrap_or(0)
            )));
        }
    }
    let received = (unsafe { pg_sys::GetCurrentTimestamp() } / 1000) + 946_684_800_000;
    let stored = inbox::store(&[&ev], "sql", &[received]);
    if worker::alive() {
        worker::wake_on_commit(false);
    } else {
        // No webhook worker (monday_sync is not preloaded): applied here, in the caller's
        // transaction; the confirming fetches wait for a worker or the next refresh.
        let done = apply::apply_pending(100, true, &[]);
        if !done.failed.is_empty() {
            failed_events(&done.failed);
        }
    }
    Ok(pgrx::JsonB(match stored.first() {
        Some(inbox::Stored::New(id)) => json!({ "stored": true, "event_id": id }),
        Some(inbox::Stored::Duplicate(id)) => json!({ "stored": false, "duplicate_of": id }),
        None => json!({ "stored": false }),
    }))
}

fn random_secret() -> String {
    let mut b = [0u8; 32];
    if !unsafe { pg_sys::pg_strong_random(b.as_mut_ptr() as *mut std::ffi::c_void, b.len()) } {
        pgrx::error!("monday_sync: could not generate a random secret");
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn base_url(url: Option<&str>) -> R<String> {
    let base = url
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| {
            settings::for_database(
                &settings::WEBHOOK_PUBLIC_URL,
                &crate::pg::worker::current_database(),
            )
        })
        .ok_or_else(|| {
            err(
                PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                "no webhook URL",
                "subscribe_board was given no url and monday_sync.webhook_public_url is not set",
                "ALTER SYSTEM SET monday_sync.webhook_public_url = 'https://db.example.com/monday'; SELECT pg_reload_conf(); — the URL that reaches the listener's root.",
            )
        })?;
    if !(base.starts_with("https://") || base.starts_with("http://")) {
        return Err(err(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!(
                "\"{}\" is not an http(s) URL",
                crate::codec::truncate_bytes(&base, 100)
            ),
            "the webhook URL is where monday posts events",
            "monday requires https:// in production; http:// works only for local tests.",
        ));
    }
    Ok(base.trim_end_matches('/').to_string())
}

/// `monday_sync.subscribe_board(board_id, url)`: creates on monday the webhooks that cover every
/// item and subitem event of a tracked board, each posting to `<url>/webhook/<secret>`. Idempotent:
/// the board's webhooks on monday are read first and only what is missing is created.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
pub(crate) fn subscribe_board(
    board_id: i64,
    url: default!(Option<&str>, "NULL"),
) -> R<pgrx::JsonB> {
    let tb = tracked(board_id)
        .ok_or_else(|| not_tracked(board_id, "subscribe_board subscribes a tracked board"))?;
    let parent: Option<i64> = one(
        "SELECT parent_board_id FROM monday_sync.boards WHERE board_id = $1",
        &[board_id.into()],
    );
    if let Some(p) = parent {
        return Err(err(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("monday board {board_id} is a subitems board"),
            "monday sends subitem events to the parent board's webhooks",
            format!("SELECT monday_sync.subscribe_board({p});"),
        ));
    }
    let base = base_url(url)?;
    // One secret per board, kept across calls (so existing subscriptions stay valid).
    exec(
        "INSERT INTO monday_sync._webhook_secrets (board_id, secret) VALUES ($1, $2)
         ON CONFLICT (board_id) DO NOTHING",
        &[board_id.into(), random_secret().into()],
    );
    let secret: String = one(
        "SELECT secret FROM monday_sync._webhook_secrets WHERE board_id = $1",
        &[board_id.into()],
    )
    .unwrap_or_default();
    let full = format!("{base}/webhook/{secret}");
    if full.len() > MAX_URL {
        return Err(err(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "the webhook URL is too long",
            format!(
                "{} characters with the secret path; monday accepts {MAX_URL}",
                full.len()
            ),
            "Use a shorter monday_sync.webhook_public_url.",
        ));
    }
    let shown = format!("{base}/webhook/…");
    let mut hooks = PgHooks { worker: false };
    let mut client = new_client(&mut hooks)?;
    let what = format!("monday board {board_id}");
    let d = client
        .query(
            "Webhooks",
            documents::WEBHOOKS,
            json!({ "board": board_id.to_string() }),
        )
        .map_err(|e| api_err(e, &what))?;
    let on_monday: Vec<(i64, String)> = d
        .get("webhooks")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|w| {
                    Some((
                        w.get("id").and_then(crate::sync::id_of)?,
                        w.get("event")?.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let ours: Vec<(i64, String)> = Spi::connect(|c| {
        c.select(
            "SELECT webhook_id, event FROM monday_sync.webhooks WHERE board_id = $1",
            None,
            &[board_id.into()],
        )?
        .map(|r| {
            Ok((
                r.get::<i64>(1)?.unwrap_or(0),
                r.get::<String>(2)?.unwrap_or_default(),
            ))
        })
        .collect::<Result<Vec<_>, pgrx::spi::Error>>()
    })
    .unwrap_or_default();
    // Recorded but gone from monday (deleted there): forgotten, and created again below.
    let gone: Vec<i64> = ours
        .iter()
        .filter(|(id, _)| !on_monday.iter().any(|(m, _)| m == id))
        .map(|(id, _)| *id)
        .collect();
    exec(
        "DELETE FROM monday_sync.webhooks WHERE webhook_id = ANY ($1)",
        &[gone.into()],
    );
    let mut created = Vec::new();
    let mut existing = 0;
    for ev in &events_for(board_id) {
        let have = ours
            .iter()
            .any(|(id, e)| e == ev && on_monday.iter().any(|(m, _)| m == id));
        if have {
            existing += 1;
            continue;
        }
        let d = client
            .query(
                "CreateWebhook",
                documents::CREATE_WEBHOOK,
                json!({ "board": board_id.to_string(), "url": full, "event": ev }),
            )
            .map_err(|e| api_err(e, &what))?;
        let w = d.get("create_webhook").cloned().unwrap_or(Value::Null);
        let id = w.get("id").and_then(crate::sync::id_of).ok_or_else(|| {
            err(
                PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
                "monday created no webhook",
                format!("create_webhook for {ev} answered {}", crate::codec::truncate_bytes(&w.to_string(), 200)),
                "Check that the listener answers monday's challenge at the URL (monday_sync.webhook_listener).",
            )
        })?;
        let config: Option<pgrx::JsonB> = w
            .get("config")
            .and_then(Value::as_str)
            .and_then(|s| serde_json::from_str(s).ok())
            .map(pgrx::JsonB);
        exec(
            "INSERT INTO monday_sync.webhooks (webhook_id, board_id, event, config, url)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (webhook_id) DO NOTHING",
            &[
                id.into(),
                board_id.into(),
                (*ev).into(),
                config.into(),
                shown.as_str().into(),
            ],
        );
        created.push(json!({ "webhook_id": id, "event": ev }));
    }
    worker::wake_on_commit(true);
    let _ = tb;
    Ok(pgrx::JsonB(json!({
        "board_id": board_id,
        "url": shown,
        "created": created,
        "existing": existing,
        "api_calls": client.http_calls(),
    })))
}

/// `monday_sync.unsubscribe_board(board_id)`: deletes the board's webhooks on monday and forgets
/// its secret path. Returns how many were deleted.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn unsubscribe_board(board_id: i64) -> R<i64> {
    if tracked(board_id).is_none() {
        return Err(not_tracked(
            board_id,
            "unsubscribe_board unsubscribes a tracked board",
        ));
    }
    unsubscribe_core(board_id)
}

/// Deletes the board's recorded webhooks on monday and forgets them (and its secret path).
pub(crate) fn unsubscribe_core(board_id: i64) -> R<i64> {
    unsubscribe_events(board_id, None)
}

/// Deletes the board's recorded webhooks of `events` (all of them when None) on monday and
/// forgets them; with all of them gone, the secret path goes too.
pub(crate) fn unsubscribe_events(board_id: i64, events: Option<&[&str]>) -> R<i64> {
    let filter: Option<Vec<String>> = events.map(|e| e.iter().map(|s| s.to_string()).collect());
    let ids: Vec<i64> = Spi::connect(|c| {
        c.select(
            "SELECT webhook_id FROM monday_sync.webhooks
              WHERE board_id = $1 AND ($2::text[] IS NULL OR event = ANY ($2))
              ORDER BY webhook_id",
            None,
            &[board_id.into(), filter.clone().into()],
        )?
        .map(|r| r.get::<i64>(1).map(|v| v.unwrap_or(0)))
        .collect::<Result<Vec<_>, _>>()
    })
    .unwrap_or_default();
    let mut hooks = PgHooks { worker: false };
    let mut client = new_client(&mut hooks)?;
    let what = format!("monday board {board_id}");
    let mut deleted = 0i64;
    for id in &ids {
        match client.query(
            "DeleteWebhook",
            documents::DELETE_WEBHOOK,
            json!({ "id": id.to_string() }),
        ) {
            Ok(_) => deleted += 1,
            // Already gone on monday: nothing to delete.
            Err(e) if e.to_string().contains("not found") || e.to_string().contains("NotFound") => {
            }
            Err(e) => return Err(api_err(e, &what)),
        }
    }
    exec(
        "DELETE FROM monday_sync.webhooks WHERE webhook_id = ANY ($1)",
        &[ids.into()],
    );
    if filter.is_none() {
        exec(
            "DELETE FROM monday_sync._webhook_secrets WHERE board_id = $1",
            &[board_id.into()],
        );
    }
    worker::wake_on_commit(true);
    Ok(deleted)
}

/// The `confirm` job: the board's items that webhooks touched and whose settle window has passed,
/// fetched with `items(ids:)` (100 a call) and written exactly as a pull would. Items that became
/// due meanwhile get the next job.
pub(crate) fn confirm_core<S: crate::pg::pull::Steps>(
    client: &mut crate::api::Client,
    tb: &crate::pg::track::Tracked,
    progress: &Option<crate::pg::progress::Progress>,
    steps: &mut S,
) -> R<(crate::pg::runs::Stats, String)> {
    let _source = crate::pg::security::sync_source("webhook");
    let (sub, ids, cols, since) = steps.step(|| {
        tb.target()?;
        let since: pgrx::datum::TimestampWithTimeZone =
            one("SELECT pg_catalog.clock_timestamp()", &[]).expect("clock_timestamp");
        let sub = tb.subitems_board_id.and_then(tracked);
        let cols = (
            crate::pg::mapping::mapping(tb.board_id),
            sub.as_ref()
                .map(|s| crate::pg::mapping::mapping(s.board_id))
                .unwrap_or_default(),
        );
        Ok((sub, apply::due_confirms(tb.board_id, 10_000), cols, since))
    })?;
    let mut main = crate::pg::runs::Stats::default();
    let mut sub_stats = sub.as_ref().map(|_| crate::pg::runs::Stats::default());
    let board = tb.board_id;
    crate::pg::refresh::fetch_and_write(
        client,
        tb,
        sub.as_ref(),
        cols,
        &ids,
        (&mut main, &mut sub_stats),
        progress,
        steps,
        &mut |chunk| apply::confirmed(board, chunk, since),
    )?;
    steps.step(|| {
        // Items queued while this job ran: the next job, when the first of them is due.
        let next: Option<i64> = one(
            "SELECT (extract(epoch FROM min(due) - pg_catalog.clock_timestamp()) * 1000)::bigint
               FROM monday_sync._webhook_confirm WHERE board_id = $1",
            &[board.into()],
        );
        if let Some(ms) = next {
            apply::queue_job(board, "confirm", ms.max(0));
        }
        Ok(())
    })?;
    let total = main.plus(sub_stats.as_ref().unwrap_or(&Default::default()));
    let text = format!(
        "confirmed {} item(s) changed by webhooks: {} rows written, {} marked deleted",
        ids.len(),
        total.rows_written,
        total.marked_deleted
    );
    Ok((total, text))
}

/// Events that failed for good: a WARNING, and the alert URL is told.
pub fn failed_events(failed: &[(i64, String)]) {
    let first = &failed[0];
    warning!(
        "monday_sync webhooks: {} event(s) could not be applied; event {}: {}",
        failed.len(),
        first.0,
        first.1
    );
    crate::pg::worker::post_alert(json!({
        "text": format!(
            "monday_sync: {} webhook event(s) could not be applied (first: event {}: {})",
            failed.len(), first.0, first.1
        ),
        "event_ids": failed.iter().map(|f| f.0).collect::<Vec<_>>(),
        "error": first.1,
        "database": crate::pg::worker::current_database(),
    }));
}

/// The shared-memory state behind `monday_sync.webhook_listener`.
#[pg_extern(volatile, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::type_complexity)]
fn _webhook_listener() -> TableIterator<
    'static,
    (
        name!(pid, Option<i32>),
        name!(state, String),
        name!(address, Option<String>),
        name!(counters, pgrx::JsonB),
        name!(events_applied, i64),
        name!(last_error, Option<String>),
    ),
> {
    let h = worker::mine().unwrap_or_default();
    let names = [
        "requests",
        "accepted",
        "challenges",
        "unauthorized",
        "malformed",
        "too_large",
        "slow",
        "busy",
        "not_found",
        "refused_connections",
        "tls_failures",
    ];
    let mut counters = serde_json::Map::new();
    for (i, n) in names.iter().enumerate() {
        counters.insert((*n).into(), json!(h.counters[i]));
    }
    let alive = h.pid > 0 && unsafe { libc::kill(h.pid, 0) } == 0;
    let state = if !worker::READY.load(std::sync::atomic::Ordering::Acquire) {
        "not preloaded"
    } else if !alive {
        "stopped"
    } else {
        match h.state {
            1 => "waiting for the extension",
            2 => "applying (no listener: monday_sync.webhook_listen is empty)",
            3 => "listening",
            _ => "starting",
        }
    };
    let addr = worker::text(&h.addr);
    let e = worker::text(&h.error);
    TableIterator::once((
        alive.then_some(h.pid),
        state.to_string(),
        (!addr.is_empty()).then_some(addr),
        pgrx::JsonB(Value::Object(counters)),
        h.applied,
        (!e.is_empty()).then_some(e),
    ))
}

extension_sql!(
    r#"
CREATE VIEW monday_sync.webhook_listener AS
SELECT * FROM monday_sync._webhook_listener();
COMMENT ON VIEW monday_sync.webhook_listener IS
  'The webhook worker: its pid, whether it listens and where, its request counters since it started (accepted, refused as unauthorized, malformed, too large, slow, busy, …), events applied, and the last error starting the listener.';

CREATE VIEW monday_sync.webhook_status AS
SELECT b.board_id,
       b.board_name,
       (SELECT count(*) FROM monday_sync.webhooks w WHERE w.board_id = b.board_id) AS subscriptions,
       (SELECT pg_catalog.array_agg(w.event ORDER BY w.event) FROM monday_sync.webhooks w WHERE w.board_id = b.board_id) AS events,
       e.last_event_at,
       e.events_last_hour,
       e.failed_last_hour,
       e.lag_p50,
       e.lag_p99,
       (SELECT count(*) FROM monday_sync._webhook_confirm c WHERE c.board_id = b.board_id) AS awaiting_fetch
  FROM monday_sync.boards b
  LEFT JOIN LATERAL (
       SELECT max(ev.received_at) AS last_event_at,
              count(*) FILTER (WHERE ev.received_at > now() - interval '1 hour') AS events_last_hour,
              count(*) FILTER (WHERE ev.received_at > now() - interval '1 hour' AND ev.status = 'failed') AS failed_last_hour,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM ev.processed_at - ev.trigger_time))
                 FILTER (WHERE ev.status = 'applied' AND ev.received_at > now() - interval '1 hour') * interval '1 second' AS lag_p50,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM ev.processed_at - ev.trigger_time))
                 FILTER (WHERE ev.status = 'applied' AND ev.received_at > now() - interval '1 hour') * interval '1 second' AS lag_p99
         FROM monday_sync.webhook_events ev
        WHERE ev.board_id = b.board_id OR ev.board_id = b.subitems_board_id) e ON true
 WHERE b.parent_board_id IS NULL;
COMMENT ON VIEW monday_sync.webhook_status IS
  'Per tracked board: its webhook subscriptions, the last event received, events and failures in the last hour, the lag from monday''s triggerTime to applied (p50, p99), and items waiting for their confirming fetch.';
"#,
    name = "webhook_views",
    requires = ["schema", _webhook_listener]
);
