//! What an event changes in a synced row (FACTS §5.3: one `event.type` per kind of change).

use super::{positive_id, Event};
use serde_json::Value;

/// The change one webhook event makes to one item's (or subitem's) row.
///
/// Values stay as the webhook sent them (real JSON, legacy type names): the caller decodes them
/// with the column codec, which knows the webhook dialects.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// `update_column_value` of a column other than `name`. `column_type` is the event's
    /// `columnType` as given (legacy names such as `color`, `multiple-person`, `subtasks`; empty
    /// when absent). `value` is `None` when the payload's `value` is null, absent or `{}`: the cell
    /// was cleared.
    Cell {
        column_id: String,
        column_type: String,
        value: Option<Value>,
    },
    /// `update_name`, or `update_column_value` of the `name` column: the item's new name.
    Name(String),
    /// `move_pulse_into_group`: the new group's id (`destGroupId`, else `destGroup.id`).
    Group(String),
    /// `archive_pulse` → `"archived"`, `delete_pulse` → `"deleted"`, `restore_pulse` → `"active"`.
    State(&'static str),
    /// `create_pulse` (items and subitems). `cells` are the `columnValues` members (column id,
    /// webhook-dialect value) that hold a value: `columnValues` is `{}` for items created in the UI
    /// and populated for items created by a form (FACTS §5.4); null and `{}` members are left out.
    Created {
        name: Option<String>,
        group_id: Option<String>,
        cells: Vec<(String, Value)>,
    },
    /// `move_subitem`: the subitem ([`Event::item_id`]) moved from parent item `sourcePulseId` to
    /// `destPulseId`.
    SubitemMoved {
        from_parent: Option<i64>,
        to_parent: Option<i64>,
    },
    /// `create_column`: a column was added to the board.
    NewColumn {
        column_id: String,
        title: Option<String>,
        column_type: Option<String>,
    },
    /// `create_update` / `edit_update` / `delete_update` (also a subitem's): an update (comment)
    /// or a reply on the item. `update_id` is the update, `reply_id` the reply when the event is
    /// about one (the event's `updateId` is then its update's); `body` is HTML (plain text in some
    /// payloads), `text` plain (FACTS §5.3–5.4).
    Update {
        kind: UpdateKind,
        update_id: i64,
        reply_id: Option<i64>,
        body: Option<String>,
        text: Option<String>,
    },
    /// Nothing to apply; the reason is stored with the event.
    Ignore(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateKind {
    Created,
    Edited,
    Deleted,
}

/// Why an update event without an update id is ignored.
pub const IGNORE_UPDATES: &str = "an update event without updateId";
/// Why an event of a type this version does not know is ignored.
pub const IGNORE_UNKNOWN: &str = "unknown event type";

/// The change an event makes. Never panics; an event missing the field its type needs is
/// [`Change::Ignore`] with a reason that names the field.
///
/// | `event.type` | change |
/// |---|---|
/// | `create_pulse` | [`Change::Created`] |
/// | `update_column_value` | [`Change::Cell`]; [`Change::Name`] when `columnId` is `name` |
/// | `update_name` | [`Change::Name`] from `value.name` |
/// | `archive_pulse`, `delete_pulse`, `restore_pulse` | [`Change::State`] |
/// | `move_pulse_into_group` | [`Change::Group`] |
/// | `move_subitem` | [`Change::SubitemMoved`] |
/// | `create_update`, `edit_update`, `delete_update` | [`Change::Update`] ([`Change::Ignore`] ([`IGNORE_UPDATES`]) without `updateId`) |
/// | `create_column` | [`Change::NewColumn`] |
/// | anything else | [`Change::Ignore`] ([`IGNORE_UNKNOWN`]) |
pub fn change_of(ev: &Event) -> Change {
    match ev.event_type.as_str() {
        "create_pulse" => Change::Created {
            name: ev.str("pulseName").map(str::to_owned),
            group_id: ev.str("groupId").map(str::to_owned),
            cells: match ev.fields().get("columnValues") {
                Some(Value::Object(cv)) => cv
                    .iter()
                    .filter(|(_, v)| !is_empty_value(v))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                _ => Vec::new(),
            },
        },
        "update_column_value" => {
            let Some(column_id) = ev.column_id.clone() else {
                return Change::Ignore("update_column_value without columnId");
            };
            let value = ev.fields().get("value");
            if column_id == "name" {
                // No recorded payload for the name column: accept the shapes of update_name
                // ({"name"}) and of text ({"value"}, {"text"}, a bare string), else pulseName.
                return name_of(value)
                    .or_else(|| ev.str("pulseName"))
                    .map(|n| Change::Name(n.to_owned()))
                    .unwrap_or(Change::Ignore("name column change without a name"));
            }
            Change::Cell {
                column_id,
                column_type: ev.str("columnType").unwrap_or_default().to_owned(),
                value: value.filter(|v| !is_empty_value(v)).cloned(),
            }
        }
        "update_name" => match ev.fields().get("value").and_then(|v| v.get("name")) {
            Some(Value::String(n)) => Change::Name(n.clone()),
            _ => Change::Ignore("update_name without value.name"),
        },
        "archive_pulse" => Change::State("archived"),
        "delete_pulse" => Change::State("deleted"),
        "restore_pulse" => Change::State("active"),
        "move_pulse_into_group" => ev
            .str("destGroupId")
            .or_else(|| ev.fields().get("destGroup")?.get("id")?.as_str())
            .map(|g| Change::Group(g.to_owned()))
            .unwrap_or(Change::Ignore("move_pulse_into_group without destGroupId")),
        "move_subitem" => Change::SubitemMoved {
            from_parent: ev.fields().get("sourcePulseId").and_then(positive_id),
            to_parent: ev.fields().get("destPulseId").and_then(positive_id),
        },
        "create_update" | "edit_update" | "delete_update" => {
            let Some(update_id) = ev.fields().get("updateId").and_then(positive_id) else {
                return Change::Ignore(IGNORE_UPDATES);
            };
            Change::Update {
                kind: match ev.event_type.as_str() {
                    "create_update" => UpdateKind::Created,
                    "edit_update" => UpdateKind::Edited,
                    _ => UpdateKind::Deleted,
                },
                update_id,
                reply_id: ev.fields().get("replyId").and_then(positive_id),
                body: ev.str("body").map(str::to_owned),
                text: ev.str("textBody").map(str::to_owned),
            }
        }
        "create_column" => match ev.column_id.clone() {
            Some(column_id) => Change::NewColumn {
                column_id,
                title: ev.str("columnTitle").map(str::to_owned),
                column_type: ev.str("columnType").map(str::to_owned),
            },
            None => Change::Ignore("create_column without columnId"),
        },
        _ => Change::Ignore(IGNORE_UNKNOWN),
    }
}

/// True for events about a subitem: `move_subitem`, and every event that carries a (non-null)
/// `parentItemId`, `parentItemBoardId` or `parentBoardId` (FACTS §5.3; an event on the parent's
/// `subtasks` column carries none of them and is about the parent item).
pub fn is_subitem_event(ev: &Event) -> bool {
    ev.event_type == "move_subitem"
        || ["parentItemId", "parentItemBoardId", "parentBoardId"]
            .iter()
            .any(|k| ev.fields().get(*k).is_some_and(|v| !v.is_null()))
}

/// A webhook value that means "no value": JSON null or `{}` (FACTS §5.3: `previousValue` may be
/// either; a cleared cell's `value` likewise).
fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn name_of(value: Option<&Value>) -> Option<&str> {
    match value? {
        Value::String(s) => Some(s),
        Value::Object(o) => ["name", "value", "text"]
            .iter()
            .find_map(|k| o.get(*k)?.as_str()),
        _ => None,
    }
}
