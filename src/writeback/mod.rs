//! Write-back, pure: the outbox's entries → one mutation request of aliased root fields (several
//! items per call, FACTS.md §2.1), and monday's answer → one outcome per entry. No pgrx here.
//!
//! An entry's `changes` maps fields to what monday accepts for them (`encode`'s output): a column
//! id → its JSON, `name` → the item's name, `#group` → a group id, `#state` → `archived` or
//! `deleted`. One entry becomes up to three aliases, in this order: its columns and name
//! (`change_multiple_column_values`, or `create_item` / `create_subitem` for a new item), its group
//! (`move_item_to_group`), its state (`archive_item` / `delete_item`). Every alias answers the item
//! with the fields a pull reads, so the row is written from the answer without another call.

#[cfg(test)]
mod tests;

use serde_json::{json, Map, Value};
use std::fmt::Write as _;

/// What monday charges for one item mutation (its own cost; the selection comes on top): the
/// figure its ComplexityException messages show for `create_item` and friends.
pub const MUTATION_COMPLEXITY: i64 = 30_000;
/// monday's limit for one query's complexity.
pub const QUERY_COMPLEXITY_LIMIT: i64 = 5_000_000;

/// One outbox entry, as the sender sends it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub write_id: i64,
    /// The item's board (a subitem's is the subitems board).
    pub board_id: i64,
    /// The item (an update), or the row's temporary negative id (a create).
    pub item_id: i64,
    pub create: bool,
    /// A subitem to create: its parent's monday id.
    pub parent_item_id: Option<i64>,
    pub changes: Map<String, Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AliasKind {
    Columns,
    Create,
    CreateSubitem,
    Group,
    Archive,
    Delete,
}

/// One request: the document, its variables, and which entry each alias belongs to.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub document: String,
    pub variables: Value,
    /// (alias, write_id, kind), in document order.
    pub aliases: Vec<(String, i64, AliasKind)>,
}

/// The operation name of every write request (the client sends it as `operationName`).
pub const OPERATION: &str = "write_items";

/// The root fields an entry needs (how many aliases it will take).
pub fn alias_count(e: &Entry) -> usize {
    let cols = e.create || e.changes.keys().any(|k| !k.starts_with('#'));
    usize::from(cols)
        + usize::from(!e.create && e.changes.contains_key("#group"))
        + usize::from(!e.create && e.changes.contains_key("#state"))
}

