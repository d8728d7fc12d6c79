//! Items (as the API returns them) → the typed rows of one page ([`Row`]: the item's fields, every
//! cell decoded by the column codec into a [`Decoded`] value, and `raw` keeping the cells as
//! fetched, as JSON text). The writer turns them into the table's own datums without a round trip
//! through JSON text; [`PageRows::json`] writes them as one JSON array keyed by the table's SQL
//! names (for `json_populate_recordset`, the writer's path for column types it does not build).
//! One bad item or cell never stops the page: a cell the codec cannot decode gets NULL, a
//! malformed field NULL (or `'active'` for the state), U+0000 (which PostgreSQL text and jsonb
//! cannot store) becomes U+FFFD, an item repeated in the page keeps its last copy; each with a
//! warning naming the item.

use super::{scrub, scrub_json_text};
use crate::codec::{self, datetime::timestamptz_utc, write_json_string, Decoded};
use compact_str::CompactString;
use serde_json::Value;
use serde_json_borrow::{ObjectAsVec, Value as Item};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

#[derive(Clone, Debug)]
pub struct MappedColumn {
    pub column_id: String,
    pub sql_name: String,
    /// monday's column type (from the board, not the cell).
    pub typ: String,
    /// Column settings, for the kinds that read them (status, dropdown).
    pub settings: Option<Value>,
    /// The SQL column's type (`format_type` output), for the explicit cast on write.
    pub sql_type: String,
}

/// One item of a page, ready for its typed row. Texts borrow from the page's items where they
/// needed no repair.
#[derive(Debug)]
pub struct Row<'a> {
    pub item_id: i64,
    pub name: Option<Cow<'a, str>>,
    pub group_id: Option<Cow<'a, str>>,
    pub group_title: Option<Cow<'a, str>>,
    /// One of the states the table's CHECK constraint allows.
    pub state: &'static str,
    pub parent_item_id: Option<i64>,
    /// In a form PostgreSQL's timestamptz input accepts.
    pub created_at: Option<CompactString>,
    pub updated_at: Option<CompactString>,
    /// (index into the mapping, decoded value), in the order the cells came; a repeated cell
    /// keeps its last value. Columns without a cell (or whose cell did not decode) are absent.
    pub cells: Vec<(usize, Decoded)>,
    /// The cells as fetched, in their order: `raw` is `{"<column id>": {…}, …}` ([`raw_text`];
    /// the writer builds the jsonb from them directly).
    pub raw: RawCells<'a>,
    /// Whether a string or key of `raw`'s cells holds U+0000 (to be replaced as `raw` is built).
    pub raw_nul: bool,
}

/// (column id, the cell as fetched), U+0000 in the id already replaced.
pub type RawCells<'a> = Vec<(Cow<'a, str>, &'a ObjectAsVec<'a>)>;

/// `raw`'s JSON text: `{"<column id>": {…}, …}`, U+0000 replaced by U+FFFD in every string and
/// key. A repeated column id is written each time (jsonb keeps the last).
pub fn raw_text(cells: &[(Cow<str>, &ObjectAsVec)]) -> String {
    let mut raw = String::with_capacity(64 + cells.len() * 96);
    raw.push('{');
    for (i, (cid, obj)) in cells.iter().enumerate() {
        if i > 0 {
            raw.push(',');
        }
        write_json_string(&mut raw, cid);
        raw.push(':');
        write_object(&mut raw, obj);
    }
    raw.push('}');
    raw
}

