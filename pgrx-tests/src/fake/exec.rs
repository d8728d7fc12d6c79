//! Executing a validated document against the fake's world with apollo-compiler's resolver API:
//! fragments, aliases, argument defaults (`items(ids:)`'s `limit: 25`) and result coercion come
//! from the GraphQL implementation, not from us.
//!
//! Mutations run in two passes, because resolvers only borrow the world: [`plan_mutation`] lists
//! the root fields with their arguments, [`apply_mutation`] makes each change in document order
//! (one `match` arm per mutation: add new ones there; the item mutations are in
//! `mutations.rs`), and the execution then resolves each field's selection on what its change
//! made ([`Outcome`]).

use super::world::{
    ticks_of_iso, value_type_name, Board, Column, Group, Item, State, Webhook, World,
};
use apollo_compiler::executable::{Selection, SelectionSet};
use apollo_compiler::resolvers::{FieldError, ObjectValue, ResolveInfo, ResolvedValue};
use apollo_compiler::response::{JsonMap, JsonValue};
use apollo_compiler::ExecutableDocument;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A server-side snapshot behind a cursor (monday's cursors are snapshots, valid 60 min from the
/// first page).
pub struct Snapshot {
    pub board: i64,
    pub ids: Vec<i64>,
    pub created: Instant,
}

#[derive(Default)]
pub struct Cursors {
    pub next_token: u64,
    pub snapshots: HashMap<u64, Snapshot>,
    /// Pages served from cursors since the knob was set (for `expire_cursor_after_pages`).
    pub pages_served: u32,
    /// `expire_cursor_after_pages` fires once.
    pub expiry_fired: bool,
}

pub struct Ctx<'a> {
    pub world: &'a World,
    pub cursors: RefCell<&'a mut Cursors>,
    pub cursor_ttl: Duration,
    pub expire_after_pages: Option<u32>,
    /// Activity-log entries older than this are gone (monday's retention depends on the plan).
    pub log_retention: Option<Duration>,
    /// How many entries of one activity_logs query pagination can reach (monday: 10,000).
    pub log_reach: usize,
    /// `complexity { before after query reset_in_x_seconds }` for this request.
    pub complexity: [i64; 4],
}

/// Marks a resolver error with monday's `extensions.code`; `fix_errors` turns it into the real shape.
pub fn coded(code: &str, status: u16, message: &str) -> FieldError {
    FieldError {
        message: format!("\u{1}{code}\u{1}{status}\u{1}{message}"),
    }
}

/// Like [`coded`], with `extensions.error_data` (an object, or DATA_VALIDATIONS_ERROR's array).
pub fn coded_data(code: &str, status: u16, message: &str, data: Value) -> FieldError {
    FieldError {
        message: format!("\u{1}{code}\u{1}{status}\u{1}{message}\u{2}{data}"),
    }
}

/// Rewrites coded resolver errors into monday's unified error shape.
pub fn fix_errors(body: &mut Value) {
    let Some(errors) = body.get_mut("errors").and_then(Value::as_array_mut) else {
        return;
    };
    for e in errors {
        let Some(msg) = e.get("message").and_then(Value::as_str) else {
            continue;
        };
        let parts: Vec<&str> = msg.splitn(4, '\u{1}').collect();
        if parts.len() == 4 {
            let (message, data) = match parts[3].split_once('\u{2}') {
                Some((m, d)) => (m, serde_json::from_str::<Value>(d).ok()),
                None => (parts[3], None),
            };
            let (code, status, message) = (
                parts[1].to_string(),
                parts[2].parse::<u16>().unwrap_or(200),
                message.to_string(),
            );
            e["message"] = Value::String(message);
            let ext = e
                .as_object_mut()
                .unwrap()
                .entry("extensions")
                .or_insert_with(|| Value::Object(Map::new()));
            ext["code"] = Value::String(code);
            ext["status_code"] = Value::from(status);
            if let Some(d) = data {
                ext["error_data"] = d;
            }
        } else {
            let ext = e
                .as_object_mut()
                .unwrap()
                .entry("extensions")
                .or_insert_with(|| Value::Object(Map::new()));
            if ext.get("code").is_none() {
                ext["code"] = Value::String("INTERNAL_SERVER_ERROR".into());
            }
        }
    }
}

