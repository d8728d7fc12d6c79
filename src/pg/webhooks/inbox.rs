//! The inbox: accepted events stored once each, and the secrets that decide who may post.
//!
//! `store` writes a batch in one statement (the listener's group commit: its caller commits, then
//! answers every request of the batch). An event is stored once by content (`content_key`): a
//! retry, a copy through a second subscription or a replay by a front door only adds to
//! `deliveries`.
#![allow(clippy::result_large_err)]

use crate::webhook::auth::{path_secret_digest, AuthConfig, PathSecret};
use crate::webhook::Event;
use pgrx::spi::Spi;
use std::collections::HashMap;

/// What `store` did with one event of the batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    New(i64),
    Duplicate(i64),
}

fn ts_of_ms(ms: Option<i64>) -> Option<pgrx::datum::TimestampWithTimeZone> {
    // Dates monday could not have sent (before 2000, after 2100) are not trusted as versions.
    let ms = ms.filter(|m| (946_684_800_000..4_102_444_800_000).contains(m))?;
    let us = (ms - 946_684_800_000) * 1000;
    pgrx::datum::TimestampWithTimeZone::try_from(us).ok()
}

/// Stores events (already parsed and authorized) with one INSERT; returns, per event, its id and
/// whether it was new. Events repeated within the batch are stored once.
pub fn store(events: &[&Event], via: &str, received_ms: &[i64]) -> Vec<Stored> {
    if events.is_empty() {
        return Vec::new();
    }
    // Within the batch: the first of equal events is inserted, the others count as deliveries.
    let mut first: HashMap<&str, usize> = HashMap::new();
    let mut extra: HashMap<&str, i32> = HashMap::new();
    let mut rows: Vec<usize> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        match first.get(e.content_key.as_str()) {
            Some(_) => *extra.entry(e.content_key.as_str()).or_insert(0) += 1,
            None => {
                first.insert(e.content_key.as_str(), i);
                rows.push(i);
            }
        }
    }
    let col = |f: &dyn Fn(&Event) -> Option<i64>| -> Vec<Option<i64>> {
        rows.iter().map(|&i| f(events[i])).collect()
    };
    let board = col(&|e| e.board_id);
    let item = col(&|e| e.item_id);
    let parent = col(&|e| e.parent_item_id);
    let typ: Vec<String> = rows.iter().map(|&i| events[i].event_type.clone()).collect();
    let column: Vec<Option<String>> = rows.iter().map(|&i| events[i].column_id.clone()).collect();
    let uuid: Vec<Option<String>> = rows
        .iter()
        .map(|&i| events[i].trigger_uuid.clone())
        .collect();
    let retry: Vec<bool> = rows.iter().map(|&i| events[i].is_retry).collect();
    let trig: Vec<Option<pgrx::datum::TimestampWithTimeZone>> = rows
        .iter()
        .map(|&i| ts_of_ms(events[i].trigger_ms))
        .collect();
    let changed: Vec<Option<pgrx::datum::TimestampWithTimeZone>> = rows
        .iter()
        .map(|&i| ts_of_ms(events[i].changed_ms))
        .collect();
    let key: Vec<String> = rows
        .iter()
        .map(|&i| events[i].content_key.clone())
        .collect();
    let payload: Vec<pgrx::JsonB> = rows
        .iter()
        .map(|&i| pgrx::JsonB(serde_json::json!({ "event": events[i].json })))
        .collect();
    let recv: Vec<Option<pgrx::datum::TimestampWithTimeZone>> = rows
        .iter()
        .map(|&i| ts_of_ms(received_ms.get(i).copied()))
        .collect();
    let dels: Vec<i32> = rows
        .iter()
        .map(|&i| {
            1 + extra
                .get(events[i].content_key.as_str())
                .copied()
                .unwrap_or(0)
        })
        .collect();
    // xmax = 0 tells an inserted row from an updated (duplicate) one.
    let out: Vec<(String, i64, bool)> = Spi::connect_mut(|c| {
        let r = c.update(
            "INSERT INTO monday_sync.webhook_events AS w
                    (board_id, item_id, parent_item_id, event_type, column_id, trigger_uuid, is_retry,
                     trigger_time, changed_at, content_key, payload, received_at, via, deliveries)
             SELECT u.b, u.i, u.p, u.t, u.c, u.u, u.r, u.tt, u.ca, u.k, u.pl,
                    coalesce(u.rv, pg_catalog.clock_timestamp()), $14, u.d
               FROM ROWS FROM (pg_catalog.unnest($1::bigint[]), pg_catalog.unnest($2::bigint[]),
                               pg_catalog.unnest($3::bigint[]), pg_catalog.unnest($4::text[]),
                               pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]),
                               pg_catalog.unnest($7::boolean[]), pg_catalog.unnest($8::timestamptz[]),
                               pg_catalog.unnest($9::timestamptz[]), pg_catalog.unnest($10::text[]),
                               pg_catalog.unnest($11::jsonb[]), pg_catalog.unnest($12::timestamptz[]),
                               pg_catalog.unnest($13::int[]))
                    AS u(b, i, p, t, c, u, r, tt, ca, k, pl, rv, d)
             ON CONFLICT (content_key) DO UPDATE
                SET deliveries = w.deliveries + excluded.deliveries,
                    is_retry = w.is_retry OR excluded.is_retry
             RETURNING w.content_key, w.event_id, (w.xmax = 0)",
            None,
            &[
                board.into(),
                item.into(),
                parent.into(),
                typ.into(),
                column.into(),
                uuid.into(),
                retry.into(),
                trig.into(),
                changed.into(),
                key.into(),
                payload.into(),
                recv.into(),
                dels.into(),
                via.into(),
            ],
        )?;
        let mut v = Vec::new();
        for row in r {
            let k: String = row.get(1)?.unwrap_or_default();
            let id: i64 = row.get(2)?.unwrap_or(0);
            let new: bool = row.get(3)?.unwrap_or(false);
            v.push((k, id, new));
        }
        Ok::<_, pgrx::spi::Error>(v)
    })
    .unwrap_or_else(|e| pgrx::error!("monday_sync: storing webhook events failed: {e}"));
    let by_key: HashMap<&str, (i64, bool)> = out
        .iter()
        .map(|(k, id, new)| (k.as_str(), (*id, *new)))
        .collect();
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let (id, new) = by_key
                .get(e.content_key.as_str())
                .copied()
                .unwrap_or((0, false));
            if new && first.get(e.content_key.as_str()) == Some(&i) {
                Stored::New(id)
            } else {
                Stored::Duplicate(id)
            }
        })
        .collect()
}