/// Whether a U+0000 is in any string or key of `v`.
fn has_nul(v: &Item) -> bool {
    match v {
        Item::Str(s) => s.contains('\0'),
        Item::Array(a) => a.iter().any(has_nul),
        Item::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

#[derive(Debug, Default)]
pub struct PageRows<'a> {
    pub rows: Vec<Row<'a>>,
    /// The item ids written, each once.
    pub ids: Vec<i64>,
    /// Up to `MAX_WARNINGS` messages; `warning_count` counts them all.
    pub warnings: Vec<String>,
    pub warning_count: usize,
    /// Column ids found in cells but not in the mapping (a column added since the last pull).
    pub unmapped: Vec<String>,
}

pub const MAX_WARNINGS: usize = 20;

/// The states the table's CHECK constraint allows.
const STATES: &[&str] = &["active", "archived", "deleted"];

impl PageRows<'_> {
    fn warn(&mut self, msg: String) {
        self.warning_count += 1;
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(scrub(&msg).into_owned());
        }
    }

    /// The page as one JSON array for `json_populate_recordset`:
    /// `[{"item_id":…, "name":…, …, "<sql name>": <decoded>, "raw": {…}}, …]`.
    pub fn json(&self, cols: &[MappedColumn]) -> String {
        let mut out = String::with_capacity(self.rows.len() * 2048);
        out.push('[');
        for (i, r) in self.rows.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"item_id\":");
            let _ = write!(out, "{}", r.item_id);
            put_str(&mut out, "name", r.name.as_deref());
            put_str(&mut out, "group_id", r.group_id.as_deref());
            put_str(&mut out, "group_title", r.group_title.as_deref());
            put_str(&mut out, "state", Some(r.state));
            put_key(&mut out, "parent_item_id");
            match r.parent_item_id {
                Some(p) => {
                    let _ = write!(out, "{p}");
                }
                None => out.push_str("null"),
            }
            put_str(&mut out, "created_at", r.created_at.as_deref());
            put_str(&mut out, "updated_at", r.updated_at.as_deref());
            for (c, d) in &r.cells {
                put_key(&mut out, &cols[*c].sql_name);
                d.write_json(&mut out);
            }
            put_key(&mut out, "raw");
            out.push_str(&raw_text(&r.raw));
            out.push('}');
        }
        out.push(']');
        out
    }
}

/// A value as a warning quotes it: JSON text, at most 100 bytes.
fn quote(v: &Item) -> String {
    let text = serde_json::to_string(v).unwrap_or_default();
    codec::truncate_bytes(&text, 100).to_string()
}

pub use crate::codec::field;

/// `v[key]` of an object (`None` for anything else), [`field`]'s way.
pub fn get<'v, 'a>(v: &'v Item<'a>, key: &str) -> Option<&'v Item<'a>> {
    field(v.as_object()?, key)
}

/// A GraphQL `ID` (a JSON string; monday also accepts integers) as i64.
pub fn id_of(v: &Item) -> Option<i64> {
    match v {
        Item::Str(s) => s.parse().ok(),
        Item::Number(n) => n.as_i64(),
        _ => None,
    }
}

fn put_key(out: &mut String, k: &str) {
    out.push(',');
    write_json_string(out, k);
    out.push(':');
}

fn put_str(out: &mut String, k: &str, v: Option<&str>) {
    put_key(out, k);
    match v {
        Some(s) => write_json_string(out, s),
        None => out.push_str("null"),
    }
}

/// An item's text field: absent or null → NULL; not a string → NULL with a warning; U+0000 → U+FFFD
/// with a warning.
fn text_field<'a>(
    v: Option<&'a Item<'_>>,
    item_id: i64,
    field: &str,
    warnings: &mut Vec<String>,
) -> Option<Cow<'a, str>> {
    match v? {
        Item::Null => None,
        Item::Str(s) => {
            let t = scrub(s);
            if let Cow::Owned(_) = t {
                warnings.push(format!(
                    "item {item_id}, {field}: \\u0000 replaced by U+FFFD"
                ));
            }
            Some(t)
        }
        other => {
            warnings.push(format!(
                "item {item_id}, {field}: {} is not a string; set to NULL",
                quote(other)
            ));
            None
        }
    }
}

/// An item's timestamp (`created_at`, `updated_at`) in a form PostgreSQL accepts, or NULL (with a
/// warning when there was something else than null or an empty string).
fn timestamp_field(
    v: Option<&Item>,
    item_id: i64,
    field: &str,
    warnings: &mut Vec<String>,
) -> Option<CompactString> {
    match v? {
        Item::Null => None,
        Item::Str(s) if s.trim().is_empty() => None,
        other => {
            let ts = other.as_str().and_then(timestamptz_utc);
            if ts.is_none() {
                warnings.push(format!(
                    "item {item_id}, {field}: {} is not a timestamp; set to NULL",
                    quote(other)
                ));
            }
            ts
        }
    }
}