pub enum Node<'a> {
    Query,
    /// The mutation root: each root field's outcome, by response key.
    Mutation(&'a Outcomes),
    Webhook(&'a Webhook),
    Board(&'a Board),
    Column(&'a Column),
    /// A group of a board (group ids are unique within their board only).
    Group(&'a Board, &'a Group),
    Item(&'a Item),
    Cell(&'a Item, &'a Column),
    Page {
        ids: Vec<i64>,
        cursor: Option<String>,
    },
    Complexity,
    /// One page of `Board.updates_page`: the updates and the cursor for the rest.
    UpdatesPage(Vec<&'a Map<String, Value>>, Option<String>),
    /// A typed field's object (PeopleEntity, DropdownValueOption, …) from the stored cell.
    Json(String, &'a Map<String, Value>),
}

pub struct Obj<'a> {
    pub ctx: &'a Ctx<'a>,
    pub node: Node<'a>,
}

fn j(v: Value) -> JsonValue {
    JsonValue::from(v)
}

fn arg<'i>(info: &'i ResolveInfo<'_>, name: &str) -> Option<&'i JsonValue> {
    info.arguments().get(name).filter(|v| !v.is_null())
}

/// An `ID` given as a string or an integer (monday accepts both).
fn json_id(v: &JsonValue) -> Option<i64> {
    v.as_str()
        .and_then(|s| s.trim().parse().ok())
        .or_else(|| v.as_i64())
}

/// `items_page(cursor:)`'s cursor (a board's or a group's); with `query_params` too, monday's
/// error: the filter goes with the first page only.
fn cursor_arg<'i>(info: &'i ResolveInfo<'_>) -> Result<Option<&'i str>, FieldError> {
    let Some(c) = arg(info, "cursor").and_then(|v| v.as_str()) else {
        return Ok(None);
    };
    if arg(info, "query_params").is_some() {
        return Err(coded(
            "InvalidArgumentException",
            400,
            "query_params and cursor cannot be used together",
        ));
    }
    Ok(Some(c))
}

fn arg_i64(info: &ResolveInfo<'_>, name: &str) -> Option<i64> {
    arg(info, name).and_then(|v| v.as_i64())
}

/// `[ID!]` arguments arrive as strings (or integers, which monday also accepts).
fn arg_ids(info: &ResolveInfo<'_>, name: &str) -> Option<Vec<i64>> {
    let list = arg(info, name)?.as_array()?;
    Some(
        list.iter()
            .filter_map(|v| {
                v.as_str()
                    .and_then(|s| s.parse().ok())
                    .or_else(|| v.as_i64())
            })
            .collect(),
    )
}

fn arg_strs(info: &ResolveInfo<'_>, name: &str) -> Option<Vec<String>> {
    let list = arg(info, name)?.as_array()?;
    Some(
        list.iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
    )
}

fn encode_cursor(board: i64, snap: u64, total: usize, offset: usize) -> String {
    let raw = format!("1,{board},{snap},{total},{offset},|{}", offset % 7);
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_cursor(c: &str) -> Option<(i64, u64, usize)> {
    if !c.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..c.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(c.get(i..i + 2)?, 16).ok())
        .collect();
    let raw = String::from_utf8(bytes?).ok()?;
    let f: Vec<&str> = raw.split(',').collect();
    if f.len() < 5 || f[0] != "1" {
        return None;
    }
    Some((f[1].parse().ok()?, f[2].parse().ok()?, f[4].parse().ok()?))
}

impl<'a> Obj<'a> {
    fn child(&self, node: Node<'a>) -> Obj<'a> {
        Obj {
            ctx: self.ctx,
            node,
        }
    }

    fn list<'b, I: Iterator<Item = Node<'a>> + 'b>(&self, nodes: I) -> ResolvedValue<'b>
    where
        'a: 'b,
    {
        let ctx = self.ctx;
        ResolvedValue::list(nodes.map(move |n| ResolvedValue::object(Obj { ctx, node: n })))
    }

    /// One page of a snapshot, and the cursor for the rest (`null` at the end).
    fn page(
        &self,
        board: i64,
        snap: u64,
        offset: usize,
        limit: usize,
    ) -> Result<Node<'a>, FieldError> {
        let mut cursors = self.ctx.cursors.borrow_mut();
        let total = cursors
            .snapshots
            .get(&snap)
            .map(|s| s.ids.len())
            .unwrap_or(0);
        let ids: Vec<i64> = cursors
            .snapshots
            .get(&snap)
            .map(|s| s.ids.iter().skip(offset).take(limit).copied().collect())
            .unwrap_or_default();
        // A snapshot keeps its ids; items deleted since are skipped, changes since are live.
        let ids: Vec<i64> = ids
            .into_iter()
            .filter(|i| {
                self.ctx
                    .world
                    .items
                    .get(i)
                    .is_some_and(|it| it.state == State::Active)
            })
            .collect();
        let end = offset + limit;
        let cursor = if end < total {
            Some(encode_cursor(board, snap, total, end))
        } else {
            cursors.snapshots.remove(&snap);
            None
        };
        Ok(Node::Page { ids, cursor })
    }

    /// The first page of a new snapshot of the board's active items (those of `groups` only, when
    /// given: the cursor pages keep the filter, as monday's snapshot does).
    fn first_page(
        &self,
        board: &'a Board,
        limit: usize,
        groups: Option<&[String]>,
    ) -> Result<Node<'a>, FieldError> {
        let w = self.ctx.world;
        let mut ids = w.active_items(board.id);
        if let Some(groups) = groups {
            ids.retain(|i| {
                w.items
                    .get(i)
                    .is_some_and(|it| groups.contains(&it.group_id))
            });
        }
        let snap = {
            let mut cursors = self.ctx.cursors.borrow_mut();
            cursors.next_token += 1;
            let t = cursors.next_token;
            cursors.snapshots.insert(
                t,
                Snapshot {
                    board: board.id,
                    ids,
                    created: Instant::now(),
                },
            );
            t
        };
        self.page(board.id, snap, 0, limit)
    }

    fn next_page(&self, cursor: &str, limit: usize) -> Result<Node<'a>, FieldError> {
        let expired = || {
            coded("CursorExpiredError", 200, "The cursor has expired. Cursors are valid for 60 minutes after the first request; start a new items_page query.")
        };
        let Some((board, snap, offset)) = decode_cursor(cursor) else {
            return Err(coded(
                "CursorException",
                200,
                "Invalid or corrupted cursor provided.",
            ));
        };
        {
            let mut cursors = self.ctx.cursors.borrow_mut();
            let Some(s) = cursors.snapshots.get(&snap) else {
                return Err(expired());
            };
            if s.board != board || s.created.elapsed() > self.ctx.cursor_ttl {
                cursors.snapshots.remove(&snap);
                return Err(expired());
            }
            if let Some(n) = self.ctx.expire_after_pages {
                if cursors.pages_served >= n && !cursors.expiry_fired {
                    // This cursor only: other walks' cursors (a parallel pull's other groups)
                    // live on.
                    cursors.snapshots.remove(&snap);
                    cursors.expiry_fired = true;
                    return Err(expired());
                }
            }
            cursors.pages_served += 1;
        }
        self.page(board, snap, offset, limit)
    }
}

/// The groups an `items_page(query_params:)` asks for. Implemented: one rule on `column_id:
/// "group"` with `operator: any_of` (the default) and a list of group ids (FACTS.md §3.2); anything
/// else (other columns or operators, `groups`, `ids`, `order_by`, `operator: or`) answers
/// FAKE_NOT_IMPLEMENTED rather than being ignored.
pub fn group_filter(qp: &JsonValue) -> Result<Vec<String>, FieldError> {
    let qp: Value = serde_json::to_value(qp).unwrap_or(Value::Null);
    let unsupported = |what: &str| {
        coded(
            "FAKE_NOT_IMPLEMENTED",
            400,
            &format!("fake monday: items_page query_params {what} is not implemented (only rules: [{{column_id: \"group\", compare_value: [group ids], operator: any_of}}])"),
        )
    };
    let Some(obj) = qp.as_object() else {
        return Err(unsupported("that are not an object"));
    };
    for (k, v) in obj {
        match (k.as_str(), v) {
            ("rules", _) | (_, Value::Null) => {}
            // The schema's default for `operator`; with one rule it changes nothing.
            ("operator", Value::String(o)) if o == "and" => {}
            _ => return Err(unsupported(&format!("`{k}`"))),
        }
    }
    let rules = obj
        .get("rules")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let [rule] = rules else {
        return Err(unsupported(&format!(
            "with {} rules (one is implemented)",
            rules.len()
        )));
    };
    if rule.get("column_id").and_then(Value::as_str) != Some("group") {
        return Err(unsupported(&format!(
            "rules on column {}",
            rule.get("column_id").unwrap_or(&Value::Null)
        )));
    }
    match rule.get("operator") {
        None | Some(Value::Null) => {}
        Some(Value::String(o)) if o == "any_of" => {}
        Some(o) => return Err(unsupported(&format!("operator {o}"))),
    }
    if rule.get("compare_attribute").is_some_and(|v| !v.is_null()) {
        return Err(unsupported("compare_attribute"));
    }
    let values = match rule.get("compare_value") {
        Some(Value::Array(a)) => a.clone(),
        Some(v @ Value::String(_)) => vec![v.clone()],
        _ => return Err(unsupported("compare_value that is not a list of group ids")),
    };
    values
        .iter()
        .map(|v| v.as_str().map(String::from))
        .collect::<Option<Vec<String>>>()
        .ok_or_else(|| unsupported("compare_value that is not a list of group ids"))
}

/// An ISO 8601 date-time argument (`from`, `to`, `from_date` …) as 100-ns ticks; 400 when it is
/// not one.
fn iso_arg(info: &ResolveInfo<'_>, name: &str) -> Result<Option<i64>, FieldError> {
    match arg(info, name).and_then(|v| v.as_str()) {
        None => Ok(None),
        Some(t) => ticks_of_iso(t).map(Some).ok_or_else(|| {
            coded(
                "InvalidArgumentException",
                400,
                &format!("{name}: invalid ISO8601 date-time {t:?}"),
            )
        }),
    }
}

fn limit_arg(info: &ResolveInfo<'_>) -> Result<usize, FieldError> {
    let limit = arg_i64(info, "limit").unwrap_or(25);
    if !(1..=500).contains(&limit) {
        return Err(coded(
            "InvalidArgumentException",
            400,
            &format!("limit must be between 1 and 500, got {limit}"),
        ));
    }
    Ok(limit as usize)
}

impl<'a> ObjectValue for Obj<'a> {
    fn type_name(&self) -> &str {
        match &self.node {
            Node::Query => "Query",
            Node::Mutation(_) => "Mutation",
            Node::Webhook(_) => "Webhook",
            Node::Board(_) => "Board",
            Node::Column(_) => "Column",
            Node::Group(..) => "Group",
            Node::Item(_) => "Item",
            Node::Cell(_, c) => cell_type_name(&c.typ),
            Node::Page { .. } => "ItemsResponse",
            Node::Complexity => "Complexity",
            Node::UpdatesPage(..) => "UpdatesPage",
            Node::Json(t, _) => t,
        }
    }

    fn resolve_field<'b>(
        &'b self,
        info: &'b ResolveInfo<'b>,
    ) -> Result<ResolvedValue<'b>, FieldError> {
        let w = self.ctx.world;
        let f = info.field_name();
        let not_implemented = || {
            Err(FieldError {
                message: format!("fake monday: {}.{f} is not implemented", self.type_name()),
            })
        };
        match &self.node {
            Node::Query => match f {
                "boards" => {
                    let ids = arg_ids(info, "ids");
                    let workspaces = arg_ids(info, "workspace_ids");
                    let limit = arg_i64(info, "limit").unwrap_or(25).max(1) as usize;
                    let page = arg_i64(info, "page").unwrap_or(1).max(1) as usize;
                    // `limit` (default 25) applies to a list of ids too: asking for more boards
                    // than that needs a limit.
                    let boards: Vec<&Board> = match &ids {
                        Some(ids) => ids
                            .iter()
                            .filter_map(|i| w.boards.get(i))
                            .take(limit)
                            .collect(),
                        None => w
                            .boards
                            .values()
                            .filter(|b| {
                                workspaces.as_ref().is_none_or(|ws| {
                                    b.workspace_id.is_some_and(|x| ws.contains(&x))
                                })
                            })
                            .skip((page - 1) * limit)
                            .take(limit)
                            .collect(),
                    };
                    // A board the token's user may not see fails a query by id (a listing by
                    // workspace still names it: how a test makes one board of many fail).
                    if ids.is_some() && boards.iter().any(|b| b.restricted) {
                        return Err(coded(
                            "USER_UNAUTHORIZED",
                            403,
                            "User unauthorized to perform action",
                        ));
                    }
                    Ok(self.list(boards.into_iter().map(Node::Board)))
                }
                "items" => {
                    let Some(ids) = arg_ids(info, "ids") else {
                        return Ok(ResolvedValue::list(std::iter::empty()));
                    };
                    if ids.len() > 100 {
                        return Err(coded(
                            "InvalidArgumentException",
                            400,
                            "The items query accepts at most 100 ids",
                        ));
                    }
                    let limit = arg_i64(info, "limit").unwrap_or(25).max(0) as usize;
                    let page = arg_i64(info, "page").unwrap_or(1).max(1) as usize;
                    let exclude = arg(info, "exclude_nonactive")
                        .and_then(|v| v.as_bool())
                        .unwrap_or(false);
                    let mut seen = std::collections::HashSet::new();
                    let items: Vec<&Item> = ids
                        .iter()
                        .filter(|i| seen.insert(**i))
                        .filter_map(|i| w.items.get(i))
                        .filter(|it| !exclude || it.state == State::Active)
                        .skip((page - 1) * limit)
                        .take(limit)
                        .collect();
                    Ok(self.list(items.into_iter().map(Node::Item)))
                }
                "next_items_page" => {
                    let limit = limit_arg(info)?;
                    let cursor = arg(info, "cursor").and_then(|v| v.as_str()).unwrap_or("");
                    Ok(ResolvedValue::object(
                        self.child(self.next_page(cursor, limit)?),
                    ))
                }
                "complexity" => Ok(ResolvedValue::object(self.child(Node::Complexity))),
                // The account. `users` pages (limit 1 to 1,000, default 200) and filters by
                // status (default ACTIVE and PENDING); deleted users are not listed.
                "users" => {
                    let ids = arg_ids(info, "ids");
                    let limit = arg_i64(info, "limit").unwrap_or(200);
                    if !(1..=1000).contains(&limit) {
                        return Err(coded(
                            "InvalidArgumentException",
                            400,
                            &format!("limit must be between 1 and 1000, got {limit}"),
                        ));
                    }
                    let page = arg_i64(info, "page").unwrap_or(1).max(1) as usize;
                    let statuses: Vec<String> = arg(info, "status")
                        .and_then(|v| v.as_array())
                        .map(|a| {
                            a.iter()
                                .filter_map(|s| s.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_else(|| vec!["ACTIVE".into(), "PENDING".into()]);
                    let users: Vec<&Map<String, Value>> = w
                        .account_users
                        .iter()
                        .filter(|(id, _)| ids.as_ref().is_none_or(|ids| ids.contains(id)))
                        .map(|(_, m)| m)
                        .filter(|m| m.get("is_deleted") != Some(&Value::Bool(true)))
                        .filter(|m| {
                            m.get("status")
                                .and_then(Value::as_str)
                                .is_some_and(|s| statuses.iter().any(|x| x == s))
                        })
                        .skip((page - 1) * limit as usize)
                        .take(limit as usize)
                        .collect();
                    Ok(self.list(users.into_iter().map(|m| Node::Json("User".into(), m))))
                }
                // Workspaces (state filter: active by default, or all) and folders, paged.
                "workspaces" | "folders" => {
                    let ids = arg_ids(info, "ids");
                    let limit = arg_i64(info, "limit").unwrap_or(25).max(1) as usize;
                    let page = arg_i64(info, "page").unwrap_or(1).max(1) as usize;
                    let state = arg(info, "state")
                        .and_then(|v| v.as_str())
                        .unwrap_or("active")
                        .to_string();
                    let (map, ty) = if f == "workspaces" {
                        (&w.account_workspaces, "Workspace")
                    } else {
                        (&w.account_folders, "Folder")
                    };
                    let rows: Vec<&Map<String, Value>> = map
                        .iter()
                        .filter(|(id, _)| ids.as_ref().is_none_or(|ids| ids.contains(id)))
                        .map(|(_, m)| m)
                        .filter(|m| {
                            ty == "Folder"
                                || state == "all"
                                || m.get("state").and_then(Value::as_str) == Some(state.as_str())
                        })
                        .skip((page - 1) * limit)
                        .take(limit)
                        .collect();
                    Ok(self.list(rows.into_iter().map(move |m| Node::Json(ty.into(), m))))
                }
                // Files by id: those of file columns and of updates (`World::column_assets`).
                "assets" => {
                    let ids = arg_ids(info, "ids").unwrap_or_default();
                    if ids.len() > 100 {
                        return Err(coded(
                            "InvalidArgumentException",
                            400,
                            "The assets query accepts at most 100 ids",
                        ));
                    }
                    // Assets are computed from the cells, not stored: each answer's maps live as
                    // long as the fake (a few per test; the fake is a test process).
                    let found: &'a [Map<String, Value>] =
                        Box::leak(w.column_assets(&ids).into_boxed_slice());
                    Ok(self.list(found.iter().map(|m| Node::Json("Asset".into(), m))))
                }
                "teams" | "tags" => {
                    let ids = arg_ids(info, "ids");
                    let (map, ty) = if f == "teams" {
                        (&w.account_teams, "Team")
                    } else {
                        (&w.account_tags, "Tag")
                    };
                    Ok(self.list(
                        map.iter()
                            .filter(move |(id, _)| ids.as_ref().is_none_or(|ids| ids.contains(id)))
                            .map(move |(_, m)| Node::Json(ty.into(), m)),
                    ))
                }
                "webhooks" => {
                    // Every subscription counts as the requesting app's: `app_webhooks_only`
                    // changes nothing. An unknown board has none.
                    let board = arg(info, "board_id").and_then(json_id);
                    Ok(self.list(
                        w.webhooks
                            .values()
                            .filter(move |h| Some(h.board_id) == board)
                            .map(Node::Webhook),
                    ))
                }
                _ => not_implemented(),
            },
            // monday answers `complexity` beside mutations too (schema: Mutation.complexity).
            Node::Mutation(_) if f == "complexity" => {
                Ok(ResolvedValue::object(self.child(Node::Complexity)))
            }
            Node::Mutation(outcomes) => {
                let key = info.field_selections()[0].response_key().as_str();
                match outcomes.get(key) {
                    Some(Ok(Outcome::Webhook(h))) => {
                        Ok(ResolvedValue::object(self.child(Node::Webhook(h))))
                    }
                    Some(Ok(Outcome::Item(id))) => Ok(ResolvedValue::nullable_object(
                        w.items.get(id).map(|it| self.child(Node::Item(it))),
                    )),
                    Some(Err(message)) => Err(FieldError {
                        message: message.clone(),
                    }),
                    None => not_implemented(),
                }
            }
            Node::Webhook(h) => match f {
                "id" => Ok(ResolvedValue::leaf(j(Value::String(h.id.to_string())))),
                "board_id" => Ok(ResolvedValue::leaf(j(Value::String(
                    h.board_id.to_string(),
                )))),
                "event" => Ok(ResolvedValue::leaf(j(Value::String(h.event.clone())))),
                // A JSON-encoded string, like every JSON monday returns in a String field.
                "config" => Ok(match &h.config {
                    Some(c) => ResolvedValue::leaf(j(Value::String(c.to_string()))),
                    None => ResolvedValue::null(),
                }),
                _ => not_implemented(),
            },
            Node::Complexity => {
                let c = self.ctx.complexity;
                let v = match f {
                    "before" => c[0],
                    "after" => c[1],
                    "query" => c[2],
                    "reset_in_x_seconds" => c[3],
                    _ => return not_implemented(),
                };
                Ok(ResolvedValue::leaf(j(Value::from(v))))
            }
            Node::Board(b) => match f {
                "id" => Ok(ResolvedValue::leaf(j(Value::String(b.id.to_string())))),
                "name" => Ok(ResolvedValue::leaf(j(Value::String(b.name.clone())))),
                "state" => Ok(ResolvedValue::leaf(j(Value::String("active".into())))),
                "type" => Ok(ResolvedValue::leaf(j(Value::String(b.kind.into())))),
                "board_kind" => Ok(ResolvedValue::leaf(j(Value::String("public".into())))),
                "workspace_id" => Ok(match b.workspace_id {
                    Some(ws) => ResolvedValue::leaf(j(Value::String(ws.to_string()))),
                    None => ResolvedValue::null(),
                }),
                "items_count" => Ok(ResolvedValue::leaf(j(Value::from(
                    w.active_items(b.id).len(),
                )))),
                "columns" => {
                    let ids = arg_strs(info, "ids");
                    let types = arg_strs(info, "types");
                    Ok(self.list(
                        b.columns
                            .iter()
                            .filter(move |c| ids.as_ref().is_none_or(|ids| ids.contains(&c.id)))
                            .filter(move |c| types.as_ref().is_none_or(|t| t.contains(&c.typ)))
                            .map(Node::Column),
                    ))
                }
                "groups" => {
                    let ids = arg_strs(info, "ids");
                    Ok(self.list(
                        b.groups
                            .iter()
                            .filter(move |g| ids.as_ref().is_none_or(|ids| ids.contains(&g.id)))
                            .map(move |g| Node::Group(b, g)),
                    ))
                }
                "activity_logs" => {
                    let limit = arg_i64(info, "limit").unwrap_or(25);
                    let page = arg_i64(info, "page").unwrap_or(1);
                    if !(1..=10_000).contains(&limit) || page < 1 {
                        return Err(coded(
                            "InvalidArgumentException",
                            400,
                            &format!("invalid limit {limit} or page {page}"),
                        ));
                    }
                    let time = |name: &str| iso_arg(info, name);
                    let (from, to) = (time("from")?, time("to")?);
                    let items = arg_ids(info, "item_ids");
                    let oldest = self.ctx.log_retention.map(|r| {
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| (d.as_nanos() / 100) as i64)
                            .unwrap_or(0);
                        now - (r.as_nanos() / 100) as i64
                    });
                    let pulse_of = |e: &super::world::LogEvent| -> Option<i64> {
                        let d: Value =
                            serde_json::from_str(e.fields.get("data")?.as_str()?).ok()?;
                        d.get("pulse_id")?.as_i64()
                    };
                    let (limit, page) = (limit as usize, page as usize);
                    let start = (page - 1) * limit;
                    let end = (start + limit).min(self.ctx.log_reach);
                    let entries: Vec<Node> = w
                        .logs
                        .get(&b.id)
                        .map(|l| l.as_slice())
                        .unwrap_or(&[])
                        .iter()
                        .rev()
                        .filter(|e| oldest.is_none_or(|o| e.ticks >= o))
                        .filter(|e| from.is_none_or(|f| e.ticks >= f))
                        .filter(|e| to.is_none_or(|t| e.ticks <= t))
                        .filter(|e| {
                            items
                                .as_ref()
                                .is_none_or(|ids| pulse_of(e).is_some_and(|p| ids.contains(&p)))
                        })
                        .skip(start)
                        .take(end.saturating_sub(start))
                        .map(|e| Node::Json("ActivityLogType".into(), &e.fields))
                        .collect();
                    Ok(self.list(entries.into_iter()))
                }
                // Updates newest first: `updates(limit, page, from_date, to_date)` (created within)
                // and `updates_page(limit, cursor)` (the cursor is the offset; a test fake's).
                "updates" | "updates_page" => {
                    let limit = arg_i64(info, "limit").unwrap_or(25);
                    if !(1..=100).contains(&limit) {
                        return Err(coded(
                            "InvalidArgumentException",
                            400,
                            &format!("limit must be between 1 and 100, got {limit}"),
                        ));
                    }
                    let limit = limit as usize;
                    let all = w.board_updates(b.id);
                    if f == "updates_page" {
                        let offset = match arg(info, "cursor").and_then(|v| v.as_str()) {
                            None => 0,
                            Some(c) => c
                                .strip_prefix("upd:")
                                .and_then(|n| n.parse::<usize>().ok())
                                .ok_or_else(|| {
                                    coded(
                                        "CursorException",
                                        200,
                                        "Invalid or corrupted cursor provided.",
                                    )
                                })?,
                        };
                        let page: Vec<&Map<String, Value>> =
                            all.iter().skip(offset).take(limit).copied().collect();
                        let cursor =
                            (offset + limit < all.len()).then(|| format!("upd:{}", offset + limit));
                        return Ok(ResolvedValue::object(
                            self.child(Node::UpdatesPage(page, cursor)),
                        ));
                    }
                    let page = arg_i64(info, "page").unwrap_or(1).max(1) as usize;
                    let time = |name: &str| iso_arg(info, name);
                    let (from, to) = (time("from_date")?, time("to_date")?);
                    let created = |u: &Map<String, Value>| {
                        u.get("created_at")
                            .and_then(Value::as_str)
                            .and_then(ticks_of_iso)
                    };
                    let rows: Vec<&Map<String, Value>> = all
                        .into_iter()
                        .filter(|u| from.is_none_or(|f| created(u).is_some_and(|c| c >= f)))
                        .filter(|u| to.is_none_or(|t| created(u).is_some_and(|c| c <= t)))
                        .skip((page - 1) * limit)
                        .take(limit)
                        .collect();
                    Ok(self.list(rows.into_iter().map(|m| Node::Json("Update".into(), m))))
                }
                "items_page" => {
                    let limit = limit_arg(info)?;
                    if let Some(c) = cursor_arg(info)? {
                        return Ok(ResolvedValue::object(self.child(self.next_page(c, limit)?)));
                    }
                    let groups = match arg(info, "query_params") {
                        Some(qp) => Some(group_filter(qp)?),
                        None => None,
                    };
                    Ok(ResolvedValue::object(self.child(self.first_page(
                        b,
                        limit,
                        groups.as_deref(),
                    )?)))
                }
                _ => not_implemented(),
            },
            Node::Column(c) => match f {
                "id" => Ok(ResolvedValue::leaf(j(Value::String(c.id.clone())))),
                "title" => Ok(ResolvedValue::leaf(j(Value::String(c.title.clone())))),
                "type" => Ok(ResolvedValue::leaf(j(Value::String(c.typ.clone())))),
                "settings_str" => Ok(ResolvedValue::leaf(j(Value::String(
                    c.settings_str.clone(),
                )))),
                "archived" => Ok(ResolvedValue::leaf(j(Value::Bool(false)))),
                "description" | "width" => Ok(ResolvedValue::null()),
                _ => not_implemented(),
            },
            Node::Group(b, g) => match f {
                "id" => Ok(ResolvedValue::leaf(j(Value::String(g.id.clone())))),
                // The group's items in board order; the cursor continues with `next_items_page`
                // (or `items_page(cursor:)` here) like a board's.
                "items_page" => {
                    let limit = limit_arg(info)?;
                    if let Some(c) = cursor_arg(info)? {
                        return Ok(ResolvedValue::object(self.child(self.next_page(c, limit)?)));
                    }
                    if arg(info, "query_params").is_some() {
                        return Err(coded(
                            "FAKE_NOT_IMPLEMENTED",
                            400,
                            "fake monday: Group.items_page(query_params:) is not implemented (filter the board's items_page by group instead)",
                        ));
                    }
                    Ok(ResolvedValue::object(self.child(self.first_page(
                        b,
                        limit,
                        Some(std::slice::from_ref(&g.id)),
                    )?)))
                }
                "title" => Ok(ResolvedValue::leaf(j(Value::String(g.title.clone())))),
                "color" => Ok(ResolvedValue::leaf(j(Value::String(g.color.clone())))),
                "position" => Ok(ResolvedValue::leaf(j(Value::String(g.position.clone())))),
                "archived" | "deleted" => Ok(ResolvedValue::leaf(j(Value::Bool(false)))),
                _ => not_implemented(),
            },
            Node::Page { ids, cursor } => match f {
                "cursor" => Ok(match cursor {
                    Some(c) => ResolvedValue::leaf(j(Value::String(c.clone()))),
                    None => ResolvedValue::null(),
                }),
                "items" => Ok(self.list(ids.iter().filter_map(|i| w.items.get(i)).map(Node::Item))),
                _ => not_implemented(),
            },
            Node::Item(it) => match f {
                "id" => Ok(ResolvedValue::leaf(j(Value::String(it.id.to_string())))),
                "name" => Ok(ResolvedValue::leaf(j(Value::String(it.name.clone())))),
                "state" => Ok(ResolvedValue::leaf(j(Value::String(
                    it.state.as_str().into(),
                )))),
                "created_at" => Ok(ResolvedValue::leaf(j(Value::String(it.created_at.clone())))),
                "updated_at" => Ok(ResolvedValue::leaf(j(Value::String(it.updated_at.clone())))),
                "creator_id" => Ok(ResolvedValue::leaf(j(Value::String("44865791".into())))),
                "url" => Ok(ResolvedValue::leaf(j(Value::String(format!(
                    "https://example.monday.com/boards/{}/pulses/{}",
                    it.board_id, it.id
                ))))),
                "group" => {
                    let g = w.boards.get(&it.board_id).and_then(|b| {
                        b.groups
                            .iter()
                            .find(|g| g.id == it.group_id)
                            .map(|g| (b, g))
                    });
                    Ok(ResolvedValue::nullable_object(
                        g.map(|(b, g)| self.child(Node::Group(b, g))),
                    ))
                }
                "board" => Ok(ResolvedValue::nullable_object(
                    w.boards
                        .get(&it.board_id)
                        .map(|b| self.child(Node::Board(b))),
                )),
                "parent_item" => Ok(ResolvedValue::nullable_object(
                    it.parent_item_id
                        .and_then(|p| w.items.get(&p))
                        .map(|p| self.child(Node::Item(p))),
                )),
                "subitems" => {
                    let subs: Vec<&Item> = w
                        .boards
                        .values()
                        .filter(|b| b.kind == "sub_items_board")
                        .flat_map(|b| b.item_ids.iter())
                        .filter_map(|i| w.items.get(i))
                        .filter(|s| s.parent_item_id == Some(it.id) && s.state == State::Active)
                        .collect();
                    Ok(self.list(subs.into_iter().map(Node::Item)))
                }
                "column_values" => {
                    let Some(b) = w.boards.get(&it.board_id) else {
                        return Ok(self.list(std::iter::empty()));
                    };
                    let ids = arg_strs(info, "ids");
                    let types = arg_strs(info, "types");
                    let item: &'a Item = it;
                    Ok(self.list(
                        b.columns
                            .iter()
                            .filter(|c| c.typ != "name")
                            .filter(move |c| ids.as_ref().is_none_or(|ids| ids.contains(&c.id)))
                            .filter(move |c| types.as_ref().is_none_or(|t| t.contains(&c.typ)))
                            .map(move |c| Node::Cell(item, c)),
                    ))
                }
                _ => not_implemented(),
            },
            Node::Cell(it, c) => {
                let cell = it.cells.get(&c.id);
                match f {
                    "id" => Ok(ResolvedValue::leaf(j(Value::String(c.id.clone())))),
                    "type" => Ok(ResolvedValue::leaf(j(Value::String(c.typ.clone())))),
                    "column" => Ok(ResolvedValue::object(self.child(Node::Column(c)))),
                    "is_leaf" => Ok(ResolvedValue::leaf(j(Value::Bool(true)))),
                    "text" => Ok(match cell.and_then(|m| m.get("text")) {
                        Some(v) => ResolvedValue::leaf(j(v.clone())),
                        // Never-set cells: "" for most types, null for status/dropdown/color picker and the link types.
                        None => match c.typ.as_str() {
                            "status" | "dropdown" | "color_picker" | "mirror"
                            | "board_relation" | "dependency" | "formula" | "subtasks" => {
                                ResolvedValue::null()
                            }
                            _ => ResolvedValue::leaf(j(Value::String(String::new()))),
                        },
                    }),
                    "value" => Ok(match cell.and_then(|m| m.get("value")) {
                        Some(v) => ResolvedValue::leaf(j(v.clone())),
                        None => ResolvedValue::null(),
                    }),
                    _ => match cell.and_then(|m| m.get(f)) {
                        Some(v) => Ok(json_resolved(self.ctx, info, v)),
                        None => {
                            // Non-null list fields of an unset cell are empty lists; the rest null.
                            if info.field_definition().ty.is_non_null()
                                && info.field_definition().ty.is_list()
                            {
                                Ok(ResolvedValue::list(std::iter::empty()))
                            } else if info.field_definition().ty.is_non_null() {
                                // Non-null scalars of an unset cell: monday's zero values.
                                Ok(ResolvedValue::leaf(j(
                                    match info.field_definition().ty.inner_named_type().as_str() {
                                        "Int" | "Float" => Value::from(0),
                                        "Boolean" => Value::Bool(false),
                                        _ => Value::String(String::new()),
                                    },
                                )))
                            } else {
                                Ok(ResolvedValue::null())
                            }
                        }
                    },
                }
            }
            Node::UpdatesPage(rows, cursor) => match f {
                "cursor" => Ok(match cursor {
                    Some(c) => ResolvedValue::leaf(j(Value::String(c.clone()))),
                    None => ResolvedValue::null(),
                }),
                "updates" => Ok(self.list(
                    rows.clone()
                        .into_iter()
                        .map(|m| Node::Json("Update".into(), m)),
                )),
                _ => not_implemented(),
            },
            Node::Json(_, m) => Ok(match m.get(f) {
                Some(v) => json_resolved(self.ctx, info, v),
                None => ResolvedValue::null(),
            }),
        }
    }
}

/// A stored typed field: scalars as leaves; objects as objects of the field's declared type.
fn json_resolved<'a: 'b, 'b>(
    ctx: &'a Ctx<'a>,
    info: &ResolveInfo<'_>,
    v: &'a Value,
) -> ResolvedValue<'b> {
    let ty = info.field_definition().ty.inner_named_type().to_string();
    fn go<'a: 'b, 'b>(ctx: &'a Ctx<'a>, ty: String, v: &'a Value) -> ResolvedValue<'b> {
        match v {
            Value::Object(m) => ResolvedValue::object(Obj {
                ctx,
                node: Node::Json(ty, m),
            }),
            Value::Array(a) => ResolvedValue::list(a.iter().map(move |x| go(ctx, ty.clone(), x))),
            other => ResolvedValue::leaf(JsonValue::from(other.clone())),
        }
    }
    go(ctx, ty, v)
}

