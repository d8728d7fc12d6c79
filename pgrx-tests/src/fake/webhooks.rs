//! Webhooks the way monday sends them (FACTS.md §5): which subscriptions a change of the world
//! matches, the body each one gets (§5.3, with the per-type value dialects of §5.4), and their
//! delivery over real HTTP from a small pool of threads, with retries, jitter, duplicates, lost
//! attempts and an HS256 `Authorization` JWT as knobs ([`WebhookKnobs`]).
//!
//! The flow: a world method (`set_cell`, `rename`, …) calls [`events`], which builds one
//! [`Outgoing`] per matching subscription into `World::outbox`; when the fake's lock is released
//! (`Fake::with`, the end of a request) the outbox goes to the [`Dispatcher`], whose threads send
//! it without ever holding that lock. Every attempt is kept in the delivery log
//! (`Fake::deliveries`).
//!
//! Only `http://` URLs on loopback (`127.0.0.1`, `localhost`, `[::1]`) are called: the fake speaks
//! no TLS and never resolves a name.

use super::world::{civil_from_days, Column, Item, State, Webhook, World, ACCOUNT_ID, USER_ID};
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Delivery threads: enough that deliveries really arrive concurrently (and, with jitter, out of
/// order).
const POOL: usize = 8;
/// A subitem's `create_pulse` followed its parent's subtasks `update_column_value` by ~0.2 s in
/// the one recorded case (FACTS.md §5.4).
const SUBITEM_CREATE_AFTER: Duration = Duration::from_millis(200);
/// What monday's deliveries were sent with (recorded headers, FACTS.md §5.4).
const USER_AGENT: &str = "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)";
/// An answer body larger than this is cut (the fake reads answers only for the challenge).
const MAX_ANSWER: usize = 1 << 20;

/// How deliveries behave; `Fake::with(|s| s.knobs.webhooks.… = …)` sets them, and they take effect
/// when that call returns.
#[derive(Clone, Debug)]
pub struct WebhookKnobs {
    /// Before a delivery's first attempt (monday: well under a second).
    pub delay: Duration,
    /// A random extra delay in `[0, jitter]` for every attempt: deliveries overtake each other.
    pub jitter: Duration,
    /// Probability that a delivery is sent twice (same `triggerUuid`, both `isRetry: false`).
    pub duplicate: f64,
    /// Probability that an attempt is lost: half of the lost ones are never sent, half are sent
    /// and their answer ignored; either way the delivery is retried like a failed one.
    pub drop: f64,
    /// Between attempts of a failed delivery (monday: once a minute).
    pub retry_interval: Duration,
    /// Retries stop when the next one would start this long after the first attempt
    /// (monday: 30 minutes; nothing is documented after that).
    pub retry_for: Duration,
    /// For connecting, sending and reading the answer (deliveries and the challenge).
    pub timeout: Duration,
    /// When set, deliveries and the challenge carry `Authorization: <JWT>` (no `Bearer`),
    /// HS256-signed with it, as app webhooks do (FACTS.md §5.2). None: no header, as for
    /// webhooks made with a personal token.
    pub secret: Option<String>,
    /// Hold every attempt (queued and retries) until set back to false.
    pub paused: bool,
    /// Retries get a new `triggerUuid` (default: they keep the first attempt's; monday's
    /// behaviour is not documented, FACTS.md §5.4).
    pub new_uuid_on_retry: bool,
    /// Seed of the PRNG behind jitter, duplicates, drops, `triggerUuid`s and challenges
    /// (changing it restarts the sequence).
    pub seed: u64,
}

impl Default for WebhookKnobs {
    fn default() -> Self {
        WebhookKnobs {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            duplicate: 0.0,
            drop: 0.0,
            retry_interval: Duration::from_secs(60),
            retry_for: Duration::from_secs(30 * 60),
            timeout: Duration::from_secs(5),
            secret: None,
            paused: false,
            new_uuid_on_retry: false,
            seed: 0x5EED_0F4D_0D4E,
        }
    }
}

/// One event for one subscription: the body's `event` object without `isRetry` and
/// `triggerUuid`, which every attempt sets.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub subscription: i64,
    pub url: String,
    /// The item the event is about (`pulseId`/`itemId`; the subitem of a `move_subitem`).
    pub item_id: Option<i64>,
    pub event: Map<String, Value>,
    /// Sent this much after the other events of the same change.
    pub after: Duration,
}

/// A change of the world, as the webhooks see it. The world has already changed; the fields are
/// what it was before.
#[derive(Debug)]
pub enum Change {
    /// An item or subitem was created.
    Created {
        item: i64,
    },
    /// A cell changed (`previous`: the cell before, None if it was never set).
    Column {
        item: i64,
        column: String,
        previous: Option<Map<String, Value>>,
    },
    Name {
        item: i64,
        previous: String,
    },
    Group {
        item: i64,
        from: String,
    },
    /// Archived, deleted, or restored (to `Active`).
    State {
        item: i64,
        from: State,
    },
    #[allow(dead_code)] // made by World::move_subitem, which tests use
    SubitemMoved {
        subitem: i64,
        from_parent: i64,
    },
    ColumnCreated {
        board: i64,
        column: String,
    },
    /// An update (comment) or a reply was created, edited or deleted: `kind` is the event type
    /// (`create_update`, `edit_update`, `delete_update`); `reply` the reply's id, `update` the
    /// update's (a reply's event names both).
    Update {
        kind: &'static str,
        item: i64,
        update: i64,
        reply: Option<i64>,
        body: String,
        text: String,
    },
}

/// The time of a change in the three forms the bodies use.
struct Clock {
    /// `triggerTime`, `changed_at`: `2025-02-05T17:52:13.231Z`.
    iso: String,
    /// `changedAt`, `createdAt`: float seconds.
    epoch: f64,
    /// The subtasks value's `changed_at`: `2025-02-04 19:20:54 +0000`.
    plain: String,
}

impl Clock {
    fn now() -> Clock {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let secs = d.as_secs() as i64;
        let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
        let (y, m, dd) = civil_from_days(days);
        let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
        Clock {
            iso: format!(
                "{y:04}-{m:02}-{dd:02}T{hh:02}:{mm:02}:{ss:02}.{:03}Z",
                d.subsec_millis()
            ),
            epoch: d.as_secs_f64(),
            plain: format!("{y:04}-{m:02}-{dd:02} {hh:02}:{mm:02}:{ss:02} +0000"),
        }
    }
}

/// The legacy column type names webhooks still use (FACTS.md §1.1, §5.3, §5.4). Sourced:
/// `color`, `multiple-person`, `numeric`, `long-text`, `tag`, `pulse-updated`, `subtasks`,
/// `date`, `text`, `dropdown`, `timeline`, `email`, `phone`, `country`; `boolean`, `pulse-log`,
/// `lookup`, `board-relation` follow the legacy column-id prefixes; `duration` is the activity
/// log's name for time tracking. Every other type keeps its API name (unsourced).
pub fn legacy_type(typ: &str) -> &str {
    match typ {
        "status" => "color",
        "people" => "multiple-person",
        "numbers" => "numeric",
        "long_text" => "long-text",
        "tags" => "tag",
        "last_updated" => "pulse-updated",
        "checkbox" => "boolean",
        "creation_log" => "pulse-log",
        "mirror" => "lookup",
        "board_relation" => "board-relation",
        "time_tracking" => "duration",
        other => other,
    }
}

/// The keys every body starts with (FACTS.md §5.3): `originalTriggerUuid` (always null) is
/// absent from `restore_pulse`, `move_subitem` and `create_column`; `boardId` from `move_subitem`.
fn head(
    kind: &str,
    hook: &Webhook,
    now: &Clock,
    original: bool,
    board: Option<i64>,
) -> Map<String, Value> {
    let mut e = Map::new();
    e.insert("app".into(), json!("monday"));
    e.insert("type".into(), json!(kind));
    e.insert("triggerTime".into(), json!(now.iso));
    e.insert("subscriptionId".into(), json!(hook.id));
    e.insert("isRetry".into(), json!(false));
    e.insert("userId".into(), json!(USER_ID));
    if original {
        e.insert("originalTriggerUuid".into(), Value::Null);
    }
    if let Some(b) = board {
        e.insert("boardId".into(), json!(b));
    }
    e
}

fn put(e: &mut Map<String, Value>, pairs: Value) {
    if let Value::Object(m) = pairs {
        e.extend(m);
    }
}

/// Subscriptions on `board` to one of `events` that `accept` takes.
fn subscribed<'w>(
    w: &'w World,
    board: i64,
    events: &[&str],
    accept: impl Fn(&Webhook) -> bool,
) -> Vec<&'w Webhook> {
    w.webhooks
        .values()
        .filter(|h| h.board_id == board && events.contains(&h.event.as_str()) && accept(h))
        .collect()
}

fn parent_of<'w>(w: &'w World, it: &Item) -> Option<&'w Item> {
    it.parent_item_id.and_then(|p| w.items.get(&p))
}

/// `groupId, groupName, groupColor, isTopGroup` of an item (top group = the board's first).
fn group_keys(w: &World, it: &Item) -> Value {
    let board = w.boards.get(&it.board_id);
    let group = board.and_then(|b| b.groups.iter().find(|g| g.id == it.group_id));
    let top = board
        .and_then(|b| b.groups.first())
        .is_some_and(|g| g.id == it.group_id);
    json!({
        "groupId": it.group_id,
        "groupName": group.map(|g| g.title.clone()),
        "groupColor": group.map(|g| g.color.clone()),
        "isTopGroup": top,
    })
}

fn is_top_group(w: &World, it: &Item) -> bool {
    group_keys(w, it)["isTopGroup"].as_bool().unwrap_or(false)
}

