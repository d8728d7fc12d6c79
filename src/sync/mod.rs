//! The sync engine's pure part: board metadata from the API, SQL names for monday titles, and typed
//! rows built from items with the column codec. No pgrx: `src/pg/` runs it against tables
//! (`track.rs` tracks boards, `mapping.rs` maps columns, `writer.rs` writes rows, `pull.rs` pulls).

pub mod activity;
pub mod names;
pub mod rows;
pub mod updates;
pub mod walks;

#[cfg(test)]
mod tests;

use crate::codec;
use serde_json::Value;
use std::borrow::Cow;

/// One board column as the API describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiColumn {
    pub id: String,
    pub title: String,
    pub typ: String,
    /// `settings_str`, parsed (`{}` when absent or malformed).
    pub settings: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ApiGroup {
    pub id: String,
    pub title: String,
    pub position: String,
}

/// `boards(ids:) { id name type items_count columns groups }`.
#[derive(Clone, Debug)]
pub struct BoardMeta {
    pub id: i64,
    pub name: String,
    /// `board`, `sub_items_board`, …
    pub kind: String,
    pub items_count: Option<i64>,
    pub columns: Vec<ApiColumn>,
    pub groups: Vec<ApiGroup>,
    /// What parsing replaced or skipped (U+0000 in a text, a column without an id, …).
    pub warnings: Vec<String>,
}

impl BoardMeta {
    /// The subitems board named by the `subtasks` column's settings (`{"boardIds":[…]}`).
    pub fn subitems_board(&self) -> Option<i64> {
        self.columns
            .iter()
            .filter(|c| c.typ == "subtasks" || c.typ == "subitems")
            .find_map(|c| {
                c.settings
                    .get("boardIds")?
                    .as_array()?
                    .first()
                    .and_then(id_of)
            })
    }
}

/// A GraphQL `ID` (a JSON string; monday also accepts integers) as i64.
pub fn id_of(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// `s` with every U+0000 (which PostgreSQL text and jsonb cannot store) replaced by U+FFFD;
/// borrowed when there is none.
pub fn scrub(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// [`scrub`] on every string and object key in `v`; true when it replaced any.
pub fn scrub_value(v: &mut Value) -> bool {
    match v {
        Value::String(s) => match scrub(s) {
            Cow::Borrowed(_) => false,
            Cow::Owned(t) => {
                *s = t;
                true
            }
        },
        Value::Array(a) => a.iter_mut().fold(false, |hit, x| scrub_value(x) | hit),
        Value::Object(m) => {
            let mut hit = m.values_mut().fold(false, |hit, x| scrub_value(x) | hit);
            if m.keys().any(|k| k.contains('\0')) {
                hit = true;
                *m = std::mem::take(m)
                    .into_iter()
                    .map(|(k, x)| (scrub(&k).into_owned(), x))
                    .collect();
            }
            hit
        }
        _ => false,
    }
}

/// JSON text with every `\u0000` escape (which jsonb rejects) turned into `\ufffd`, and any bare
/// U+0000 into U+FFFD. An escaped backslash followed by `u0000` is text and stays. Borrowed when
/// there is nothing to replace.
pub fn scrub_json_text(s: &str) -> Cow<'_, str> {
    if !s.contains("u0000") && !s.contains('\0') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = String::new();
    // `copied`: where the part not yet copied to `out` starts. Only ever an ASCII byte's
    // position or the position after one, so always a char boundary.
    let (mut i, mut copied) = (0, 0);
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' if b.get(i + 1..i + 6) == Some(b"u0000".as_slice()) => {
                out.push_str(&s[copied..i]);
                out.push_str("\\ufffd");
                i += 6;
                copied = i;
            }
            // Any other escape: skip the escaped character, so `\\u0000` is left alone.
            b'\\' => i += 2,
            0 => {
                out.push_str(&s[copied..i]);
                out.push('\u{FFFD}');
                i += 1;
                copied = i;
            }
            _ => i += 1,
        }
    }
    if copied == 0 {
        // Nothing replaced (every replacement moves `copied` past it).
        return Cow::Borrowed(s);
    }
    out.push_str(&s[copied..]);
    Cow::Owned(out)
}