/// `status` → `"StatusValue"`, interned once per type (ObjectValue::type_name returns a borrow).
fn cell_type_name(typ: &str) -> &'static str {
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let mut names = NAMES.get_or_init(Default::default).lock().unwrap();
    if let Some(n) = names.get(typ) {
        return n;
    }
    let n: &'static str = Box::leak(value_type_name(typ).into_boxed_str());
    names.insert(typ.to_string(), n);
    n
}

/// monday computes a query's complexity before running it. This estimate follows the same idea:
/// every field costs 1, and a paginated list multiplies the cost of its selection by its limit.
pub fn estimate(doc: &ExecutableDocument, set: &SelectionSet, vars: &JsonMap) -> i64 {
    let mut total = 0;
    for s in &set.selections {
        total += match s {
            Selection::Field(f) => {
                let int_arg = |name: &str| -> Option<i64> {
                    let a = f.arguments.iter().find(|a| a.name == name)?;
                    match a.value.as_ref() {
                        apollo_compiler::ast::Value::Int(i) => i.try_to_i32().ok().map(i64::from),
                        apollo_compiler::ast::Value::Variable(v) => {
                            vars.get(v.as_str()).and_then(|x| x.as_i64())
                        }
                        _ => None,
                    }
                };
                let list_len = |name: &str| -> Option<i64> {
                    let a = f.arguments.iter().find(|a| a.name == name)?;
                    match a.value.as_ref() {
                        apollo_compiler::ast::Value::List(l) => Some(l.len() as i64),
                        apollo_compiler::ast::Value::Variable(v) => vars
                            .get(v.as_str())
                            .and_then(|x| x.as_array())
                            .map(|a| a.len() as i64),
                        _ => Some(1),
                    }
                };
                let mult = match f.name.as_str() {
                    "items_page" | "next_items_page" | "activity_logs" | "updates"
                    | "updates_page" => int_arg("limit").unwrap_or(25),
                    // Query.items(ids:, limit:); ItemsResponse.items is sized by its items_page.
                    "items" if f.arguments.iter().any(|a| a.name == "ids") => list_len("ids")
                        .unwrap_or(25)
                        .min(int_arg("limit").unwrap_or(25)),
                    "boards" => list_len("ids").unwrap_or(25),
                    "assets" => list_len("ids").unwrap_or(1),
                    "users" => list_len("ids").unwrap_or_else(|| int_arg("limit").unwrap_or(200)),
                    _ => 1,
                };
                let base = if super::mutations::ITEM_MUTATIONS.contains(&f.name.as_str()) {
                    super::mutations::MUTATION_COST
                } else {
                    1
                };
                base + mult * estimate(doc, &f.selection_set, vars)
            }
            Selection::InlineFragment(fr) => estimate(doc, &fr.selection_set, vars),
            Selection::FragmentSpread(fs) => doc
                .fragments
                .get(&fs.fragment_name)
                .map(|fr| estimate(doc, &fr.selection_set, vars))
                .unwrap_or(0),
        };
    }
    total
}