/// Boards and the subitems boards their secret paths also cover.
pub type Covers = HashMap<i64, Vec<i64>>;

/// The listener's trust: the signing secret, each subscribed board's path secret (as a digest),
/// and which boards each secret covers. Read from tables no other role can read.
pub fn auth_config() -> (AuthConfig, Covers) {
    let signing: Option<String> =
        Spi::get_one("SELECT secret FROM monday_sync._signing_secret").unwrap_or(None);
    let mut secrets = Vec::new();
    let mut covers: Covers = HashMap::new();
    Spi::connect(|c| {
        let rows = c.select(
            "SELECT s.board_id, s.secret, b.subitems_board_id
               FROM monday_sync._webhook_secrets s JOIN monday_sync.boards b USING (board_id)",
            None,
            &[],
        )?;
        for r in rows {
            let board: i64 = r.get(1)?.unwrap_or(0);
            let secret: String = r.get(2)?.unwrap_or_default();
            let sub: Option<i64> = r.get(3)?;
            secrets.push(PathSecret {
                digest: path_secret_digest(&secret),
                board_id: board,
            });
            let mut v = vec![board];
            v.extend(sub);
            covers.insert(board, v);
        }
        Ok::<_, pgrx::spi::Error>(())
    })
    .unwrap_or_else(|e| pgrx::error!("monday_sync: reading webhook secrets failed: {e}"));
    (
        AuthConfig {
            signing_secret: signing.map(String::into_bytes),
            public_url: super::super::settings::for_database(
                &super::super::settings::WEBHOOK_PUBLIC_URL,
                &crate::pg::worker::current_database(),
            ),
            path_secrets: secrets,
            allow_unauthenticated: super::super::settings::WEBHOOK_ALLOW_UNAUTHENTICATED.get(),
        },
        covers,
    )
}

/// Whether an event posted to a board's secret path is about that board (or its subitems board):
/// one board's secret must not let its holder write events for another. An event without
/// `boardId` (`move_subitem`) is judged by the board the apply would use (its parent item's
/// board); one that names no board at all is refused.
pub fn covered(covers: &Covers, secret_board: i64, ev: &Event) -> bool {
    let Some(v) = covers.get(&secret_board) else {
        return false;
    };
    match (ev.board_id, ev.parent_board_id) {
        (Some(b), None) => v.contains(&b),
        (Some(b), Some(p)) => v.contains(&b) && v.contains(&p),
        (None, Some(p)) => v.contains(&p),
        (None, None) => false,
    }
}
