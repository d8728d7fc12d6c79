//! Reading monday's activity log (`Board.activity_logs`) for incremental refreshes: which items
//! changed after the watermark. Pure: unit tested on monday's entry shapes (FACTS.md §3.4).
//!
//! An entry is `{id, event, entity, data, created_at}`: `created_at` is a 17-digit count of 100-ns
//! ticks since the epoch, `data` a JSON string naming the item (`pulse_id`) for item events. Events
//! are not listed exhaustively anywhere, so any entry that names an item counts: the item is
//! fetched again and `items(ids:)` says what it has become (changed, archived, deleted, moved).

use super::id_of;
use serde_json::Value;
use std::collections::BTreeSet;

#[derive(Debug, Default, PartialEq)]
pub struct Scan {
    /// Items named by entries after the watermark (subitems' parents included).
    pub items: BTreeSet<i64>,
    /// Entries after the watermark.
    pub entries: i64,
    /// Board-level entries after the watermark (columns, groups, the board's name).
    pub board_events: i64,
    /// The newest entry's ticks (after the watermark), if any.
    pub newest: Option<i64>,
    /// The page reached an entry at or before the watermark: older pages are not needed.
    pub reached_watermark: bool,
    /// Entries dated after `latest` (in the future: impossible): their items count, their date
    /// does not move the watermark.
    pub future: i64,
    /// Per item named: (the board the entry names, the field it changed — see [`field_of`] —
    /// and its ticks), for telling write-back's echoes apart.
    pub touches: Vec<(i64, i64, Option<String>, i64)>,
}

/// The field an item entry changed, in write-back's names: a column id, `name`, `#group`,
/// `#state`, `#create`; None for anything else (never taken for an echo).
pub fn field_of(entry: &Value) -> Option<String> {
    let data: Value = match entry.get("data") {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
        Some(v @ Value::Object(_)) => v.clone(),
        _ => Value::Null,
    };
    match entry.get("event").and_then(Value::as_str)? {
        "update_column_value" => data
            .get("column_id")
            .and_then(Value::as_str)
            .map(String::from),
        "update_name" => Some("name".into()),
        "move_pulse_into_group" => Some("#group".into()),
        "archive_pulse" | "delete_pulse" => Some("#state".into()),
        "create_pulse" => Some("#create".into()),
        _ => None,
    }
}

fn board_of(entry: &Value) -> Option<i64> {
    let data: Value = match entry.get("data") {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
        Some(v @ Value::Object(_)) => v.clone(),
        _ => Value::Null,
    };
    data.get("board_id").and_then(id_of)
}

