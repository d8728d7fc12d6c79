//! A whole item (`items_page` / `items(ids:)` shape) → one JSON object keyed by column id.

use super::{decode, write_json_string, DecodeError, ErrorCode};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The board's columns (`[{id, type, settings_str}, …]`), indexed by id: type and parsed settings.
pub struct Columns {
    by_id: HashMap<String, (Option<String>, Option<Value>)>,
}

impl Columns {
    pub fn from_json(columns: &Value) -> Result<Columns, DecodeError> {
        let shape_err = |message: &str| {
            DecodeError {
            code: ErrorCode::WrongShape,
            message: message.to_string(),
            detail: format!("columns: {}", super::truncate_bytes(&columns.to_string(), super::DETAIL_BYTES)),
            hint: "Pass the board's columns as returned by boards { columns { id type settings_str } }.".into(),
        }
        };
        // Accept the list itself, or {"columns": [...]} as a board object carries it.
        let list = match columns {
            Value::Array(a) => a,
            Value::Object(o) => match o.get("columns") {
                Some(Value::Array(a)) => a,
                _ => return Err(shape_err("columns must be a JSON array of column objects")),
            },
            _ => return Err(shape_err("columns must be a JSON array of column objects")),
        };
        let mut by_id = HashMap::with_capacity(list.len());
        for c in list {
            let Some(id) = c.get("id").and_then(Value::as_str) else {
                return Err(shape_err("every column needs a string \"id\""));
            };
            let ty = c.get("type").and_then(Value::as_str).map(str::to_string);
            let settings = match c.get("settings_str").or_else(|| c.get("settings")) {
                Some(Value::String(s)) => serde_json::from_str(s).ok(),
                Some(v @ Value::Object(_)) => Some(v.clone()),
                _ => None,
            };
            by_id.insert(id.to_string(), (ty, settings));
        }
        Ok(Columns { by_id })
    }
}

/// Decodes every cell of `item`. The result has `name` (from `Item.name`) and one key per
/// column value; empty cells are JSON null.
pub fn decode_item(item: &Value, columns: Option<&Columns>) -> Result<String, DecodeError> {
    let shape_err = |message: &str| DecodeError {
        code: ErrorCode::WrongShape,
        message: message.to_string(),
        detail: format!(
            "item: {}",
            super::truncate_bytes(&item.to_string(), super::DETAIL_BYTES)
        ),
        hint: "Pass one element of items_page.items (with id, name and column_values).".into(),
    };
    let Value::Object(obj) = item else {
        return Err(shape_err("item must be a JSON object"));
    };
    let mut out = String::with_capacity(256);
    out.push('{');
    let mut first = true;
    let mut push_key = |out: &mut String, key: &str| {
        if !first {
            out.push_str(", ");
        }
        first = false;
        write_json_string(out, key);
        out.push_str(": ");
    };
    if let Some(name) = obj.get("name") {
        push_key(&mut out, "name");
        match name {
            Value::String(s) => write_json_string(&mut out, s),
            _ => out.push_str("null"),
        }
    }
    let empty = Vec::new();
    let cells = match obj.get("column_values") {
        Some(Value::Array(a)) => a,
        None | Some(Value::Null) => &empty,
        Some(_) => return Err(shape_err("item column_values must be an array")),
    };
    for cell in cells {
        let Value::Object(cell) = cell else {
            return Err(shape_err("every column value must be an object"));
        };
        let Some(id) = cell.get("id").and_then(Value::as_str) else {
            return Err(shape_err("every column value needs a string \"id\""));
        };
        let (ty, settings) = match columns.and_then(|c| c.by_id.get(id)) {
            Some((ty, settings)) => (ty.as_deref(), settings.as_ref()),
            None => (None, None),
        };
        let decoded = decode(ty, cell as &Map<String, Value>, settings)?;
        push_key(&mut out, id);
        decoded.write_json(&mut out);
    }
    out.push('}');
    Ok(out)
}
