//! The fake's data: boards, columns, groups, items and their cells, in monday's shapes.
//!
//! A sample board is generated from `fixtures/items_page.json` (a realistic page covering every column
//! type in old, new and empty forms, FACTS.md §1.3): item `k` reuses the cells of template item `k % 5`
//! with its own id, name, numbers and text, so large boards stay realistic and distinct.

use super::webhooks::{self, Change, Outgoing};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// A fixture item as a template: its name, its group, and its column values by column id.
type Template = (String, String, Arc<HashMap<String, Map<String, Value>>>);

#[derive(Clone, Debug)]
pub struct Column {
    pub id: String,
    pub title: String,
    pub typ: String,
    pub settings_str: String,
}

#[derive(Clone, Debug)]
pub struct Group {
    pub id: String,
    pub title: String,
    pub color: String,
    pub position: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    Active,
    Archived,
    Deleted,
}

impl State {
    pub fn as_str(&self) -> &'static str {
        match self {
            State::Active => "active",
            State::Archived => "archived",
            State::Deleted => "deleted",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Item {
    pub id: i64,
    pub board_id: i64,
    pub name: String,
    pub group_id: String,
    pub state: State,
    pub created_at: String,
    pub updated_at: String,
    pub parent_item_id: Option<i64>,
    /// Column id → the cell as the API returns it (`text`, `value` and the typed fields), minus `id`/`type`.
    pub cells: Cells,
}

/// An item's cells: the template it was made from (shared, so 100,000 items fit in memory) and its
/// own cells on top (None = removed).
#[derive(Clone, Debug, Default)]
pub struct Cells {
    base: Arc<HashMap<String, Map<String, Value>>>,
    own: HashMap<String, Option<Map<String, Value>>>,
}

impl Cells {
    pub fn get(&self, column: &str) -> Option<&Map<String, Value>> {
        match self.own.get(column) {
            Some(own) => own.as_ref(),
            None => self.base.get(column),
        }
    }

    pub fn insert(&mut self, column: String, cell: Map<String, Value>) {
        self.own.insert(column, Some(cell));
    }

    pub fn remove(&mut self, column: &str) {
        self.own.insert(column.to_string(), None);
    }
}

#[derive(Clone, Debug)]
pub struct Board {
    pub id: i64,
    pub name: String,
    /// `board` or `sub_items_board`.
    pub kind: &'static str,
    pub columns: Vec<Column>,
    pub groups: Vec<Group>,
    /// Item ids in board order (items_page order).
    pub item_ids: Vec<i64>,
    /// Answers `USER_UNAUTHORIZED` (the token's user cannot see it).
    pub restricted: bool,
    /// The workspace holding the board (`Board.workspace_id`, `boards(workspace_ids:)`); None: the
    /// main workspace, which the API reports as null.
    pub workspace_id: Option<i64>,
}

/// A webhook subscription (`create_webhook`): `event` is a `WebhookEventType` name, `config` the
/// decoded `config` JSON (`{"columnId": …}`, `{"groupId": …}`, `{"$any$": true}`, …).
#[derive(Clone, Debug)]
pub struct Webhook {
    pub id: i64,
    pub board_id: i64,
    pub url: String,
    pub event: String,
    pub config: Option<Value>,
}

/// The account's first day of the week (`Account.first_day_of_the_week`): week columns must start on
/// it. monday's default is Sunday.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Weekday {
    #[default]
    Sunday,
    #[allow(dead_code)] // set by tests
    Monday,
}

#[derive(Default, Debug)]
pub struct World {
    pub boards: BTreeMap<i64, Board>,
    pub items: HashMap<i64, Item>,
    /// Bumped on every change: cursors snapshot the board at a version.
    pub version: u64,
    /// Each board's activity log, oldest first (`Board.activity_logs` serves it newest first).
    pub logs: HashMap<i64, Vec<LogEvent>>,
    last_tick: i64,
    /// Webhook subscriptions by id (`create_webhook`, or `add_webhook` without the handshake).
    pub webhooks: BTreeMap<i64, Webhook>,
    last_webhook: i64,
    /// Events for the subscriptions that matched a change, waiting to be handed to the delivery
    /// threads when the fake's lock is released (`Fake::with`, the end of a request).
    pub(crate) outbox: Vec<Outgoing>,
    /// Week columns take weeks starting on this day (default Sunday, like monday's accounts).
    pub first_weekday: Weekday,
    /// Users and teams by id: the names a people column's `text` shows; ids not here are refused.
    pub people: BTreeMap<i64, String>,
    /// The account's tags by id (`create_or_get_tag` is not implemented: add them here).
    pub tags: BTreeMap<i64, String>,
    /// The account's users, teams and tags as the API returns them (`users`, `teams`, `tags`):
    /// added with `add_user`, `add_team`, `add_tag`, which keep `people` and `tags` in step.
    pub account_users: BTreeMap<i64, Map<String, Value>>,
    pub account_teams: BTreeMap<i64, Map<String, Value>>,
    pub account_tags: BTreeMap<i64, Map<String, Value>>,
    /// Workspaces and folders as `workspaces` / `folders` return them (`add_workspace`, `add_folder`).
    pub account_workspaces: BTreeMap<i64, Map<String, Value>>,
    pub account_folders: BTreeMap<i64, Map<String, Value>>,
    /// Updates (an item's comments) as `Board.updates` / `updates_page` return them, replies and
    /// assets nested (`add_update`, `add_reply`); served newest first.
    pub updates: BTreeMap<i64, Map<String, Value>>,
}

/// One `ActivityLogType` entry. `created_at` is monday's 17-digit count of 100-ns ticks.
#[derive(Clone, Debug)]
pub struct LogEvent {
    pub ticks: i64,
    /// id, event, entity, data (a JSON string), user_id, account_id, created_at: the API's fields.
    pub fields: Map<String, Value>,
}

pub const SAMPLE_BOARD: i64 = 18414630189;
pub const SAMPLE_SUBITEMS_BOARD: i64 = 18414630191;
/// First item id of the sample board: above 2^31, like real ids.
pub const FIRST_ITEM: i64 = 18265984789;
pub const FIRST_SUBITEM: i64 = 18265990001;
/// The token's user: the author of every change (activity log `user_id`, webhook `userId`).
pub const USER_ID: i64 = 44865791;
pub const ACCOUNT_ID: i64 = 9876543;
/// First webhook subscription id (real ones are 9 digits: `466701570`).
const FIRST_WEBHOOK: i64 = 466_700_001;

/// The column type → the GraphQL object type of its `ColumnValue` (`status` → `StatusValue`).
pub fn value_type_name(typ: &str) -> String {
    let mut out = String::new();
    for part in typ.split('_') {
        let mut chars = part.chars();
        if let Some(c) = chars.next() {
            out.extend(c.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out.push_str("Value");
    out
}

/// An `Asset` as monday returns it: the size is made up from the id, `url` needs a login and
/// `public_url` carries a one-hour signature (never to be stored).
fn asset_json(id: i64, name: &str, uploader: i64, created_at: &str) -> Map<String, Value> {
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    let m = json!({
        "id": id.to_string(), "name": name, "file_extension": format!(".{ext}"),
        "file_size": 1000 + id % 9000, "created_at": created_at,
        "url": format!("https://fake.monday.com/protected_static/{ACCOUNT_ID}/resources/{id}/{name}"),
        "public_url": format!("https://files.fake-monday.com/{id}/{name}?X-Amz-Signature=secret{id}"),
        "url_thumbnail": null, "original_geometry": null,
        "uploaded_by": { "id": uploader.to_string() },
    });
    match m {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

impl World {
    /// The sample board "Q3 Launch plan" with `n` items (every column type) and, when `subitems`,
    /// two subitems under every third item on its subitems board.
    pub fn sample(n: usize, subitems: bool) -> World {
        let fixture: Value =
            serde_json::from_str(include_str!("../../fixtures/items_page.json")).expect("fixture");
        let b = &fixture["data"]["boards"][0];
        let columns: Vec<Column> = b["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| Column {
                id: c["id"].as_str().unwrap().into(),
                title: c["title"].as_str().unwrap().into(),
                typ: c["type"].as_str().unwrap().into(),
                settings_str: c["settings_str"].as_str().unwrap().into(),
            })
            .collect();
        let groups = vec![
            Group {
                id: "topics".into(),
                title: "This sprint".into(),
                color: "#579bfc".into(),
                position: "65536".into(),
            },
            Group {
                id: "new_group_mkxz".into(),
                title: "Backlog".into(),
                color: "#a25ddc".into(),
                position: "131072".into(),
            },
        ];
        let templates: Vec<Template> = b["items_page"]["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|it| {
                let cells = it["column_values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|cv| {
                        let mut m = cv.as_object().unwrap().clone();
                        let id = m.remove("id").unwrap().as_str().unwrap().to_string();
                        m.remove("type");
                        (id, m)
                    })
                    .collect();
                (
                    it["name"].as_str().unwrap().to_string(),
                    it["group"]["id"].as_str().unwrap().to_string(),
                    Arc::new(cells),
                )
            })
            .collect();

        let mut w = World::default();
        for (id, name, kind) in [
            (USER_ID, "Dana Levi", "admin"),
            (44865792, "Noa Cohen", "member"),
            (44865793, "Avi Peretz", "member"),
            (31855020, "Omer", "guest"),
        ] {
            let email = format!(
                "{}@example.com",
                name.split(' ').next().unwrap_or(name).to_lowercase()
            );
            w.add_user(id, name, &email, kind, "ACTIVE");
        }
        w.add_team(51166, "Payments team", &[USER_ID, 44865792]);
        w.add_workspace(4_200_001, "Product", "open", "active");
        w.add_folder(5_300_001, "Launches", 4_200_001, None, &[SAMPLE_BOARD]);
        w.add_tag(295026, "payments", "#00c875");
        w.add_tag(295064, "q3", "#fdab3d");
        let mut board = Board {
            id: SAMPLE_BOARD,
            name: "Q3 Launch plan".into(),
            kind: "board",
            columns: columns.clone(),
            groups,
            item_ids: Vec::with_capacity(n),
            restricted: false,
            workspace_id: None,
        };
        let mut sub_board = Board {
            id: SAMPLE_SUBITEMS_BOARD,
            name: "Subitems of Q3 Launch plan".into(),
            kind: "sub_items_board",
            columns: vec![
                Column {
                    id: "name".into(),
                    title: "Name".into(),
                    typ: "name".into(),
                    settings_str: "{}".into(),
                },
                columns.iter().find(|c| c.id == "person").unwrap().clone(),
                columns.iter().find(|c| c.id == "status").unwrap().clone(),
                Column {
                    id: "date0".into(),
                    title: "Date".into(),
                    typ: "date".into(),
                    settings_str: "{}".into(),
                },
                Column {
                    id: "numbers5".into(),
                    title: "Hours".into(),
                    typ: "numbers".into(),
                    settings_str: "{}".into(),
                },
            ],
            groups: vec![Group {
                id: "topics".into(),
                title: "Subitems".into(),
                color: "#579bfc".into(),
                position: "65536".into(),
            }],
            item_ids: Vec::new(),
            restricted: false,
            workspace_id: None,
        };
        let mut next_sub = FIRST_SUBITEM;
        for k in 0..n {
            let (tname, tgroup, tcells) = &templates[k % templates.len()];
            let id = FIRST_ITEM + k as i64;
            let mut cells = Cells {
                base: tcells.clone(),
                own: HashMap::new(),
            };
            let amount = format!("{}.{:02}", 1000 + (k * 37) % 90000, k % 100);
            cells.insert(
                "numeric_mkx1".into(),
                obj(json!({"text": amount, "value": serde_json::to_string(&amount).unwrap(), "number": amount.parse::<f64>().unwrap()})),
            );
            let note = format!("note {k}");
            cells.insert(
                "text0".into(),
                obj(json!({"text": note, "value": serde_json::to_string(&note).unwrap()})),
            );
            cells.insert(
                "item_id_mkxl".into(),
                obj(json!({"text": id.to_string(), "value": json!({"item_id": id.to_string()}).to_string(), "item_id": id.to_string()})),
            );
            let mut sub_ids = Vec::new();
            if subitems && k % 3 == 0 {
                for s in 0..2 {
                    let sid = next_sub;
                    next_sub += 1;
                    sub_ids.push(sid);
                    let mut sc = Cells::default();
                    sc.insert(
                        "person".into(),
                        tcells.get("person").cloned().unwrap_or_default(),
                    );
                    sc.insert(
                        "status".into(),
                        tcells.get("status").cloned().unwrap_or_default(),
                    );
                    let day = format!("2026-07-{:02}", 1 + (k + s) % 28);
                    sc.insert(
                        "date0".into(),
                        obj(json!({"text": day, "value": json!({"date": day, "changed_at": "2026-06-01T10:00:00.000Z"}).to_string(), "date": day, "time": null})),
                    );
                    let hours = format!("{}", (k + s) % 12 + 1);
                    sc.insert(
                        "numbers5".into(),
                        obj(json!({"text": hours, "value": serde_json::to_string(&hours).unwrap(), "number": hours.parse::<f64>().unwrap()})),
                    );
                    w.items.insert(
                        sid,
                        Item {
                            id: sid,
                            board_id: SAMPLE_SUBITEMS_BOARD,
                            name: format!("Step {} of {}", s + 1, tname),
                            group_id: "topics".into(),
                            state: State::Active,
                            created_at: "2026-06-01T10:00:00Z".into(),
                            updated_at: "2026-06-01T10:00:00Z".into(),
                            parent_item_id: Some(id),
                            cells: sc,
                        },
                    );
                    sub_board.item_ids.push(sid);
                }
            }
            let names: Vec<String> = sub_ids.iter().map(|s| w.items[s].name.clone()).collect();
            cells.insert(
                "subitems".into(),
                obj(json!({"text": null, "value": null,
                    "subitems_ids": sub_ids.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                    "display_value": names.join(", ")})),
            );
            w.items.insert(
                id,
                Item {
                    id,
                    board_id: SAMPLE_BOARD,
                    name: if k < templates.len() {
                        tname.clone()
                    } else {
                        format!("{tname} #{k}")
                    },
                    group_id: tgroup.clone(),
                    state: State::Active,
                    created_at: "2026-05-02T09:12:44Z".into(),
                    updated_at: "2026-06-01T08:00:03Z".into(),
                    parent_item_id: None,
                    cells,
                },
            );
            board.item_ids.push(id);
        }
        w.boards.insert(board.id, board);
        if subitems {
            w.boards.insert(sub_board.id, sub_board);
        } else if let Some(b) = w.boards.get_mut(&SAMPLE_BOARD) {
            b.columns.retain(|c| c.typ != "subtasks");
        }
        w
    }

    /// Splits a board's items into `n` groups (n ≥ 1) of consecutive items in board order: the
    /// first two keep the sample's group ids (`topics`, `new_group_mkxz`), the others are
    /// `group_2`, `group_3`, …. For the parallel pull, which walks a big board group by group.
    pub fn spread_groups(&mut self, board: i64, n: usize) {
        let n = n.max(1);
        let Some(b) = self.boards.get_mut(&board) else {
            return;
        };
        let keep: Vec<Group> = b.groups.clone();
        b.groups = (0..n)
            .map(|g| match keep.get(g) {
                Some(k) if g < 2 => k.clone(),
                _ => Group {
                    id: format!("group_{g}"),
                    title: format!("Group {g}"),
                    color: "#037f4c".into(),
                    position: format!("{}", 65536 * (g + 1)),
                },
            })
            .collect();
        let ids = b.item_ids.clone();
        let gids: Vec<String> = b.groups.iter().map(|g| g.id.clone()).collect();
        let len = ids.len().max(1);
        for (k, id) in ids.iter().enumerate() {
            if let Some(it) = self.items.get_mut(id) {
                it.group_id = gids[k * n / len].clone();
            }
        }
    }

    /// The active items of a board, in board order.
    pub fn active_items(&self, board: i64) -> Vec<i64> {
        self.boards
            .get(&board)
            .map(|b| {
                b.item_ids
                    .iter()
                    .copied()
                    .filter(|i| {
                        self.items
                            .get(i)
                            .is_some_and(|it| it.state == State::Active)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    // ---- the account: users, teams, tags ----

    /// A user as `users` returns it (status ACTIVE, INACTIVE or PENDING; kind admin, member,
    /// guest or view_only).
    pub fn add_user(&mut self, id: i64, name: &str, email: &str, kind: &str, status: &str) {
        self.people.insert(id, name.into());
        let m = json!({
            "id": id.to_string(), "name": name, "email": email, "title": "",
            "status": status, "kind": kind, "is_deleted": false,
            "created_at": "2024-03-01T09:00:00Z", "time_zone_identifier": "Asia/Jerusalem",
            "teams": [],
        });
        if let Value::Object(m) = m {
            self.account_users.insert(id, m);
        }
    }

    /// A team with its members (each member's `teams` lists it).
    pub fn add_team(&mut self, id: i64, name: &str, members: &[i64]) {
        self.people.insert(id, name.into());
        let users: Vec<Value> = members
            .iter()
            .map(|u| json!({"id": u.to_string()}))
            .collect();
        if let Value::Object(m) = json!({
            "id": id.to_string(), "name": name, "picture_url": null, "is_guest": false, "users": users,
        }) {
            self.account_teams.insert(id, m);
        }
        for u in members {
            if let Some(Value::Array(t)) = self
                .account_users
                .get_mut(u)
                .and_then(|m| m.get_mut("teams"))
            {
                t.push(json!({"id": id.to_string()}));
            }
        }
    }

    /// A workspace (kind open / closed / template; state active / archived / deleted).
    pub fn add_workspace(&mut self, id: i64, name: &str, kind: &str, state: &str) {
        if let Value::Object(m) = json!({
            "id": id.to_string(), "name": name, "kind": kind, "description": null, "state": state,
            "created_at": "2024-02-01", "is_default_workspace": false,
        }) {
            self.account_workspaces.insert(id, m);
        }
    }

    /// A folder of a workspace (in another folder when `parent`), holding `boards`.
    pub fn add_folder(
        &mut self,
        id: i64,
        name: &str,
        workspace: i64,
        parent: Option<i64>,
        boards: &[i64],
    ) {
        let children: Vec<Value> = boards
            .iter()
            .map(|b| json!({"id": b.to_string()}))
            .collect();
        if let Value::Object(m) = json!({
            "id": id.to_string(), "name": name, "color": null, "created_at": "2024-02-02",
            "workspace": {"id": workspace.to_string()},
            "parent": parent.map(|p| json!({"id": p.to_string()})),
            "children": children,
        }) {
            self.account_folders.insert(id, m);
        }
    }

    /// An update on `item` by `creator`, created at `created_at` (ISO 8601), with HTML `body`;
    /// `asset` = (asset id, file name) attaches a file to it.
    pub fn add_update(
        &mut self,
        item: i64,
        id: i64,
        creator: i64,
        body: &str,
        created_at: &str,
        asset: Option<(i64, &str)>,
    ) {
        let assets: Vec<Value> = asset
            .into_iter()
            .map(|(a, name)| Value::Object(asset_json(a, name, creator, created_at)))
            .collect();
        if let Value::Object(m) = json!({
            "id": id.to_string(), "item_id": item.to_string(), "creator_id": creator.to_string(),
            "body": format!("<p>{body}</p>"), "text_body": body, "kind": "update",
            "created_at": created_at, "updated_at": created_at, "edited_at": created_at,
            "replies": [], "assets": assets, "likes": [], "pinned_to_top": [],
        }) {
            self.updates.insert(id, m);
        }
        self.emit(Change::Update {
            kind: "create_update",
            item,
            update: id,
            reply: None,
            body: format!("<p>{body}</p>"),
            text: body.into(),
        });
    }

    /// Deletes an update (with its replies).
    pub fn delete_update(&mut self, update: i64) {
        if let Some(u) = self.updates.remove(&update) {
            let item = u
                .get("item_id")
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            self.emit(Change::Update {
                kind: "delete_update",
                item,
                update,
                reply: None,
                body: String::new(),
                text: String::new(),
            });
        }
    }

    fn update_item(&self, update: i64) -> i64 {
        self.updates
            .get(&update)
            .and_then(|u| u.get("item_id"))
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// A reply to update `update`.
    pub fn add_reply(&mut self, update: i64, id: i64, creator: i64, body: &str, created_at: &str) {
        let reply = json!({
            "id": id.to_string(), "creator_id": creator.to_string(), "kind": "reply",
            "body": format!("<p>{body}</p>"), "text_body": body,
            "created_at": created_at, "updated_at": created_at, "edited_at": created_at,
            "assets": [], "likes": [], "pinned_to_top": [],
        });
        if let Some(Value::Array(r)) = self
            .updates
            .get_mut(&update)
            .and_then(|u| u.get_mut("replies"))
        {
            r.push(reply);
        }
        let item = self.update_item(update);
        self.emit(Change::Update {
            kind: "create_update",
            item,
            update,
            reply: Some(id),
            body: format!("<p>{body}</p>"),
            text: body.into(),
        });
    }

    /// Edits an update's body (its `updated_at` and `edited_at` move to `at`).
    pub fn edit_update(&mut self, update: i64, body: &str, at: &str) {
        if let Some(u) = self.updates.get_mut(&update) {
            u.insert("body".into(), Value::String(format!("<p>{body}</p>")));
            u.insert("text_body".into(), Value::String(body.into()));
            u.insert("updated_at".into(), Value::String(at.into()));
            u.insert("edited_at".into(), Value::String(at.into()));
        }
        let item = self.update_item(update);
        self.emit(Change::Update {
            kind: "edit_update",
            item,
            update,
            reply: None,
            body: format!("<p>{body}</p>"),
            text: body.into(),
        });
    }

    /// The updates of a board's items, newest first (monday's order since the 2024-11 hotfix).
    pub fn board_updates(&self, board: i64) -> Vec<&Map<String, Value>> {
        let mut v: Vec<&Map<String, Value>> = self
            .updates
            .values()
            .filter(|u| {
                u.get("item_id")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<i64>().ok())
                    .and_then(|i| self.items.get(&i))
                    .is_some_and(|it| it.board_id == board)
            })
            .collect();
        let key = |u: &Map<String, Value>| {
            (
                u.get("created_at")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                u.get("id")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<i64>().ok())
                    .unwrap_or(0),
            )
        };
        v.sort_by_key(|u| std::cmp::Reverse(key(u)));
        v
    }

    /// The file assets of file columns (`{"files":[{"assetId", "name", …}]}`) by asset id, as
    /// root `assets(ids:)` returns them (monday's `url` needs a login; `public_url` is signed).
    pub fn column_assets(&self, ids: &[i64]) -> Vec<Map<String, Value>> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for it in self.items.values() {
            for col in self
                .boards
                .get(&it.board_id)
                .map(|b| &b.columns[..])
                .unwrap_or(&[])
            {
                if col.typ != "file" {
                    continue;
                }
                let Some(v) = it
                    .cells
                    .get(&col.id)
                    .and_then(|c| c.get("value"))
                    .and_then(Value::as_str)
                    .and_then(|s| serde_json::from_str::<Value>(s).ok())
                else {
                    continue;
                };
                for f in v
                    .get("files")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let Some(a) = f.get("assetId").and_then(Value::as_i64) else {
                        continue;
                    };
                    if ids.contains(&a) && seen.insert(a) {
                        let name = f.get("name").and_then(Value::as_str).unwrap_or("file");
                        out.push(asset_json(a, name, USER_ID, &it.created_at));
                    }
                }
            }
        }
        for u in self.updates.values() {
            for a in u
                .get("assets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let id = a
                    .get("id")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse().ok());
                if let (Some(id), Value::Object(m)) = (id, a) {
                    if ids.contains(&id) && seen.insert(id) {
                        out.push(m.clone());
                    }
                }
            }
        }
        out
    }

    pub fn add_tag(&mut self, id: i64, name: &str, color: &str) {
        self.tags.insert(id, name.into());
        if let Value::Object(m) = json!({"id": id.to_string(), "name": name, "color": color}) {
            self.account_tags.insert(id, m);
        }
    }

    // ---- changes that tests make, as monday users would ----

    pub fn touch(&mut self, item: i64) {
        self.version += 1;
        if let Some(it) = self.items.get_mut(&item) {
            it.updated_at = now_iso();
        }
    }

    /// Appends an entry to a board's activity log, as monday does for every change.
    pub fn log(&mut self, board: i64, event: &str, entity: &str, data: Value) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| (d.as_nanos() / 100) as i64)
            .unwrap_or(0);
        let ticks = now.max(self.last_tick + 1);
        self.last_tick = ticks;
        let mut fields = Map::new();
        fields.insert("id".into(), Value::String(format!("{:x}-{ticks:x}", board)));
        fields.insert("event".into(), Value::String(event.into()));
        fields.insert("entity".into(), Value::String(entity.into()));
        fields.insert("data".into(), Value::String(data.to_string()));
        fields.insert("user_id".into(), Value::String(USER_ID.to_string()));
        fields.insert("account_id".into(), Value::String(ACCOUNT_ID.to_string()));
        fields.insert("created_at".into(), Value::String(ticks.to_string()));
        self.logs
            .entry(board)
            .or_default()
            .push(LogEvent { ticks, fields });
    }

    /// An item event's `data`, in the shape of monday's recorded `create_pulse` entry.
    fn log_item(&mut self, item: i64, event: &str, extra: Value) {
        let Some(it) = self.items.get(&item) else {
            return;
        };
        let mut data = json!({
            "board_id": it.board_id,
            "group_id": it.group_id,
            "pulse_id": it.id,
            "pulse_name": it.name,
        });
        if let Some(p) = it.parent_item_id {
            data["parent_item_id"] = json!(p.to_string());
        }
        if let (Some(d), Value::Object(x)) = (data.as_object_mut(), extra) {
            d.extend(x);
        }
        let board = it.board_id;
        self.log(board, event, "pulse", data);
    }

    /// Another board with the sample board's columns and groups and no items (a move target).
    pub fn add_board(&mut self, id: i64, name: &str) {
        let mut b = self.boards[&SAMPLE_BOARD].clone();
        b.id = id;
        b.name = name.into();
        b.item_ids.clear();
        self.boards.insert(id, b);
        self.version += 1;
    }

    /// A board like the sample's (without subitems) in workspace `workspace`, with no items.
    pub fn add_workspace_board(&mut self, id: i64, name: &str, workspace: i64) {
        self.add_board(id, name);
        if let Some(b) = self.boards.get_mut(&id) {
            b.columns.retain(|c| c.typ != "subtasks");
            b.workspace_id = Some(workspace);
        }
    }

    pub fn rename(&mut self, item: i64, name: &str) {
        let previous = self.items.get(&item).map(|it| it.name.clone());
        if let Some(it) = self.items.get_mut(&item) {
            it.name = name.into();
        }
        self.touch(item);
        self.log_item(item, "update_name", json!({ "value": { "name": name } }));
        if let Some(previous) = previous {
            self.emit(Change::Name { item, previous });
        }
    }

    pub fn move_to_group(&mut self, item: i64, group: &str) {
        let from = self.items.get(&item).map(|it| it.group_id.clone());
        if let Some(it) = self.items.get_mut(&item) {
            it.group_id = group.into();
        }
        self.touch(item);
        self.log_item(
            item,
            "move_pulse_into_group",
            json!({ "source_group": { "id": from }, "dest_group": { "id": group } }),
        );
        if let Some(from) = from {
            self.emit(Change::Group { item, from });
        }
    }

    /// Moves an item to another board (monday logs it on both boards).
    pub fn move_to_board(&mut self, item: i64, board: i64) {
        let Some(from) = self.items.get(&item).map(|it| it.board_id) else {
            return;
        };
        self.log_item(
            item,
            "move_pulse_from_board",
            json!({ "dest_board": { "id": board } }),
        );
        if let Some(b) = self.boards.get_mut(&from) {
            b.item_ids.retain(|i| *i != item);
        }
        let group = self.boards[&board].groups[0].id.clone();
        if let Some(it) = self.items.get_mut(&item) {
            it.board_id = board;
            it.group_id = group;
        }
        self.boards.get_mut(&board).unwrap().item_ids.push(item);
        self.touch(item);
        self.log_item(
            item,
            "move_pulse_into_board",
            json!({ "source_board": { "id": from } }),
        );
    }

    /// Sets one cell (`value` is the decoded JSON, stored double-encoded like monday; `None` = never set).
    pub fn set_cell(&mut self, item: i64, column: &str, value: Option<Value>, text: Option<&str>) {
        let mut m = Map::new();
        m.insert(
            "text".into(),
            text.map(|t| Value::String(t.into())).unwrap_or(Value::Null),
        );
        m.insert(
            "value".into(),
            value
                .as_ref()
                .map(|v| Value::String(v.to_string()))
                .unwrap_or(Value::Null),
        );
        self.write_cell(item, column, m);
    }

    /// Replaces one cell with `cell` as the API returns it (`text`, `value` double-encoded, typed
    /// fields), as a user's change: the item is touched, the change logged (`update_column_value`)
    /// and announced to the webhooks. A value equal to the old one is logged and announced too
    /// (the fake does not compare; monday's behaviour there is unsourced).
    pub fn write_cell(&mut self, item: i64, column: &str, cell: Map<String, Value>) {
        let previous = self
            .items
            .get(&item)
            .map(|it| it.cells.get(column).cloned());
        let value: Value = match cell.get("value") {
            Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        if let Some(it) = self.items.get_mut(&item) {
            it.cells.insert(column.into(), cell);
        }
        self.touch(item);
        self.log_item(
            item,
            "update_column_value",
            json!({ "column_id": column, "value": value }),
        );
        if let Some(previous) = previous {
            self.emit(Change::Column {
                item,
                column: column.into(),
                previous,
            });
        }
    }

    /// A column's new `settings_str` (a status or dropdown label created by a write).
    pub fn set_column_settings(&mut self, board: i64, column: &str, settings: String) {
        if let Some(c) = self
            .boards
            .get_mut(&board)
            .and_then(|b| b.columns.iter_mut().find(|c| c.id == column))
        {
            c.settings_str = settings;
        }
        self.version += 1;
    }

    /// The cells monday fills itself on creation: the item id and the creation log (by the
    /// token's user).
    fn computed_cells(&self, board: i64, id: i64, now: &str) -> Cells {
        let mut c = Cells::default();
        for col in self.boards.get(&board).map_or(&[][..], |b| &b.columns[..]) {
            match col.typ.as_str() {
                "item_id" => c.insert(
                    col.id.clone(),
                    obj(json!({"text": id.to_string(), "value": json!({"item_id": id.to_string()}).to_string(), "item_id": id.to_string()})),
                ),
                "creation_log" => c.insert(
                    col.id.clone(),
                    obj(json!({"text": format!("{} UTC", now.replace('T', " ").trim_end_matches('Z')), "value": null, "created_at": now, "creator_id": USER_ID.to_string()})),
                ),
                _ => {}
            }
        }
        c
    }

    /// A fresh item id: above every id so far (and so above 2^31, like monday's).
    pub fn new_item_id(&self) -> i64 {
        self.items
            .keys()
            .copied()
            .max()
            .unwrap_or(FIRST_ITEM)
            .max(FIRST_ITEM)
            + 1
    }

    /// Creates an item (`create_item`): a fresh id, `cells` set and every other cell empty, in
    /// `group`, placed at `position` in the board's order (None: last). One `create_pulse` log
    /// entry and the `create_item` webhook event; the initial values are part of the creation, not
    /// column changes. Returns the id.
    pub fn create_item(
        &mut self,
        board: i64,
        group: &str,
        name: &str,
        cells: Vec<(String, Map<String, Value>)>,
        position: Option<usize>,
    ) -> i64 {
        let id = self.new_item_id();
        let now = now_iso();
        let mut c = self.computed_cells(board, id, &now);
        for (col, cell) in cells {
            c.insert(col, cell);
        }
        self.items.insert(
            id,
            Item {
                id,
                board_id: board,
                name: name.into(),
                group_id: group.into(),
                state: State::Active,
                created_at: now.clone(),
                updated_at: now,
                parent_item_id: None,
                cells: c,
            },
        );
        let b = self.boards.get_mut(&board).unwrap();
        let at = position.unwrap_or(b.item_ids.len()).min(b.item_ids.len());
        b.item_ids.insert(at, id);
        self.version += 1;
        self.log_item(id, "create_pulse", json!({}));
        self.emit(Change::Created { item: id });
        id
    }

    /// Archives, deletes or restores an item (restoring an archived or deleted item is monday's
    /// `restore_pulse`). Webhooks see only real transitions.
    pub fn set_state(&mut self, item: i64, state: State) {
        let event = match state {
            State::Active => "restore_pulse",
            State::Archived => "archive_pulse",
            State::Deleted => "delete_pulse",
        };
        let from = self.items.get(&item).map(|it| it.state.clone());
        if let Some(it) = self.items.get_mut(&item) {
            it.state = state.clone();
        }
        self.touch(item);
        self.log_item(item, event, json!({}));
        if let Some(from) = from.filter(|f| *f != state) {
            self.emit(Change::State { item, from });
        }
    }

    /// Gone for good (past monday's 30-day recycle bin): `items(ids:)` no longer returns it.
    /// Webhooks see a `delete_pulse` unless the item was already deleted.
    pub fn purge(&mut self, item: i64) {
        if let Some(from) = self.items.get(&item).map(|it| it.state.clone()) {
            if from != State::Deleted {
                if let Some(it) = self.items.get_mut(&item) {
                    it.state = State::Deleted;
                }
                self.emit(Change::State { item, from });
            }
        }
        self.log_item(item, "delete_pulse", json!({}));
        if let Some(it) = self.items.remove(&item) {
            if let Some(b) = self.boards.get_mut(&it.board_id) {
                b.item_ids.retain(|i| *i != item);
            }
        }
        self.version += 1;
    }

    pub fn add_item(&mut self, board: i64, like: i64, id: i64, name: &str) {
        let mut it = self.items[&like].clone();
        it.id = id;
        it.name = name.into();
        it.board_id = board;
        it.created_at = now_iso();
        it.updated_at = now_iso();
        self.items.insert(id, it);
        self.boards.get_mut(&board).unwrap().item_ids.push(id);
        self.version += 1;
        self.log_item(id, "create_pulse", json!({}));
        self.emit(Change::Created { item: id });
    }

    /// A subitem `id` named `name` under `parent`, on the subitems board its subtasks column
    /// points at, with no cells set. The parent's subtasks column lists it, and webhooks see what
    /// monday sent once: the parent's `update_column_value` (subtasks) first, then the subitem's
    /// `create_pulse` ~0.2 s later (FACTS.md §5.4).
    #[allow(dead_code)] // used by tests
    pub fn add_subitem(&mut self, parent: i64, id: i64, name: &str) {
        self.insert_subitem(parent, id, name, Vec::new());
    }

    /// `create_subitem`: like [`add_subitem`](Self::add_subitem) with a fresh id and initial
    /// cells. None when the parent's board has no subitems board.
    pub fn create_subitem(
        &mut self,
        parent: i64,
        name: &str,
        cells: Vec<(String, Map<String, Value>)>,
    ) -> Option<i64> {
        self.subitems_board(parent)?;
        let id = self.new_item_id();
        self.insert_subitem(parent, id, name, cells);
        Some(id)
    }

    fn insert_subitem(
        &mut self,
        parent: i64,
        id: i64,
        name: &str,
        cells: Vec<(String, Map<String, Value>)>,
    ) {
        let (board, column) = self.subitems_board_of(parent);
        let group = self.boards[&board].groups[0].id.clone();
        let now = now_iso();
        let mut c = self.computed_cells(board, id, &now);
        for (col, cell) in cells {
            c.insert(col, cell);
        }
        self.items.insert(
            id,
            Item {
                id,
                board_id: board,
                name: name.into(),
                group_id: group,
                state: State::Active,
                created_at: now.clone(),
                updated_at: now,
                parent_item_id: Some(parent),
                cells: c,
            },
        );
        self.boards.get_mut(&board).unwrap().item_ids.push(id);
        self.version += 1;
        self.relist_subitems(parent, &column, Some(id), None, true);
        self.log_item(id, "create_pulse", json!({}));
        self.emit(Change::Created { item: id });
    }

    /// The subitems board under `parent`'s board (None: no subtasks column naming an existing
    /// board).
    pub fn subitems_board(&self, parent: i64) -> Option<i64> {
        let board = self.boards.get(&self.items.get(&parent)?.board_id)?;
        let col = board.columns.iter().find(|c| c.typ == "subtasks")?;
        let settings: Value = serde_json::from_str(&col.settings_str).ok()?;
        settings["boardIds"][0]
            .as_i64()
            .filter(|b| self.boards.contains_key(b))
    }

    /// Moves a subitem to another parent (monday's "move subitem"): both parents' subtasks
    /// columns change; webhooks see one `move_subitem`.
    #[allow(dead_code)] // used by tests
    pub fn move_subitem(&mut self, subitem: i64, new_parent: i64) {
        let Some(from) = self.items.get(&subitem).and_then(|s| s.parent_item_id) else {
            return;
        };
        let (_, column) = self.subitems_board_of(new_parent);
        if let Some(s) = self.items.get_mut(&subitem) {
            s.parent_item_id = Some(new_parent);
        }
        self.touch(subitem);
        self.relist_subitems(from, &column, None, Some(subitem), false);
        self.relist_subitems(new_parent, &column, Some(subitem), None, false);
        self.log_item(
            subitem,
            "move_subitem",
            json!({ "source_parent_item_id": from.to_string() }),
        );
        self.emit(Change::SubitemMoved {
            subitem,
            from_parent: from,
        });
    }

    /// The subitems board under `parent`'s board and the parent board's subtasks column.
    #[allow(dead_code)] // used by tests
    fn subitems_board_of(&self, parent: i64) -> (i64, String) {
        let board = &self.boards[&self.items[&parent].board_id];
        let col = board
            .columns
            .iter()
            .find(|c| c.typ == "subtasks")
            .expect("the parent's board has a subtasks column");
        let settings: Value = serde_json::from_str(&col.settings_str).unwrap_or(Value::Null);
        let sub_board = settings["boardIds"][0]
            .as_i64()
            .filter(|b| self.boards.contains_key(b))
            .expect("the subtasks column names an existing subitems board");
        (sub_board, col.id.clone())
    }

    /// Adds or removes a subitem in its parent's subtasks cell (`subitems_ids`, `display_value`),
    /// logged as that column's change on the parent's board; webhooks see an `update_column_value`
    /// when `announce`.
    #[allow(dead_code)] // used by tests
    fn relist_subitems(
        &mut self,
        parent: i64,
        column: &str,
        add: Option<i64>,
        remove: Option<i64>,
        announce: bool,
    ) {
        let Some(p) = self.items.get(&parent) else {
            return;
        };
        let previous = p.cells.get(column).cloned();
        let mut ids: Vec<i64> = previous
            .as_ref()
            .and_then(|c| c.get("subitems_ids"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().and_then(|s| s.parse().ok()).or(v.as_i64()))
                    .collect()
            })
            .unwrap_or_default();
        ids.retain(|i| Some(*i) != remove && Some(*i) != add);
        ids.extend(add);
        let names: Vec<String> = ids
            .iter()
            .filter_map(|i| self.items.get(i).map(|s| s.name.clone()))
            .collect();
        let cell = obj(json!({"text": null, "value": null,
            "subitems_ids": ids.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "display_value": names.join(", ")}));
        self.items
            .get_mut(&parent)
            .unwrap()
            .cells
            .insert(column.into(), cell);
        self.touch(parent);
        self.log_item(
            parent,
            "update_column_value",
            json!({ "column_id": column, "value": null }),
        );
        if announce {
            self.emit(Change::Column {
                item: parent,
                column: column.into(),
                previous,
            });
        }
    }

    pub fn add_column(&mut self, board: i64, id: &str, title: &str, typ: &str) {
        self.boards.get_mut(&board).unwrap().columns.push(Column {
            id: id.into(),
            title: title.into(),
            typ: typ.into(),
            settings_str: "{}".into(),
        });
        self.version += 1;
        self.log(
            board,
            "create_column",
            "board",
            json!({ "board_id": board, "column_id": id, "column_title": title, "column_type": typ }),
        );
        self.emit(Change::ColumnCreated {
            board,
            column: id.into(),
        });
    }

    // ---- webhook subscriptions ----

    /// Subscribes `url` to `event` on `board` as it is, without the handshake or any check
    /// (`create_webhook` does both); returns the subscription.
    pub fn add_webhook(
        &mut self,
        board: i64,
        url: &str,
        event: &str,
        config: Option<Value>,
    ) -> Webhook {
        self.last_webhook = self.last_webhook.max(FIRST_WEBHOOK - 1) + 1;
        let hook = Webhook {
            id: self.last_webhook,
            board_id: board,
            url: url.into(),
            event: event.into(),
            config,
        };
        self.webhooks.insert(hook.id, hook.clone());
        hook
    }

    pub fn remove_webhook(&mut self, id: i64) -> Option<Webhook> {
        self.webhooks.remove(&id)
    }

    /// Queues the change's webhook events for the subscriptions it matches.
    fn emit(&mut self, change: Change) {
        if self.webhooks.is_empty() {
            return;
        }
        let out = webhooks::events(self, change);
        self.outbox.extend(out);
    }

    pub fn remove_column(&mut self, board: i64, id: &str) {
        self.boards
            .get_mut(&board)
            .unwrap()
            .columns
            .retain(|c| c.id != id);
        for it in self.items.values_mut().filter(|i| i.board_id == board) {
            it.cells.remove(id);
        }
        self.version += 1;
        self.log(
            board,
            "delete_column",
            "board",
            json!({ "board_id": board, "column_id": id }),
        );
    }
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// Now as monday's `changed_at`: ISO-8601 UTC with milliseconds (`2026-05-31T13:49:12.379Z`).
pub fn now_iso_ms() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, dd) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

pub fn now_iso() -> String {
    // Seconds since the epoch → RFC 3339 UTC, without a date crate.
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `YYYY-MM-DDTHH:MM:SS[.fff][Z|±hh:mm]` → 100-ns ticks since the epoch (fraction ignored).
pub fn ticks_of_iso(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut secs = days_from_civil(y, m as u32, d as u32) * 86400 + hh * 3600 + mm * 60 + ss;
    let tail = s[19..].trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    if let Some(sign) = tail.chars().next().filter(|c| *c == '+' || *c == '-') {
        let oh: i64 = tail.get(1..3)?.parse().ok()?;
        let om: i64 = tail.get(4..6).and_then(|x| x.parse().ok()).unwrap_or(0);
        let off = oh * 3600 + om * 60;
        secs -= if sign == '+' { off } else { -off };
    }
    Some(secs * 10_000_000)
}

pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Howard Hinnant's days → civil date.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}
