//! The webhook receiver's pure part: what a monday POST says and whether its sender may say it.
//!
//! No pgrx and no I/O here; the listener and the SQL glue call into it, plain unit tests cover it
//! (`cargo test --lib webhook::`). Nothing in this module panics on any input.
//!
//! - [`parse_body`]: the request body → a URL-verification [`Body::Challenge`] or an [`Event`]
//!   (ids, times, the change's version for ordering, a content key for de-duplication).
//! - [`change::change_of`]: an event → the [`change::Change`] it makes to a synced row. Column
//!   values stay JSON: the column codec (`crate::codec`) already decodes the webhook dialects.
//! - [`jwt`]: monday's `Authorization` JWT (HS256, signed with the app's signing secret).
//! - [`auth`]: the one decision, shared by the HTTP listener and SQL, of who may post to a path.
//!
//! The shapes follow `shared/monday-api/FACTS.md` §5: the body is `{"event": {...}}` (or
//! `{"challenge": "..."}` when a subscription is created); keys vary between event types and
//! over the years (`isRetry` only since 2025, `parentItemId` a string in create/update events and
//! a number in archive/delete events, no `boardId` in `move_subitem`).

pub mod auth;
pub mod change;
pub mod jwt;

#[cfg(test)]
mod tests;

use crate::codec::datetime::epoch_micros;
use crate::codec::truncate_bytes;
use crate::sync::{id_of, scrub_value};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

pub use auth::{authorize, path_secret_digest, route, AuthConfig, AuthError, Authorized};
pub use auth::{PathSecret, Route};
pub use change::{change_of, is_subitem_event, Change};
pub use jwt::{sign_hs256, verify_hs256, Claims, JwtError};

/// A webhook request body.
// One value per request, moved once: boxing the event would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// `{"challenge": "<string>"}`: monday verifies a new subscription's URL; the listener answers
    /// `{"challenge": "<the same string>"}` (FACTS §5.1).
    Challenge(String),
    /// `{"event": {...}}`: a change on a board.
    Event(Event),
}

/// Why a body is not a webhook body. The listener answers HTTP 400, SQL raises 22P02. The message
/// says what is wrong and quotes at most [`crate::codec::DETAIL_BYTES`] bytes of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyError {
    pub message: String,
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BodyError {}

fn body_error(message: impl Into<String>) -> BodyError {
    BodyError {
        message: message.into(),
    }
}

/// One webhook event (`body.event`), with the fields the sync engine needs pulled out.
///
/// Ids are `None` when absent, null, or not a positive integer (given as a JSON number or a
/// string of digits); [`Event::user_id`] alone may be negative (`-6` = a form).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The `event` object as received, with every U+0000 replaced by U+FFFD (PostgreSQL's text
    /// and jsonb cannot store it). Everything below is read from this scrubbed copy.
    pub json: Value,
    /// `type`: `update_column_value`, `create_pulse`, … (see [`change::change_of`]).
    pub event_type: String,
    /// `boardId`: the board holding [`Event::item_id`] — for a subitem event, the subitems board.
    /// `None` for `move_subitem`, which carries no `boardId`: its `destBoardId` is the *parent*
    /// item's board (see [`Event::parent_board_id`]), not the subitem's.
    pub board_id: Option<i64>,
    /// The item (or subitem) the event is about: `pulseId`, else `itemId`; for `move_subitem`
    /// the `subitem` field (a number in recorded payloads; an object's `id`/`pulseId` and a
    /// `pulseId` beside it are accepted too).
    pub item_id: Option<i64>,
    /// A subitem's parent item: `parentItemId` (a string in create/update events, a number in
    /// archive/delete events); for `move_subitem`, the new parent `destPulseId`.
    pub parent_item_id: Option<i64>,
    /// A subitem's parent board: `parentItemBoardId` (string, create/update events), else
    /// `parentBoardId` (number, archive/delete events), else `destBoardId` (`move_subitem`).
    pub parent_board_id: Option<i64>,
    /// `triggerUuid`. Not known to stay the same across retries (FACTS §5.4): de-duplicate on
    /// [`Event::content_key`].
    pub trigger_uuid: Option<String>,
    /// `originalTriggerUuid`: null in every recorded payload, absent from some event types.
    pub original_trigger_uuid: Option<String>,
    /// `isRetry`; false when absent (payloads before 2025 have no such key) or not a boolean.
    pub is_retry: bool,
    /// `triggerTime` as given (ISO 8601, e.g. `2025-02-05T17:52:13.231Z`).
    pub trigger_time: Option<String>,
    /// `triggerTime` in milliseconds since the Unix epoch.
    pub trigger_ms: Option<i64>,
    /// When the change itself happened, in milliseconds since the Unix epoch: the version that
    /// orders events (an older event must never overwrite newer state). The first of: `changedAt`
    /// (float epoch seconds, column changes), `createdAt` (float epoch seconds, `create_column`),
    /// `value.changed_at` (ISO 8601 or monday's `2025-02-04 19:20:54 +0000`), [`Event::trigger_ms`].
    pub changed_ms: Option<i64>,
    /// `subscriptionId`: the webhook subscription that delivered the event.
    pub subscription_id: Option<i64>,
    /// `userId`: who made the change; `-6` for items created by a form (FACTS §5.4).
    pub user_id: Option<i64>,
    /// `columnId` (column changes, `create_column`).
    pub column_id: Option<String>,
    /// Lowercase hex SHA-256 of the event's canonical JSON (object keys sorted, no whitespace)
    /// without the keys that differ between deliveries of the same change: [`VOLATILE_KEYS`],
    /// and `triggerTime` too when the event carries its own change time (`changedAt` or
    /// `createdAt`), because a retry is stamped with the time it is sent (a recorded retry's
    /// `triggerTime` is 61 s after its values' `changed_at`). A retry with a new `triggerUuid` and
    /// the same change delivered through two subscriptions share the key; two changes differ in
    /// their change time, `triggerTime` or content.
    pub content_key: String,
}