// ---- mutations ----

/// One root field of a mutation, its arguments evaluated (literals, variables, defaults; the
/// document has been validated and the variables coerced, so no type checks are needed).
#[derive(Debug)]
pub struct Planned {
    /// The response key (alias or name): outcomes are matched to fields by it.
    pub key: String,
    pub name: String,
    pub args: Map<String, Value>,
}

/// What a mutation made, for the execution to resolve the field's selection on.
pub enum Outcome {
    Webhook(Webhook),
    /// The item (or subitem) after the change.
    Item(i64),
}

/// Each root field's outcome, by response key (`Err`: the field error's message, coded).
pub type Outcomes = HashMap<String, Result<Outcome, String>>;

/// The mutation's root fields in execution order (fragments flattened, `@skip`/`@include`
/// applied, merged fields once), as apollo's execution will ask for them.
pub fn plan_mutation(
    doc: &ExecutableDocument,
    set: &SelectionSet,
    vars: &Map<String, Value>,
) -> Vec<Planned> {
    fn collect(
        doc: &ExecutableDocument,
        set: &SelectionSet,
        vars: &Map<String, Value>,
        seen: &mut std::collections::HashSet<String>,
        out: &mut Vec<Planned>,
    ) {
        for sel in &set.selections {
            if !included(sel.directives(), vars) {
                continue;
            }
            match sel {
                // Not a mutation: answered from the budget, like on a query.
                Selection::Field(f) if f.name == "complexity" || f.name == "__typename" => {}
                Selection::Field(f) => {
                    let key = f.response_key().to_string();
                    if out.iter().any(|p| p.key == key) {
                        continue;
                    }
                    let mut args = Map::new();
                    for a in &f.arguments {
                        if let Some(v) = literal(&a.value, vars) {
                            args.insert(a.name.to_string(), v);
                        }
                    }
                    for def in &f.definition.arguments {
                        if !args.contains_key(def.name.as_str()) {
                            if let Some(v) =
                                def.default_value.as_ref().and_then(|d| literal(d, vars))
                            {
                                args.insert(def.name.to_string(), v);
                            }
                        }
                    }
                    out.push(Planned {
                        key,
                        name: f.name.to_string(),
                        args,
                    });
                }
                Selection::InlineFragment(fr) => collect(doc, &fr.selection_set, vars, seen, out),
                Selection::FragmentSpread(fs) => {
                    if seen.insert(fs.fragment_name.to_string()) {
                        if let Some(fr) = doc.fragments.get(&fs.fragment_name) {
                            collect(doc, &fr.selection_set, vars, seen, out);
                        }
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    collect(doc, set, vars, &mut Default::default(), &mut out);
    out
}

/// `@skip(if:)` / `@include(if:)`.
fn included(
    directives: &apollo_compiler::executable::DirectiveList,
    vars: &Map<String, Value>,
) -> bool {
    let cond = |name: &str| {
        directives
            .get(name)
            .and_then(|d| d.specified_argument_by_name("if"))
            .and_then(|v| literal(v, vars))
            .and_then(|v| v.as_bool())
    };
    cond("skip") != Some(true) && cond("include") != Some(false)
}

/// A GraphQL value as JSON; None for a variable that was not given (the argument is then
/// absent, and its default applies).
fn literal(v: &apollo_compiler::ast::Value, vars: &Map<String, Value>) -> Option<Value> {
    use apollo_compiler::ast::Value as V;
    Some(match v {
        V::Null => Value::Null,
        V::Enum(n) => Value::String(n.to_string()),
        V::Variable(n) => return vars.get(n.as_str()).cloned(),
        V::String(s) => Value::String(s.clone()),
        V::Boolean(b) => Value::Bool(*b),
        V::Int(i) => match i.as_str().parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => Value::from(i.try_to_f64().ok()?),
        },
        V::Float(f) => Value::from(f.try_to_f64().ok()?),
        V::List(l) => Value::Array(
            l.iter()
                .map(|x| literal(x, vars).unwrap_or(Value::Null))
                .collect(),
        ),
        V::Object(fields) => Value::Object(
            fields
                .iter()
                .filter_map(|(k, x)| Some((k.to_string(), literal(x, vars)?)))
                .collect(),
        ),
    })
}

pub fn id_of(args: &Map<String, Value>, name: &str) -> Option<i64> {
    match args.get(name)? {
        Value::String(s) => s.trim().parse().ok(),
        v => v.as_i64(),
    }
}

/// A `create_webhook` that passed the checks made before its challenge.
pub struct NewWebhook {
    pub board: i64,
    pub url: String,
    pub event: String,
    pub config: Option<Value>,
}

/// The checks before the challenge (FACTS.md §5.1): the board exists and is not a subitems
/// board, the URL has at most 255 characters; and the fake's own: `http://` only, and the config
/// the `…_specific_…` events need.
pub fn check_create_webhook(
    w: &World,
    args: &Map<String, Value>,
) -> Result<NewWebhook, FieldError> {
    let invalid = |m: &str| coded("InvalidArgumentException", 400, m);
    let board = id_of(args, "board_id")
        .and_then(|b| w.boards.get(&b))
        .ok_or_else(|| invalid("Board not found"))?;
    if board.kind == "sub_items_board" {
        return Err(invalid("Creating webhook on subitems board isn't allowed"));
    }
    if board.restricted {
        return Err(coded(
            "USER_UNAUTHORIZED",
            403,
            "User unauthorized to perform action",
        ));
    }
    let url = args.get("url").and_then(Value::as_str).unwrap_or("");
    if url.chars().count() > 255 {
        return Err(invalid("Url is too long (maximum is 255 characters)"));
    }
    if !url
        .get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
    {
        return Err(invalid(
            "fake monday: only http:// webhook URLs are supported (no TLS)",
        ));
    }
    let event = args.get("event").and_then(Value::as_str).unwrap_or("");
    let config = match args.get("config") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            serde_json::from_str::<Value>(s).map_err(|_| invalid("config is not valid JSON"))?,
        ),
        Some(v) => Some(v.clone()),
    };
    let needs = match event {
        "change_specific_column_value" => Some("columnId"),
        "item_moved_to_specific_group" => Some("groupId"),
        _ => None,
    };
    if let Some(key) = needs {
        if config
            .as_ref()
            .and_then(|c| c.get(key))
            .and_then(Value::as_str)
            .is_none()
        {
            return Err(invalid(&format!("{event} needs config {{\"{key}\": …}}")));
        }
    }
    Ok(NewWebhook {
        board: board.id,
        url: url.into(),
        event: event.into(),
        config,
    })
}

/// The URL a planned field must challenge before it runs (a `create_webhook` that passes its
/// checks).
pub fn handshake_url(w: &World, p: &Planned) -> Option<String> {
    (p.name == "create_webhook")
        .then(|| check_create_webhook(w, &p.args).ok())
        .flatten()
        .map(|c| c.url)
}

/// Makes one mutation's change. `handshakes`: each `create_webhook`'s challenge result, by
/// response key (made before, without the fake's lock).
pub fn apply_mutation(
    w: &mut World,
    p: &Planned,
    handshakes: &HashMap<String, Result<(), String>>,
    rules: &[(String, String)],
) -> Result<Outcome, FieldError> {
    if super::mutations::ITEM_MUTATIONS.contains(&p.name.as_str()) {
        return super::mutations::apply(w, p, rules).map(Outcome::Item);
    }
    match p.name.as_str() {
        "create_webhook" => {
            let c = check_create_webhook(w, &p.args)?;
            match handshakes.get(&p.key) {
                Some(Ok(())) => {}
                Some(Err(why)) => {
                    return Err(coded(
                        "InvalidArgumentException",
                        400,
                        &format!("Webhook URL did not answer the challenge ({why})"),
                    ))
                }
                None => {
                    return Err(coded(
                        "InvalidArgumentException",
                        400,
                        "Webhook URL did not answer the challenge",
                    ))
                }
            }
            Ok(Outcome::Webhook(
                w.add_webhook(c.board, &c.url, &c.event, c.config),
            ))
        }
        "delete_webhook" => id_of(&p.args, "id")
            .and_then(|id| w.remove_webhook(id))
            .map(Outcome::Webhook)
            .ok_or_else(|| coded("ResourceNotFoundException", 404, "Webhook not found")),
        _ => Err(FieldError {
            message: format!("fake monday: Mutation.{} is not implemented", p.name),
        }),
    }
}