/// The events a change sends, one per matching subscription (FACTS.md §5.3 shapes; subitem
/// events go to the parent board's subscriptions for the subitem event types).
pub fn events(w: &World, change: Change) -> Vec<Outgoing> {
    let now = Clock::now();
    let mut out = Vec::new();
    let mut send = |hook: &Webhook, item: Option<i64>, event: Map<String, Value>, after| {
        out.push(Outgoing {
            subscription: hook.id,
            url: hook.url.clone(),
            item_id: item,
            event,
            after,
        })
    };
    match change {
        Change::Created { item } => {
            let Some(it) = w.items.get(&item) else {
                return out;
            };
            let parent = parent_of(w, it);
            let (board, event) = match parent {
                Some(p) => (p.board_id, "create_subitem"),
                None => (it.board_id, "create_item"),
            };
            for hook in subscribed(w, board, &[event], |_| true) {
                let mut e = head("create_pulse", hook, &now, true, Some(it.board_id));
                put(&mut e, json!({"pulseId": it.id, "pulseName": it.name}));
                put(&mut e, group_keys(w, it));
                // `{}` for items made in the UI or the API; forms fill it (FACTS.md §5.4).
                e.insert("columnValues".into(), json!({}));
                let mut after = Duration::ZERO;
                if let Some(p) = parent {
                    put(
                        &mut e,
                        json!({"parentItemId": p.id.to_string(), "parentItemBoardId": p.board_id.to_string(), "itemId": it.id}),
                    );
                    after = SUBITEM_CREATE_AFTER;
                }
                send(hook, Some(it.id), e, after);
            }
        }
        Change::Column {
            item,
            column,
            previous,
        } => {
            let Some(it) = w.items.get(&item) else {
                return out;
            };
            let Some(col) = w
                .boards
                .get(&it.board_id)
                .and_then(|b| b.columns.iter().find(|c| c.id == column))
            else {
                return out;
            };
            let cell = it.cells.get(&column);
            let parent = parent_of(w, it);
            let hooks = match parent {
                Some(p) => subscribed(w, p.board_id, &["change_subitem_column_value"], |_| true),
                None => subscribed(
                    w,
                    it.board_id,
                    &[
                        "change_column_value",
                        "change_status_column_value",
                        "change_specific_column_value",
                    ],
                    |h| column_matches(h, col, cell),
                ),
            };
            for hook in hooks {
                let mut e = head("update_column_value", hook, &now, true, Some(it.board_id));
                put(
                    &mut e,
                    json!({
                        "groupId": it.group_id,
                        "pulseId": it.id,
                        "pulseName": it.name,
                        "columnId": col.id,
                        "columnType": legacy_type(&col.typ),
                        "columnTitle": col.title,
                        "value": webhook_value(col, cell, &now, false),
                        "previousValue": webhook_value(col, previous.as_ref(), &now, true),
                        "changedAt": now.epoch,
                        "isTopGroup": is_top_group(w, it),
                    }),
                );
                if let Some(p) = parent {
                    put(
                        &mut e,
                        json!({"parentItemId": p.id.to_string(), "parentItemBoardId": p.board_id.to_string()}),
                    );
                }
                send(hook, Some(it.id), e, Duration::ZERO);
            }
        }
        Change::Update {
            kind,
            item,
            update,
            reply,
            body,
            text,
        } => {
            let Some(it) = w.items.get(&item) else {
                return out;
            };
            // A subitem's updates go to the parent board's subscriptions (its own event for
            // creation), with the subitems board as boardId, like the other subitem events.
            let parent = parent_of(w, it);
            let (board, event) = match (parent, kind) {
                (Some(p), "create_update") => (p.board_id, "create_subitem_update"),
                (Some(p), k) => (p.board_id, k),
                (None, k) => (it.board_id, k),
            };
            for hook in subscribed(w, board, &[event], |_| true) {
                let mut e = head(kind, hook, &now, true, Some(it.board_id));
                put(
                    &mut e,
                    json!({
                        "pulseId": it.id, "body": body, "textBody": text,
                        "updateId": update, "replyId": reply,
                    }),
                );
                if let Some(p) = parent {
                    put(
                        &mut e,
                        json!({"parentItemId": p.id.to_string(), "parentItemBoardId": p.board_id.to_string()}),
                    );
                }
                send(hook, Some(it.id), e, Duration::ZERO);
            }
        }
        Change::Name { item, previous } => {
            let Some(it) = w.items.get(&item) else {
                return out;
            };
            let parent = parent_of(w, it);
            let hooks = match parent {
                Some(p) => subscribed(w, p.board_id, &["change_subitem_name"], |_| true),
                None => subscribed(w, it.board_id, &["change_name"], |_| true),
            };
            for hook in hooks {
                let mut e = head("update_name", hook, &now, true, Some(it.board_id));
                put(
                    &mut e,
                    json!({
                        "groupId": it.group_id,
                        "pulseId": it.id,
                        "value": {"name": it.name},
                        "previousValue": {"name": previous},
                    }),
                );
                if let Some(p) = parent {
                    put(
                        &mut e,
                        json!({"parentItemId": p.id.to_string(), "parentItemBoardId": p.board_id.to_string()}),
                    );
                }
                send(hook, Some(it.id), e, Duration::ZERO);
            }
        }
        Change::Group { item, from } => {
            let Some(it) = w.items.get(&item) else {
                return out;
            };
            if it.parent_item_id.is_some() {
                return out;
            }
            let hooks = subscribed(
                w,
                it.board_id,
                &["item_moved_to_any_group", "item_moved_to_specific_group"],
                |h| {
                    h.event == "item_moved_to_any_group"
                        || config_str(h, "groupId") == Some(it.group_id.as_str())
                },
            );
            let g = group_keys(w, it);
            for hook in hooks {
                let mut e = head("move_pulse_into_group", hook, &now, true, Some(it.board_id));
                put(
                    &mut e,
                    json!({
                        "pulseId": it.id,
                        "sourceGroupId": from,
                        "destGroupId": it.group_id,
                        "destGroup": {"id": it.group_id, "title": g["groupName"], "color": g["groupColor"], "is_top_group": g["isTopGroup"]},
                    }),
                );
                send(hook, Some(it.id), e, Duration::ZERO);
            }
        }
        Change::State { item, from } => {
            let Some(it) = w.items.get(&item) else {
                return out;
            };
            let parent = parent_of(w, it);
            let (kind, item_event, subitem_event) = match it.state {
                State::Archived => ("archive_pulse", "item_archived", Some("subitem_archived")),
                State::Deleted => ("delete_pulse", "item_deleted", Some("subitem_deleted")),
                // There is no subitem_restored event.
                State::Active => ("restore_pulse", "item_restored", None),
            };
            let hooks = match (parent, subitem_event) {
                (Some(p), Some(ev)) => subscribed(w, p.board_id, &[ev], |_| true),
                (Some(_), None) => Vec::new(),
                (None, _) => subscribed(w, it.board_id, &[item_event], |_| true),
            };
            for hook in hooks {
                let restore = it.state == State::Active;
                let mut e = head(kind, hook, &now, !restore, None);
                if restore {
                    // Recorded: {state: 1, is_undo: true} after {state: 2} (archived). 3 for a
                    // deleted item and is_undo false for a restore that is not an undo are guesses.
                    let was = if from == State::Deleted { 3 } else { 2 };
                    put(
                        &mut e,
                        json!({"value": {"state": 1, "is_undo": false}, "previousValue": {"state": was}}),
                    );
                }
                put(
                    &mut e,
                    json!({"boardId": it.board_id, "itemId": it.id, "itemName": it.name}),
                );
                if let Some(p) = parent {
                    // Numbers here, strings in create/update events (FACTS.md §5.3).
                    put(
                        &mut e,
                        json!({"parentBoardId": p.board_id, "parentItemId": p.id, "pulseId": it.id}),
                    );
                }
                send(hook, Some(it.id), e, Duration::ZERO);
            }
        }
        Change::SubitemMoved {
            subitem,
            from_parent,
        } => {
            let Some(s) = w.items.get(&subitem) else {
                return out;
            };
            let (Some(src), Some(dst)) = (
                w.items.get(&from_parent),
                s.parent_item_id.and_then(|p| w.items.get(&p)),
            ) else {
                return out;
            };
            let mut hooks = subscribed(w, src.board_id, &["move_subitem"], |_| true);
            if dst.board_id != src.board_id {
                hooks.extend(subscribed(w, dst.board_id, &["move_subitem"], |_| true));
            }
            for hook in hooks {
                let mut e = head("move_subitem", hook, &now, false, None);
                put(
                    &mut e,
                    json!({
                        "sourcePulseId": src.id,
                        "destPulseId": dst.id,
                        "sourceBoardId": src.board_id,
                        "destBoardId": dst.board_id,
                        "subitem": s.id,
                    }),
                );
                send(hook, Some(s.id), e, Duration::ZERO);
            }
        }
        Change::ColumnCreated { board, column } => {
            let Some(col) = w
                .boards
                .get(&board)
                .and_then(|b| b.columns.iter().find(|c| c.id == column))
            else {
                return out;
            };
            for hook in subscribed(w, board, &["create_column"], |_| true) {
                let mut e = head("create_column", hook, &now, false, Some(board));
                put(
                    &mut e,
                    json!({
                        "accountId": ACCOUNT_ID,
                        "entity": "board",
                        "columnId": col.id,
                        "columnTitle": col.title,
                        "columnType": legacy_type(&col.typ),
                        "createdAt": now.epoch,
                        "retryCount": 0,
                    }),
                );
                send(hook, None, e, Duration::ZERO);
            }
        }
    }
    out
}

fn config_str<'h>(h: &'h Webhook, key: &str) -> Option<&'h str> {
    h.config.as_ref()?.get(key)?.as_str()
}