/// The string `v[key]` (`None` when absent or not a string), [`scrub`]bed: a replacement is noted
/// in `warnings` as `board <id>: <what>: …`.
fn text_of(
    v: &Value,
    key: &str,
    board: i64,
    what: impl Fn() -> String,
    warnings: &mut Vec<String>,
) -> Option<String> {
    let s = scrub(v.get(key)?.as_str()?);
    if let Cow::Owned(_) = s {
        warnings.push(format!(
            "board {board}: {}: \\u0000 replaced by U+FFFD",
            what()
        ));
    }
    Some(s.into_owned())
}

/// `v.id` as a warning shows it.
fn id_text(v: &Value) -> String {
    v.get("id")
        .and_then(Value::as_str)
        .map(|s| scrub(s).into_owned())
        .unwrap_or_default()
}

/// Parses one board object of a `boards` answer. `None` when its id or name is missing. Texts
/// PostgreSQL cannot store are replaced (see [`scrub`]); a column or group without an id, title or
/// type is skipped, a repeated column id keeps the first column; each with a warning.
pub fn board_meta(b: &Value) -> Option<BoardMeta> {
    let id = id_of(b.get("id")?)?;
    let mut warnings = Vec::new();
    let w = &mut warnings;
    let name = text_of(b, "name", id, || "name".into(), w)?;
    let kind = text_of(b, "type", id, || "type".into(), w).unwrap_or_else(|| "board".into());
    let mut columns: Vec<ApiColumn> = Vec::new();
    for (n, c) in b.get("columns")?.as_array()?.iter().enumerate() {
        let Some(cid) = text_of(c, "id", id, || format!("column \"{}\" id", id_text(c)), w) else {
            w.push(format!(
                "board {id}: column #{n} has no id and was skipped: {}",
                codec::truncate_bytes(&c.to_string(), 100)
            ));
            continue;
        };
        if columns.iter().any(|x| x.id == cid) {
            w.push(format!(
                "board {id}: column \"{cid}\" appears twice; the first was kept"
            ));
            continue;
        }
        let title = text_of(c, "title", id, || format!("column \"{cid}\" title"), w);
        let typ = text_of(c, "type", id, || format!("column \"{cid}\" type"), w);
        let (Some(title), Some(typ)) = (title, typ) else {
            w.push(format!(
                "board {id}: column \"{cid}\" has no title or type and was skipped"
            ));
            continue;
        };
        let mut settings = c
            .get("settings_str")
            .and_then(Value::as_str)
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_else(|| Value::Object(Default::default()));
        if scrub_value(&mut settings) {
            w.push(format!(
                "board {id}: column \"{cid}\" settings: \\u0000 replaced by U+FFFD"
            ));
        }
        columns.push(ApiColumn {
            id: cid,
            title,
            typ,
            settings,
        });
    }
    let mut groups = Vec::new();
    let no_groups = Vec::new();
    let gs = b
        .get("groups")
        .and_then(Value::as_array)
        .unwrap_or(&no_groups);
    for (n, g) in gs.iter().enumerate() {
        let Some(gid) = text_of(g, "id", id, || format!("group \"{}\" id", id_text(g)), w) else {
            w.push(format!("board {id}: group #{n} has no id and was skipped"));
            continue;
        };
        let Some(title) = text_of(g, "title", id, || format!("group \"{gid}\" title"), w) else {
            w.push(format!(
                "board {id}: group \"{gid}\" has no title and was skipped"
            ));
            continue;
        };
        let position = text_of(g, "position", id, || format!("group \"{gid}\" position"), w);
        groups.push(ApiGroup {
            id: gid,
            title,
            position: position.unwrap_or_default(),
        });
    }
    Some(BoardMeta {
        id,
        name,
        kind,
        items_count: b.get("items_count").and_then(Value::as_i64),
        columns,
        groups,
        warnings,
    })
}
