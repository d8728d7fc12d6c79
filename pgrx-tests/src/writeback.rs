//! Write-back end to end: a real cluster with monday_sync preloaded (its worker sends), the fake
//! monday server executing the mutations over real HTTP on 127.0.0.1. The trigger's checks and
//! the outbox, the extension's own writes kept out of it, round trips of every writable type,
//! batching, creates and deletes, refusals, conflicts, lost answers and 409s, `kill -9`.

use crate::cluster::Cluster;
use crate::e2e::{check, eq};
use crate::fake::world::{World, FIRST_ITEM, SAMPLE_BOARD, SAMPLE_SUBITEMS_BOARD};
use crate::fake::Fake;
use postgres::{Client, NoTls};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

type T = Result<(), String>;
type Test = (&'static str, fn(&mut W) -> T);

const TOKEN: &str = "fake-token-write-7a3c";
const DB: &str = "mswrite";
const PORT: u16 = 28840;
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

    fn sql(&mut self, sql: &str) -> T {
        self.db.batch_execute(sql).map_err(pg)
    }

    fn i64(&mut self, sql: &str) -> Result<i64, String> {
        Ok(self.db.query_one(sql, &[]).map_err(pg)?.get::<_, i64>(0))
    }

    fn text(&mut self, sql: &str) -> Result<Option<String>, String> {
        Ok(self
            .db
            .query_one(sql, &[])
            .map_err(pg)?
            .get::<_, Option<String>>(0))
    }

    fn json(&mut self, sql: &str) -> Result<Value, String> {
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
    fn settle(&mut self, secs: u64) -> T {
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
                return Err(format!("write-back did not settle in {secs} s: writes {w}, jobs {j}"));
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
    fn mutations(&self) -> usize {
        self.fake
            .log()
            .iter()
            .filter(|l| l.query.trim_start().starts_with("mutation"))
            .count()
    }
}

fn start(world: World) -> Result<W, String> {
    let fake = Fake::start(world).map_err(|e| e.to_string())?;
    fake.with(|s| s.knobs.token = TOKEN.into());
    let api_url = format!("monday_sync.api_url = '{}'", fake.url());
    let lines = vec![
        "log_min_messages = info",
        "shared_preload_libraries = 'monday_sync'",
        "monday_sync.database = 'mswrite'",
        "monday_sync.naptime = '200ms'",
        "monday_sync.request_timeout = '5s'",
        "monday_sync.max_wait = '60s'",
        "max_worker_processes = 16",
        api_url.as_str(),
    ];
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
    eq(&r["conflict_policy"], &json!("local_wins"), "default policy")?;
    eq(&r["tables"].as_array().map(Vec::len), &Some(2), "both tables")?;
    for t in [TABLE, SUBTABLE] {
        let n = w.i64(&format!(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = '{t}'::regclass AND tgname LIKE 'monday_sync_write_back%'"
        ))?;
        eq(&n, &2, &format!("triggers on {t}"))?;
    }
    // Idempotent; and a subitems board is not enabled on its own.
    w.sql(&format!("SELECT monday_sync.enable_write_back({SAMPLE_BOARD})"))?;
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
    let label = match w.text(&format!("SELECT status FROM {TABLE} WHERE item_id = {item}"))? {
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
    check(msg.contains("status"), &format!("the message names the column: {msg}"))?;
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
        s.world
            .set_cell(item, &notes, Some(json!("from monday")), Some("from monday"));
    });
    let before = w.i64("SELECT count(*) FROM monday_sync.writes")?;
    let pending = w.text(&format!("SELECT status FROM {TABLE} WHERE item_id = {item}"))?;
    w.sql(&format!("SELECT monday_sync.pull_board({SAMPLE_BOARD})"))?;
    let after = w.i64("SELECT count(*) FROM monday_sync.writes")?;
    eq(&after, &before, "a pull records nothing")?;
    let name = w.text(&format!("SELECT name FROM {TABLE} WHERE item_id = {item}"))?;
    eq(&name.as_deref(), &Some("Renamed here"), "the pending name is kept")?;
    let n = w.text(&format!("SELECT notes FROM {TABLE} WHERE item_id = {item}"))?;
    eq(&n.as_deref(), &Some("from monday"), "the other columns follow monday")?;
    let st = w.text(&format!("SELECT status FROM {TABLE} WHERE item_id = {item}"))?;
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
    let (code, _) = w.fails(&format!(
        "INSERT INTO {SUBTABLE} (name) VALUES ('orphan')"
    ))?;
    eq(&code.as_str(), &"0A000", "a subitem needs its parent")?;
    // Deleted before it was sent: the create is called off.
    w.sql(&format!("DELETE FROM {TABLE} WHERE item_id = {id}"))?;
    let n = w.i64(&format!(
        "SELECT count(*) FROM monday_sync.writes WHERE item_id = {id}"
    ))?;
    eq(&n, &0, "the create is called off")?;
    // A DELETE of a real item archives it.
    w.sql(&format!("DELETE FROM {TABLE} WHERE item_id = {}", FIRST_ITEM + 4))?;
    let ch = w.json(&format!(
        "SELECT changes FROM monday_sync.writes WHERE item_id = {}",
        FIRST_ITEM + 4
    ))?;
    eq(&ch, &json!({"#state": "archived"}), "a DELETE archives")?;
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
    if log.contains("PANIC") || log.contains("terminated by signal") {
        println!("write: FAILED the server log shows a crash:\n{log}");
        failed.push("a crash in the server log");
    }
    let _ = w.mutations();
    if failed.is_empty() {
        Ok(format!("{passed} passed, 0 failed"))
    } else {
        Err(format!("write: {} failed: {}", failed.len(), failed.join("; ")))
    }
}