/// `change_column_value` takes every column; `change_specific_column_value` its `columnId`;
/// `change_status_column_value` status columns, narrowed by `columnId` and `columnValue.index`
/// unless `{"$any$": true}`.
fn column_matches(h: &Webhook, col: &Column, cell: Option<&Map<String, Value>>) -> bool {
    match h.event.as_str() {
        "change_column_value" => true,
        "change_specific_column_value" => config_str(h, "columnId") == Some(col.id.as_str()),
        "change_status_column_value" => {
            if col.typ != "status" {
                return false;
            }
            let Some(c) = &h.config else {
                return true;
            };
            if c.get("$any$").and_then(Value::as_bool) == Some(true) {
                return true;
            }
            if c.get("columnId")
                .and_then(Value::as_str)
                .is_some_and(|id| id != col.id)
            {
                return false;
            }
            match c
                .get("columnValue")
                .and_then(|v| v.get("index"))
                .and_then(as_int)
            {
                Some(want) => {
                    decoded(cell).and_then(|v| v.get("index").and_then(as_int)) == Some(want)
                }
                None => true,
            }
        }
        _ => false,
    }
}

fn as_int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str()?.trim().parse().ok())
}

/// The API `value` of a stored cell, decoded (None when never set or null).
fn decoded(cell: Option<&Map<String, Value>>) -> Option<Value> {
    match cell?.get("value")? {
        Value::Null => None,
        Value::String(s) => serde_json::from_str(s).ok(),
        other => Some(other.clone()),
    }
}

/// A cleared cell's stub (`""`, `{"changed_at": …}`, `{"files": []}`, …): nothing but
/// `changed_at`, nulls, empty strings and empty lists.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.iter().all(|(k, x)| k == "changed_at" || is_empty(x)),
        _ => false,
    }
}

fn subitem_ids(cell: Option<&Map<String, Value>>) -> Vec<i64> {
    cell.and_then(|c| c.get("subitems_ids"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(as_int).collect())
        .unwrap_or_default()
}

/// A cell in the webhook dialect of its type (FACTS.md §5.4), from the stored API value. The
/// value of an unset or cleared cell is null; a previous value is null when the cell was never
/// set and `{}` when it was empty. Types with no recorded webhook shape send the API value.
fn webhook_value(
    col: &Column,
    cell: Option<&Map<String, Value>>,
    now: &Clock,
    previous: bool,
) -> Value {
    if col.typ == "subtasks" {
        // The API value is null (≥2025-04); the subitems are in the typed field.
        let ids = subitem_ids(cell);
        if ids.is_empty() {
            return json!({});
        }
        let linked: Vec<Value> = ids.iter().map(|i| json!({"linkedPulseId": i})).collect();
        return json!({"linkedPulseIds": linked, "changed_at": now.plain});
    }
    let Some(v) = decoded(cell) else {
        return Value::Null;
    };
    if is_empty(&v) {
        return if previous { json!({}) } else { Value::Null };
    }
    let changed_at = v.get("changed_at").cloned().unwrap_or(json!(now.iso));
    let field = |k: &str| v.get(k).cloned().unwrap_or(Value::Null);
    let settings: Value = serde_json::from_str(&col.settings_str).unwrap_or(Value::Null);
    match col.typ.as_str() {
        "status" => status_label(&settings, &v, cell),
        "date" => {
            json!({"date": field("date"), "icon": field("icon"), "time": field("time"), "changed_at": changed_at})
        }
        "people" => json!({"personsAndTeams": field("personsAndTeams"), "changed_at": changed_at}),
        "dropdown" => {
            let labels = settings["labels"].as_array().cloned().unwrap_or_default();
            let name_of = |id: i64| {
                labels
                    .iter()
                    .find(|l| l.get("id").and_then(as_int) == Some(id))
                    .and_then(|l| l.get("name").cloned())
                    .unwrap_or(Value::Null)
            };
            let chosen: Vec<Value> = match (v.get("ids"), v.get("labels")) {
                (Some(Value::Array(ids)), _) => ids
                    .iter()
                    .filter_map(as_int)
                    .map(|id| json!({"id": id, "name": name_of(id)}))
                    .collect(),
                (_, Some(Value::Array(names))) => names
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|n| {
                        let id = labels
                            .iter()
                            .find(|l| l.get("name").and_then(Value::as_str) == Some(n))
                            .and_then(|l| l.get("id").cloned());
                        json!({"id": id, "name": n})
                    })
                    .collect(),
                _ => Vec::new(),
            };
            json!({"chosenValues": chosen})
        }
        "text" => match &v {
            Value::String(s) => json!({"value": s}),
            other => json!({"value": other.to_string()}),
        },
        "long_text" => json!({"text": field("text"), "changed_at": changed_at}),
        "numbers" => {
            let number = match &v {
                Value::String(s) => serde_json::from_str::<serde_json::Number>(s.trim())
                    .map_or(v.clone(), Value::Number),
                other => other.clone(),
            };
            // The recorded `unit` is the column's unit setting; null when it has none.
            json!({"value": number, "unit": settings.get("unit").cloned().unwrap_or(Value::Null)})
        }
        "email" => {
            json!({"email": field("email"), "text": field("text"), "changed_at": changed_at})
        }
        "phone" => json!({"phone": field("phone")}),
        "country" => {
            json!({"countryCode": field("countryCode"), "countryName": field("countryName"), "changed_at": changed_at})
        }
        "timeline" => {
            json!({"from": field("from"), "to": field("to"), "visualization_type": field("visualization_type"), "changed_at": changed_at})
        }
        "time_tracking" => {
            // The activity log's shape: the stored value plus `duration` (seconds).
            let mut m = v.as_object().cloned().unwrap_or_default();
            if let Some(d) = cell.and_then(|c| c.get("duration")) {
                m.entry("duration").or_insert(d.clone());
            }
            Value::Object(m)
        }
        _ => v,
    }
}

/// `{"label": {index, text, style: {color, border, var_name}, is_done}, "post_id": null}` from the
/// column's `labels`, `labels_colors` and `done_colors` settings.
fn status_label(settings: &Value, v: &Value, cell: Option<&Map<String, Value>>) -> Value {
    let Some(index) = v.get("index").and_then(as_int) else {
        return Value::Null;
    };
    let key = index.to_string();
    let text = settings["labels"][&key]
        .as_str()
        .map(String::from)
        .or_else(|| cell?.get("text")?.as_str().map(String::from));
    let colors = &settings["labels_colors"][&key];
    let color = colors["color"].as_str();
    let var_name = colors["var_name"]
        .as_str()
        .or_else(|| var_name_of(color?))
        .map(String::from);
    let is_done = match settings["done_colors"].as_array() {
        Some(done) => done.iter().any(|d| as_int(d) == Some(index)),
        None => index == 1,
    };
    json!({
        "label": {
            "index": index,
            "text": text,
            "style": {"color": color, "border": colors["border"], "var_name": var_name},
            "is_done": is_done,
        },
        "post_id": null,
    })
}

/// monday's palette names: `orange` and `green-shadow` are recorded; the others are unsourced.
fn var_name_of(color: &str) -> Option<&'static str> {
    Some(match color.to_ascii_lowercase().as_str() {
        "#fdab3d" => "orange",
        "#00c875" => "green-shadow",
        "#e2445c" => "red-shadow",
        "#c4c4c4" => "grey",
        "#579bfc" => "bright-blue",
        "#a25ddc" => "purple",
        _ => return None,
    })
}

// ---- delivery ----

/// One attempt, as the delivery log keeps it.
#[derive(Clone, Debug)]
#[allow(dead_code)] // read by tests and when debugging
pub struct Delivery {
    /// The delivery (one event for one subscription); a duplicate has its own id.
    pub delivery: u64,
    /// The delivery this one duplicates (the `duplicate` knob).
    pub duplicate_of: Option<u64>,
    pub subscription: i64,
    pub url: String,
    /// `event.type`: `update_column_value`, `create_pulse`, …
    pub event_type: String,
    pub item_id: Option<i64>,
    pub trigger_uuid: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub is_retry: bool,
    /// The answer's HTTP status (also when the `drop` knob ignored it).
    pub status: Option<u16>,
    /// Why the attempt failed: `connection refused`, `timeout`, `dropped: not sent`,
    /// `dropped: answer ignored`, `HTTP 500`, …; None when accepted.
    pub error: Option<String>,
    /// The last attempt of a delivery that was given up (`retry_for` has passed).
    pub gave_up: bool,
    pub sent_at: SystemTime,
    /// The body sent (`{"event": {…}}`).
    pub body: Value,
    /// The `Authorization` header sent, if any.
    pub authorization: Option<String>,
}

/// Counters over every delivery since the fake started.
#[derive(Clone, Copy, Debug, Default)]
#[allow(dead_code)] // read by tests
pub struct DeliveryStats {
    /// Attempts answered 2xx (and not ignored by the `drop` knob): deliveries done, duplicates
    /// counted apart.
    pub accepted: u64,
    pub given_up: u64,
    pub attempts: u64,
    /// Waiting (first attempts and retries, paused or not).
    pub queued: usize,
    pub in_flight: usize,
}

struct Job {
    id: u64,
    duplicate_of: Option<u64>,
    out: Outgoing,
    trigger_uuid: String,
    attempts: u32,
    first_attempt: Option<Instant>,
    due: Instant,
}

/// xorshift64*: deterministic from the `seed` knob, no crate needed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng((seed ^ 0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// 32 lowercase hex digits, like monday's `triggerUuid`s.
    fn hex32(&mut self) -> String {
        format!("{:016x}{:016x}", self.next_u64(), self.next_u64())
    }
}

struct DState {
    knobs: WebhookKnobs,
    rng: Rng,
    seed: u64,
    queue: Vec<Job>,
    in_flight: usize,
    next_id: u64,
    log: Vec<Delivery>,
    stats: DeliveryStats,
    started: bool,
    shutdown: bool,
}

