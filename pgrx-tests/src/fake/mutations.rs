//! Item mutations (FACTS.md §2.1): `change_column_value`, `change_simple_column_value`,
//! `change_multiple_column_values`, `create_item`, `create_subitem`, `archive_item`,
//! `delete_item`, `move_item_to_group`. Each root field is checked completely before anything
//! changes (atomic per field: one bad value in `change_multiple_column_values` changes nothing of
//! that field), then applied through the world's change functions, which write the activity log
//! and emit the webhook events. Aliases are independent fields, applied in document order.

use super::columns::{self, Env, Form, Written};
use super::exec::{coded, coded_data, id_of, Planned};
use super::world::{now_iso_ms, Board, State, World};
use apollo_compiler::resolvers::FieldError;
use serde_json::{json, Map, Value};

/// The item mutations the fake executes.
pub const ITEM_MUTATIONS: [&str; 8] = [
    "change_column_value",
    "change_simple_column_value",
    "change_multiple_column_values",
    "create_item",
    "create_subitem",
    "archive_item",
    "delete_item",
    "move_item_to_group",
];

/// Complexity of one item mutation root field, before its selection. monday's legacy
/// ComplexityException for a bare `create_item { id }` read "query cost 30001" (changelog,
/// 2024-04): 30,000 for the mutation + 1 for `id`. No finer per-mutation figures are published,
/// so every item mutation costs the same here. With the extension's `ItemFields` selection
/// (~30 points) one `change_multiple_column_values` costs ~30,030: 166 aliases fit under the
/// 5,000,000 single-query limit, and a 10,000,000 budget takes ~333 a minute.
pub const MUTATION_COST: i64 = 30_000;

/// Item names: 1–255 characters (FACTS.md §1.3).
const NAME_MAX: usize = 255;

/// One column's value as sent, with how it was sent.
struct Sent {
    column: String,
    value: Value,
    form: Form,
}

/// A field's checked changes, ready to apply.
#[derive(Default)]
struct Checked {
    name: Option<String>,
    cells: Vec<(String, Written)>,
}

/// Makes one item mutation's change; the item it answers with.
pub fn apply(w: &mut World, p: &Planned, rules: &[(String, String)]) -> Result<i64, FieldError> {
    let a = &p.args;
    let create_labels = a.get("create_labels_if_missing").and_then(Value::as_bool) == Some(true);
    match p.name.as_str() {
        "change_column_value" | "change_simple_column_value" | "change_multiple_column_values" => {
            let board = board_arg(w, a)?;
            let item = item_arg(w, a, Some(board))?;
            let sent = match p.name.as_str() {
                "change_multiple_column_values" => {
                    let values = json_arg(a, "column_values")?;
                    let Some(Value::Object(m)) = values else {
                        return Err(coded(
                            "InvalidArgumentException",
                            400,
                            "column_values must be a JSON object of column id → value",
                        ));
                    };
                    m.into_iter()
                        .map(|(column, value)| Sent {
                            column,
                            value,
                            form: Form::Json,
                        })
                        .collect()
                }
                name => {
                    let column = a
                        .get("column_id")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    let (value, form) = if name == "change_column_value" {
                        (json_arg(a, "value")?.unwrap_or(Value::Null), Form::Json)
                    } else {
                        (a.get("value").cloned().unwrap_or(Value::Null), Form::Simple)
                    };
                    vec![Sent {
                        column,
                        value,
                        form,
                    }]
                }
            };
            let allow_clear_all = p.name == "change_column_value";
            let checked = check(
                w,
                board,
                Some(item),
                &sent,
                create_labels,
                allow_clear_all,
                rules,
            )?;
            commit(w, board, item, checked);
            Ok(item)
        }
        "create_item" => {
            let board = board_arg(w, a)?;
            let name = item_name(a.get("item_name"))?;
            let b = &w.boards[&board];
            // Placement: next to `relative_to` (before unless `after_at`), else last in the board.
            let mut position = None;
            let mut near_group = None;
            if let Some(rel) = a.get("relative_to").filter(|v| !v.is_null()) {
                let rid = id_of(a, "relative_to")
                    .filter(|r| b.item_ids.contains(r))
                    .ok_or_else(|| item_not_found(rel))?;
                let at = b.item_ids.iter().position(|i| *i == rid).unwrap_or(0);
                let after =
                    a.get("position_relative_method").and_then(Value::as_str) == Some("after_at");
                position = Some(at + usize::from(after));
                near_group = w.items.get(&rid).map(|it| it.group_id.clone());
            }
            let group = match a.get("group_id").and_then(Value::as_str) {
                Some(g) => group_on(b, g)?,
                None => match near_group {
                    Some(g) => g,
                    None => b
                        .groups
                        .first()
                        .map(|g| g.id.clone())
                        .ok_or_else(|| group_not_found(""))?,
                },
            };
            let sent = column_values(a)?;
            let checked = check(w, board, None, &sent, create_labels, false, rules)?;
            let cells = settle(w, board, checked.cells);
            Ok(w.create_item(board, &group, &name, cells, position))
        }
        "create_subitem" => {
            let parent = item_arg(w, a, None)?;
            let name = item_name(a.get("item_name"))?;
            let board = w.subitems_board(parent).ok_or_else(|| {
                coded(
                    "InvalidArgumentException",
                    400,
                    "The parent item's board has no subitems board (fake monday: add a subtasks column)",
                )
            })?;
            let sent = column_values(a)?;
            let checked = check(w, board, None, &sent, create_labels, false, rules)?;
            let cells = settle(w, board, checked.cells);
            w.create_subitem(parent, &name, cells)
                .ok_or_else(|| item_not_found(&json!(parent)))
        }
        "archive_item" | "delete_item" => {
            let item = item_arg(w, a, None)?;
            let state = if p.name == "archive_item" {
                State::Archived
            } else {
                State::Deleted
            };
            w.set_state(item, state);
            Ok(item)
        }
        "move_item_to_group" => {
            let item = item_arg(w, a, None)?;
            let board = &w.boards[&w.items[&item].board_id];
            let group = group_on(
                board,
                a.get("group_id").and_then(Value::as_str).unwrap_or(""),
            )?;
            w.move_to_group(item, &group);
            Ok(item)
        }
        other => Err(FieldError {
            message: format!("fake monday: Mutation.{other} is not implemented"),
        }),
    }
}