/// The column values to send: every field but `#group`/`#state` (and, for a create, `name`,
/// which is `item_name`).
fn column_values(e: &Entry) -> Map<String, Value> {
    e.changes
        .iter()
        .filter(|(k, _)| !(k.starts_with('#') || e.create && k.as_str() == "name"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Builds one request for `entries` (the caller keeps them within [`max_aliases`]).
/// `create_labels`: status/dropdown labels missing on monday are created.
pub fn build(entries: &[Entry], create_labels: bool, item_fields: &str) -> Request {
    let mut defs: Vec<String> = Vec::new();
    let mut body = String::new();
    let mut vars = Map::new();
    let mut aliases = Vec::new();
    let labels = if create_labels { "true" } else { "false" };
    for e in entries {
        let w = e.write_id;
        let cols = column_values(e);
        if e.create {
            let name = e
                .changes
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            vars.insert(format!("n{w}"), json!(name));
            vars.insert(format!("v{w}"), json!(Value::Object(cols).to_string()));
            defs.push(format!("$n{w}: String!"));
            defs.push(format!("$v{w}: JSON"));
            if let Some(parent) = e.parent_item_id {
                vars.insert(format!("p{w}"), json!(parent.to_string()));
                defs.push(format!("$p{w}: ID!"));
                let a = format!("s{w}");
                let _ = writeln!(
                    body,
                    "  {a}: create_subitem(parent_item_id: $p{w}, item_name: $n{w}, column_values: $v{w}, create_labels_if_missing: {labels}) {{ ...ItemFields board {{ id }} }}"
                );
                aliases.push((a, w, AliasKind::CreateSubitem));
            } else {
                vars.insert(format!("b{w}"), json!(e.board_id.to_string()));
                defs.push(format!("$b{w}: ID!"));
                let group = match e.changes.get("#group").and_then(Value::as_str) {
                    Some(g) => {
                        vars.insert(format!("g{w}"), json!(g));
                        defs.push(format!("$g{w}: String"));
                        format!(", group_id: $g{w}")
                    }
                    None => String::new(),
                };
                let a = format!("n{w}");
                let _ = writeln!(
                    body,
                    "  {a}: create_item(board_id: $b{w}, item_name: $n{w}{group}, column_values: $v{w}, create_labels_if_missing: {labels}) {{ ...ItemFields board {{ id }} }}"
                );
                aliases.push((a, w, AliasKind::Create));
            }
            continue;
        }
        vars.insert(format!("i{w}"), json!(e.item_id.to_string()));
        defs.push(format!("$i{w}: ID"));
        if !cols.is_empty() {
            vars.insert(format!("b{w}"), json!(e.board_id.to_string()));
            vars.insert(format!("v{w}"), json!(Value::Object(cols).to_string()));
            defs.push(format!("$b{w}: ID!"));
            defs.push(format!("$v{w}: JSON!"));
            let a = format!("c{w}");
            let _ = writeln!(
                body,
                "  {a}: change_multiple_column_values(board_id: $b{w}, item_id: $i{w}, column_values: $v{w}, create_labels_if_missing: {labels}) {{ ...ItemFields board {{ id }} }}"
            );
            aliases.push((a, w, AliasKind::Columns));
        }
        if let Some(g) = e.changes.get("#group").and_then(Value::as_str) {
            vars.insert(format!("g{w}"), json!(g));
            defs.push(format!("$g{w}: String!"));
            let a = format!("g{w}");
            let _ = writeln!(
                body,
                "  {a}: move_item_to_group(item_id: $i{w}, group_id: $g{w}) {{ ...ItemFields board {{ id }} }}"
            );
            aliases.push((a, w, AliasKind::Group));
        }
        match e.changes.get("#state").and_then(Value::as_str) {
            Some("archived") => {
                let a = format!("a{w}");
                let _ = writeln!(
                    body,
                    "  {a}: archive_item(item_id: $i{w}) {{ ...ItemFields board {{ id }} }}"
                );
                aliases.push((a, w, AliasKind::Archive));
            }
            Some("deleted") => {
                let a = format!("d{w}");
                let _ = writeln!(
                    body,
                    "  {a}: delete_item(item_id: $i{w}) {{ ...ItemFields board {{ id }} }}"
                );
                aliases.push((a, w, AliasKind::Delete));
            }
            _ => {}
        }
    }
    let document = format!(
        "mutation {OPERATION}({defs}) {{\n  complexity {{ before after query reset_in_x_seconds }}\n{body}}}\n{item_fields}",
        defs = defs.join(", "),
    );
    Request {
        document,
        variables: Value::Object(vars),
        aliases,
    }
}

/// How many aliases fit in one request: monday's single-query limit over a mutation's cost and
/// the item it answers (`per_item`: the selection's complexity), with a quarter kept free.
pub fn max_aliases(per_item: i64) -> usize {
    let each = MUTATION_COMPLEXITY + per_item.max(1);
    ((QUERY_COMPLEXITY_LIMIT * 3 / 4) / each).max(1) as usize
}

/// Why monday refused one alias.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    pub code: String,
    pub message: String,
    /// The column monday named, when it named one.
    pub column: Option<String>,
    /// A refusal that may pass later (a locked board, a server error): the entry is retried.
    /// Otherwise it fails for good: retrying the same value gets the same answer.
    pub transient: bool,
}

/// One entry's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub write_id: i64,
    /// The item as the last successful alias answered it (with `board { id }`).
    pub item: Option<Value>,
    /// The first refusal among the entry's aliases.
    pub refusal: Option<Refusal>,
    /// Aliases that succeeded.
    pub done: Vec<AliasKind>,
}

/// Codes that mean "this value, this item, this column: never".
const PERMANENT: &[&str] = &[
    "ColumnValueException",
    "CorrectedValueException",
    "DATA_VALIDATIONS_ERROR",
    "InvalidColumnIdException",
    "InvalidItemIdException",
    "InvalidBoardIdException",
    "InvalidArgumentException",
    "ItemNameTooLongException",
    "ItemsLimitationException",
    "RecordInvalidException",
    "ResourceNotFoundException",
    "USER_UNAUTHORIZED",
    "UserUnauthorizedException",
    "USER_ACCESS_DENIED",
    "missingRequiredPermissions",
    "JsonParseException",
];

fn refusal_of(err: &Value) -> Refusal {
    let code = err
        .pointer("/extensions/code")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let message = err
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("monday refused the change")
        .to_string();
    let data = err.pointer("/extensions/error_data");
    let column = data
        .and_then(|d| d.get("column_id"))
        .and_then(Value::as_str)
        .map(String::from)
        .or_else(|| {
            // DATA_VALIDATIONS_ERROR: [{itemId, columnIds, message}]
            data.and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(|e| e.get("columnIds"))
                .and_then(Value::as_array)
                .and_then(|c| c.first())
                .and_then(|c| {
                    c.as_str()
                        .map(String::from)
                        .or(c.as_i64().map(|i| i.to_string()))
                })
        });
    let detail = data
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str);
    let message = match detail {
        Some(d) if !message.contains(d) => format!("{message}: {d}"),
        _ => message,
    };
    Refusal {
        transient: !PERMANENT.contains(&code.as_str()),
        code,
        message,
        column,
    }
}