/// Top-level event keys that differ between deliveries of one change; left out of
/// [`Event::content_key`].
pub const VOLATILE_KEYS: [&str; 5] = [
    "triggerUuid",
    "originalTriggerUuid",
    "isRetry",
    "subscriptionId",
    "retryCount",
];

/// Parses a webhook request body (FACTS §5.1, §5.3).
///
/// `{"challenge": "<string>"}` → [`Body::Challenge`]; `{"event": {"type": "<string>", …}}` →
/// [`Body::Event`]. Anything else is a [`BodyError`]: not UTF-8, not JSON, not an object, both or
/// neither of `challenge` and `event`, a challenge that is not a string, an `event` that is not an
/// object, or an `event.type` that is missing or not a string. Other members of the body are
/// ignored. Never panics; JSON nested deeper than 128 levels is an error (serde_json's limit).
pub fn parse_body(body: &[u8]) -> Result<Body, BodyError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        body_error(format!(
            "webhook body is not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    let mut root: Value = serde_json::from_str(text).map_err(|e| {
        body_error(format!(
            "webhook body is not JSON: {} (body starts: {:?})",
            e,
            truncate_bytes(text.trim_start(), 40)
        ))
    })?;
    let Value::Object(root) = &mut root else {
        return Err(body_error(format!(
            "webhook body is not a JSON object but {}",
            kind_of(&root)
        )));
    };
    match (root.remove("challenge"), root.remove("event")) {
        (Some(_), Some(_)) => Err(body_error(
            "webhook body has both \"challenge\" and \"event\"",
        )),
        (Some(Value::String(c)), None) => Ok(Body::Challenge(c)),
        (Some(other), None) => Err(body_error(format!(
            "webhook \"challenge\" is not a string but {}",
            kind_of(&other)
        ))),
        (None, Some(mut event)) => {
            if !event.is_object() {
                return Err(body_error(format!(
                    "webhook \"event\" is not an object but {}",
                    kind_of(&event)
                )));
            }
            scrub_value(&mut event);
            Event::from_json(event).map(Body::Event)
        }
        (None, None) => Err(body_error(
            "webhook body has neither \"event\" nor \"challenge\"",
        )),
    }
}

