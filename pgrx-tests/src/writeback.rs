//! Write-back end to end: a real cluster with monday_sync preloaded (its worker sends), the fake
//! monday server executing the mutations over real HTTP on 127.0.0.1. The trigger's checks and
//! the outbox, the extension's own writes kept out of it, round trips of every writable type,
//! batching, creates and deletes, refusals, conflicts, lost answers and 409s, `kill -9`.

use crate::cluster::Cluster;
use crate::e2e::{check, eq};
use crate::fake::world::{State, Weekday, World, FIRST_ITEM, SAMPLE_BOARD, SAMPLE_SUBITEMS_BOARD};
use crate::fake::{Fake, Fault};
use postgres::{Client, NoTls};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

type T = Result<(), String>;
type Test = (&'static str, fn(&mut W) -> T);

const TOKEN: &str = "fake-token-write-7a3c";
pub const DB: &str = "mswrite";
const PORT: u16 = 28840;
const LISTEN: u16 = 28841;
const TABLE: &str = "public.q3_launch_plan";
const SUBTABLE: &str = "public.q3_launch_plan_subitems";

pub struct W {
    pub c: Cluster,
    pub fake: Fake,
    pub db: Client,
}

fn pg(e: postgres::Error) -> String {
    crate::util::pg_err(e)
}

impl W {
    fn reconnect(&mut self) -> T {
        let t = Instant::now();
        loop {
            match Client::connect(&self.c.conn_string(DB), NoTls) {
                Ok(c) => {
                    self.db = c;
                    return Ok(());
                }
                Err(e) if t.elapsed() > Duration::from_secs(60) => return Err(pg(e)),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    pub fn sql(&mut self, sql: &str) -> T {
        self.db.batch_execute(sql).map_err(pg)
    }

    pub fn i64(&mut self, sql: &str) -> Result<i64, String> {
        Ok(self.db.query_one(sql, &[]).map_err(pg)?.get::<_, i64>(0))
    }

    pub fn text(&mut self, sql: &str) -> Result<Option<String>, String> {
        Ok(self
            .db
            .query_one(sql, &[])
            .map_err(pg)?
            .get::<_, Option<String>>(0))
    }

    pub fn json(&mut self, sql: &str) -> Result<Value, String> {
        Ok(self.db.query_one(sql, &[]).map_err(pg)?.get::<_, Value>(0))
    }

    /// The SQLSTATE and message of a statement that must fail.
    fn fails(&mut self, sql: &str) -> Result<(String, String), String> {
        match self.db.batch_execute(sql) {
            Ok(()) => Err(format!("succeeded but should have failed: {sql}")),
            Err(e) => {
                let Some(db) = e.as_db_error() else {
                    return Err(pg(e));
                };
                Ok((db.code().code().to_string(), db.message().to_string()))
            }
        }
    }

    fn server_log(&self) -> String {
        std::fs::read_to_string(self.c.dir.join("server.log")).unwrap_or_default()
    }

    /// Waits until no write is pending or being sent and no write job is queued or running.
    pub fn settle(&mut self, secs: u64) -> T {
        let t = Instant::now();
        loop {
            let busy = self.i64(
                "SELECT (SELECT count(*) FROM monday_sync.writes WHERE status IN ('pending', 'sending'))
                      + (SELECT count(*) FROM monday_sync.jobs WHERE status IN ('queued', 'running'))",
            )?;
            if busy == 0 {
                return Ok(());
            }
            if t.elapsed() > Duration::from_secs(secs) {
                let w = self.json(
                    "SELECT coalesce(jsonb_agg(to_jsonb(w) - 'base'), '[]') FROM monday_sync.writes w WHERE status IN ('pending', 'sending')",
                )?;
                let j = self.json(
                    "SELECT coalesce(jsonb_agg(to_jsonb(j)), '[]') FROM monday_sync.jobs j WHERE status IN ('queued', 'running')",
                )?;
                return Err(format!(
                    "write-back did not settle in {secs} s: writes {w}, jobs {j}"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A column's id on the sample board by its SQL name.
    fn col_id(&mut self, sql_name: &str) -> Result<String, String> {
        self.text(&format!(
            "SELECT column_id FROM monday_sync.columns WHERE board_id = {SAMPLE_BOARD} AND sql_name = '{sql_name}'"
        ))?
        .ok_or_else(|| format!("no column {sql_name}"))
    }

    /// Mutation requests the fake received since the log was cleared.
    pub fn mutations(&self) -> usize {
        self.fake
            .log()
            .iter()
            .filter(|l| l.query.trim_start().starts_with("mutation"))
            .count()
    }
}

/// monday's writable column types (FACTS.md §2.2), as the sample board has them.
const WRITABLE: &[&str] = &[
    "text",
    "long_text",
    "numbers",
    "status",
    "dropdown",
    "date",
    "timeline",
    "hour",
    "week",
    "people",
    "board_relation",
    "dependency",
    "email",
    "phone",
    "link",
    "location",
    "checkbox",
    "rating",
    "tags",
    "country",
    "world_clock",
];

impl W {
    fn worker_pid(&mut self) -> Result<i32, String> {
        let t = Instant::now();
        loop {
            let pid: Option<i32> = self
                .db
                .query_one(
                    "SELECT pid FROM pg_stat_activity WHERE backend_type = 'monday_sync worker' AND datname = $1",
                    &[&DB],
                )
                .ok()
                .and_then(|r| r.get(0));
            if let Some(p) = pid {
                return Ok(p);
            }
            if t.elapsed() > Duration::from_secs(30) {
                return Err("no monday_sync worker in pg_stat_activity".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Item mutation root fields the fake executed (replays not counted).
    fn executed(&self, root: &str) -> usize {
        self.fake
            .log()
            .iter()
            .filter(|l| !l.replayed && l.status == 200)
            .flat_map(|l| l.roots.iter())
            .filter(|r| *r == root)
            .count()
    }

    /// The SQL names of the board's writable columns.
    fn writable_columns(&mut self) -> Result<Vec<String>, String> {
        let list = WRITABLE
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = self
            .db
            .query(
                &format!(
                    "SELECT sql_name::text FROM monday_sync.columns WHERE board_id = {SAMPLE_BOARD}
                      AND removed_at IS NULL AND column_type IN ({list}) ORDER BY position"
                ),
                &[],
            )
            .map_err(pg)?;
        Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
    }

    /// One row's columns as jsonb (the typed values).
    fn row(&mut self, table: &str, item: i64, cols: &[String]) -> Result<Value, String> {
        let list = cols
            .iter()
            .map(|c| format!("'{c}', to_jsonb({c})"))
            .collect::<Vec<_>>()
            .join(", ");
        self.json(&format!(
            "SELECT jsonb_build_object({list}) FROM {table} WHERE item_id = {item}"
        ))
    }
}

fn start(world: World) -> Result<W, String> {
    start_with(world, &[])
}

pub fn start_with(world: World, conf: &[&str]) -> Result<W, String> {
    let mut world = world;
    // The encoder's default week start (the account setting monday_sync does not read yet).
    world.first_weekday = Weekday::Monday;
    let fake = Fake::start(world).map_err(|e| e.to_string())?;
    fake.with(|s| s.knobs.token = TOKEN.into());
    let api_url = format!("monday_sync.api_url = '{}'", fake.url());
    let listen = format!("monday_sync.webhook_listen = '127.0.0.1:{LISTEN}'");
    let public = format!("monday_sync.webhook_public_url = 'http://127.0.0.1:{LISTEN}'");
    let lines = vec![
        listen.as_str(),
        public.as_str(),
        "monday_sync.webhook_settle = '300ms'",
        "log_min_messages = info",
        "shared_preload_libraries = 'monday_sync'",
        "monday_sync.database = 'mswrite'",
        "monday_sync.naptime = '200ms'",
        "monday_sync.request_timeout = '5s'",
        "monday_sync.max_wait = '60s'",
        "max_worker_processes = 16",
        api_url.as_str(),
    ];
    let mut lines = lines;
    lines.extend_from_slice(conf);
    let c = Cluster::start("write", PORT, &lines)?;
    let mut admin = Client::connect(&c.conn_string("postgres"), NoTls).map_err(pg)?;
    admin
        .batch_execute(&format!("CREATE DATABASE {DB}"))
        .map_err(pg)?;
    let db = Client::connect(&c.conn_string(DB), NoTls).map_err(pg)?;
    let mut w = W { c, fake, db };
    w.sql("CREATE EXTENSION monday_sync")?;
    w.db.execute("SELECT monday_sync.set_token($1)", &[&TOKEN])
        .map_err(pg)?;
    w.db.query_one("SELECT monday_sync.track_board($1)", &[&SAMPLE_BOARD])
        .map_err(pg)?;
    w.db.query_one("SELECT monday_sync.pull_board($1)", &[&SAMPLE_BOARD])
        .map_err(pg)?;
    Ok(w)
}

// ---------- the tests ----------

fn enable_puts_triggers_in_place(w: &mut W) -> T {
    let r = w.json(&format!(
        "SELECT monday_sync.enable_write_back({SAMPLE_BOARD})"
    ))?;
    eq(
        &r["conflict_policy"],
        &json!("local_wins"),
        "default policy",
    )?;
    eq(
        &r["tables"].as_array().map(Vec::len),
        &Some(2),
        "both tables",
    )?;
    for t in [TABLE, SUBTABLE] {
        let n = w.i64(&format!(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = '{t}'::regclass AND tgname LIKE 'monday_sync_write_back%'"
        ))?;
        eq(&n, &2, &format!("triggers on {t}"))?;
    }
    // Idempotent; and a subitems board is not enabled on its own.
    w.sql(&format!(
        "SELECT monday_sync.enable_write_back({SAMPLE_BOARD})"
    ))?;
    let (code, _) = w.fails(&format!(
        "SELECT monday_sync.enable_write_back({SAMPLE_SUBITEMS_BOARD})"
    ))?;
    eq(&code.as_str(), &"22023", "subitems board refused")?;
    let (code, _) = w.fails(&format!(
        "SELECT monday_sync.enable_write_back({SAMPLE_BOARD}, conflict_policy => 'mine')"
    ))?;
    eq(&code.as_str(), &"22023", "unknown policy refused")
}

fn updates_are_checked_and_coalesce(w: &mut W) -> T {
    // Nothing is sent while this test looks at the outbox.
    w.sql("SET monday_sync.write_delay = '60s'")?;
    let item = FIRST_ITEM + 1;
    let status = w.col_id("status")?;
    let budget = w.col_id("budget")?;
    let label = match w.text(&format!(
        "SELECT status FROM {TABLE} WHERE item_id = {item}"
    ))? {
        Some(s) if s == "Stuck" => "Done",
        _ => "Stuck",
    };
    w.sql(&format!(
        "UPDATE {TABLE} SET name = 'Renamed here', status = '{label}' WHERE item_id = {item}"
    ))?;
    w.sql(&format!(
        "UPDATE {TABLE} SET budget = 12.50 WHERE item_id = {item}"
    ))?;
    let n = w.i64(&format!(
        "SELECT count(*) FROM monday_sync.writes WHERE item_id = {item} AND status = 'pending'"
    ))?;
    eq(&n, &1, "one pending entry per item")?;
    let changes = w.json(&format!(
        "SELECT changes FROM monday_sync.writes WHERE item_id = {item} AND status = 'pending'"
    ))?;
    eq(
        &changes,
        &json!({"name": "Renamed here", status.clone(): {"index": if label == "Done" { 1 } else { 2 }}, budget.clone(): "12.50"}),
        "changes, encoded as monday accepts them",
    )?;
    let base = w.json(&format!(
        "SELECT base FROM monday_sync.writes WHERE item_id = {item} AND status = 'pending'"
    ))?;
    check(
        base[&status].get("value").is_some() && base.get("name").is_some(),
        &format!("the base keeps what monday showed: {base}"),
    )?;
    // What monday would refuse fails the statement, nothing recorded.
    let (code, msg) = w.fails(&format!(
        "UPDATE {TABLE} SET status = 'No such label' WHERE item_id = {item}"
    ))?;
    eq(&code.as_str(), &"22023", "unknown status label")?;
    check(
        msg.contains("status"),
        &format!("the message names the column: {msg}"),
    )?;
    let (code, _) = w.fails(&format!(
        "UPDATE {TABLE} SET cost_per_day = 3 WHERE item_id = {item}"
    ))?;
    eq(&code.as_str(), &"0A000", "a formula is read-only")?;
    let (code, _) = w.fails(&format!(
        "UPDATE {TABLE} SET group_title = 'x' WHERE item_id = {item}"
    ))?;
    eq(&code.as_str(), &"0A000", "group_title is monday's")?;
    w.sql(&format!(
        "SELECT monday_sync.set_column_direction({SAMPLE_BOARD}, '{budget}', 'pull')"
    ))?;
    let (code, msg) = w.fails(&format!(
        "UPDATE {TABLE} SET budget = 1 WHERE item_id = {item}"
    ))?;
    eq(&code.as_str(), &"0A000", "a pull-only column")?;
    check(msg.contains("pull-only"), &msg)?;
    w.sql(&format!(
        "SELECT monday_sync.set_column_direction({SAMPLE_BOARD}, '{budget}', 'both')"
    ))?;
    let n = w.i64("SELECT count(*) FROM monday_sync.writes")?;
    eq(&n, &1, "refused statements record nothing")?;
    // An UPDATE that changes nothing records nothing.
    w.sql(&format!(
        "UPDATE {TABLE} SET notes = notes WHERE item_id = {}",
        FIRST_ITEM + 3
    ))?;
    let n = w.i64("SELECT count(*) FROM monday_sync.writes")?;
    eq(&n, &1, "a no-op UPDATE")?;
    let v = w.i64("SELECT count(*) FROM monday_sync.pending_writes")?;
    eq(&v, &1, "pending_writes shows it")?;
    // Archived here: on monday too; back to active: monday's API restores nothing.
    w.sql(&format!(
        "UPDATE {TABLE} SET state = 'archived' WHERE item_id = {}",
        FIRST_ITEM + 2
    ))?;
    let (code, _) = w.fails(&format!(
        "UPDATE {TABLE} SET state = 'active' WHERE item_id = {}",
        FIRST_ITEM + 2
    ))?;
    eq(&code.as_str(), &"0A000", "nothing to restore: state stays")?;
    Ok(())
}

fn own_writes_stay_out_and_never_clobber(w: &mut W) -> T {
    w.sql("SET monday_sync.write_delay = '60s'")?;
    let item = FIRST_ITEM + 1; // pending from the previous test: name, status, budget
    let notes = w.col_id("notes")?;
    // monday changes the name (pending here) and the notes (not pending).
    w.fake.with(|s| {
        s.world.rename(item, "Renamed on monday");
        s.world.set_cell(
            item,
            &notes,
            Some(json!("from monday")),
            Some("from monday"),
        );
    });
    let before = w.i64("SELECT count(*) FROM monday_sync.writes")?;
    let pending = w.text(&format!(
        "SELECT status FROM {TABLE} WHERE item_id = {item}"
    ))?;
    w.sql(&format!("SELECT monday_sync.pull_board({SAMPLE_BOARD})"))?;
    let after = w.i64("SELECT count(*) FROM monday_sync.writes")?;
    eq(&after, &before, "a pull records nothing")?;
    let name = w.text(&format!("SELECT name FROM {TABLE} WHERE item_id = {item}"))?;
    eq(
        &name.as_deref(),
        &Some("Renamed here"),
        "the pending name is kept",
    )?;
    let n = w.text(&format!("SELECT notes FROM {TABLE} WHERE item_id = {item}"))?;
    eq(
        &n.as_deref(),
        &Some("from monday"),
        "the other columns follow monday",
    )?;
    let st = w.text(&format!(
        "SELECT status FROM {TABLE} WHERE item_id = {item}"
    ))?;
    eq(&st, &pending, "the pending status is kept")?;
    Ok(())
}

fn inserts_get_a_temporary_id(w: &mut W) -> T {
    w.sql("SET monday_sync.write_delay = '60s'")?;
    let id = w.i64(&format!(
        "INSERT INTO {TABLE} (name, group_id) VALUES ('Made in SQL', 'topics') RETURNING item_id"
    ))?;
    check(id < 0, &format!("a temporary negative id: {id}"))?;
    let op = w.text(&format!(
        "SELECT op FROM monday_sync.writes WHERE item_id = {id}"
    ))?;
    eq(&op.as_deref(), &Some("create"), "a create entry")?;
    let (code, _) = w.fails(&format!(
        "INSERT INTO {TABLE} (item_id, name) VALUES (42, 'x')"
    ))?;
    eq(&code.as_str(), &"428C9", "item_id is monday's")?;
    let (code, _) = w.fails(&format!("INSERT INTO {TABLE} (notes) VALUES ('x')"))?;
    eq(&code.as_str(), &"23502", "a name is needed")?;
    let (code, _) = w.fails(&format!("INSERT INTO {SUBTABLE} (name) VALUES ('orphan')"))?;
    eq(&code.as_str(), &"0A000", "a subitem needs its parent")?;
    // Deleted before it was sent: the create is called off.
    w.sql(&format!("DELETE FROM {TABLE} WHERE item_id = {id}"))?;
    let n = w.i64(&format!(
        "SELECT count(*) FROM monday_sync.writes WHERE item_id = {id}"
    ))?;
    eq(&n, &0, "the create is called off")?;
    // A DELETE of a real item archives it.
    w.sql(&format!(
        "DELETE FROM {TABLE} WHERE item_id = {}",
        FIRST_ITEM + 4
    ))?;
    let ch = w.json(&format!(
        "SELECT changes FROM monday_sync.writes WHERE item_id = {}",
        FIRST_ITEM + 4
    ))?;
    eq(&ch, &json!({"#state": "archived"}), "a DELETE archives")?;
    Ok(())
}

fn every_writable_type_round_trips(w: &mut W) -> T {
    w.sql("DELETE FROM monday_sync.writes")?;
    let cols = w.writable_columns()?;
    check(cols.len() >= 20, &format!("writable columns: {cols:?}"))?;
    let mut all = cols.clone();
    all.push("name".into());
    let set = all.join(", ");
    w.fake.clear_log();
    // Items of templates 1..4 lend their values to items of template 0 (values monday holds:
    // labels, people, tags and linked items that exist), all in one transaction.
    let mut pairs = Vec::new();
    for k in 1..5 {
        let (to, from) = (FIRST_ITEM + 20 + 5 * k, FIRST_ITEM + 21 + k);
        pairs.push((to, from));
    }
    let mut tx = String::from("BEGIN;");
    for (to, from) in &pairs {
        tx.push_str(&format!(
            "UPDATE {TABLE} t SET ({set}) = (SELECT {set} FROM {TABLE} WHERE item_id = {from}) WHERE t.item_id = {to};"
        ));
    }
    tx.push_str("COMMIT;");
    w.sql(&tx)?;
    w.settle(20)?;
    let failed =
        w.json("SELECT coalesce(jsonb_agg(to_jsonb(e)), '[]') FROM monday_sync.write_errors e")?;
    eq(&failed, &json!([]), "no write failed")?;
    eq(&w.mutations(), &1, "one request for the four items")?;
    // A pull of what the fake now holds gives the same typed values.
    w.sql(&format!("SELECT monday_sync.pull_board({SAMPLE_BOARD})"))?;
    for (to, from) in &pairs {
        let got = w.row(TABLE, *to, &all)?;
        let want = w.row(TABLE, *from, &all)?;
        eq(
            &got,
            &want,
            &format!("item {to} after the round trip (values of {from})"),
        )?;
    }
    // And clearing every writable column clears it on monday.
    let clear = cols
        .iter()
        .map(|c| format!("{c} = NULL"))
        .collect::<Vec<_>>()
        .join(", ");
    let (to, _) = pairs[0];
    w.sql(&format!("UPDATE {TABLE} SET {clear} WHERE item_id = {to}"))?;
    w.settle(20)?;
    w.sql(&format!("SELECT monday_sync.pull_board({SAMPLE_BOARD})"))?;
    let row = w.row(TABLE, to, &cols)?;
    let not_null: Vec<&String> = row
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(_, v)| !v.is_null() && **v != json!([]) && **v != json!(false))
                .map(|(k, _)| k)
                .collect()
        })
        .unwrap_or_default();
    eq(
        &not_null,
        &Vec::<&String>::new(),
        "columns still set after clearing",
    )?;
    Ok(())
}

fn many_updates_few_calls(w: &mut W) -> T {
    w.fake.clear_log();
    let notes = "notes";
    let t = Instant::now();
    for k in 0..100 {
        // 100 transactions, one row each.
        w.sql(&format!(
            "UPDATE {TABLE} SET {notes} = 'batch {k}' WHERE item_id = {}",
            FIRST_ITEM + k % 50
        ))?;
    }
    w.settle(30)?;
    let secs = t.elapsed().as_secs_f64();
    let calls = w.mutations();
    let items = w.executed("change_multiple_column_values");
    check(
        calls <= 5,
        &format!("{calls} requests for 100 single-row UPDATEs (50 items)"),
    )?;
    check(
        (50..=100).contains(&items),
        &format!("{items} item changes sent"),
    )?;
    let nid = w.col_id("notes")?;
    for k in 50..100 {
        let item = FIRST_ITEM + k % 50;
        let on_fake = w.fake.with(|s| {
            s.world.items[&item]
                .cells
                .get(&nid)
                .and_then(|c| c.get("text").cloned())
        });
        eq(
            &on_fake,
            &Some(json!(format!("batch {k}"))),
            &format!("item {item} on monday"),
        )?;
    }
    println!("write: 100 single-row UPDATEs: {calls} requests, {items} item changes, {secs:.2} s to settle");
    Ok(())
}

fn creates_and_deletes(w: &mut W) -> T {
    let temp = w.i64(&format!(
        "INSERT INTO {TABLE} (name, group_id, notes) VALUES ('Created in SQL', 'topics', 'new one') RETURNING item_id"
    ))?;
    let sub_temp = w.i64(&format!(
        "INSERT INTO {SUBTABLE} (name, parent_item_id) VALUES ('Its subitem', {temp}) RETURNING item_id"
    ))?;
    w.settle(20)?;
    let real = w.i64(&format!(
        "SELECT created_item_id FROM monday_sync.writes WHERE item_id = {temp} AND op = 'create'"
    ))?;
    check(real > 0, "monday's id")?;
    let row = w.i64(&format!(
        "SELECT count(*) FROM {TABLE} WHERE item_id = {real} AND name = 'Created in SQL' AND notes = 'new one' AND group_id = 'topics'"
    ))?;
    eq(&row, &1, "the row has monday's id and values")?;
    eq(
        &w.i64(&format!(
            "SELECT count(*) FROM {TABLE} WHERE item_id = {temp}"
        ))?,
        &0,
        "no row keeps the temporary id",
    )?;
    let (name, group) = w.fake.with(|s| {
        let it = &s.world.items[&real];
        (it.name.clone(), it.group_id.clone())
    });
    eq(
        &(name.as_str(), group.as_str()),
        &("Created in SQL", "topics"),
        "the item on monday",
    )?;
    let sub_real = w.i64(&format!(
        "SELECT created_item_id FROM monday_sync.writes WHERE item_id = {sub_temp} AND op = 'create'"
    ))?;
    let parent = w
        .fake
        .with(|s| s.world.items.get(&sub_real).and_then(|i| i.parent_item_id));
    eq(
        &parent,
        &Some(real),
        "the subitem is under the new item on monday",
    )?;
    let n = w.i64(&format!(
        "SELECT count(*) FROM {SUBTABLE} WHERE item_id = {sub_real} AND parent_item_id = {real}"
    ))?;
    eq(&n, &1, "the subitem's row, re-keyed with its parent")?;
    let creates = w.fake.with(|s| {
        s.world
            .items
            .values()
            .filter(|i| i.name == "Created in SQL")
            .count()
    });
    eq(&creates, &1, "created once")?;
    // DELETE archives it on monday; the row stays, archived, as every archived item's does.
    w.sql(&format!("DELETE FROM {TABLE} WHERE item_id = {real}"))?;
    w.settle(20)?;
    let st = w.fake.with(|s| s.world.items[&real].state.clone());
    eq(&st, &State::Archived, "archived on monday")?;
    let st = w.text(&format!("SELECT state FROM {TABLE} WHERE item_id = {real}"))?;
    eq(&st.as_deref(), &Some("archived"), "the row")?;
    // Moving to another group.
    let item = FIRST_ITEM + 7;
    let other = w.fake.with(|s| {
        let it = &s.world.items[&item];
        s.world.boards[&SAMPLE_BOARD]
            .groups
            .iter()
            .find(|g| g.id != it.group_id)
            .map(|g| g.id.clone())
            .unwrap_or_default()
    });
    w.sql(&format!(
        "UPDATE {TABLE} SET group_id = '{other}' WHERE item_id = {item}"
    ))?;
    w.settle(20)?;
    let g = w.fake.with(|s| s.world.items[&item].group_id.clone());
    eq(&g, &other, "moved on monday")?;
    let gt = w.text(&format!(
        "SELECT group_title FROM {TABLE} WHERE item_id = {item}"
    ))?;
    check(gt.is_some(), "group_title follows")?;
    Ok(())
}

fn refusals_fail_only_their_change(w: &mut W) -> T {
    let nid = w.col_id("notes")?;
    w.fake.with(|s| {
        s.knobs
            .validation_rules
            .push((nid.clone(), "forbidden".into()))
    });
    let (bad, good) = (FIRST_ITEM + 30, FIRST_ITEM + 31);
    w.sql(&format!(
        "BEGIN; UPDATE {TABLE} SET notes = 'a forbidden word' WHERE item_id = {bad};
                UPDATE {TABLE} SET notes = 'fine' WHERE item_id = {good}; COMMIT;"
    ))?;
    w.settle(20)?;
    let e = w.json(&format!(
        "SELECT to_jsonb(e) FROM monday_sync.write_errors e WHERE item_id = {bad}"
    ))?;
    eq(
        &e["error_code"],
        &json!("DATA_VALIDATIONS_ERROR"),
        "monday's code",
    )?;
    eq(&e["error_column"], &json!(nid), "the column")?;
    let on_fake = w.fake.with(|s| {
        s.world.items[&good]
            .cells
            .get(&nid)
            .and_then(|c| c.get("text").cloned())
    });
    eq(
        &on_fake,
        &Some(json!("fine")),
        "the other item's change went through",
    )?;
    let row = w.text(&format!("SELECT notes FROM {TABLE} WHERE item_id = {bad}"))?;
    eq(
        &row.as_deref(),
        &Some("a forbidden word"),
        "the refused value stays visible in the row",
    )?;
    // Not retried by itself: a later job leaves it failed.
    w.sql(&format!(
        "UPDATE {TABLE} SET notes = 'ok now' WHERE item_id = {good}"
    ))?;
    w.settle(20)?;
    eq(
        &w.i64("SELECT count(*) FROM monday_sync.write_errors")?,
        &1,
        "still one error",
    )?;
    // discard_write: the row goes back to monday's value.
    let id = w.i64(&format!(
        "SELECT write_id FROM monday_sync.write_errors WHERE item_id = {bad}"
    ))?;
    w.sql(&format!("SELECT monday_sync.discard_write({id})"))?;
    let want = w.fake.with(|s| {
        s.world.items[&bad]
            .cells
            .get(&nid)
            .and_then(|c| c.get("text").cloned())
    });
    let t = Instant::now();
    loop {
        let row = w.text(&format!("SELECT notes FROM {TABLE} WHERE item_id = {bad}"))?;
        if row.map(Value::String) == want {
            break;
        }
        check(
            t.elapsed() < Duration::from_secs(10),
            "the row did not go back to monday's value",
        )?;
        std::thread::sleep(Duration::from_millis(100));
    }
    // retry_write after the rule is gone: it goes through.
    w.sql(&format!(
        "UPDATE {TABLE} SET notes = 'forbidden again' WHERE item_id = {bad}"
    ))?;
    w.settle(20)?;
    let id = w.i64(&format!(
        "SELECT write_id FROM monday_sync.write_errors WHERE item_id = {bad}"
    ))?;
    w.fake.with(|s| s.knobs.validation_rules.clear());
    w.sql(&format!("SELECT monday_sync.retry_write({id})"))?;
    w.settle(20)?;
    let on_fake = w.fake.with(|s| {
        s.world.items[&bad]
            .cells
            .get(&nid)
            .and_then(|c| c.get("text").cloned())
    });
    eq(&on_fake, &Some(json!("forbidden again")), "retried")?;
    eq(
        &w.i64("SELECT count(*) FROM monday_sync.write_errors")?,
        &0,
        "no error left",
    )?;
    Ok(())
}

fn lost_answers_apply_once(w: &mut W) -> T {
    w.fake.clear_log();
    // The next request is executed, its answer lost; then a 500; the retries carry the same key.
    w.fake.fault(Fault::ExecuteThenDrop);
    let temp = w.i64(&format!(
        "INSERT INTO {TABLE} (name, notes) VALUES ('Lost answer', 'once') RETURNING item_id"
    ))?;
    w.settle(30)?;
    let n = w.fake.with(|s| {
        s.world
            .items
            .values()
            .filter(|i| i.name == "Lost answer")
            .count()
    });
    eq(&n, &1, "one item on monday")?;
    let replayed = w.fake.log().iter().filter(|l| l.replayed).count();
    check(replayed >= 1, "the retry was answered from monday's cache")?;
    let keys: Vec<Option<String>> = w
        .fake
        .log()
        .iter()
        .filter(|l| l.query.trim_start().starts_with("mutation"))
        .map(|l| l.idempotency_key.clone())
        .collect();
    check(
        keys.len() >= 2 && keys.iter().all(|k| k.is_some() && *k == keys[0]),
        &format!("the same key on every attempt: {keys:?}"),
    )?;
    let real = w.i64(&format!(
        "SELECT created_item_id FROM monday_sync.writes WHERE item_id = {temp}"
    ))?;
    eq(
        &w.i64(&format!(
            "SELECT count(*) FROM {TABLE} WHERE item_id = {real}"
        ))?,
        &1,
        "the row re-keyed",
    )?;
    Ok(())
}

/// A retry that reaches monday while the first request is still executing gets 409: the worker
/// waits Retry-After and asks again under the same key; the change is applied once.
fn conflicts_409_apply_once(w: &mut W) -> T {
    w.settle(30)?;
    w.sql("ALTER SYSTEM SET monday_sync.request_timeout = '700ms'")?;
    w.sql("SELECT pg_reload_conf()")?;
    std::thread::sleep(Duration::from_millis(500));
    w.fake.clear_log();
    // Each request is held 2.5 s: the worker gives up on the first after 0.7 s and retries.
    w.fake
        .with(|s| s.knobs.latency = Duration::from_millis(2500));
    let item = FIRST_ITEM + 12;
    let r = (|| -> T {
        w.sql(&format!(
            "UPDATE {TABLE} SET notes = 'once despite 409' WHERE item_id = {item}"
        ))?;
        let t = Instant::now();
        while w.i64(&format!(
            "SELECT count(*) FROM monday_sync.writes WHERE item_id = {item} AND status = 'sent' AND changes::text LIKE '%once despite 409%'"
        ))? == 0
        {
            check(t.elapsed() < Duration::from_secs(40), "the write was not sent in 40 s")?;
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    })();
    w.fake.with(|s| s.knobs.latency = Duration::ZERO);
    w.sql("ALTER SYSTEM RESET monday_sync.request_timeout")?;
    w.sql("SELECT pg_reload_conf()")?;
    r?;
    let log = w.fake.log();
    let muts: Vec<_> = log
        .iter()
        .filter(|l| l.query.trim_start().starts_with("mutation"))
        .collect();
    let conflicts = muts.iter().filter(|l| l.status == 409).count();
    check(
        conflicts >= 1,
        &format!("no 409 among {} mutation requests", muts.len()),
    )?;
    check(
        muts.iter()
            .all(|l| l.idempotency_key.is_some() && l.idempotency_key == muts[0].idempotency_key),
        "the same key on every attempt",
    )?;
    let executed = muts
        .iter()
        .filter(|l| l.status == 200 && !l.replayed)
        .count();
    eq(&executed, &1, "executed once")?;
    let nid = w.col_id("notes")?;
    let changes = w.fake.with(|s| {
        s.world
            .logs
            .get(&SAMPLE_BOARD)
            .map(|v| {
                v.iter()
                    .filter(|e| {
                        let d = e.fields.get("data").and_then(Value::as_str).unwrap_or("");
                        d.contains(&item.to_string())
                            && d.contains(&format!("\"{nid}\""))
                            && d.contains("once despite 409")
                    })
                    .count()
            })
            .unwrap_or(0)
    });
    eq(&changes, &1, "one change in monday's activity log")?;
    Ok(())
}

fn kill_mid_batch_loses_and_doubles_nothing(w: &mut W) -> T {
    w.fake.clear_log();
    w.fake
        .with(|s| s.knobs.latency = Duration::from_millis(1500));
    let mut tx = String::from("BEGIN;");
    for k in 0..20 {
        tx.push_str(&format!(
            "UPDATE {TABLE} SET notes = 'after kill {k}' WHERE item_id = {};",
            FIRST_ITEM + 40 + k
        ));
    }
    tx.push_str(&format!(
        "INSERT INTO {TABLE} (name) VALUES ('Created across a crash');COMMIT;"
    ));
    w.sql(&tx)?;
    // Wait until the request is on its way, then kill the worker.
    let t = Instant::now();
    while w.i64("SELECT count(*) FROM monday_sync.writes WHERE status = 'sending'")? == 0 {
        check(t.elapsed() < Duration::from_secs(10), "nothing was sent")?;
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let pid = w.worker_pid()?;
    crate::util::capture("kill", &["-9", &pid.to_string()])?;
    w.fake.with(|s| s.knobs.latency = Duration::ZERO);
    std::thread::sleep(Duration::from_secs(2));
    w.reconnect()?;
    w.settle(60)?;
    let nid = w.col_id("notes")?;
    for k in 0..20 {
        let item = FIRST_ITEM + 40 + k;
        let v = w.fake.with(|s| {
            s.world.items[&item]
                .cells
                .get(&nid)
                .and_then(|c| c.get("text").cloned())
        });
        eq(
            &v,
            &Some(json!(format!("after kill {k}"))),
            &format!("item {item} on monday"),
        )?;
    }
    let n = w.fake.with(|s| {
        s.world
            .items
            .values()
            .filter(|i| i.name == "Created across a crash")
            .count()
    });
    eq(&n, &1, "created once")?;
    // Executed once: the request after the restart was a replay (or the first execution).
    let executed = w.executed("create_item");
    eq(&executed, &1, "create_item executed once")?;
    Ok(())
}

fn conflicts_follow_the_policy(w: &mut W) -> T {
    let nid = w.col_id("notes")?;
    for (policy, item) in [
        ("manual", FIRST_ITEM + 45),
        ("remote_wins", FIRST_ITEM + 46),
        ("local_wins", FIRST_ITEM + 47),
    ] {
        w.sql(&format!(
            "SELECT monday_sync.enable_write_back({SAMPLE_BOARD}, conflict_policy => '{policy}')"
        ))?;
        // The change waits a second; meanwhile a person edits the same cell on monday.
        w.sql("SET monday_sync.write_delay = '1s'")?;
        w.sql(&format!(
            "UPDATE {TABLE} SET notes = 'local {policy}' WHERE item_id = {item}"
        ))?;
        w.sql("RESET monday_sync.write_delay")?;
        w.fake.with(|s| {
            s.world
                .set_cell(item, &nid, Some(json!("remote edit")), Some("remote edit"))
        });
        w.settle(20)?;
        let on_fake = w.fake.with(|s| {
            s.world.items[&item]
                .cells
                .get(&nid)
                .and_then(|c| c.get("text").cloned())
        });
        let row = w.text(&format!("SELECT notes FROM {TABLE} WHERE item_id = {item}"))?;
        match policy {
            "manual" => {
                eq(
                    &on_fake,
                    &Some(json!("remote edit")),
                    "manual: monday untouched",
                )?;
                let c = w.json(&format!(
                    "SELECT to_jsonb(p) FROM monday_sync.pending_writes p WHERE item_id = {item}"
                ))?;
                eq(&c["status"], &json!("conflict"), "manual: waits")?;
                eq(
                    &c["remote"][&nid]["text"],
                    &json!("remote edit"),
                    "manual: monday's value shown",
                )?;
                eq(
                    &row.as_deref(),
                    &Some("local manual"),
                    "manual: the row keeps the local value",
                )?;
                let id = c["write_id"].as_i64().unwrap_or_default();
                w.sql(&format!(
                    "SELECT monday_sync.resolve_conflict({id}, 'local')"
                ))?;
                w.settle(20)?;
                let on_fake = w.fake.with(|s| {
                    s.world.items[&item]
                        .cells
                        .get(&nid)
                        .and_then(|c| c.get("text").cloned())
                });
                eq(
                    &on_fake,
                    &Some(json!("local manual")),
                    "manual: resolved for the local value",
                )?;
            }
            "remote_wins" => {
                eq(
                    &on_fake,
                    &Some(json!("remote edit")),
                    "remote_wins: monday's kept",
                )?;
                eq(
                    &row.as_deref(),
                    &Some("remote edit"),
                    "remote_wins: the row shows monday's",
                )?;
            }
            _ => {
                eq(
                    &on_fake,
                    &Some(json!("local local_wins")),
                    "local_wins: sent anyway",
                )?;
            }
        }
    }
    w.sql(&format!(
        "SELECT monday_sync.enable_write_back({SAMPLE_BOARD})"
    ))?;
    Ok(())
}

/// Records keyed by an external id: created, updated in what differs, or left alone.
fn upserts_send_only_what_differs(w: &mut W) -> T {
    // A "CRM id" text column on monday, filled on 20 items.
    w.fake.with(|s| {
        s.world
            .add_column(SAMPLE_BOARD, "text_crm", "CRM id", "text");
        for k in 0..20 {
            let v = format!("CRM-{k:04}");
            s.world
                .set_cell(FIRST_ITEM + k, "text_crm", Some(json!(v)), Some(&v));
        }
    });
    w.sql(&format!("SELECT monday_sync.pull_board({SAMPLE_BOARD})"))?;
    let before: Vec<(String, String)> = w
        .db
        .query(
            &format!("SELECT crm_id, coalesce(notes, '') FROM {TABLE} WHERE crm_id IS NOT NULL ORDER BY crm_id"),
            &[],
        )
        .map_err(pg)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    eq(&before.len(), &20, "keys pulled")?;
    // 30 records: 15 equal, 5 with other notes, 10 new.
    let mut recs = Vec::new();
    for (k, (key, notes)) in before.iter().enumerate() {
        if k < 15 {
            recs.push(json!({"crm_id": key, "notes": notes}));
        } else {
            recs.push(json!({"crm_id": key, "notes": format!("changed {k}")}));
        }
    }
    for k in 0..10 {
        recs.push(json!({"crm_id": format!("NEW-{k}"), "name": format!("From the CRM {k}"), "notes": "new"}));
    }
    w.settle(20)?;
    w.fake.clear_log();
    let r = w.json(&format!(
        "SELECT monday_sync.upsert_items({SAMPLE_BOARD}, 'crm_id', '{}'::jsonb)",
        Value::Array(recs.clone()).to_string().replace('\'', "''")
    ))?;
    eq(
        &(
            r["created"].clone(),
            r["updated"].clone(),
            r["unchanged"].clone(),
            r["failed"].clone(),
        ),
        &(json!(10), json!(5), json!(15), json!(0)),
        &format!("counts: {r}"),
    )?;
    w.settle(30)?;
    let calls = w.mutations();
    check(calls <= 2, &format!("{calls} requests for 15 writes"))?;
    let on_fake = w.fake.with(|s| {
        s.world
            .items
            .values()
            .filter(|i| {
                i.cells
                    .get("text_crm")
                    .and_then(|c| c.get("text"))
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.starts_with("NEW-"))
            })
            .count()
    });
    eq(&on_fake, &10, "created on monday, with their keys")?;
    let mapped = w.i64(&format!("SELECT count(*) FROM monday_sync.item_keys WHERE board_id = {SAMPLE_BOARD} AND item_id > 0"))?;
    eq(&mapped, &30, "the key mapping, with monday's ids")?;
    // The same records again: nothing differs, nothing is sent.
    w.fake.clear_log();
    let r = w.json(&format!(
        "SELECT monday_sync.upsert_items({SAMPLE_BOARD}, 'crm_id', '{}'::jsonb)",
        Value::Array(recs).to_string().replace('\'', "''")
    ))?;
    eq(&r["unchanged"], &json!(30), &format!("all equal now: {r}"))?;
    w.settle(20)?;
    eq(&w.mutations(), &0, "nothing sent")?;
    // A key on two items is an error for that record, not a guess.
    w.fake.with(|s| {
        s.world.set_cell(
            FIRST_ITEM + 30,
            "text_crm",
            Some(json!("CRM-0001")),
            Some("CRM-0001"),
        )
    });
    w.sql(&format!("SELECT monday_sync.pull_board({SAMPLE_BOARD})"))?;
    let r = w.json(&format!(
        "SELECT monday_sync.upsert_items({SAMPLE_BOARD}, 'crm_id', '[{{\"crm_id\": \"CRM-0001\", \"notes\": \"x\"}}, {{\"crm_id\": \"CRM-0002\", \"rating_bad\": 1}}]')"
    ))?;
    eq(&r["failed"], &json!(2), &format!("{r}"))?;
    let e = r["errors"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    check(e.contains("2 items"), &e)?;
    Ok(())
}

/// request_upsert_items: the worker goes through a large set a chunk a transaction, as the role
/// that asked; a role that may not write the table is refused up front.
fn upserts_run_as_a_worker_job(w: &mut W) -> T {
    w.settle(30)?;
    for sql in [
        "DROP ROLE IF EXISTS crm_loader",
        "DROP ROLE IF EXISTS crm_reader",
        "CREATE ROLE crm_loader",
        "CREATE ROLE crm_reader",
        "GRANT USAGE ON SCHEMA monday_sync TO crm_loader, crm_reader",
        "GRANT EXECUTE ON FUNCTION monday_sync.request_upsert_items(bigint, text, jsonb) TO crm_loader, crm_reader",
        &format!("GRANT SELECT, INSERT, UPDATE ON {TABLE} TO crm_loader"),
        &format!("GRANT SELECT ON {TABLE} TO crm_reader"),
    ] {
        w.sql(sql)?;
    }
    // 1,200 records: 5 known keys with new notes, one bad record, 1,194 new ones.
    let mut recs = Vec::new();
    // (CRM-0001 is on two items since the test before: keys 2 to 6.)
    for k in 2..7 {
        recs.push(json!({"crm_id": format!("CRM-{k:04}"), "notes": format!("bulk {k}")}));
    }
    recs.push(json!({"crm_id": "BAD-1", "no_such_column": 1}));
    for k in 0..1194 {
        recs.push(
            json!({"crm_id": format!("BULK-{k}"), "name": format!("Bulk {k}"), "notes": "bulk"}),
        );
    }
    let body = Value::Array(recs).to_string().replace('\'', "''");
    // 1,199 mutations cost 36M complexity, 7 minutes of a real token's budget: lifted here (the
    // pacing under a budget has tests of its own), and one call so the worker sees it.
    w.fake
        .with(|s| s.set_budget(2_000_000_000, Duration::from_secs(60)));
    w.sql("ALTER SYSTEM SET monday_sync.complexity_per_minute = 2000000000")?;
    w.sql("SELECT pg_reload_conf()")?;
    std::thread::sleep(Duration::from_millis(300));
    w.sql(&format!("SELECT monday_sync.refresh_board({SAMPLE_BOARD})"))?;
    let r = upsert_job(w, &body);
    w.sql("ALTER SYSTEM RESET monday_sync.complexity_per_minute")?;
    w.sql("SELECT pg_reload_conf()")?;
    w.fake
        .with(|s| s.set_budget(10_000_000, Duration::from_secs(60)));
    r
}

fn upsert_job(w: &mut W, body: &str) -> T {
    // Refused up front without UPDATE on the table.
    w.sql("SET ROLE crm_reader")?;
    let r = w.sql(&format!(
        "SELECT monday_sync.request_upsert_items({SAMPLE_BOARD}, 'crm_id', '{body}'::jsonb)"
    ));
    w.sql("RESET ROLE")?;
    let e: String = r.err().unwrap_or_default().chars().take(300).collect();
    check(
        e.contains("42501") || e.contains("permission denied for table q3_launch_plan"),
        &format!("crm_reader: {e}"),
    )?;
    w.fake.clear_log();
    w.sql("SET ROLE crm_loader")?;
    let id = w.i64(&format!(
        "SELECT monday_sync.request_upsert_items({SAMPLE_BOARD}, 'crm_id', '{body}'::jsonb)"
    ));
    w.sql("RESET ROLE")?;
    let id = id.map_err(|e| e.chars().take(400).collect::<String>())?;
    let t = Instant::now();
    let p = loop {
        let p = w.json(&format!(
            "SELECT to_jsonb(p) FROM monday_sync.upsert_progress p WHERE upsert_id = {id}"
        ))?;
        if p["status"] == json!("done") || p["status"] == json!("failed") {
            break p;
        }
        if t.elapsed() > Duration::from_secs(60) {
            return Err(format!("the upsert did not finish in 60 s: {p}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    eq(&p["status"], &json!("done"), &format!("{p}"))?;
    eq(
        &(
            p["total"].clone(),
            p["processed"].clone(),
            p["created"].clone(),
            p["updated"].clone(),
            p["failed"].clone(),
        ),
        &(json!(1200), json!(1200), json!(1194), json!(5), json!(1)),
        &format!("counts: {p}"),
    )?;
    eq(&p["requested_by"], &json!("crm_loader"), "requested_by")?;
    let e = p["errors"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    check(
        e.contains("no_such_column") && p["errors"][0]["index"] == json!(5),
        &format!("{p}"),
    )?;
    eq(
        &w.i64(&format!(
            "SELECT count(*) FROM monday_sync._upsert_records WHERE upsert_id = {id}"
        ))?,
        &0,
        "records gone once done",
    )?;
    // Two chunks, each its own transaction; the changes recorded as crm_loader's.
    let by = w.i64("SELECT count(*) FROM monday_sync.writes WHERE requested_by = 'crm_loader'")?;
    check(by >= 1199, &format!("{by} writes recorded as crm_loader's"))?;
    w.settle(90)?;
    let on_fake = w.fake.with(|s| {
        s.world
            .items
            .values()
            .filter(|i| {
                i.cells
                    .get("text_crm")
                    .and_then(|c| c.get("text"))
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.starts_with("BULK-"))
            })
            .count()
    });
    eq(&on_fake, &1194, "created on monday")?;
    let calls = w.mutations();
    check(calls <= 20, &format!("{calls} requests for 1,199 writes"))?;
    let run = w.text(
        "SELECT status || ': ' || coalesce(message, '') FROM monday_sync.sync_runs WHERE kind = 'upsert_items' ORDER BY runid DESC LIMIT 1",
    )?;
    check(
        run.as_deref()
            .is_some_and(|r| r.starts_with("succeeded: 1200 records")),
        &format!("{run:?}"),
    )?;
    // The role loses its rights before the worker gets to the records: that upsert fails, with
    // PostgreSQL's message, and nothing is left behind or retried.
    w.sql(&format!(
        "BEGIN; SET ROLE crm_loader;
         SELECT monday_sync.request_upsert_items({SAMPLE_BOARD}, 'crm_id', '[{{\"crm_id\": \"LATE-1\", \"name\": \"Late\"}}]');
         RESET ROLE; REVOKE SELECT ON {TABLE} FROM crm_loader; COMMIT;"
    ))?;
    let t = Instant::now();
    let p = loop {
        let p = w.json(
            "SELECT to_jsonb(p) FROM monday_sync.upsert_progress p ORDER BY upsert_id DESC LIMIT 1",
        )?;
        if p["status"] == json!("failed") || p["status"] == json!("done") {
            break p;
        }
        check(t.elapsed() < Duration::from_secs(30), &format!("still {p}"))?;
        std::thread::sleep(Duration::from_millis(100));
    };
    // The whole upsert fails (the keys cannot be read), or its record does (when the worker's
    // first look at the table came before the REVOKE): either way with PostgreSQL's message.
    let said = format!("{} {}", p["message"], p["errors"]);
    check(said.contains("permission denied"), &format!("{p}"))?;
    check(
        p["status"] == json!("failed") || p["failed"] == json!(1),
        &format!("{p}"),
    )?;
    eq(
        &w.i64("SELECT count(*) FROM monday_sync._upsert_records")?,
        &0,
        "no records left",
    )?;
    eq(
        &w.i64(&format!("SELECT count(*) FROM {TABLE} WHERE name = 'Late'"))?,
        &0,
        "nothing written",
    )?;
    Ok(())
}

/// History with write-back: a row created in SQL keeps its versions through the re-keying, from
/// the local INSERT to monday's answer.
fn history_follows_created_items(w: &mut W) -> T {
    w.settle(30)?;
    w.sql(&format!(
        "SELECT monday_sync.enable_history({SAMPLE_BOARD})"
    ))?;
    let temp = w.i64(&format!(
        "INSERT INTO {TABLE} (name, notes) VALUES ('With history', 'h') RETURNING item_id"
    ))?;
    w.settle(30)?;
    let real = w.i64(&format!(
        "SELECT created_item_id FROM monday_sync.writes WHERE item_id = {temp}"
    ))?;
    let v = w.json(&format!(
        "SELECT jsonb_agg(jsonb_build_object('source', source, 'open', valid_to IS NULL) ORDER BY valid_from)
           FROM public.q3_launch_plan_history WHERE item_id = {real}"
    ))?;
    eq(
        &v,
        &json!([{"source": "local", "open": false}, {"source": "write-back", "open": true}]),
        "the created item's versions",
    )?;
    eq(
        &w.i64(&format!(
            "SELECT count(*) FROM public.q3_launch_plan_history WHERE item_id = {temp}"
        ))?,
        &0,
        "nothing left under the temporary id",
    )?;
    w.sql(&format!(
        "SELECT monday_sync.disable_history({SAMPLE_BOARD})"
    ))?;
    Ok(())
}

/// untrack_board will not drop changes monday has not received.
fn untrack_waits_for_pending_writes(w: &mut W) -> T {
    w.settle(30)?;
    w.sql("SET monday_sync.write_delay = '60s'")?;
    w.sql(&format!(
        "UPDATE {TABLE} SET notes = 'before untrack' WHERE item_id = {}",
        FIRST_ITEM + 7
    ))?;
    let e = w
        .sql(&format!("SELECT monday_sync.untrack_board({SAMPLE_BOARD})"))
        .err()
        .unwrap_or_default();
    check(
        e.contains("55000") && e.contains("not yet on monday"),
        &format!("untrack with a pending write: {e}"),
    )?;
    eq(
        &w.i64(&format!(
            "SELECT count(*) FROM monday_sync.boards WHERE board_id = {SAMPLE_BOARD}"
        ))?,
        &1,
        "still tracked",
    )?;
    w.sql("UPDATE monday_sync.jobs SET not_before = now() WHERE command = 'write' AND status = 'queued'")?;
    w.settle(30)?;
    Ok(())
}

/// Our own writes coming back from monday (webhooks, the activity log) cost no API call, no row
/// rewrite and no outbox entry.
fn no_echo(w: &mut W) -> T {
    w.sql(&format!(
        "SELECT monday_sync.subscribe_board({SAMPLE_BOARD})"
    ))?;
    w.sql(&format!("SELECT monday_sync.refresh_board({SAMPLE_BOARD})"))?;
    w.settle(20)?;
    std::thread::sleep(Duration::from_secs(1));
    let wait_quiet = |w: &mut W| -> T {
        let t = Instant::now();
        loop {
            w.fake.wait_deliveries_idle(Duration::from_secs(10));
            let left = w.i64(
                "SELECT (SELECT count(*) FROM monday_sync.webhook_events WHERE status = 'received')
                      + (SELECT count(*) FROM monday_sync._webhook_confirm)
                      + (SELECT count(*) FROM monday_sync.jobs WHERE status IN ('queued', 'running'))",
            )?;
            if left == 0 {
                return Ok(());
            }
            check(
                t.elapsed() < Duration::from_secs(20),
                "webhooks did not settle",
            )?;
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_quiet(w)?;
    w.fake.clear_log();
    let item = FIRST_ITEM + 50;
    let entries = w.i64("SELECT count(*) FROM monday_sync.writes")?;
    w.sql(&format!(
        "UPDATE {TABLE} SET notes = 'echo test', name = 'Echo item' WHERE item_id = {item}"
    ))?;
    w.settle(20)?;
    let version = w.text(&format!(
        "SELECT xmin::text FROM {TABLE} WHERE item_id = {item}"
    ))?;
    // monday's webhooks for the change arrive and are recognised.
    let t = Instant::now();
    loop {
        let n = w.i64(&format!(
            "SELECT count(*) FROM monday_sync.webhook_events WHERE item_id = {item} AND error LIKE '%echo of write-back%'"
        ))?;
        if n >= 2 {
            break;
        }
        check(
            t.elapsed() < Duration::from_secs(10),
            &format!("{n} echo event(s) seen"),
        )?;
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_quiet(w)?;
    let calls: Vec<String> = w.fake.log().iter().map(|l| l.roots.join(",")).collect();
    eq(
        &calls.len(),
        &1,
        &format!("API calls for the write and its echo: {calls:?}"),
    )?;
    let after = w.text(&format!(
        "SELECT xmin::text FROM {TABLE} WHERE item_id = {item}"
    ))?;
    eq(&after, &version, "the echo did not rewrite the row")?;
    eq(
        &w.i64("SELECT count(*) FROM monday_sync.writes")?,
        &(entries + 1),
        "no new outbox entry",
    )?;
    // The activity log's entries for it: read, and the item not fetched.
    w.fake.clear_log();
    w.sql(&format!("SELECT monday_sync.refresh_board({SAMPLE_BOARD})"))?;
    let roots: Vec<String> = w.fake.log().iter().flat_map(|l| l.roots.clone()).collect();
    check(
        !roots.iter().any(|r| r == "items"),
        &format!("the refresh fetched items: {roots:?}"),
    )?;
    let after = w.text(&format!(
        "SELECT xmin::text FROM {TABLE} WHERE item_id = {item}"
    ))?;
    eq(&after, &version, "the refresh did not rewrite the row")?;
    // A change a person makes on monday meanwhile is no echo: it arrives.
    let nid = w.col_id("notes")?;
    w.fake.with(|s| {
        s.world
            .set_cell(item, &nid, Some(json!("by a person")), Some("by a person"))
    });
    let t = Instant::now();
    loop {
        let v = w.text(&format!("SELECT notes FROM {TABLE} WHERE item_id = {item}"))?;
        if v.as_deref() == Some("by a person") {
            break;
        }
        check(
            t.elapsed() < Duration::from_secs(10),
            "a person's change did not arrive",
        )?;
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

pub fn run() -> Result<String, String> {
    let mut w = start(World::sample(60, true))?;
    let tests: Vec<Test> = vec![
        (
            "enable_write_back puts the triggers in place",
            enable_puts_triggers_in_place,
        ),
        (
            "UPDATEs are checked, encoded and coalesce in the outbox",
            updates_are_checked_and_coalesce,
        ),
        (
            "the extension's own writes stay out of the outbox and never clobber a pending change",
            own_writes_stay_out_and_never_clobber,
        ),
        (
            "INSERTs get a temporary id; DELETEs archive",
            inserts_get_a_temporary_id,
        ),
        (
            "every writable type round-trips: UPDATE → monday → pull",
            every_writable_type_round_trips,
        ),
        (
            "100 single-row UPDATEs take a few calls",
            many_updates_few_calls,
        ),
        (
            "INSERT creates items and subitems, DELETE archives, group moves",
            creates_and_deletes,
        ),
        (
            "a value monday refuses fails that change only; retry and discard",
            refusals_fail_only_their_change,
        ),
        (
            "a lost answer is retried with its key: applied once",
            lost_answers_apply_once,
        ),
        (
            "a 409 for a retry in flight: waited, asked again, applied once",
            conflicts_409_apply_once,
        ),
        (
            "kill -9 of the worker mid-batch loses and doubles nothing",
            kill_mid_batch_loses_and_doubles_nothing,
        ),
        (
            "conflicts follow the board's policy",
            conflicts_follow_the_policy,
        ),
        (
            "upsert_items creates, updates what differs, leaves equal records alone",
            upserts_send_only_what_differs,
        ),
        (
            "request_upsert_items: the worker goes through a large set as the role that asked",
            upserts_run_as_a_worker_job,
        ),
        (
            "no echo: our writes coming back cost no call, no rewrite, no entry",
            no_echo,
        ),
        (
            "history follows a created item through its re-keying",
            history_follows_created_items,
        ),
        (
            "untrack_board refuses while writes are pending",
            untrack_waits_for_pending_writes,
        ),
    ];
    let filter = std::env::var("WRITE_FILTER").unwrap_or_default();
    let (mut passed, mut failed) = (0, Vec::new());
    for (i, (name, f)) in tests.into_iter().enumerate() {
        if i > 0 && !filter.is_empty() && !name.contains(&filter) {
            continue;
        }
        let t = Instant::now();
        let r = f(&mut w);
        let _ = w.sql("RESET monday_sync.write_delay");
        match r {
            Ok(()) => {
                passed += 1;
                println!("write: ok     {name} ({:.1} s)", t.elapsed().as_secs_f64());
            }
            Err(e) => {
                println!("write: FAILED {name}: {e}");
                let log = w.server_log();
                let tail: Vec<&str> = log.lines().rev().take(25).collect();
                println!("  server log, last lines:");
                for l in tail.into_iter().rev() {
                    println!("  | {l}");
                }
                failed.push(name);
                if i == 0 {
                    break;
                }
                let _ = w.reconnect();
            }
        }
    }
    let log = w.server_log();
    if log.contains(TOKEN) {
        failed.push("token in the server log");
    }
    if log.contains("PANIC")
        || log.contains("terminated by signal 11")
        || log.contains("terminated by signal 6")
    {
        println!("write: FAILED the server log shows a crash:\n{log}");
        failed.push("a crash in the server log");
    }
    let _ = w.mutations();
    if failed.is_empty() {
        Ok(format!("{passed} passed, 0 failed"))
    } else {
        Err(format!(
            "write: {} failed: {}",
            failed.len(),
            failed.join("; ")
        ))
    }
}