/// [`scrub`] on the texts of a decoded cell ([`scrub_json_text`] on jsonb text); true when it
/// replaced any.
fn scrub_decoded(d: &mut Decoded) -> bool {
    match d {
        Decoded::Text(t) if t.contains('\0') => {
            *t = t.replace('\0', "\u{FFFD}").into();
            true
        }
        Decoded::TextArray(v) => v.iter_mut().fold(false, |hit, s| {
            if s.contains('\0') {
                *s = s.replace('\0', "\u{FFFD}");
                true
            } else {
                hit
            }
        }),
        Decoded::Json(j) => {
            let fixed = match scrub_json_text(j) {
                Cow::Owned(s) => Some(s),
                Cow::Borrowed(_) => None,
            };
            fixed.map(|s| *j = s).is_some()
        }
        _ => false,
    }
}

/// Writes `s` as a JSON string, U+0000 replaced by U+FFFD; true when it replaced any.
fn write_scrubbed(out: &mut String, s: &str) -> bool {
    let t = scrub(s);
    write_json_string(out, &t);
    matches!(t, Cow::Owned(_))
}

/// Writes `m` as JSON, U+0000 replaced by U+FFFD in every string and key; true when it replaced any.
///
/// Keys are written in the order they came, a repeated key each time: jsonb keeps the last, as a
/// `serde_json` map did.
fn write_object(out: &mut String, m: &ObjectAsVec) -> bool {
    let mut hit = false;
    out.push('{');
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        hit |= write_scrubbed(out, k);
        out.push(':');
        hit |= write_value(out, v);
    }
    out.push('}');
    hit
}

fn write_value(out: &mut String, v: &Item) -> bool {
    match v {
        Item::Null => out.push_str("null"),
        Item::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Item::Number(n) => write_number(out, n),
        Item::Str(s) => return write_scrubbed(out, s),
        Item::Array(a) => {
            let mut hit = false;
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                hit |= write_value(out, x);
            }
            out.push(']');
            return hit;
        }
        Item::Object(m) => return write_object(out, m),
    }
    false
}

/// A number as serde_json writes it (a float keeps its `.0`: jsonb keeps the scale).
pub fn write_number(out: &mut String, n: &serde_json_borrow::Number) {
    if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else {
        match n.as_f64().and_then(serde_json::Number::from_f64) {
            Some(f) => {
                let _ = write!(out, "{f}");
            }
            None => out.push_str("null"),
        }
    }
}

