//! Updates (comments), their replies and their files as monday returns them, flattened into the
//! rows of `<table>_updates` and `<table>_assets`: ids checked, timestamps made canonical (UTC
//! ISO 8601), the asset `url` kept without any query string. A malformed entry is skipped and
//! counted, never fatal: one bad value from monday does not stop a board.

use crate::codec::datetime::timestamptz_utc;
use serde_json::{json, Map, Value};

/// The rows of one page of updates.
#[derive(Debug, Default, PartialEq)]
pub struct Flat {
    /// `{update_id, item_id, reply_to, creator_id, body_html, body_text, created_at, updated_at,
    /// edited_at}`: updates, then their replies (`reply_to` = the update).
    pub updates: Vec<Value>,
    /// `{asset_id, item_id, update_id, name, file_extension, file_size, url, created_at,
    /// uploaded_by}`: the files of the updates and replies.
    pub assets: Vec<Value>,
    /// Entries skipped: no usable id, or no item.
    pub skipped: usize,
}

/// An id as monday sends it (a string of digits, or a number).
pub fn id(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::String(s)
            if (1..=18).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.parse().ok()
        }
        Value::Number(n) => n.as_i64().filter(|n| *n > 0),
        _ => None,
    }
}

fn ts(v: Option<&Value>) -> Value {
    v.and_then(Value::as_str)
        .and_then(timestamptz_utc)
        .map(|s| Value::String(s.to_string()))
        .unwrap_or(Value::Null)
}

fn text(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(s)) => Value::String(s.replace('\0', "")),
        _ => Value::Null,
    }
}

/// One `Asset` as a row; `None` without an id. The `url` is monday's (it needs a login); a query
/// string is cut off in case it ever carries a signature, and `public_url` is never read.
pub fn asset_row(a: &Value, item: Option<i64>, update: Option<i64>) -> Option<Value> {
    let asset_id = id(a.get("id"))?;
    let url = a
        .get("url")
        .and_then(Value::as_str)
        .map(|u| u.split(['?', '#']).next().unwrap_or("").to_string());
    Some(json!({
        "asset_id": asset_id,
        "item_id": item,
        "update_id": update,
        "name": text(a.get("name")),
        "file_extension": text(a.get("file_extension")),
        "file_size": a.get("file_size").and_then(Value::as_i64),
        "url": url,
        "created_at": ts(a.get("created_at")),
        "uploaded_by": id(a.get("uploaded_by").and_then(|u| u.get("id"))),
    }))
}

fn update_row(u: &Map<String, Value>, update_id: i64, item: i64, reply_to: Option<i64>) -> Value {
    json!({
        "update_id": update_id,
        "item_id": item,
        "reply_to": reply_to,
        "creator_id": id(u.get("creator_id")),
        "body_html": text(u.get("body")),
        "body_text": text(u.get("text_body")),
        "created_at": ts(u.get("created_at")),
        "updated_at": ts(u.get("updated_at")),
        "edited_at": ts(u.get("edited_at")),
    })
}

fn assets_of(u: &Map<String, Value>, item: i64, update: i64, flat: &mut Flat) {
    for a in u
        .get("assets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match asset_row(a, Some(item), Some(update)) {
            Some(r) => flat.assets.push(r),
            None => flat.skipped += 1,
        }
    }
}

/// Flattens a list of `Update`s (with `replies` and `assets`) into rows.
pub fn flatten(updates: &[Value]) -> Flat {
    let mut flat = Flat::default();
    for u in updates {
        let Some(u) = u.as_object() else {
            flat.skipped += 1;
            continue;
        };
        let (Some(uid), Some(item)) = (id(u.get("id")), id(u.get("item_id"))) else {
            flat.skipped += 1;
            continue;
        };
        flat.updates.push(update_row(u, uid, item, None));
        assets_of(u, item, uid, &mut flat);
        for r in u
            .get("replies")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(r) = r.as_object() else {
                flat.skipped += 1;
                continue;
            };
            let Some(rid) = id(r.get("id")) else {
                flat.skipped += 1;
                continue;
            };
            flat.updates.push(update_row(r, rid, item, Some(uid)));
            assets_of(r, item, rid, &mut flat);
        }
    }
    flat
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_replies_and_assets_flatten() {
        let page = json!([
            {"id": "501", "item_id": "18265984789", "creator_id": "44865791",
             "body": "<p>Ship it</p>", "text_body": "Ship it",
             "created_at": "2026-11-30T10:00:00Z", "updated_at": "2026-11-30T10:05:00Z",
             "edited_at": "2026-11-30T10:05:00Z",
             "assets": [{"id": "900", "name": "plan.pdf", "file_extension": ".pdf", "file_size": 1234,
                         "url": "https://x.monday.com/protected_static/1/resources/900/plan.pdf?sig=abc",
                         "created_at": "2026-11-30T10:00:00Z", "uploaded_by": {"id": "44865791"}}],
             "replies": [{"id": "502", "creator_id": "7", "body": "<p>ok</p>", "text_body": "ok",
                          "created_at": "2026-11-30T11:00:00Z", "updated_at": "2026-11-30T11:00:00Z",
                          "edited_at": "2026-11-30T11:00:00Z", "assets": []},
                         {"id": "x"}]},
            {"id": "503", "item_id": null},
            "garbage"
        ]);
        let f = flatten(page.as_array().unwrap());
        assert_eq!(f.skipped, 3);
        assert_eq!(f.updates.len(), 2);
        assert_eq!(f.updates[0]["update_id"], 501);
        assert_eq!(f.updates[0]["reply_to"], Value::Null);
        assert_eq!(f.updates[0]["created_at"], "2026-11-30T10:00:00+00:00");
        assert_eq!(f.updates[1]["update_id"], 502);
        assert_eq!(f.updates[1]["reply_to"], 501);
        assert_eq!(f.updates[1]["item_id"], 18265984789i64);
        assert_eq!(f.updates[1]["creator_id"], 7);
        assert_eq!(f.assets.len(), 1);
        assert_eq!(
            f.assets[0]["url"],
            "https://x.monday.com/protected_static/1/resources/900/plan.pdf"
        );
        assert_eq!(f.assets[0]["update_id"], 501);
        assert_eq!(f.assets[0]["uploaded_by"], 44865791);
    }

    #[test]
    fn bad_timestamps_become_null_not_errors() {
        let f = flatten(&[
            json!({"id": 1, "item_id": 2, "created_at": "2026-02-31T00:00:00Z",
                                 "updated_at": "yesterday", "body": "a\u{0}b"}),
        ]);
        assert_eq!(f.updates[0]["created_at"], Value::Null);
        assert_eq!(f.updates[0]["updated_at"], Value::Null);
        assert_eq!(f.updates[0]["body_html"], "ab");
    }
}
