//! Items (as the API returns them) → one JSON array of rows for `json_populate_recordset`, keyed by
//! the table's SQL names, with every cell decoded by the column codec and `raw` keeping the cells
//! exactly as fetched. A cell the codec cannot decode gets NULL and a warning; the page goes on.

use super::id_of;
use crate::codec::{self, write_json_string, Decoded};
use serde_json::{Map, Value};
use std::collections::HashMap;

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

#[derive(Debug, Default)]
pub struct PageRows {
    /// `[{"item_id":…, "name":…, …, "<sql name>": <decoded>, "raw": {…}}, …]`
    pub json: String,
    pub ids: Vec<i64>,
    /// Up to `MAX_WARNINGS` messages; `warning_count` counts them all.
    pub warnings: Vec<String>,
    pub warning_count: usize,
    /// Column ids found in cells but not in the mapping (a column added since the last pull).
    pub unmapped: Vec<String>,
}

pub const MAX_WARNINGS: usize = 20;

impl PageRows {
    fn warn(&mut self, msg: String) {
        self.warning_count += 1;
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(msg);
        }
    }
}

fn str_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
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

/// Builds the rows of one page.
pub fn build_rows(items: &[Value], cols: &[MappedColumn]) -> PageRows {
    let mut page = PageRows::default();
    page.json.reserve(items.len() * 2048);
    page.json.push('[');
    let by_id: HashMap<&str, &MappedColumn> =
        cols.iter().map(|c| (c.column_id.as_str(), c)).collect();
    let mut first = true;
    for item in items {
        let Some(item_id) = item.get("id").and_then(id_of) else {
            page.warn(format!(
                "an item without a usable id was skipped: {}",
                codec::truncate_bytes(&item.to_string(), 100)
            ));
            continue;
        };
        page.ids.push(item_id);
        if !first {
            page.json.push(',');
        }
        first = false;
        let out = &mut page.json;
        out.push_str("{\"item_id\":");
        out.push_str(&item_id.to_string());
        put_str(out, "name", str_of(item, "name"));
        put_str(
            out,
            "group_id",
            item.pointer("/group/id").and_then(Value::as_str),
        );
        put_str(
            out,
            "group_title",
            item.pointer("/group/title").and_then(Value::as_str),
        );
        put_str(
            out,
            "state",
            Some(str_of(item, "state").unwrap_or("active")),
        );
        put_key(out, "parent_item_id");
        match item.pointer("/parent_item/id").and_then(id_of) {
            Some(p) => out.push_str(&p.to_string()),
            None => out.push_str("null"),
        }
        put_str(out, "created_at", str_of(item, "created_at"));
        put_str(out, "updated_at", str_of(item, "updated_at"));

        let cells: Vec<&Map<String, Value>> = item
            .get("column_values")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_object).collect())
            .unwrap_or_default();
        let mut decoded: Vec<(&str, Decoded)> = Vec::with_capacity(cols.len());
        let mut warnings: Vec<String> = Vec::new();
        for cell in &cells {
            let Some(cid) = cell.get("id").and_then(Value::as_str) else {
                continue;
            };
            let Some(col) = by_id.get(cid) else {
                if !page.unmapped.iter().any(|u| u == cid) {
                    page.unmapped.push(cid.to_string());
                }
                continue;
            };
            match codec::decode(Some(&col.typ), *cell, col.settings.as_ref()) {
                Ok(Decoded::Text(t)) if t.contains('\0') => {
                    warnings.push(format!("item {item_id}, column \"{cid}\" ({}): the text contains \\u0000, which PostgreSQL text cannot store; typed value set to NULL, raw keeps it", col.typ));
                }
                Ok(d) => decoded.push((col.sql_name.as_str(), d)),
                Err(e) => warnings.push(format!("item {item_id}, column \"{cid}\" ({}): {}; typed value set to NULL, raw keeps it", col.typ, e.message)),
            }
        }
        for (name, d) in &decoded {
            put_key(out, name);
            d.write_json(out);
        }
        put_key(out, "raw");
        out.push('{');
        for (i, cell) in cells.iter().enumerate() {
            let Some(cid) = cell.get("id").and_then(Value::as_str) else {
                continue;
            };
            if i > 0 {
                out.push(',');
            }
            write_json_string(out, cid);
            out.push(':');
            // A Map always serialises.
            out.push_str(&serde_json::to_string(cell).unwrap_or_else(|_| "null".into()));
        }
        out.push_str("}}");
        for w in warnings {
            page.warn(w);
        }
    }
    page.json.push(']');
    page
}