/// Reads monday's answer (`{"data": {...}, "errors": [...]}`) for `req`: one outcome per entry,
/// in the order of the request. An alias neither answered nor refused (a null without an error)
/// is a transient refusal: the entry goes again.
pub fn read(body: &Value, req: &Request) -> Vec<Outcome> {
    let errors: Vec<&Value> = body
        .get("errors")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let mut out: Vec<Outcome> = Vec::new();
    for (alias, write_id, kind) in &req.aliases {
        let idx = match out.iter().position(|o| o.write_id == *write_id) {
            Some(i) => i,
            None => {
                out.push(Outcome {
                    write_id: *write_id,
                    item: None,
                    refusal: None,
                    done: Vec::new(),
                });
                out.len() - 1
            }
        };
        let o = &mut out[idx];
        let item = body
            .pointer(&format!("/data/{alias}"))
            .filter(|v| v.is_object());
        match item {
            Some(it) => {
                o.item = Some(it.clone());
                o.done.push(*kind);
            }
            None => {
                let err = errors.iter().find(|e| {
                    e.get("path")
                        .and_then(Value::as_array)
                        .and_then(|p| p.first())
                        .and_then(Value::as_str)
                        == Some(alias.as_str())
                });
                if o.refusal.is_none() {
                    o.refusal = Some(match err {
                        Some(e) => refusal_of(e),
                        None => Refusal {
                            code: String::new(),
                            message: format!("monday answered no item for {alias}"),
                            column: None,
                            transient: true,
                        },
                    });
                }
            }
        }
    }
    out
}

/// A conflict check: the fields of `changes` whose cell on monday now (`current`, the item as
/// fetched) differs from the one the change was based on (`base`). Cells compare by `value` and
/// `text` (a change on monday moves `changed_at` in `value` even when it sets the same label);
/// `name`, `#group` and `#state` by the item's fields.
pub fn conflicting(
    changes: &Map<String, Value>,
    base: &Map<String, Value>,
    current: &Value,
) -> Vec<String> {
    let mut out = Vec::new();
    for key in changes.keys() {
        // No base (a column the row had no cell for): nothing to compare with.
        let Some(was) = base.get(key).filter(|w| !w.is_null()) else {
            continue;
        };
        let now = match key.as_str() {
            "name" => current.get("name").cloned().unwrap_or(Value::Null),
            "#group" => current.pointer("/group/id").cloned().unwrap_or(Value::Null),
            "#state" => current.get("state").cloned().unwrap_or(Value::Null),
            col => current
                .get("column_values")
                .and_then(Value::as_array)
                .and_then(|cs| {
                    cs.iter()
                        .find(|c| c.get("id").and_then(Value::as_str) == Some(col))
                })
                .map(|c| json!({ "value": c.get("value"), "text": c.get("text") }))
                .unwrap_or(Value::Null),
        };
        let was = match key.as_str() {
            "name" | "#group" | "#state" => was.clone(),
            _ => json!({ "value": was.get("value"), "text": was.get("text") }),
        };
        if was != now {
            out.push(key.clone());
        }
    }
    out
}