/// A `JSON` argument: clients send a string holding JSON (FACTS.md §2.1); an already-parsed
/// value (an object from variables or a literal) is taken as it is. None when absent or null.
fn json_arg(a: &Map<String, Value>, name: &str) -> Result<Option<Value>, FieldError> {
    match a.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => serde_json::from_str(s).map(Some).map_err(|e| {
            coded_data(
                "JsonParseException",
                400,
                &format!("{name} is not valid JSON: {e}"),
                json!({"argument": name}),
            )
        }),
        Some(v) => Ok(Some(v.clone())),
    }
}

fn column_values(a: &Map<String, Value>) -> Result<Vec<Sent>, FieldError> {
    match json_arg(a, "column_values")? {
        None => Ok(Vec::new()),
        Some(Value::Object(m)) => Ok(m
            .into_iter()
            .map(|(column, value)| Sent {
                column,
                value,
                form: Form::Json,
            })
            .collect()),
        Some(_) => Err(coded(
            "InvalidArgumentException",
            400,
            "column_values must be a JSON object of column id → value",
        )),
    }
}

fn board_arg(w: &World, a: &Map<String, Value>) -> Result<i64, FieldError> {
    let raw = a.get("board_id").cloned().unwrap_or(Value::Null);
    let b = id_of(a, "board_id")
        .and_then(|b| w.boards.get(&b))
        .ok_or_else(|| {
            coded_data(
                "InvalidBoardIdException",
                200,
                "The board does not exist. Please check your board ID and try again",
                json!({"board_id": raw}),
            )
        })?;
    if b.restricted {
        return Err(coded(
            "USER_UNAUTHORIZED",
            403,
            "User unauthorized to perform action",
        ));
    }
    Ok(b.id)
}

fn item_not_found(raw: &Value) -> FieldError {
    coded_data(
        "InvalidItemIdException",
        200,
        "Item not found",
        json!({"item_id": raw}),
    )
}

/// `item_id` (`parent_item_id` for create_subitem): an item that is not deleted, on `board` when
/// given.
fn item_arg(w: &World, a: &Map<String, Value>, board: Option<i64>) -> Result<i64, FieldError> {
    let key = if a.contains_key("parent_item_id") {
        "parent_item_id"
    } else {
        "item_id"
    };
    let raw = a.get(key).cloned().unwrap_or(Value::Null);
    id_of(a, key)
        .and_then(|i| w.items.get(&i))
        .filter(|it| it.state != State::Deleted)
        .filter(|it| board.is_none_or(|b| it.board_id == b))
        .map(|it| it.id)
        .ok_or_else(|| item_not_found(&raw))
}