/// The delivery queue and its threads (started with the first delivery). Its lock is never held
/// during HTTP, and never taken before the fake's own lock (the fake's lock may be held when
/// this one is taken, not the other way round).
pub struct Dispatcher {
    state: Mutex<DState>,
    cv: Condvar,
}

/// An attempt the `drop` knob loses.
#[derive(Clone, Copy, PartialEq)]
enum Lost {
    NotSent,
    AnswerIgnored,
}

impl Lost {
    fn as_str(self) -> &'static str {
        match self {
            Lost::NotSent => "dropped: not sent",
            Lost::AnswerIgnored => "dropped: answer ignored",
        }
    }
}

/// What an attempt sends, decided under the lock; sent without it.
struct Attempt {
    n: u32,
    url: String,
    headers: Vec<(String, String)>,
    body: Value,
    timeout: Duration,
    lost: Option<Lost>,
    sent_at: SystemTime,
}

impl Dispatcher {
    pub fn new() -> Arc<Dispatcher> {
        let knobs = WebhookKnobs::default();
        Arc::new(Dispatcher {
            state: Mutex::new(DState {
                rng: Rng::new(knobs.seed),
                seed: knobs.seed,
                knobs,
                queue: Vec::new(),
                in_flight: 0,
                next_id: 1,
                log: Vec::new(),
                stats: DeliveryStats::default(),
                started: false,
                shutdown: false,
            }),
            cv: Condvar::new(),
        })
    }

    /// Takes the knobs as they are now and queues `out` (each delivery gets its `triggerUuid`,
    /// its first attempt's time and maybe a duplicate).
    pub fn submit(self: &Arc<Self>, out: Vec<Outgoing>, knobs: &WebhookKnobs) {
        let mut st = self.state.lock().unwrap();
        if st.shutdown {
            return;
        }
        if st.seed != knobs.seed {
            st.rng = Rng::new(knobs.seed);
            st.seed = knobs.seed;
        }
        st.knobs = knobs.clone();
        let now = Instant::now();
        for o in out {
            let uuid = st.rng.hex32();
            let copies = if st.rng.unit() < knobs.duplicate {
                2
            } else {
                1
            };
            let mut first = None;
            for _ in 0..copies {
                let id = st.next_id;
                st.next_id += 1;
                let jitter = knobs.jitter.mul_f64(st.rng.unit());
                st.queue.push(Job {
                    id,
                    duplicate_of: first,
                    out: o.clone(),
                    trigger_uuid: uuid.clone(),
                    attempts: 0,
                    first_attempt: None,
                    due: now + knobs.delay + o.after + jitter,
                });
                first.get_or_insert(id);
            }
        }
        if !st.started && !st.queue.is_empty() {
            st.started = true;
            for k in 0..POOL {
                let me = self.clone();
                std::thread::Builder::new()
                    .name(format!("fake-webhooks-{k}"))
                    .spawn(move || me.run())
                    .expect("a delivery thread");
            }
        }
        drop(st);
        self.cv.notify_all();
    }

    fn run(self: Arc<Self>) {
        let mut st = self.state.lock().unwrap();
        loop {
            if st.shutdown {
                return;
            }
            let now = Instant::now();
            let next = if st.knobs.paused {
                None
            } else {
                st.queue
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, j)| (j.due, j.id))
                    .map(|(i, j)| (i, j.due))
            };
            match next {
                Some((i, due)) if due <= now => {
                    let mut job = st.queue.remove(i);
                    st.in_flight += 1;
                    let attempt = st.prepare(&mut job);
                    drop(st);
                    let answer = match attempt.lost {
                        Some(Lost::NotSent) => Err(Lost::NotSent.as_str().to_string()),
                        _ => post(
                            &attempt.url,
                            &attempt.headers,
                            attempt.body.to_string().as_bytes(),
                            attempt.timeout,
                        ),
                    };
                    st = self.state.lock().unwrap();
                    st.finish(job, attempt, answer);
                    st.in_flight -= 1;
                    self.cv.notify_all();
                }
                Some((_, due)) => st = self.cv.wait_timeout(st, due - now).unwrap().0,
                None => st = self.cv.wait(st).unwrap(),
            }
        }
    }

    /// The challenge (FACTS.md §5.1): POSTs `{"challenge": "<random>"}` to `url` and wants a 200
    /// whose JSON body echoes it. Called without the fake's lock.
    pub fn handshake(&self, url: &str, knobs: &WebhookKnobs) -> Result<(), String> {
        let challenge = self.state.lock().unwrap().rng.hex32();
        let body = json!({ "challenge": challenge }).to_string();
        let mut headers = base_headers();
        if let Some(secret) = &knobs.secret {
            headers.push(("Authorization".into(), jwt(secret, url, unix_now())));
        }
        let answer = post(url, &headers, body.as_bytes(), knobs.timeout)?;
        if answer.status != 200 {
            return Err(format!("HTTP {}", answer.status));
        }
        let echoed: Value = serde_json::from_slice(&answer.body)
            .map_err(|_| "the answer is not JSON".to_string())?;
        if echoed.get("challenge").and_then(Value::as_str) == Some(challenge.as_str()) {
            Ok(())
        } else {
            Err("the answer does not echo the challenge".into())
        }
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }

    pub fn stats(&self) -> DeliveryStats {
        let st = self.state.lock().unwrap();
        DeliveryStats {
            queued: st.queue.len(),
            in_flight: st.in_flight,
            ..st.stats
        }
    }

    /// Waits until nothing is queued or in flight (every delivery accepted or given up); false
    /// on timeout (also while paused with deliveries held).
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.state.lock().unwrap();
        loop {
            if st.queue.is_empty() && st.in_flight == 0 {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self.cv.wait_timeout(st, deadline - now).unwrap().0;
        }
    }

    /// Stops the threads; queued deliveries are dropped.
    pub fn shutdown(&self) {
        let mut st = self.state.lock().unwrap();
        st.shutdown = true;
        st.queue.clear();
        drop(st);
        self.cv.notify_all();
    }
}

impl DState {
    fn prepare(&mut self, job: &mut Job) -> Attempt {
        job.attempts += 1;
        let n = job.attempts;
        job.first_attempt.get_or_insert_with(Instant::now);
        if n > 1 && self.knobs.new_uuid_on_retry {
            job.trigger_uuid = self.rng.hex32();
        }
        let mut event = job.out.event.clone();
        event.insert("isRetry".into(), json!(n > 1));
        event.insert("triggerUuid".into(), json!(job.trigger_uuid));
        let mut headers = base_headers();
        if let Some(secret) = &self.knobs.secret {
            headers.push((
                "Authorization".into(),
                jwt(secret, &job.out.url, unix_now()),
            ));
        }
        let lost = (self.rng.unit() < self.knobs.drop).then(|| {
            if self.rng.unit() < 0.5 {
                Lost::NotSent
            } else {
                Lost::AnswerIgnored
            }
        });
        self.stats.attempts += 1;
        Attempt {
            n,
            url: job.out.url.clone(),
            headers,
            body: json!({ "event": event }),
            timeout: self.knobs.timeout,
            lost,
            sent_at: SystemTime::now(),
        }
    }

    fn finish(&mut self, mut job: Job, attempt: Attempt, answer: Result<Answer, String>) {
        let status = answer.as_ref().ok().map(|a| a.status);
        let error = match (&answer, attempt.lost) {
            (_, Some(lost)) => Some(lost.as_str().to_string()),
            (Ok(a), None) if (200..300).contains(&a.status) => None,
            (Ok(a), None) => Some(format!("HTTP {}", a.status)),
            (Err(e), None) => Some(e.clone()),
        };
        let accepted = error.is_none();
        let authorization = attempt
            .headers
            .iter()
            .find(|(k, _)| k == "Authorization")
            .map(|(_, v)| v.clone());
        self.log.push(Delivery {
            delivery: job.id,
            duplicate_of: job.duplicate_of,
            subscription: job.out.subscription,
            url: attempt.url,
            event_type: job.out.event["type"].as_str().unwrap_or("").to_string(),
            item_id: job.out.item_id,
            trigger_uuid: job.trigger_uuid.clone(),
            attempt: attempt.n,
            is_retry: attempt.n > 1,
            status,
            error,
            gave_up: false,
            sent_at: attempt.sent_at,
            body: attempt.body,
            authorization,
        });
        if accepted {
            self.stats.accepted += 1;
            return;
        }
        let jitter = self.knobs.jitter.mul_f64(self.rng.unit());
        let next = Instant::now() + self.knobs.retry_interval + jitter;
        let first = job.first_attempt.unwrap_or_else(Instant::now);
        if next.duration_since(first) <= self.knobs.retry_for {
            job.due = next;
            self.queue.push(job);
        } else {
            self.stats.given_up += 1;
            if let Some(last) = self.log.last_mut() {
                last.gave_up = true;
            }
        }
    }
}

fn base_headers() -> Vec<(String, String)> {
    vec![
        ("User-Agent".into(), USER_AGENT.into()),
        ("Accept".into(), "application/json, text/plain, */*".into()),
        ("Content-Type".into(), "application/json".into()),
    ]
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// An HS256 JWT like monday's app webhooks carry (FACTS.md §5.2): claims `accountId`, `userId`,
/// `aud` (the webhook URL), `iat`, `exp` = `iat` + 300. No `shortLivedToken`: monday adds it only
/// for https endpoints.
pub fn jwt(secret: &str, aud: &str, iat: u64) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = json!({
        "accountId": ACCOUNT_ID,
        "userId": USER_ID,
        "aud": aud,
        "iat": iat,
        "exp": iat + 300,
    });
    let input = format!("{header}.{}", b64.encode(claims.to_string()));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(input.as_bytes());
    format!("{input}.{}", b64.encode(mac.finalize().into_bytes()))
}

// ---- a minimal HTTP/1.1 client (loopback only) ----

pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// `http://host:port/path` → the address to connect to, the `Host` header and the request
/// target. Only loopback hosts, by literal address or `localhost` (never resolved).
pub fn parse_url(url: &str) -> Result<(SocketAddr, String, String), String> {
    let rest = url
        .get(..7)
        .filter(|s| s.eq_ignore_ascii_case("http://"))
        .map(|_| &url[7..])
        .ok_or("only http:// URLs are called (the fake speaks no TLS)")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let mut path = tail.split('#').next().unwrap_or("").to_string();
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    if authority.contains('@') {
        return Err("URLs with credentials are not called".into());
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6.split_once(']').ok_or("malformed IPv6 address")?;
            (h, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    let port: u16 = match port {
        Some(p) => p.parse().map_err(|_| format!("bad port {p:?}"))?,
        None => 80,
    };
    let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse()
            .map_err(|_| format!("only loopback addresses are called, not {host:?}"))?
    };
    if !ip.is_loopback() {
        return Err(format!("only loopback addresses are called, not {ip}"));
    }
    Ok((SocketAddr::new(ip, port), authority.to_string(), path))
}

fn io_error(e: std::io::Error) -> String {
    match e.kind() {
        ErrorKind::ConnectionRefused => "connection refused".into(),
        ErrorKind::TimedOut | ErrorKind::WouldBlock => "timeout".into(),
        _ => e.to_string(),
    }
}

/// POSTs `body` and reads the answer, all within `timeout`; `Connection: close`.
pub fn post(
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Duration,
) -> Result<Answer, String> {
    let (addr, host, path) = parse_url(url)?;
    let deadline = Instant::now() + timeout;
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(io_error)?;
    let _ = stream.set_nodelay(true);
    stream.set_write_timeout(Some(timeout)).map_err(io_error)?;
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    stream.write_all(&bytes).map_err(io_error)?;
    read_answer(&mut stream, deadline)
}

/// Reads more into `buf` before `deadline`; Ok(0) at EOF.
fn read_more(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Instant,
) -> Result<usize, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err("timeout".into());
    }
    stream.set_read_timeout(Some(left)).map_err(io_error)?;
    let mut chunk = [0u8; 16384];
    let n = stream.read(&mut chunk).map_err(io_error)?;
    buf.extend_from_slice(&chunk[..n]);
    if buf.len() > MAX_ANSWER {
        return Err("answer too large".into());
    }
    Ok(n)
}

fn read_answer(stream: &mut TcpStream, deadline: Instant) -> Result<Answer, String> {
    let mut buf = Vec::new();
    let (status, head_len, length, chunked) = loop {
        let parsed = {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(&buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let header = |name: &str| {
                        resp.headers
                            .iter()
                            .find(|h| h.name.eq_ignore_ascii_case(name))
                            .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
                    };
                    Some((
                        resp.code.unwrap_or(0),
                        n,
                        header("content-length").and_then(|v| v.parse::<usize>().ok()),
                        header("transfer-encoding").is_some_and(|v| v.contains("chunked")),
                    ))
                }
                Ok(httparse::Status::Partial) => None,
                Err(e) => return Err(format!("malformed answer: {e}")),
            }
        };
        match parsed {
            // An interim 1xx answer: the real one follows.
            Some((code, n, _, _)) if (100..200).contains(&code) => {
                buf.drain(..n);
            }
            Some(p) => break p,
            None => {
                if read_more(stream, &mut buf, deadline)? == 0 {
                    return Err("connection closed before an answer".into());
                }
            }
        }
    };
    let mut body = buf.split_off(head_len);
    if chunked {
        loop {
            if let Some(b) = dechunk(&body) {
                return Ok(Answer { status, body: b });
            }
            if read_more(stream, &mut body, deadline)? == 0 {
                return Err("connection closed inside a chunked body".into());
            }
        }
    }
    match length {
        Some(len) => {
            while body.len() < len {
                if read_more(stream, &mut body, deadline)? == 0 {
                    return Err("connection closed inside the body".into());
                }
            }
            body.truncate(len);
        }
        None => while read_more(stream, &mut body, deadline)? > 0 {},
    }
    Ok(Answer { status, body })
}