/// Builds the rows of one page from its items (parsed borrowed: [`crate::api::client::data_of`];
/// a `serde_json::Value` converts with `Item::from`).
pub fn build_rows<'a>(items: &'a [Item<'a>], cols: &[MappedColumn]) -> PageRows<'a> {
    let mut page = PageRows::default();
    page.rows.reserve(items.len());
    let by_id: HashMap<&str, usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| (c.column_id.as_str(), i))
        .collect();
    // An item's mark for each mapped column its cells named (a new mark per item).
    let mut mapped_seen: Vec<u64> = vec![0; cols.len()];
    let mut mark: u64 = 0;
    let mut hint: usize = 0;
    // ON CONFLICT DO UPDATE cannot touch a row twice in one statement: an item the page holds
    // more than once is written from its last copy. id → (index of the last copy, copies).
    let ids: Vec<Option<i64>> = items.iter().map(|i| get(i, "id").and_then(id_of)).collect();
    let mut last: HashMap<i64, (usize, usize)> = HashMap::with_capacity(items.len());
    for (n, id) in ids.iter().enumerate() {
        if let Some(id) = id {
            let e = last.entry(*id).or_insert((n, 0));
            *e = (n, e.1 + 1);
        }
    }
    for (n, (item, id)) in items.iter().zip(&ids).enumerate() {
        let Some(item_id) = *id else {
            page.warn(format!(
                "an item without a usable id was skipped: {}",
                quote(item)
            ));
            continue;
        };
        match last.get(&item_id) {
            Some(&(l, _)) if l != n => continue,
            Some(&(_, copies)) if copies > 1 => page.warn(format!(
                "item {item_id} appeared {} in one page; the last copy was kept",
                if copies == 2 {
                    "twice".to_string()
                } else {
                    format!("{copies} times")
                }
            )),
            _ => {}
        }
        page.ids.push(item_id);
        let mut warnings: Vec<String> = Vec::new();
        let w = &mut warnings;
        let name = text_field(get(item, "name"), item_id, "name", w);
        let group = get(item, "group");
        let group_id = text_field(group.and_then(|g| get(g, "id")), item_id, "group id", w);
        let group_title = text_field(
            group.and_then(|g| get(g, "title")),
            item_id,
            "group title",
            w,
        );
        let state = match get(item, "state") {
            None | Some(Item::Null) => "active",
            Some(Item::Str(s)) if STATES.contains(&s.as_ref()) => {
                STATES.iter().copied().find(|t| t == s).unwrap_or("active")
            }
            Some(other) => {
                w.push(format!(
                    "item {item_id}, state: unknown state {}; stored as 'active'",
                    quote(other)
                ));
                "active"
            }
        };
        let parent_item_id = get(item, "parent_item")
            .and_then(|p| get(p, "id"))
            .and_then(id_of);
        let created_at = timestamp_field(get(item, "created_at"), item_id, "created_at", w);
        let updated_at = timestamp_field(get(item, "updated_at"), item_id, "updated_at", w);

        let cells: &[Item] = match get(item, "column_values") {
            Some(Item::Array(a)) => a,
            None | Some(Item::Null) => &[],
            Some(other) => {
                w.push(format!(
                    "item {item_id}: column_values {} is not a list; no cells stored",
                    quote(other)
                ));
                &[]
            }
        };
        let mut decoded: Vec<(usize, Decoded)> = Vec::with_capacity(cols.len());
        // Which columns this item's cells named so far: the item's mark in `mapped_seen` for a
        // mapped column, `unmapped_seen` for the others (few: a column added since the last pull).
        mark += 1;
        let mut unmapped_seen: Vec<Cow<str>> = Vec::new();
        let mut raw: RawCells = Vec::with_capacity(cells.len());
        let mut raw_nul = false;
        for cell in cells {
            let Some((obj, raw_cid)) = cell
                .as_object()
                .and_then(|o| Some((o, field(o, "id")?.as_str()?)))
            else {
                w.push(format!(
                    "item {item_id}: a column value without an id was skipped: {}",
                    quote(cell)
                ));
                continue;
            };
            let cid = scrub(raw_cid);
            // Cells come in the board's column order: the column after the last one found is
            // tried before the map.
            let col = match cols.get(hint) {
                Some(c) if c.column_id == cid.as_ref() => Some(hint),
                _ => by_id.get(cid.as_ref()).copied(),
            };
            let repeated = match col {
                Some(c) => std::mem::replace(&mut mapped_seen[c], mark) == mark,
                None if unmapped_seen.contains(&cid) => true,
                None => {
                    unmapped_seen.push(cid.clone());
                    false
                }
            };
            if let Some(c) = col {
                hint = c + 1;
            }
            if repeated {
                w.push(format!(
                    "item {item_id}: column \"{cid}\" appeared twice; the last value was kept"
                ));
            }
            let nul = obj.iter().any(|(k, v)| k.contains('\0') || has_nul(v));
            raw_nul |= nul;
            let mut hit = matches!(cid, Cow::Owned(_)) || nul;
            raw.push((cid.clone(), obj));
            match col {
                None => {
                    if !page.unmapped.iter().any(|u| *u == cid) {
                        page.unmapped.push(cid.to_string());
                    }
                }
                Some(c) => {
                    // A repeated cell replaces the earlier one, as in `raw` (jsonb keeps the last key).
                    if repeated {
                        decoded.retain(|(i, _)| *i != c);
                    }
                    let col = &cols[c];
                    match codec::decode(Some(&col.typ), obj, col.settings.as_ref()) {
                        Ok(mut d) => {
                            hit |= scrub_decoded(&mut d);
                            decoded.push((c, d));
                        }
                        Err(e) => w.push(format!(
                            "item {item_id}, column \"{cid}\" ({}): {}; typed value set to NULL, raw keeps it",
                            col.typ, e.message
                        )),
                    }
                }
            }
            if hit {
                w.push(format!(
                    "item {item_id}, column \"{cid}\" ({}): \\u0000 replaced by U+FFFD",
                    col.map_or("unmapped", |c| cols[c].typ.as_str())
                ));
            }
        }
        page.rows.push(Row {
            item_id,
            name,
            group_id,
            group_title,
            state,
            parent_item_id,
            created_at,
            updated_at,
            cells: decoded,
            raw,
            raw_nul,
        });
        for w in warnings {
            page.warn(w);
        }
    }
    page
}
