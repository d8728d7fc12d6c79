//! The sync engine's pure part: board metadata from the API, SQL names for monday titles, and typed
//! rows built from items with the column codec. No pgrx: `src/pg/sync.rs` runs it against tables.

pub mod activity;
pub mod names;
pub mod rows;

#[cfg(test)]
mod tests;

use serde_json::Value;

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

/// Parses one board object of a `boards` answer. `None` when a required field is missing.
pub fn board_meta(b: &Value) -> Option<BoardMeta> {
    let columns = b
        .get("columns")?
        .as_array()?
        .iter()
        .filter_map(|c| {
            Some(ApiColumn {
                id: c.get("id")?.as_str()?.to_string(),
                title: c.get("title")?.as_str()?.to_string(),
                typ: c.get("type")?.as_str()?.to_string(),
                settings: c
                    .get("settings_str")
                    .and_then(Value::as_str)
                    .and_then(|s| serde_json::from_str(s).ok())
                    .unwrap_or_else(|| Value::Object(Default::default())),
            })
        })
        .collect();
    let groups = b
        .get("groups")
        .and_then(Value::as_array)
        .map(|gs| {
            gs.iter()
                .filter_map(|g| {
                    Some(ApiGroup {
                        id: g.get("id")?.as_str()?.to_string(),
                        title: g.get("title")?.as_str()?.to_string(),
                        position: g
                            .get("position")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Some(BoardMeta {
        id: id_of(b.get("id")?)?,
        name: b.get("name")?.as_str()?.to_string(),
        kind: b
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("board")
            .to_string(),
        items_count: b.get("items_count").and_then(Value::as_i64),
        columns,
        groups,
    })
}