fn group_not_found(g: &str) -> FieldError {
    coded_data(
        "ResourceNotFoundException",
        404,
        "Group not found",
        json!({"group_id": g}),
    )
}

fn group_on(b: &Board, g: &str) -> Result<String, FieldError> {
    b.groups
        .iter()
        .find(|x| x.id == g)
        .map(|x| x.id.clone())
        .ok_or_else(|| group_not_found(g))
}

/// 1–255 characters, else `ItemNameTooLongException` (HTTP 200, like monday's other
/// application errors; monday's `status_code` for it is unsourced).
fn item_name(v: Option<&Value>) -> Result<String, FieldError> {
    let Some(Value::String(s)) = v else {
        return Err(coded(
            "ItemNameTooLongException",
            200,
            "Item name must be a string of 1 to 255 characters",
        ));
    };
    let n = s.chars().count();
    if n == 0 || n > NAME_MAX {
        return Err(coded_data(
            "ItemNameTooLongException",
            200,
            &format!("Item name must be 1 to {NAME_MAX} characters long, got {n}"),
            json!({"name_length": n}),
        ));
    }
    Ok(s.clone())
}

/// Checks every value of one field against `board`'s columns and the validation rules; changes
/// nothing.
fn check(
    w: &World,
    board: i64,
    item: Option<i64>,
    sent: &[Sent],
    create_labels: bool,
    allow_clear_all: bool,
    rules: &[(String, String)],
) -> Result<Checked, FieldError> {
    let b = &w.boards[&board];
    let now = now_iso_ms();
    let mut out = Checked::default();
    for s in sent {
        let col = b.columns.iter().find(|c| c.id == s.column);
        if s.column == "name" || col.is_some_and(|c| c.typ == "name") {
            let name = match &s.value {
                Value::String(x) => Value::String(x.clone()),
                Value::Null => Value::Null,
                other => Value::String(other.to_string()),
            };
            out.name = Some(item_name(Some(&name))?);
            continue;
        }
        let Some(col) = col else {
            return Err(coded_data(
                "InvalidColumnIdException",
                200,
                &format!("This column ID doesn't exist for the board ({})", s.column),
                json!({"column_id": s.column}),
            ));
        };
        let env = Env {
            world: w,
            board: b,
            create_labels,
            allow_clear_all,
            now: &now,
        };
        out.cells
            .push((col.id.clone(), columns::write(&env, col, &s.value, s.form)?));
    }
    // Validation rules (monday's board-level rules, FACTS.md §2.1): a value whose JSON text
    // contains the rule's substring fails the whole field.
    let broken: Vec<&str> = sent
        .iter()
        .filter(|s| {
            let text = match (s.form, &s.value) {
                (Form::Simple, Value::String(x)) => x.clone(),
                (_, v) => v.to_string(),
            };
            rules
                .iter()
                .any(|(c, sub)| *c == s.column && text.contains(sub.as_str()))
        })
        .map(|s| s.column.as_str())
        .collect();
    if !broken.is_empty() {
        return Err(coded_data(
            "DATA_VALIDATIONS_ERROR",
            422,
            "The value does not meet the board's validation rules",
            json!([{
                "itemId": item.map(|i| i.to_string()),
                "columnIds": broken,
                "message": format!("Validation failed for column(s) {}", broken.join(", ")),
            }]),
        ));
    }
    Ok(out)
}

/// Applies created labels to the columns' settings; the cells to store.
fn settle(
    w: &mut World,
    board: i64,
    cells: Vec<(String, Written)>,
) -> Vec<(String, Map<String, Value>)> {
    cells
        .into_iter()
        .map(|(col, written)| {
            if let Some(s) = written.settings {
                w.set_column_settings(board, &col, s);
            }
            (col, written.cell)
        })
        .collect()
}

/// Applies a checked field to an existing item: the name, then each column in column-id order
/// (serde_json's maps are sorted), each its own `update_column_value` log entry and webhook event.
fn commit(w: &mut World, board: i64, item: i64, checked: Checked) {
    if let Some(name) = checked.name {
        w.rename(item, &name);
    }
    for (col, cell) in settle(w, board, checked.cells) {
        w.write_cell(item, &col, cell);
    }
}