impl Event {
    /// An event from a (scrubbed) `event` object; the caller has checked that it is an object.
    fn from_json(json: Value) -> Result<Event, BodyError> {
        let Some(m) = json.as_object() else {
            return Err(body_error("webhook \"event\" is not an object"));
        };
        let event_type = match m.get("type") {
            Some(Value::String(t)) => t.clone(),
            None | Some(Value::Null) => {
                return Err(body_error("webhook event has no \"type\""));
            }
            Some(other) => {
                return Err(body_error(format!(
                    "webhook event \"type\" is not a string but {}",
                    kind_of(other)
                )))
            }
        };
        let move_subitem = event_type == "move_subitem";

        let item_id = if move_subitem {
            m.get("subitem")
                .and_then(|s| match s {
                    Value::Object(o) => ["id", "pulseId", "itemId"]
                        .iter()
                        .find_map(|k| o.get(*k).and_then(positive_id)),
                    other => positive_id(other),
                })
                .or_else(|| id_field(m, "pulseId"))
        } else {
            id_field(m, "pulseId").or_else(|| id_field(m, "itemId"))
        };
        let parent_item_id = if move_subitem {
            id_field(m, "destPulseId")
        } else {
            id_field(m, "parentItemId")
        };
        let parent_board_id = if move_subitem {
            id_field(m, "destBoardId")
        } else {
            id_field(m, "parentItemBoardId").or_else(|| id_field(m, "parentBoardId"))
        };

        let trigger_time = str_field(m, "triggerTime");
        let trigger_ms = trigger_time.as_deref().and_then(iso_ms);
        let own_change_ms = ["changedAt", "createdAt"]
            .iter()
            .find_map(|k| m.get(*k).and_then(epoch_seconds_ms));
        let changed_ms = own_change_ms
            .or_else(|| {
                m.get("value")
                    .and_then(|v| v.get("changed_at"))
                    .and_then(Value::as_str)
                    .and_then(iso_ms)
            })
            .or(trigger_ms);
        let content_key = content_key(m, own_change_ms.is_some());

        Ok(Event {
            board_id: id_field(m, "boardId"),
            item_id,
            parent_item_id,
            parent_board_id,
            trigger_uuid: str_field(m, "triggerUuid"),
            original_trigger_uuid: str_field(m, "originalTriggerUuid"),
            is_retry: m.get("isRetry").and_then(Value::as_bool).unwrap_or(false),
            trigger_time,
            trigger_ms,
            changed_ms,
            subscription_id: id_field(m, "subscriptionId"),
            user_id: m.get("userId").and_then(id_of),
            column_id: str_field(m, "columnId"),
            content_key,
            event_type,
            json,
        })
    }

    /// The `event` object (empty when [`Event::json`] was replaced by something else).
    pub fn fields(&self) -> &Map<String, Value> {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        self.json
            .as_object()
            .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
    }

    /// A top-level field that is a JSON string.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.fields().get(key)?.as_str()
    }

    /// A top-level field holding a positive id (JSON number or string of digits).
    pub fn id(&self, key: &str) -> Option<i64> {
        id_field(self.fields(), key)
    }
}

/// A positive id given as a JSON number or a string of digits; `None` for anything else
/// (floats, zero, negatives, numbers beyond i64, other strings).
pub(crate) fn positive_id(v: &Value) -> Option<i64> {
    id_of(v).filter(|&n| n > 0)
}

fn id_field(m: &Map<String, Value>, key: &str) -> Option<i64> {
    m.get(key).and_then(positive_id)
}

fn str_field(m: &Map<String, Value>, key: &str) -> Option<String> {
    m.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The JSON kind of a value, for messages that must not echo the value.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The latest instant accepted as a change time: 9999-12-31T23:59:59.999Z, in ms.
const MAX_MS: i64 = 253_402_300_799_999;

/// An ISO 8601 timestamp, or monday's `YYYY-MM-DD HH:MM:SS +0000`, in epoch milliseconds (rounded
/// down). Before 1970 is allowed by the parser but not by monday; a negative result is kept.
fn iso_ms(s: &str) -> Option<i64> {
    epoch_micros(s).map(|us| us.div_euclid(1000))
}

/// Float epoch seconds (`changedAt: 1738696854.8188913`) in epoch milliseconds, rounded to the
/// nearest; a string holding such a number is accepted too. `None` when not finite, negative or
/// after year 9999.
fn epoch_seconds_ms(v: &Value) -> Option<i64> {
    let secs = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    let ms = (secs * 1000.0).round();
    if ms > MAX_MS as f64 {
        return None;
    }
    Some(ms as i64)
}

/// See [`Event::content_key`].
fn content_key(m: &Map<String, Value>, has_own_change_time: bool) -> String {
    let mut canon = String::with_capacity(256);
    canon.push('{');
    let mut keys: Vec<&String> = m
        .keys()
        .filter(|k| !VOLATILE_KEYS.contains(&k.as_str()))
        .filter(|k| !(has_own_change_time && k.as_str() == "triggerTime"))
        .collect();
    keys.sort();
    for (i, k) in keys.into_iter().enumerate() {
        if i > 0 {
            canon.push(',');
        }
        write_canonical(&Value::String(k.clone()), &mut canon);
        canon.push(':');
        write_canonical(&m[k], &mut canon);
    }
    canon.push('}');
    let digest = Sha256::digest(canon.as_bytes());
    let mut hex = String::with_capacity(64);
    for b in digest {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// Canonical JSON: object keys sorted by their UTF-8 bytes at every level, no whitespace, strings
/// and numbers as serde_json writes them. Recursion is bounded by the parser's depth limit (128).
fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(&Value::String(k.clone()), out);
                out.push(':');
                write_canonical(&o[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        // Scalars: serde_json's own text (strings escaped, numbers in their shortest form).
        scalar => out.push_str(&scalar.to_string()),
    }
}