/// A complete chunked body, decoded; None while incomplete.
fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&b[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        b = &b[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if b.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fake::world::{FIRST_ITEM, FIRST_SUBITEM, SAMPLE_BOARD, SAMPLE_SUBITEMS_BOARD};
    use crate::fake::{read_request, Fake};
    use std::collections::VecDeque;
    use std::io::BufReader;
    use std::net::TcpListener;

    /// How the receiver answers the challenge.
    #[derive(Clone, PartialEq)]
    pub(crate) enum Challenge {
        Echo,
        Empty200,
        WrongEcho,
        Status500,
        /// Queries the fake at this URL first, then echoes (deadlocks if the fake holds its lock).
        CallsBack(String),
    }

    #[derive(Default)]
    struct Got {
        /// Deliveries (not challenges) in arrival order: path, body, Authorization header.
        bodies: Vec<(String, Value, Option<String>)>,
        challenges: Vec<(Value, Option<String>)>,
        /// Statuses for the next deliveries (200 once empty).
        fail_next: VecDeque<u16>,
    }

    /// A webhook endpoint on 127.0.0.1, answering on std threads.
    pub(crate) struct Receiver {
        port: u16,
        got: Arc<Mutex<Got>>,
    }

    impl Receiver {
        pub(crate) fn start(challenge: Challenge) -> Receiver {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let got = Arc::new(Mutex::new(Got::default()));
            let g = got.clone();
            std::thread::spawn(move || {
                for conn in listener.incoming().flatten() {
                    let g = g.clone();
                    let challenge = challenge.clone();
                    std::thread::spawn(move || {
                        let mut w = conn.try_clone().unwrap();
                        let mut r = BufReader::new(conn);
                        let Some(req) = read_request(&mut r, &mut Vec::new()) else {
                            return;
                        };
                        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                        let auth = req.header("Authorization").map(String::from);
                        let (status, answer) = if let Some(c) = body.get("challenge") {
                            g.lock().unwrap().challenges.push((body.clone(), auth));
                            match challenge {
                                Challenge::Echo => (200, json!({ "challenge": c }).to_string()),
                                Challenge::Empty200 => (200, String::new()),
                                Challenge::WrongEcho => {
                                    (200, json!({"challenge": "nope"}).to_string())
                                }
                                Challenge::Status500 => {
                                    (500, json!({ "challenge": c }).to_string())
                                }
                                Challenge::CallsBack(fake) => {
                                    let q =
                                        json!({"query": "{ boards(ids: [1]) { id } }"}).to_string();
                                    let h = vec![(
                                        "Authorization".to_string(),
                                        "fake-token".to_string(),
                                    )];
                                    let a = post(&fake, &h, q.as_bytes(), Duration::from_secs(3));
                                    assert_eq!(a.map(|a| a.status).ok(), Some(200));
                                    (200, json!({ "challenge": c }).to_string())
                                }
                            }
                        } else {
                            let mut g = g.lock().unwrap();
                            g.bodies.push((req.path.clone(), body, auth));
                            (g.fail_next.pop_front().unwrap_or(200), "{}".to_string())
                        };
                        let _ = write!(
                            w,
                            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                            answer.len()
                        );
                    });
                }
            });
            Receiver { port, got }
        }

        pub(crate) fn url(&self, path: &str) -> String {
            format!("http://127.0.0.1:{}/{path}", self.port)
        }

        pub(crate) fn bodies(&self) -> Vec<Value> {
            self.got
                .lock()
                .unwrap()
                .bodies
                .iter()
                .map(|b| b.1.clone())
                .collect()
        }
    }

    fn gql(fake: &Fake, query: &str, variables: Value) -> Value {
        let body = json!({ "query": query, "variables": variables }).to_string();
        let headers = vec![
            ("Authorization".to_string(), "fake-token".to_string()),
            ("Content-Type".to_string(), "application/json".to_string()),
        ];
        let a = post(
            &fake.url(),
            &headers,
            body.as_bytes(),
            Duration::from_secs(20),
        )
        .unwrap();
        serde_json::from_slice(&a.body).unwrap()
    }

    const CREATE: &str = "mutation ($b: ID!, $u: String!, $e: WebhookEventType!, $c: JSON) {
        create_webhook(board_id: $b, url: $u, event: $e, config: $c) { id board_id event config } }";

    fn create(fake: &Fake, board: i64, url: &str, event: &str, config: Option<&str>) -> Value {
        gql(
            fake,
            CREATE,
            json!({"b": board.to_string(), "u": url, "e": event, "c": config}),
        )
    }

    fn error(answer: &Value) -> (String, String) {
        let e = &answer["errors"][0];
        (
            e["extensions"]["code"].as_str().unwrap_or("").to_string(),
            e["message"].as_str().unwrap_or("").to_string(),
        )
    }

    pub(crate) fn fast(fake: &Fake) {
        fake.with(|s| {
            s.knobs.webhooks.retry_interval = Duration::from_millis(50);
            s.knobs.webhooks.timeout = Duration::from_secs(2);
        });
    }

    pub(crate) fn idle(fake: &Fake) {
        assert!(
            fake.wait_deliveries_idle(Duration::from_secs(20)),
            "deliveries still pending: {:?}",
            fake.delivery_stats()
        );
    }

    #[test]
    fn create_webhook_needs_the_challenge_echoed() {
        let fake = Fake::start(World::sample(6, true)).unwrap();
        let rx = Receiver::start(Challenge::Echo);
        let url = rx.url("monday/webhook");

        let a = create(
            &fake,
            SAMPLE_BOARD,
            &url,
            "change_specific_column_value",
            Some(r#"{"columnId":"status"}"#),
        );
        let hook = &a["data"]["create_webhook"];
        assert!(a.get("errors").is_none(), "{a}");
        assert_eq!(hook["board_id"], json!(SAMPLE_BOARD.to_string()));
        assert_eq!(hook["event"], "change_specific_column_value");
        let config: Value = serde_json::from_str(hook["config"].as_str().unwrap()).unwrap();
        assert_eq!(config, json!({"columnId": "status"}));
        let challenges = rx.got.lock().unwrap().challenges.clone();
        assert_eq!(challenges.len(), 1);
        assert_eq!(challenges[0].0["challenge"].as_str().unwrap().len(), 32);
        assert_eq!(challenges[0].1, None, "no secret, no Authorization");

        // Answers that do not echo the challenge fail the mutation.
        for mode in [
            Challenge::Empty200,
            Challenge::WrongEcho,
            Challenge::Status500,
        ] {
            let bad = Receiver::start(mode);
            let a = create(&fake, SAMPLE_BOARD, &bad.url("x"), "create_item", None);
            assert_eq!(a["data"]["create_webhook"], Value::Null);
            let (code, message) = error(&a);
            assert_eq!(code, "InvalidArgumentException");
            assert!(
                message.contains("did not answer the challenge"),
                "{message}"
            );
            assert_eq!(bad.got.lock().unwrap().challenges.len(), 1);
        }
        // The challenge is made without the fake's lock: the receiver may call the fake back.
        let back = Receiver::start(Challenge::CallsBack(fake.url()));
        let a = create(&fake, SAMPLE_BOARD, &back.url("x"), "create_item", None);
        assert!(a.get("errors").is_none(), "{a}");
        let id: i64 = a["data"]["create_webhook"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        fake.with(|s| s.world.remove_webhook(id));
        // Nobody listening.
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let a = create(
            &fake,
            SAMPLE_BOARD,
            &format!("http://127.0.0.1:{closed}/"),
            "create_item",
            None,
        );
        assert!(error(&a).1.contains("connection refused"), "{a}");

        // Checked before any challenge (FACTS.md §5.1).
        let a = create(&fake, 999, &url, "create_item", None);
        assert_eq!(
            error(&a),
            ("InvalidArgumentException".into(), "Board not found".into())
        );
        let a = create(&fake, SAMPLE_SUBITEMS_BOARD, &url, "create_subitem", None);
        assert_eq!(
            error(&a).1,
            "Creating webhook on subitems board isn't allowed"
        );
        let long = format!("{}{}", rx.url(""), "x".repeat(250));
        let a = create(&fake, SAMPLE_BOARD, &long, "create_item", None);
        assert_eq!(error(&a).0, "InvalidArgumentException");
        let a = create(
            &fake,
            SAMPLE_BOARD,
            "https://127.0.0.1/x",
            "create_item",
            None,
        );
        assert_eq!(error(&a).0, "InvalidArgumentException");
        let a = create(
            &fake,
            SAMPLE_BOARD,
            &url,
            "change_specific_column_value",
            None,
        );
        assert!(error(&a).1.contains("columnId"), "{a}");
        assert_eq!(rx.got.lock().unwrap().challenges.len(), 1);
        // Validated against the schema like every request.
        let a = gql(
            &fake,
            r#"mutation { create_webhook(board_id: 1, url: "x", event: on_anything) { id } }"#,
            json!({}),
        );
        assert_eq!(error(&a).0, "GRAPHQL_VALIDATION_FAILED", "{a}");

        // Two in one mutation (aliases), then the list, then delete.
        let a = gql(
            &fake,
            &format!(
                r#"mutation {{ a: create_webhook(board_id: {SAMPLE_BOARD}, url: "{url}", event: create_item) {{ id event }}
                   b: create_webhook(board_id: "{SAMPLE_BOARD}", url: "{url}", event: change_status_column_value, config: {{columnId: "status", columnValue: {{index: 1}}}}) {{ id config }} }}"#
            ),
            json!({}),
        );
        assert!(a.get("errors").is_none(), "{a}");
        let config: Value =
            serde_json::from_str(a["data"]["b"]["config"].as_str().unwrap()).unwrap();
        assert_eq!(config["columnValue"]["index"], 1);
        let list = |fake: &Fake| -> Vec<String> {
            let a = gql(fake, "query ($b: ID!) { webhooks(board_id: $b, app_webhooks_only: true) { id board_id event } }", json!({"b": SAMPLE_BOARD}));
            a["data"]["webhooks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["id"].as_str().unwrap().to_string())
                .collect()
        };
        let ids = list(&fake);
        assert_eq!(
            ids,
            vec![
                hook["id"].as_str().unwrap(),
                a["data"]["a"]["id"].as_str().unwrap(),
                a["data"]["b"]["id"].as_str().unwrap()
            ]
        );
        let d = gql(
            &fake,
            "mutation ($id: ID!) { delete_webhook(id: $id) { id event } }",
            json!({"id": ids[1]}),
        );
        assert_eq!(d["data"]["delete_webhook"]["event"], "create_item");
        assert_eq!(list(&fake), vec![ids[0].clone(), ids[2].clone()]);
        let d = gql(
            &fake,
            "mutation { delete_webhook(id: 1) { id } }",
            json!({}),
        );
        assert_eq!(error(&d).0, "ResourceNotFoundException");
        let empty = gql(&fake, "{ webhooks(board_id: 12345) { id } }", json!({}));
        assert_eq!(empty["data"]["webhooks"], json!([]));
        // Mutations the fake does not implement: a plain field error.
        let a = gql(
            &fake,
            r#"mutation { clear_item_updates(item_id: 1) { id } }"#,
            json!({}),
        );
        assert!(error(&a).1.contains("not implemented"), "{a}");
        // Subscribing sends nothing by itself.
        assert!(rx.bodies().is_empty());
    }

    /// The common keys of every body (FACTS.md §5.3).
    fn common(e: &Value) {
        assert_eq!(e["app"], "monday");
        assert!(e["subscriptionId"].is_i64());
        assert_eq!(e["isRetry"], false);
        assert_eq!(e["userId"], json!(USER_ID));
        let uuid = e["triggerUuid"].as_str().unwrap();
        assert!(
            uuid.len() == 32 && uuid.bytes().all(|b| b.is_ascii_hexdigit()),
            "{uuid}"
        );
        let t = e["triggerTime"].as_str().unwrap();
        assert!(
            t.len() == 24 && t.ends_with('Z') && crate::fake::world::ticks_of_iso(t).is_some(),
            "{t}"
        );
    }

    #[test]
    fn changes_arrive_in_monday_shapes() {
        let fake = Fake::start(World::sample(6, true)).unwrap();
        fast(&fake);
        let rx = Receiver::start(Challenge::Echo);
        let sub = |event: &str, config: Option<Value>| {
            fake.with(|s| {
                s.world
                    .add_webhook(SAMPLE_BOARD, &rx.url(event), event, config)
                    .id
            })
        };
        for ev in [
            "change_column_value",
            "change_name",
            "create_item",
            "create_subitem",
            "subitem_archived",
            "item_archived",
            "item_restored",
            "item_deleted",
            "item_moved_to_any_group",
            "change_subitem_column_value",
            "change_subitem_name",
            "move_subitem",
            "create_column",
        ] {
            sub(ev, None);
        }
        sub(
            "change_specific_column_value",
            Some(json!({"columnId": "text0"})),
        );
        sub(
            "change_status_column_value",
            Some(json!({"columnId": "status", "columnValue": {"index": 2}})),
        );
        sub(
            "item_moved_to_specific_group",
            Some(json!({"groupId": "topics"})),
        );
        let (a, b) = (FIRST_ITEM, FIRST_ITEM + 1);
        let new_sub = FIRST_SUBITEM + 500;
        fake.with(|s| {
            let w = &mut s.world;
            w.set_cell(
                a,
                "status",
                Some(json!({"index": 1, "changed_at": "2026-07-01T10:00:00.000Z"})),
                Some("Done"),
            );
            w.set_cell(a, "text0", Some(json!("hello")), Some("hello"));
            w.set_cell(
                a,
                "date4",
                Some(json!({"date": "2026-07-01", "changed_at": "2026-07-01T10:00:00.000Z"})),
                Some("2026-07-01"),
            );
            w.set_cell(
                a,
                "person",
                Some(json!({"personsAndTeams": [{"id": 7, "kind": "person"}]})),
                Some("Seven"),
            );
            w.set_cell(a, "numeric_mkx1", Some(json!("42")), Some("42"));
            w.set_cell(
                a,
                "dropdown_mkx3",
                Some(json!({"ids": [2]})),
                Some("Frontend"),
            );
            w.set_cell(
                a,
                "long_text_mkx4",
                Some(json!({"text": "long"})),
                Some("long"),
            );
            w.set_cell(
                a,
                "timeline_mkx2",
                Some(json!({"from": "2026-07-01", "to": "2026-07-09"})),
                Some(""),
            );
            w.rename(b, "Renamed");
            w.set_state(FIRST_SUBITEM, State::Archived);
            w.add_subitem(b, new_sub, "New step");
            w.set_cell(
                new_sub,
                "date0",
                Some(json!({"date": "2026-08-01"})),
                Some("2026-08-01"),
            );
            w.rename(new_sub, "Step one");
            w.move_to_group(b, "new_group_mkxz");
            w.move_to_group(b, "topics");
            w.set_state(a + 2, State::Archived);
            w.set_state(a + 2, State::Active);
            w.set_state(a + 2, State::Deleted);
            w.move_subitem(FIRST_SUBITEM + 1, a + 3);
            w.add_column(SAMPLE_BOARD, "text_mkmw91z2", "Text", "text");
        });
        idle(&fake);
        let bodies = rx.bodies();
        for b in &bodies {
            common(&b["event"]);
        }
        let find = |ty: &str, pred: &dyn Fn(&Value) -> bool| -> Vec<Value> {
            bodies
                .iter()
                .map(|b| b["event"].clone())
                .filter(|e| e["type"] == ty && pred(e))
                .collect()
        };
        let column = |id: &str| {
            let got = find("update_column_value", &|e| e["columnId"] == id);
            assert_eq!(got.len(), 1, "{id}: {got:?}");
            got[0].clone()
        };

        // Status: the label dialect; first set by the template, so previousValue is the old label.
        let e = column("status");
        assert_eq!(e["columnType"], "color");
        assert_eq!(e["boardId"], json!(SAMPLE_BOARD));
        assert_eq!(e["pulseId"], json!(a));
        assert_eq!(e["originalTriggerUuid"], Value::Null);
        assert!(e["changedAt"].is_f64() && e["isTopGroup"].is_boolean());
        assert_eq!(
            e["value"],
            json!({"label": {"index": 1, "text": "Done", "style": {"color": "#00c875", "border": "#00b461", "var_name": "green-shadow"}, "is_done": true}, "post_id": null})
        );
        assert_eq!(e["previousValue"]["label"]["text"], "Working on it");
        assert_eq!(e["previousValue"]["label"]["is_done"], false);
        // Text, with the change_specific_column_value subscription too (2 deliveries).
        let got = find("update_column_value", &|e| e["columnId"] == "text0");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0]["value"], json!({"value": "hello"}));
        assert_eq!(got[0]["previousValue"], json!({"value": "note 0"}));
        let e = column("date4");
        assert_eq!(
            e["value"],
            json!({"date": "2026-07-01", "icon": null, "time": null, "changed_at": "2026-07-01T10:00:00.000Z"})
        );
        let e = column("person");
        assert_eq!(e["columnType"], "multiple-person");
        assert_eq!(
            e["value"]["personsAndTeams"],
            json!([{"id": 7, "kind": "person"}])
        );
        assert!(e["value"]["changed_at"].is_string());
        let e = column("numeric_mkx1");
        assert_eq!(e["columnType"], "numeric");
        assert_eq!(e["value"]["value"], json!(42));
        assert_eq!(e["value"]["unit"]["symbol"], "$");
        assert_eq!(
            column("dropdown_mkx3")["value"],
            json!({"chosenValues": [{"id": 2, "name": "Frontend"}]})
        );
        assert_eq!(column("long_text_mkx4")["columnType"], "long-text");
        assert_eq!(column("long_text_mkx4")["value"]["text"], "long");
        let e = column("timeline_mkx2");
        assert_eq!(e["value"]["visualization_type"], Value::Null);
        assert_eq!(e["value"]["to"], "2026-07-09");
        // The status subscription wants index 2: index 1 did not match (one delivery above).

        let e = &find("update_name", &|e| e["pulseId"] == json!(b))[0];
        assert_eq!(e["value"], json!({"name": "Renamed"}));
        assert!(e["previousValue"]["name"].is_string());
        assert!(e.get("parentItemId").is_none());

        // A subitem archived: numbers for the parent, on the subitems board.
        let got = find("archive_pulse", &|e| e["itemId"] == json!(FIRST_SUBITEM));
        assert_eq!(got.len(), 1);
        let e = &got[0];
        assert_eq!(e["boardId"], json!(SAMPLE_SUBITEMS_BOARD));
        assert_eq!(e["parentItemId"], json!(FIRST_ITEM));
        assert_eq!(e["parentBoardId"], json!(SAMPLE_BOARD));
        assert_eq!(e["pulseId"], json!(FIRST_SUBITEM));
        assert!(e["itemName"].is_string());

        // A subitem created: the parent's subtasks column first, then create_pulse with strings.
        let e = column("subitems");
        assert_eq!(e["pulseId"], json!(b));
        assert_eq!(e["columnType"], "subtasks");
        assert_eq!(
            e["value"]["linkedPulseIds"],
            json!([{"linkedPulseId": new_sub}])
        );
        let at = e["value"]["changed_at"].as_str().unwrap();
        assert!(
            at.len() == 25 && at.ends_with(" +0000") && at.as_bytes()[10] == b' ',
            "{at}"
        );
        assert_eq!(e["previousValue"], json!({}));
        let got = find("create_pulse", &|e| e["pulseId"] == json!(new_sub));
        assert_eq!(got.len(), 1);
        let e = &got[0];
        assert_eq!(e["parentItemId"], json!(b.to_string()));
        assert_eq!(e["parentItemBoardId"], json!(SAMPLE_BOARD.to_string()));
        assert_eq!(e["itemId"], json!(new_sub));
        assert_eq!(e["boardId"], json!(SAMPLE_SUBITEMS_BOARD));
        assert_eq!(e["columnValues"], json!({}));
        assert_eq!(e["groupName"], "Subitems");
        let log = fake.deliveries();
        let sent = |ty: &str, item: i64| {
            log.iter()
                .find(|d| d.event_type == ty && d.item_id == Some(item))
                .unwrap()
                .sent_at
        };
        assert!(
            sent("create_pulse", new_sub) > sent("update_column_value", b),
            "subtasks first"
        );
        // Subitem column and name changes: strings for the parent.
        let e = column("date0");
        assert_eq!(e["parentItemId"], json!(b.to_string()));
        assert_eq!(e["previousValue"], Value::Null, "never set before");
        let e = &find("update_name", &|e| e["pulseId"] == json!(new_sub))[0];
        assert_eq!(e["parentItemBoardId"], json!(SAMPLE_BOARD.to_string()));

        // Groups: any group twice, the specific one (topics) once.
        let got = find("move_pulse_into_group", &|_| true);
        assert_eq!(got.len(), 3);
        let e = got
            .iter()
            .find(|e| e["destGroupId"] == "new_group_mkxz")
            .unwrap();
        assert_eq!(
            e["destGroup"],
            json!({"id": "new_group_mkxz", "title": "Backlog", "color": "#a25ddc", "is_top_group": false})
        );

        // Archive, restore, delete of an item.
        let e = &find("archive_pulse", &|e| e["itemId"] == json!(a + 2))[0];
        assert!(e.get("parentItemId").is_none());
        let e = &find("restore_pulse", &|_| true)[0];
        assert!(e.get("originalTriggerUuid").is_none());
        assert_eq!(e["value"]["state"], 1);
        assert_eq!(e["previousValue"], json!({"state": 2}));
        assert_eq!(
            find("delete_pulse", &|e| e["itemId"] == json!(a + 2)).len(),
            1
        );

        let e = &find("move_subitem", &|_| true)[0];
        assert!(e.get("boardId").is_none() && e.get("originalTriggerUuid").is_none());
        assert_eq!(e["sourcePulseId"], json!(FIRST_ITEM));
        assert_eq!(e["destPulseId"], json!(a + 3));
        assert_eq!(e["subitem"], json!(FIRST_SUBITEM + 1));
        assert_eq!(e["sourceBoardId"], json!(SAMPLE_BOARD));

        let e = &find("create_column", &|_| true)[0];
        assert_eq!(e["columnId"], "text_mkmw91z2");
        assert_eq!(e["entity"], "board");
        assert_eq!(e["boardId"], json!(SAMPLE_BOARD));
        assert!(e["createdAt"].is_f64() && e.get("originalTriggerUuid").is_none());

        // Every delivery was accepted once, and nothing else arrived.
        let stats = fake.delivery_stats();
        assert_eq!(stats.accepted as usize, bodies.len());
        assert_eq!(stats.given_up, 0);
        // 9 cell changes of the item (text0 twice: the specific subscription), 1 rename, 1 subitem
        // archived, 2 for the new subitem, 2 subitem changes, 3 group moves (any ×2, specific
        // ×1), archive/restore/delete, move_subitem, create_column.
        assert_eq!(
            bodies.len(),
            23,
            "{:#?}",
            bodies
                .iter()
                .map(|b| (b["event"]["type"].clone(), b["event"]["columnId"].clone()))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn status_config_narrows_deliveries() {
        let fake = Fake::start(World::sample(3, false)).unwrap();
        let rx = Receiver::start(Challenge::Echo);
        fake.with(|s| {
            s.world.add_webhook(
                SAMPLE_BOARD,
                &rx.url("stuck"),
                "change_status_column_value",
                Some(json!({"columnId": "status", "columnValue": {"index": 2}})),
            );
            s.world.add_webhook(
                SAMPLE_BOARD,
                &rx.url("any"),
                "change_status_column_value",
                Some(json!({"$any$": true})),
            );
        });
        fake.with(|s| {
            s.world.set_cell(
                FIRST_ITEM,
                "status",
                Some(json!({"index": 1})),
                Some("Done"),
            );
            s.world.set_cell(
                FIRST_ITEM,
                "status",
                Some(json!({"index": "2"})),
                Some("Stuck"),
            );
            s.world
                .set_cell(FIRST_ITEM, "text0", Some(json!("not a status")), None);
        });
        idle(&fake);
        let got = rx.got.lock().unwrap();
        let mut paths: Vec<&str> = got.bodies.iter().map(|b| b.0.as_str()).collect();
        paths.sort();
        assert_eq!(paths, vec!["/any", "/any", "/stuck"]);
    }

    #[test]
    fn failed_deliveries_are_retried_then_given_up() {
        let fake = Fake::start(World::sample(3, false)).unwrap();
        fast(&fake);
        let rx = Receiver::start(Challenge::Echo);
        rx.got.lock().unwrap().fail_next.extend([500, 503]);
        fake.with(|s| {
            s.world
                .add_webhook(SAMPLE_BOARD, &rx.url("h"), "change_name", None)
        });
        fake.with(|s| s.world.rename(FIRST_ITEM, "Once"));
        idle(&fake);
        let bodies = rx.bodies();
        assert_eq!(bodies.len(), 3);
        let retry: Vec<bool> = bodies
            .iter()
            .map(|b| b["event"]["isRetry"].as_bool().unwrap())
            .collect();
        assert_eq!(retry, vec![false, true, true]);
        let uuids: Vec<&Value> = bodies.iter().map(|b| &b["event"]["triggerUuid"]).collect();
        assert!(
            uuids.iter().all(|u| *u == uuids[0]),
            "retries keep the triggerUuid by default"
        );
        assert!(bodies
            .iter()
            .all(|b| b["event"]["originalTriggerUuid"].is_null()));
        let log = fake.deliveries();
        let statuses: Vec<(u32, Option<u16>, Option<String>)> = log
            .iter()
            .map(|d| (d.attempt, d.status, d.error.clone()))
            .collect();
        assert_eq!(
            statuses,
            vec![
                (1, Some(500), Some("HTTP 500".into())),
                (2, Some(503), Some("HTTP 503".into())),
                (3, Some(200), None)
            ]
        );
        assert!(
            log[1].sent_at.duration_since(log[0].sent_at).unwrap() >= Duration::from_millis(50)
        );
        assert_eq!(fake.delivery_stats().accepted, 1);

        // The knob: retries get new uuids.
        rx.got.lock().unwrap().fail_next.extend([500]);
        fake.with(|s| {
            s.knobs.webhooks.new_uuid_on_retry = true;
            s.world.rename(FIRST_ITEM, "Twice");
        });
        idle(&fake);
        let bodies = rx.bodies();
        assert_ne!(
            bodies[3]["event"]["triggerUuid"],
            bodies[4]["event"]["triggerUuid"]
        );
        assert_eq!(bodies[4]["event"]["isRetry"], true);

        // Nobody listening: retried until retry_for, then given up.
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        fake.clear_deliveries();
        fake.with(|s| {
            s.knobs.webhooks.retry_for = Duration::from_millis(180);
            s.world.add_webhook(
                SAMPLE_BOARD,
                &format!("http://127.0.0.1:{closed}/gone"),
                "change_name",
                None,
            );
            s.world.rename(FIRST_ITEM + 1, "Nobody hears");
        });
        idle(&fake);
        let gone: Vec<Delivery> = fake
            .deliveries()
            .into_iter()
            .filter(|d| d.url.ends_with("/gone"))
            .collect();
        assert!((2..=5).contains(&gone.len()), "{gone:?}");
        assert!(gone
            .iter()
            .all(|d| d.error.as_deref() == Some("connection refused")));
        assert!(gone.last().unwrap().gave_up);
        assert_eq!(fake.delivery_stats().given_up, 1);
    }

    #[test]
    fn silent_receivers_time_out() {
        let fake = Fake::start(World::sample(3, false)).unwrap();
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/silent", silent.local_addr().unwrap());
        std::thread::spawn(move || {
            let held: Vec<TcpStream> = silent.incoming().flatten().collect();
            drop(held);
        });
        fake.with(|s| {
            s.knobs.webhooks.timeout = Duration::from_millis(200);
            s.knobs.webhooks.retry_interval = Duration::from_millis(10);
            s.knobs.webhooks.retry_for = Duration::from_millis(100);
            s.world.add_webhook(SAMPLE_BOARD, &url, "change_name", None);
            s.world.rename(FIRST_ITEM, "Unheard");
        });
        idle(&fake);
        let log = fake.deliveries();
        assert_eq!(log.len(), 1, "the retry would start after retry_for");
        assert_eq!(log[0].error.as_deref(), Some("timeout"));
        assert!(log[0].gave_up);
        // The challenge times out too.
        let a = create(&fake, SAMPLE_BOARD, &url, "create_item", None);
        assert!(error(&a).1.contains("timeout"), "{a}");
    }

    #[test]
    fn deliveries_carry_a_verifiable_jwt() {
        use base64::Engine as _;
        let fake = Fake::start(World::sample(3, false)).unwrap();
        let rx = Receiver::start(Challenge::Echo);
        let url = rx.url("signed");
        fake.with(|s| s.knobs.webhooks.secret = Some("signing-secret".into()));
        let a = create(&fake, SAMPLE_BOARD, &url, "change_name", None);
        assert!(a.get("errors").is_none(), "{a}");
        fake.with(|s| s.world.rename(FIRST_ITEM, "Signed"));
        idle(&fake);
        let got = rx.got.lock().unwrap();
        let tokens = [
            got.challenges[0].1.clone().unwrap(),
            got.bodies[0].2.clone().unwrap(),
        ];
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        for token in tokens {
            assert!(!token.starts_with("Bearer"));
            let parts: Vec<&str> = token.split('.').collect();
            assert_eq!(parts.len(), 3);
            let verify = |secret: &str| {
                let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
                mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
                mac.verify_slice(&b64.decode(parts[2]).unwrap()).is_ok()
            };
            assert!(verify("signing-secret"));
            assert!(!verify("another-secret"));
            let header: Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
            assert_eq!(header["alg"], "HS256");
            let claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
            assert_eq!(claims["aud"], json!(url));
            assert_eq!(claims["accountId"], json!(ACCOUNT_ID));
            assert_eq!(claims["userId"], json!(USER_ID));
            let iat = claims["iat"].as_u64().unwrap();
            assert_eq!(claims["exp"].as_u64().unwrap(), iat + 300);
            assert!(iat.abs_diff(unix_now()) < 60);
        }
    }

    #[test]
    fn jitter_reorders_and_duplicates_are_sent_twice() {
        let fake = Fake::start(World::sample(40, false)).unwrap();
        let rx = Receiver::start(Challenge::Echo);
        fake.with(|s| {
            s.world
                .add_webhook(SAMPLE_BOARD, &rx.url("j"), "change_column_value", None);
            s.knobs.webhooks.jitter = Duration::from_millis(400);
        });
        fake.with(|s| {
            for k in 0..30 {
                s.world.set_cell(
                    FIRST_ITEM + k,
                    "text0",
                    Some(json!(format!("v{k:02}"))),
                    None,
                );
            }
        });
        idle(&fake);
        let order: Vec<String> = rx
            .bodies()
            .iter()
            .map(|b| b["event"]["value"]["value"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(order.len(), 30);
        let mut sorted = order.clone();
        sorted.sort();
        assert_ne!(order, sorted, "jitter reorders deliveries");

        rx.got.lock().unwrap().bodies.clear();
        fake.with(|s| {
            s.knobs.webhooks.jitter = Duration::ZERO;
            s.knobs.webhooks.duplicate = 1.0;
            for k in 0..5 {
                s.world.rename(FIRST_ITEM + k, "dup");
                s.world
                    .set_cell(FIRST_ITEM + k, "text0", Some(json!("again")), None);
            }
        });
        idle(&fake);
        let bodies = rx.bodies();
        assert_eq!(bodies.len(), 10);
        let mut by_uuid: HashMap<String, usize> = HashMap::new();
        for b in &bodies {
            assert_eq!(b["event"]["isRetry"], false);
            *by_uuid
                .entry(b["event"]["triggerUuid"].as_str().unwrap().into())
                .or_default() += 1;
        }
        assert_eq!(by_uuid.len(), 5);
        assert!(by_uuid.values().all(|n| *n == 2));
        assert_eq!(
            fake.deliveries()
                .iter()
                .filter(|d| d.duplicate_of.is_some())
                .count(),
            5
        );
    }

    use std::collections::HashMap;

    #[test]
    fn paused_and_lost_deliveries() {
        let fake = Fake::start(World::sample(12, false)).unwrap();
        fast(&fake);
        let rx = Receiver::start(Challenge::Echo);
        fake.with(|s| {
            s.world
                .add_webhook(SAMPLE_BOARD, &rx.url("p"), "change_name", None);
            s.knobs.webhooks.paused = true;
            s.world.rename(FIRST_ITEM, "Held");
        });
        assert!(!fake.wait_deliveries_idle(Duration::from_millis(300)));
        assert!(rx.bodies().is_empty());
        assert_eq!(fake.delivery_stats().queued, 1);
        fake.with(|s| s.knobs.webhooks.paused = false);
        idle(&fake);
        assert_eq!(rx.bodies().len(), 1);

        // Half the attempts lost: every delivery still gets through, some as retries.
        fake.with(|s| {
            s.knobs.webhooks.retry_interval = Duration::from_millis(10);
            s.knobs.webhooks.drop = 0.5;
            for k in 0..12 {
                s.world.rename(FIRST_ITEM + k, "Lossy");
            }
        });
        idle(&fake);
        let log = fake.deliveries();
        assert_eq!(fake.delivery_stats().accepted, 13);
        assert!(log
            .iter()
            .any(|d| d.error.as_deref() == Some("dropped: not sent")));
        assert!(log.iter().any(
            |d| d.error.as_deref() == Some("dropped: answer ignored") && d.status == Some(200)
        ));
        let received: std::collections::HashSet<String> = rx
            .bodies()
            .iter()
            .map(|b| b["event"]["triggerUuid"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(received.len(), 13);
    }

    #[test]
    fn urls_are_loopback_http_only() {
        assert!(parse_url("https://127.0.0.1/x").is_err());
        assert!(parse_url("http://10.0.0.1:80/x").is_err());
        assert!(parse_url("http://example.com/x").is_err());
        assert!(parse_url("http://user@127.0.0.1/x").is_err());
        let (addr, host, path) = parse_url("http://localhost:8080/hooks/monday?x=1#f").unwrap();
        assert_eq!(
            (addr.to_string(), host.as_str(), path.as_str()),
            (
                "127.0.0.1:8080".into(),
                "localhost:8080",
                "/hooks/monday?x=1"
            )
        );
        let (addr, _, path) = parse_url("http://[::1]:9").unwrap();
        assert_eq!((addr.to_string(), path.as_str()), ("[::1]:9".into(), "/"));
        assert_eq!(
            dechunk(b"4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\n\r\n"),
            Some(b"Wikipedia".to_vec())
        );
        assert_eq!(dechunk(b"4\r\nWi"), None);
    }
}