/// `created_at` → ticks (a string of digits; numbers are accepted too).
pub fn ticks(entry: &Value) -> Option<i64> {
    match entry.get("created_at")? {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// The item ids an entry's `data` names: `pulse_id`, `pulse_ids`, `item_id`, and the parent of a
/// subitem (`parent_item_id`, `parent_pulse_id`), whose subitems column changes with it.
pub fn items_named(entry: &Value) -> Vec<i64> {
    let data: Value = match entry.get("data") {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
        Some(v @ Value::Object(_)) => v.clone(),
        _ => Value::Null,
    };
    let mut out = Vec::new();
    for key in ["pulse_id", "item_id", "parent_item_id", "parent_pulse_id"] {
        if let Some(id) = data.get(key).and_then(id_of) {
            out.push(id);
        }
    }
    if let Some(ids) = data.get("pulse_ids").and_then(Value::as_array) {
        out.extend(ids.iter().filter_map(id_of));
    }
    out.retain(|i| *i > 0);
    out
}

/// One page of entries (newest first) against the watermark (ticks; entries at or before it were
/// applied by an earlier refresh). `latest` (ticks) is the newest date an entry can have (now,
/// plus some clock skew): a later one still names its items but never becomes the watermark, or
/// one bad date would hide every change until then.
pub fn scan(entries: &[Value], watermark: i64, latest: i64, into: &mut Scan) {
    for e in entries {
        let Some(t) = ticks(e) else { continue };
        if t <= watermark {
            into.reached_watermark = true;
            continue;
        }
        into.entries += 1;
        if t > latest {
            into.future += 1;
        } else {
            into.newest = Some(into.newest.map_or(t, |n| n.max(t)));
        }
        let named = items_named(e);
        if named.is_empty() || e.get("entity").and_then(Value::as_str) == Some("board") {
            into.board_events += 1;
        }
        let field = field_of(e);
        let board = board_of(e).unwrap_or(0);
        for (k, item) in named.iter().enumerate() {
            // The entry's own item changed that field; a subitem's parent (named after it) had
            // its subitems column change, which is no write of ours.
            into.touches
                .push((board, *item, if k == 0 { field.clone() } else { None }, t));
        }
        into.items.extend(named);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(event: &str, entity: &str, data: Value, ticks: i64) -> Value {
        json!({"id": "x", "event": event, "entity": entity, "data": data.to_string(), "created_at": ticks.to_string()})
    }

    #[test]
    fn entries_after_the_watermark_name_items() {
        let w = 17_640_000_000_000_000;
        let page = vec![
            entry(
                "update_column_value",
                "pulse",
                json!({"board_id": 1, "pulse_id": 18265984789i64, "column_id": "status"}),
                w + 30,
            ),
            entry(
                "create_pulse",
                "pulse",
                json!({"board_id": 1, "pulse_id": "18265984790", "pulse_name": "New"}),
                w + 20,
            ),
            entry(
                "batch_delete_pulses",
                "pulse",
                json!({"board_id": 1, "pulse_ids": [5, "6"]}),
                w + 15,
            ),
            entry(
                "create_pulse",
                "pulse",
                json!({"board_id": 2, "pulse_id": 7, "parent_item_id": "18265984789"}),
                w + 12,
            ),
            entry(
                "create_column",
                "board",
                json!({"board_id": 1, "column_id": "text9"}),
                w + 10,
            ),
            entry("update_name", "pulse", json!({"pulse_id": 99}), w),
            entry("update_name", "pulse", json!({"pulse_id": 98}), w - 5),
        ];
        let mut s = Scan::default();
        scan(&page, w, i64::MAX, &mut s);
        assert_eq!(
            s.items.iter().copied().collect::<Vec<_>>(),
            vec![5, 6, 7, 18265984789, 18265984790]
        );
        assert_eq!(s.entries, 5);
        assert_eq!(s.board_events, 1);
        assert_eq!(s.newest, Some(w + 30));
        assert!(s.reached_watermark);
    }

    #[test]
    fn malformed_entries_are_skipped() {
        let page = vec![
            json!({"event": "x", "data": "not json", "created_at": "100"}),
            json!({"event": "x", "data": "{}", "created_at": "soon"}),
            json!({"event": "x", "data": {"pulse_id": 4}, "created_at": 101}),
        ];
        let mut s = Scan::default();
        scan(&page, 50, i64::MAX, &mut s);
        assert_eq!(s.items.iter().copied().collect::<Vec<_>>(), vec![4]);
        assert_eq!(s.entries, 2);
        assert_eq!(s.board_events, 1);
        assert!(!s.reached_watermark);
    }

    #[test]
    fn future_entries_name_items_but_never_become_the_watermark() {
        let w = 17_640_000_000_000_000;
        let now = w + 1_000;
        let page = vec![
            entry(
                "update_name",
                "pulse",
                json!({"pulse_id": 1}),
                41_000_000_000_000_000,
            ),
            entry("update_name", "pulse", json!({"pulse_id": 2}), w + 500),
        ];
        let mut s = Scan::default();
        scan(&page, w, now, &mut s);
        assert_eq!(s.items.iter().copied().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(s.newest, Some(w + 500));
        assert_eq!(s.future, 1);
    }
}
