//! End-to-end tests: a real cluster, the extension installed, the fake monday server over real HTTP
//! on 127.0.0.1. One test per behaviour and per fault; each asserts the table holds every active
//! item exactly once with the right typed values, and counts the API calls in the fake's log.

use crate::cluster::Cluster;
use crate::fake::world::{State, World, FIRST_ITEM, SAMPLE_BOARD, SAMPLE_SUBITEMS_BOARD};
use crate::fake::{Fake, Fault};
use postgres::Client;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub(crate) type T = Result<(), String>;

pub(crate) struct Env {
    pub fake: Fake,
    pub cluster_conn: String,
    pub db: Client,
}

pub(crate) const TOKEN: &str = "fake-token-3f9c2b7a";

fn setup(c: &Cluster, world: World, i: usize) -> Result<Env, String> {
    let fake = Fake::start(world).map_err(|e| e.to_string())?;
    fake.with(|s| s.knobs.token = TOKEN.into());
    let dbname = format!("e2e_{i}");
    let mut admin = c.connect("postgres")?;
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {dbname}"))
        .map_err(pg)?;
    admin
        .batch_execute(&format!("CREATE DATABASE {dbname}"))
        .map_err(pg)?;
    let mut env = Env {
        fake,
        cluster_conn: c.conn_string(&dbname),
        db: connect_str(&c.conn_string(&dbname))?,
    };
    env.db
        .batch_execute("CREATE EXTENSION monday_sync")
        .map_err(pg)?;
    env.session()?;
    env.db
        .execute("SELECT monday_sync.set_token($1)", &[&TOKEN])
        .map_err(pg)?;
    Ok(env)
}

pub(crate) fn connect_str(s: &str) -> Result<Client, String> {
    Client::connect(s, postgres::NoTls).map_err(pg)
}

pub(crate) fn pg(e: postgres::Error) -> String {
    crate::util::pg_err(e)
}

impl Env {
    /// Points this session at the fake, with short backoffs for tests.
    fn session(&mut self) -> T {
        let url = self.fake.url();
        self.db
            .batch_execute(&format!(
                "SET monday_sync.api_url = '{url}'; SET monday_sync.request_timeout = '5s'; SET monday_sync.max_wait = '30s';"
            ))
            .map_err(pg)
    }

    pub fn second_session(&self) -> Result<Client, String> {
        let mut c = connect_str(&self.cluster_conn)?;
        c.batch_execute(&format!("SET monday_sync.api_url = '{}'", self.fake.url()))
            .map_err(pg)?;
        Ok(c)
    }

    pub fn calls(&self) -> usize {
        self.fake.log().len()
    }

    pub fn json(&mut self, sql: &str) -> Result<serde_json::Value, String> {
        let row = self.db.query_one(sql, &[]).map_err(pg)?;
        Ok(row.get::<_, serde_json::Value>(0))
    }

    pub fn i64(&mut self, sql: &str) -> Result<i64, String> {
        let row = self.db.query_one(sql, &[]).map_err(pg)?;
        Ok(row.get::<_, i64>(0))
    }

    pub fn track(&mut self) -> T {
        let t: String = self
            .db
            .query_one("SELECT monday_sync.track_board($1)::text", &[&SAMPLE_BOARD])
            .map_err(pg)?
            .get(0);
        eq(&t, &"q3_launch_plan".to_string(), "track_board's table")
    }

    pub fn pull(&mut self) -> Result<serde_json::Value, String> {
        self.json(&format!("SELECT monday_sync.pull_board({SAMPLE_BOARD})"))
    }

    pub fn check_table(&mut self, table: &str, board: i64) -> T {
        check_table(&mut self.db, &self.fake, table, board)
    }
}

/// Every active item of the board is in the table exactly once, with its name, group, budget
/// and notes as the fake holds them; inactive ones carry their state.
/// What `check_table` expects of an item: name, group, state, budget, notes.
type ExpectedRow = (String, String, State, Option<String>, Option<String>);

pub fn check_table(db: &mut Client, fake: &Fake, table: &str, board: i64) -> T {
    let expected: BTreeMap<i64, ExpectedRow> = fake.with(|s| {
        s.world
            .items
            .values()
            .filter(|it| it.board_id == board)
            .map(|it| {
                let cell_text = |c: &str| {
                    it.cells
                        .get(c)
                        .and_then(|m| m.get("text"))
                        .and_then(|t| t.as_str())
                        .map(String::from)
                };
                (
                    it.id,
                    (
                        it.name.clone(),
                        it.group_id.clone(),
                        it.state.clone(),
                        cell_text("numeric_mkx1"),
                        cell_text("text0"),
                    ),
                )
            })
            .collect()
    });
    let (budget, notes) = if board == SAMPLE_BOARD {
        ("budget::text", "notes")
    } else {
        ("NULL::text", "NULL::text")
    };
    let rows = db
        .query(
            &format!("SELECT item_id, name, group_id, state, {budget}, {notes} FROM public.{table} ORDER BY item_id"),
            &[],
        )
        .map_err(pg)?;
    let mut active = 0;
    for r in &rows {
        let id: i64 = r.get(0);
        let state: String = r.get(3);
        let Some((name, group, st, b, n)) = expected.get(&id) else {
            if state == "deleted" {
                continue; // purged on monday: the row stays, marked deleted
            }
            return Err(format!(
                "{table}: item {id} is {state} in Postgres but unknown to monday"
            ));
        };
        eq(
            &state.as_str(),
            &st.as_str(),
            &format!("{table} item {id} state"),
        )?;
        if *st != State::Active {
            continue;
        }
        active += 1;
        eq(&r.get::<_, String>(1), name, &format!("item {id} name"))?;
        eq(&r.get::<_, String>(2), group, &format!("item {id} group"))?;
        if board == SAMPLE_BOARD {
            eq(
                &r.get::<_, Option<String>>(4),
                &b.clone().filter(|s| !s.is_empty()),
                &format!("item {id} budget"),
            )?;
            eq(
                &r.get::<_, Option<String>>(5),
                &n.clone().filter(|s| !s.is_empty()),
                &format!("item {id} notes"),
            )?;
        }
    }
    let want = expected.values().filter(|v| v.2 == State::Active).count();
    eq(&active, &want, &format!("{table}: active items present"))
}

pub fn eq<A: PartialEq + std::fmt::Debug>(got: &A, want: &A, what: &str) -> T {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

pub fn check(cond: bool, what: &str) -> T {
    if cond {
        Ok(())
    } else {
        Err(what.to_string())
    }
}

/// Runs `sql`, expects an error with `sqlstate`; returns "message | detail | hint".
pub(crate) fn expect_err(db: &mut Client, sql: &str, sqlstate: &str) -> Result<String, String> {
    match db.batch_execute(sql) {
        Ok(()) => Err(format!("{sql}: succeeded, expected SQLSTATE {sqlstate}")),
        Err(e) => {
            let Some(d) = e.as_db_error() else {
                return Err(format!("{sql}: {e}"));
            };
            let text = format!(
                "{} | {} | {}",
                d.message(),
                d.detail().unwrap_or(""),
                d.hint().unwrap_or("")
            );
            if d.code().code() != sqlstate {
                return Err(format!(
                    "{sql}: SQLSTATE {} ({text}), expected {sqlstate}",
                    d.code().code()
                ));
            }
            check(
                d.detail().is_some() && d.hint().is_some(),
                &format!("{sql}: error without DETAIL or HINT: {text}"),
            )?;
            check(!text.contains(TOKEN), "the token appears in an error")?;
            Ok(text)
        }
    }
}

// ---------------------------------------------------------------- behaviours

fn track_creates_typed_tables(e: &mut Env) -> T {
    e.track()?;
    eq(
        &e.calls(),
        &2,
        "track_board calls (board + its subitems board)",
    )?;
    let types = e.json(
        "SELECT jsonb_object_agg(attname, format_type(atttypid, atttypmod)) FROM pg_attribute
          WHERE attrelid = 'public.q3_launch_plan'::regclass AND attnum > 0 AND NOT attisdropped",
    )?;
    for (col, ty) in [
        ("item_id", "bigint"),
        ("state", "text"),
        ("status", "text"),
        ("budget", "numeric"),
        ("due_date", "date"),
        ("timeline", "daterange"),
        ("owner", "bigint[]"),
        ("approved", "boolean"),
        ("customer", "bigint[]"),
        ("created", "timestamp with time zone"),
        ("raw", "jsonb"),
        ("synced_at", "timestamp with time zone"),
    ] {
        eq(
            &types.get(col).and_then(|v| v.as_str()),
            &Some(ty),
            &format!("column {col}"),
        )?;
    }
    eq(
        &e.i64("SELECT count(*) FROM monday_sync.columns WHERE board_id = 18414630189")?,
        &31,
        "mapped columns",
    )?;
    eq(
        &e.i64("SELECT count(*) FROM monday_sync.groups WHERE board_id = 18414630189")?,
        &2,
        "groups",
    )?;
    let sub = e.json("SELECT to_jsonb(array_agg(attname::text ORDER BY attnum)) FROM pg_attribute WHERE attrelid = 'public.q3_launch_plan_subitems'::regclass AND attnum > 0")?;
    check(
        sub.to_string().contains("hours") && sub.to_string().contains("parent_item_id"),
        &format!("subitems table: {sub}"),
    )?;
    // Tracking again is idempotent and costs the same two calls.
    e.track()?;
    eq(&e.calls(), &4, "calls after re-tracking")?;
    // Someone else's table of the same name: an error with a HINT to pass target.
    e.db.batch_execute("CREATE TABLE public.other_board (id int)")
        .map_err(pg)?;
    e.fake
        .with(|s| s.world.boards.get_mut(&SAMPLE_BOARD).unwrap().name = "Other board".into());
    let mut w2 = e.second_session()?;
    w2.batch_execute("DELETE FROM monday_sync.boards")
        .map_err(pg)?;
    w2.batch_execute("DROP TABLE public.q3_launch_plan, public.q3_launch_plan_subitems")
        .map_err(pg)?;
    let msg = expect_err(
        &mut w2,
        "SELECT monday_sync.track_board(18414630189)",
        "42P07",
    )?;
    check(
        msg.contains("track_board(18414630189, 'schema.table')"),
        &msg,
    )?;
    w2.batch_execute(
        "CREATE SCHEMA ops; SELECT monday_sync.track_board(18414630189, 'ops.launch')",
    )
    .map_err(pg)?;
    eq(&e.i64("SELECT count(*) FROM pg_tables WHERE schemaname = 'ops' AND tablename IN ('launch', 'launch_subitems')")?, &2, "tables in ops")
}

fn pull_board_backfills(e: &mut Env) -> T {
    e.track()?;
    e.fake.clear_log();
    let s = e.pull()?;
    let log = e.fake.log();
    // 1,200 items → 3 pages; 800 subitems → 2 pages. Bound: ceil(N/500) + 2 per board.
    eq(&log.len(), &5, "API calls for 1,200 items and 800 subitems")?;
    check(
        log.iter().all(|l| l.status == 200),
        "every call answered 200",
    )?;
    check(
        log.iter()
            .all(|l| l.api_version.as_deref() == Some("2026-07")),
        "every call sends API-Version: 2026-07",
    )?;
    check(
        log.iter()
            .all(|l| l.variables["limit"] == serde_json::json!(500)),
        "pages of 500",
    )?;
    eq(&s["items_seen"], &serde_json::json!(1200), "items_seen")?;
    eq(&s["rows_written"], &serde_json::json!(1200), "rows_written")?;
    eq(
        &s["subitems"]["items_seen"],
        &serde_json::json!(800),
        "subitems seen",
    )?;
    eq(
        &s["api_calls"],
        &serde_json::json!(5),
        "api_calls in the summary",
    )?;
    check(
        s["complexity_used"].as_i64().unwrap_or(0) > 0,
        "complexity recorded",
    )?;
    e.check_table("q3_launch_plan", SAMPLE_BOARD)?;
    e.check_table("q3_launch_plan_subitems", SAMPLE_SUBITEMS_BOARD)?;
    // Typed values of the first item, as monday shows them (fixtures/items_page.json).
    let row = e.json(&format!(
        "SELECT jsonb_build_object('status', status, 'due', due_date, 'timeline', timeline::text, 'owner', owner,
                'approved', approved, 'customer', customer, 'group_title', group_title, 'hours', standup::text)
           FROM public.q3_launch_plan WHERE item_id = {FIRST_ITEM}"
    ))?;
    eq(
        &row,
        &serde_json::json!({"status": "Working on it", "due": "2026-06-15", "timeline": "[2026-06-01,2026-06-13)",
            "owner": [44865791], "approved": true, "customer": [18414630201i64, 18414630202i64],
            "group_title": "This sprint", "hours": "09:30:00"}),
        "typed values of the first item",
    )?;
    eq(&e.i64(&format!("SELECT count(*) FROM public.q3_launch_plan_subitems WHERE parent_item_id = {FIRST_ITEM}"))?, &2, "subitems linked to their parent")?;
    // Run history and per-call budget records.
    let run =
        e.json("SELECT to_jsonb(r) FROM monday_sync.sync_runs r WHERE kind = 'pull_board'")?;
    eq(
        &run["status"],
        &serde_json::json!("succeeded"),
        "run status",
    )?;
    eq(
        &run["items_seen"],
        &serde_json::json!(2000),
        "run items_seen (items + subitems)",
    )?;
    eq(&run["api_calls"], &serde_json::json!(5), "run api_calls")?;
    eq(
        &e.i64("SELECT count(*) FROM monday_sync.api_calls WHERE complexity_cost > 0 AND complexity_after < complexity_before
                  AND runid = (SELECT runid FROM monday_sync.sync_runs WHERE kind = 'pull_board')")?,
        &5,
        "api_calls rows with complexity",
    )?;
    // Nothing changed on monday: a second pull writes nothing.
    let s2 = e.pull()?;
    eq(
        &s2["rows_written"],
        &serde_json::json!(0),
        "rows written by an unchanged pull",
    )?;
    eq(
        &s2["subitems"]["rows_written"],
        &serde_json::json!(0),
        "subitem rows written by an unchanged pull",
    )
}

fn changes_on_monday_arrive(e: &mut Env) -> T {
    e.track()?;
    e.pull()?;
    let (changed, archived, deleted, purged, added) = (
        FIRST_ITEM + 1,
        FIRST_ITEM + 2,
        FIRST_ITEM + 3,
        FIRST_ITEM + 4,
        FIRST_ITEM + 5000,
    );
    e.fake.with(|s| {
        s.world.set_cell(
            changed,
            "numeric_mkx1",
            Some(serde_json::json!("77.5")),
            Some("77.5"),
        );
        s.world.set_state(archived, State::Archived);
        s.world.set_state(deleted, State::Deleted);
        s.world.purge(purged);
        s.world
            .add_item(SAMPLE_BOARD, FIRST_ITEM + 10, added, "Brand new item");
    });
    e.fake.clear_log();
    let s = e.pull()?;
    // changed + added written by the walk; archived, deleted and purged found missing and resolved.
    eq(&s["rows_written"], &serde_json::json!(4), "rows written")?;
    eq(
        &s["marked_deleted"],
        &serde_json::json!(1),
        "purged item marked deleted",
    )?;
    let ids_calls = e
        .fake
        .log()
        .iter()
        .filter(|l| l.roots.contains(&"items".to_string()))
        .count();
    eq(&ids_calls, &1, "items(ids:) calls for 3 missing items")?;
    e.check_table("q3_launch_plan", SAMPLE_BOARD)?;
    let states = e.json(&format!(
        "SELECT jsonb_object_agg(item_id::text, state) FROM public.q3_launch_plan WHERE item_id IN ({archived}, {deleted}, {purged}, {added})"
    ))?;
    eq(
        &states,
        &serde_json::json!({archived.to_string(): "archived", deleted.to_string(): "deleted", purged.to_string(): "deleted", added.to_string(): "active"}),
        "states",
    )?;
    eq(
        &e.i64(&format!(
            "SELECT (budget * 10)::bigint FROM public.q3_launch_plan WHERE item_id = {changed}"
        ))?,
        &775,
        "changed budget",
    )
}

fn many_missing_items_beat_the_default_limit(e: &mut Env) -> T {
    e.track()?;
    e.pull()?;
    // 30 archived items: more than items(ids:)'s default limit of 25.
    e.fake.with(|s| {
        for k in 0..30 {
            s.world.set_state(FIRST_ITEM + 100 + k, State::Archived);
        }
    });
    e.pull()?;
    eq(
        &e.i64("SELECT count(*) FROM public.q3_launch_plan WHERE state = 'archived'")?,
        &30,
        "archived rows",
    )?;
    e.check_table("q3_launch_plan", SAMPLE_BOARD)
}

fn columns_follow_the_board(e: &mut Env) -> T {
    e.track()?;
    e.pull()?;
    e.fake.with(|s| {
        s.world
            .add_column(SAMPLE_BOARD, "text_mkzz", "Risk note", "text");
        s.world.set_cell(
            FIRST_ITEM,
            "text_mkzz",
            Some(serde_json::json!("vendor lock-in")),
            Some("vendor lock-in"),
        );
        s.world.remove_column(SAMPLE_BOARD, "rating_mkxa");
    });
    let before =
        e.i64("SELECT count(*) FROM public.q3_launch_plan WHERE confidence IS NOT NULL")?;
    e.pull()?;
    let note: Option<String> =
        e.db.query_one(
            &format!("SELECT risk_note FROM public.q3_launch_plan WHERE item_id = {FIRST_ITEM}"),
            &[],
        )
        .map_err(pg)?
        .get(0);
    eq(
        &note.as_deref(),
        &Some("vendor lock-in"),
        "new column's value",
    )?;
    eq(&e.i64("SELECT count(*) FROM monday_sync.columns WHERE column_id = 'rating_mkxa' AND removed_at IS NOT NULL")?, &1, "removed column marked")?;
    eq(
        &e.i64("SELECT count(*) FROM public.q3_launch_plan WHERE confidence IS NOT NULL")?,
        &before,
        "removed column's data kept",
    )?;
    check(before > 0, "the removed column had data")?;
    // map_column: rename and retype; later pulls keep the mapping.
    e.db.batch_execute("SELECT monday_sync.map_column(18414630189, 'numeric_mkx1', 'budget_usd', 'double precision')").map_err(pg)?;
    e.fake.with(|s| {
        s.world.set_cell(
            FIRST_ITEM,
            "numeric_mkx1",
            Some(serde_json::json!("10.129")),
            Some("10.129"),
        )
    });
    e.pull()?;
    let v: String = e
        .db
        .query_one(
            &format!("SELECT format_type(atttypid, atttypmod) || ' ' || (SELECT budget_usd::text FROM public.q3_launch_plan WHERE item_id = {FIRST_ITEM})
                        FROM pg_attribute WHERE attrelid = 'public.q3_launch_plan'::regclass AND attname = 'budget_usd'"),
            &[],
        )
        .map_err(pg)?
        .get(0);
    eq(
        &v.as_str(),
        &"double precision 10.129",
        "renamed, retyped column",
    )?;
    expect_err(
        &mut e.db,
        "SELECT monday_sync.map_column(18414630189, 'no_such', 'x')",
        "42703",
    )?;
    expect_err(
        &mut e.db,
        "SELECT monday_sync.map_column(18414630189, 'text0', 'item_id')",
        "42602",
    )?;
    Ok(())
}

/// A pull writes a page as an array of the table's row type, built from the decoded values with
/// the column types' input functions; a table with a column type that cannot be built so (here a
/// domain over an array) takes the JSON path (`json_populate_recordset`). Both write the same rows:
/// every column of every item, with retyped columns (typmods, an array of varchar) on both paths.
fn typed_rows_match_the_json_path(e: &mut Env) -> T {
    e.track()?;
    e.db.batch_execute(
        "SELECT monday_sync.map_column(18414630189, 'dropdown_mkx3', 'area', 'character varying(60)[]');
         SELECT monday_sync.map_column(18414630189, 'text0', 'notes', 'character varying(200)');
         SELECT monday_sync.map_column(18414630189, 'numeric_mkx1', 'budget', 'numeric(14,3)');",
    )
    .map_err(pg)?;
    e.pull()?;
    let rows = |e: &mut Env| -> Result<(String, i64), String> {
        let r = e
            .db
            .query_one(
                "SELECT string_agg((to_jsonb(t) - 'synced_at' - 'owner')::text, E'\\n' ORDER BY item_id),
                        count(*) FILTER (WHERE owner IS NOT NULL)
                   FROM public.q3_launch_plan t",
                &[],
            )
            .map_err(pg)?;
        Ok((r.get(0), r.get(1)))
    };
    let (typed, owners) = rows(e)?;
    check(owners > 0, "the sample board has owners")?;
    check(
        typed.contains("\"area\": [\""),
        "dropdown labels in varchar(60)[]",
    )?;
    e.db.batch_execute(
        "CREATE DOMAIN public.owner_ids AS bigint[];
         SELECT monday_sync.map_column(18414630189, 'person', 'owner', 'public.owner_ids');
         TRUNCATE public.q3_launch_plan;",
    )
    .map_err(pg)?;
    e.pull()?;
    let (json, owners_json) = rows(e)?;
    eq(&owners_json, &owners, "owners through the JSON path")?;
    eq(&json, &typed, "rows: typed path = JSON path")
}

fn pull_item_upserts_and_marks_deleted(e: &mut Env) -> T {
    e.track()?;
    e.fake.clear_log();
    let row = e.json(&format!("SELECT monday_sync.pull_item({FIRST_ITEM})"))?;
    eq(
        &row["name"],
        &serde_json::json!("Checkout redesign"),
        "pulled row",
    )?;
    eq(&row["budget"], &serde_json::json!(1000.0), "pulled budget")?;
    eq(&e.calls(), &1, "one call per pull_item")?;
    let q = e.fake.log()[0].variables.clone();
    eq(
        &q["limit"],
        &serde_json::json!(1),
        "pull_item asks for limit 1",
    )?;
    // A subitem goes to the subitems table.
    let sub = e.json("SELECT monday_sync.pull_item(18265990001)")?;
    eq(
        &sub["parent_item_id"],
        &serde_json::json!(FIRST_ITEM),
        "subitem's parent",
    )?;
    // Deleted on monday: the row stays, state = deleted.
    e.fake.with(|s| s.world.purge(FIRST_ITEM));
    let gone = e.json(&format!("SELECT monday_sync.pull_item({FIRST_ITEM})"))?;
    eq(
        &gone["state"],
        &serde_json::json!("deleted"),
        "state after deletion",
    )?;
    eq(&e.i64(&format!("SELECT count(*) FROM public.q3_launch_plan WHERE item_id = {FIRST_ITEM} AND state = 'deleted'"))?, &1, "row kept")?;
    // An item of a board nobody tracked: 55000 with the track_board call in the HINT.
    e.fake.with(|s| {
        let mut b = s.world.boards[&SAMPLE_BOARD].clone();
        b.id = 5550001;
        b.item_ids.clear();
        s.world.boards.insert(b.id, b);
        s.world
            .add_item(5550001, FIRST_ITEM + 1, 5550002, "Elsewhere");
    });
    let msg = expect_err(&mut e.db, "SELECT monday_sync.pull_item(5550002)", "55000")?;
    check(
        msg.contains("SELECT monday_sync.track_board(5550001);"),
        &msg,
    )?;
    let msg = expect_err(&mut e.db, "SELECT monday_sync.pull_item(1)", "42704")?;
    check(msg.contains("not found"), &msg)?;
    // A board that is not tracked.
    expect_err(&mut e.db, "SELECT monday_sync.pull_board(5550001)", "55000")?;
    Ok(())
}

fn undecodable_cell_does_not_fail_the_page(e: &mut Env) -> T {
    e.track()?;
    e.fake.with(|s| {
        s.world.set_cell(
            FIRST_ITEM,
            "date4",
            Some(serde_json::json!({"date": "2026-13-45"})),
            Some("2026-13-45"),
        )
    });
    e.pull()?;
    let r = e.json(&format!("SELECT jsonb_build_object('due', due_date, 'raw', raw->'date4'->>'value') FROM public.q3_launch_plan WHERE item_id = {FIRST_ITEM}"))?;
    eq(
        &r["due"],
        &serde_json::Value::Null,
        "typed value of an undecodable cell",
    )?;
    eq(
        &r["raw"],
        &serde_json::json!("{\"date\":\"2026-13-45\"}"),
        "raw keeps the cell",
    )?;
    let run =
        e.json("SELECT to_jsonb(r) FROM monday_sync.sync_runs r WHERE kind = 'pull_board'")?;
    eq(&run["warnings"], &serde_json::json!(1), "warnings")?;
    check(
        run["message"].as_str().unwrap_or("").contains("date4"),
        &format!("warning text: {run}"),
    )?;
    e.check_table("q3_launch_plan", SAMPLE_BOARD)
}

// ---------------------------------------------------------------- faults

/// One fault before a pull_item: it succeeds after one more request, and `min_wait` was honoured.
fn survives(e: &mut Env, fault: Fault, min_wait: Duration) -> T {
    e.fake.clear_log();
    e.fake.fault(fault.clone());
    let t = Instant::now();
    let row = e.json(&format!("SELECT monday_sync.pull_item({})", FIRST_ITEM + 7))?;
    let took = t.elapsed();
    eq(
        &row["name"],
        &serde_json::json!("Vendor shortlist #7"),
        &format!("{fault:?}: row"),
    )?;
    eq(&e.calls(), &2, &format!("{fault:?}: requests"))?;
    check(
        took >= min_wait,
        &format!("{fault:?}: waited {took:?}, expected at least {min_wait:?}"),
    )?;
    check(
        took < min_wait + Duration::from_secs(4),
        &format!("{fault:?}: took {took:?}"),
    )?;
    let rec =
        e.json("SELECT to_jsonb(c) FROM monday_sync.api_calls c ORDER BY runid DESC LIMIT 1")?;
    eq(
        &rec["attempts"],
        &serde_json::json!(2),
        &format!("{fault:?}: attempts recorded"),
    )
}

fn faults_are_retried_or_waited(e: &mut Env) -> T {
    e.track()?;
    survives(e, Fault::Status(500), Duration::ZERO)?;
    survives(e, Fault::Status(503), Duration::ZERO)?;
    survives(e, Fault::Html(502), Duration::ZERO)?;
    survives(e, Fault::Drop, Duration::ZERO)?;
    survives(e, Fault::Complexity200(2), Duration::from_secs(2))?;
    survives(e, Fault::Complexity429(1), Duration::from_secs(1))?;
    survives(e, Fault::RetryAfter(2), Duration::from_secs(2))?;
    e.db.batch_execute("SET monday_sync.request_timeout = '700ms'")
        .map_err(pg)?;
    survives(
        e,
        Fault::Hang(Duration::from_secs(3)),
        Duration::from_millis(700),
    )?;
    Ok(())
}

fn failures_are_clear_errors(e: &mut Env) -> T {
    e.track()?;
    // Retries are bounded.
    e.db.batch_execute("SET monday_sync.max_retries = 2")
        .map_err(pg)?;
    for _ in 0..5 {
        e.fake.fault(Fault::Status(500));
    }
    e.fake.clear_log();
    let msg = expect_err(
        &mut e.db,
        &format!("SELECT monday_sync.pull_item({FIRST_ITEM})"),
        "HV00N",
    )?;
    check(msg.contains("3 attempts"), &msg)?;
    eq(&e.calls(), &3, "bounded retries")?;
    e.fake.with(|s| s.knobs.faults.clear());
    // A wait longer than max_wait fails instead of hanging.
    e.db.batch_execute("SET monday_sync.max_wait = '5s'")
        .map_err(pg)?;
    e.fake.fault(Fault::Complexity200(60));
    expect_err(
        &mut e.db,
        &format!("SELECT monday_sync.pull_item({FIRST_ITEM})"),
        "53400",
    )?;
    // The board's user lacks access.
    e.fake
        .with(|s| s.world.boards.get_mut(&SAMPLE_BOARD).unwrap().restricted = true);
    let msg = expect_err(
        &mut e.db,
        &format!("SELECT monday_sync.pull_board({SAMPLE_BOARD})"),
        "42501",
    )?;
    check(msg.contains("18414630189"), &msg)?;
    e.fake
        .with(|s| s.world.boards.get_mut(&SAMPLE_BOARD).unwrap().restricted = false);
    // Unknown board.
    let msg = expect_err(&mut e.db, "SELECT monday_sync.track_board(42)", "42704")?;
    check(msg.contains("monday board 42"), &msg)?;
    // The daily limit.
    e.fake.with(|s| s.knobs.daily_limit = Some(s.calls_today));
    let msg = expect_err(
        &mut e.db,
        &format!("SELECT monday_sync.pull_board({SAMPLE_BOARD})"),
        "53400",
    )?;
    check(msg.contains("DAILY_LIMIT_EXCEEDED"), &msg)?;
    e.fake.with(|s| s.knobs.daily_limit = None);
    // A wrong token: 28000, and the token is in no message.
    e.db.execute("SELECT monday_sync.set_token($1)", &[&"wrong-token-zz9"])
        .map_err(pg)?;
    let msg = expect_err(
        &mut e.db,
        &format!("SELECT monday_sync.pull_item({FIRST_ITEM})"),
        "28000",
    )?;
    check(!msg.contains("wrong-token-zz9"), &msg)?;
    e.db.execute("SELECT monday_sync.set_token(NULL)", &[])
        .map_err(pg)?;
    let msg = expect_err(
        &mut e.db,
        &format!("SELECT monday_sync.pull_item({FIRST_ITEM})"),
        "55000",
    )?;
    check(msg.contains("set_token"), &msg)?;
    // Nothing is listening.
    e.db.execute("SELECT monday_sync.set_token($1)", &[&TOKEN])
        .map_err(pg)?;
    e.db.batch_execute(
        "SET monday_sync.api_url = 'http://127.0.0.1:9/v2'; SET monday_sync.max_retries = 1",
    )
    .map_err(pg)?;
    expect_err(
        &mut e.db,
        &format!("SELECT monday_sync.pull_item({FIRST_ITEM})"),
        "HV00N",
    )?;
    Ok(())
}

fn cursor_expiry_restarts_the_walk(e: &mut Env) -> T {
    e.track()?;
    e.fake.with(|s| s.knobs.expire_cursor_after_pages = Some(1));
    e.fake.clear_log();
    let s = e.pull()?;
    eq(&s["cursor_restarts"], &serde_json::json!(1), "restarts")?;
    eq(
        &s["items_seen"],
        &serde_json::json!(1200),
        "items seen once each",
    )?;
    let expired = e
        .fake
        .log()
        .iter()
        .filter(|l| l.error_code.as_deref() == Some("CursorExpiredError"))
        .count();
    eq(&expired, &1, "expired cursor answers")?;
    e.check_table("q3_launch_plan", SAMPLE_BOARD)?;
    eq(
        &e.i64("SELECT count(*) FROM public.q3_launch_plan WHERE state <> 'active'")?,
        &0,
        "nothing marked deleted",
    )
}

fn cancel_and_timeout_are_prompt(e: &mut Env) -> T {
    e.track()?;
    e.fake.with(|s| s.knobs.latency = Duration::from_secs(10));
    e.db.batch_execute("SET statement_timeout = '1s'")
        .map_err(pg)?;
    let t = Instant::now();
    expect_err_plain(
        &mut e.db,
        &format!("SELECT monday_sync.pull_item({FIRST_ITEM})"),
        "57014",
    )?;
    let took = t.elapsed();
    check(
        took < Duration::from_millis(1600),
        &format!("statement_timeout 1s took {took:?}"),
    )?;
    e.db.batch_execute("SET statement_timeout = 0")
        .map_err(pg)?;
    // A wait on a rate limit is cancellable too.
    e.fake.with(|s| s.knobs.latency = Duration::ZERO);
    e.fake.fault(Fault::Complexity200(25));
    let pid: i32 =
        e.db.query_one("SELECT pg_backend_pid()", &[])
            .map_err(pg)?
            .get(0);
    let mut other = e.second_session()?;
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(800));
        other
            .execute("SELECT pg_cancel_backend($1)", &[&pid])
            .map(|_| ())
    });
    let t = Instant::now();
    expect_err_plain(
        &mut e.db,
        &format!("SELECT monday_sync.pull_item({FIRST_ITEM})"),
        "57014",
    )?;
    let took = t.elapsed();
    killer
        .join()
        .map_err(|_| "canceller panicked".to_string())?
        .map_err(pg)?;
    check(
        took < Duration::from_millis(1500),
        &format!("pg_cancel_backend during a 25 s wait took {took:?}"),
    )
}

pub(crate) fn expect_err_plain(db: &mut Client, sql: &str, sqlstate: &str) -> T {
    match db.batch_execute(sql) {
        Ok(()) => Err(format!("{sql}: succeeded, expected {sqlstate}")),
        Err(e) => eq(
            &e.code().map(|c| c.code().to_string()),
            &Some(sqlstate.to_string()),
            sql,
        ),
    }
}

fn token_is_private(e: &mut Env) -> T {
    e.track()?;
    e.db.batch_execute(
        "CREATE ROLE analyst LOGIN; GRANT USAGE ON SCHEMA monday_sync TO analyst; GRANT SELECT ON public.q3_launch_plan TO analyst;",
    )
    .map_err(pg)?;
    let mut a = connect_str(&format!("{} user=analyst", e.cluster_conn))?;
    expect_err_plain(&mut a, "SELECT * FROM monday_sync._credentials", "42501")?;
    expect_err_plain(&mut a, "SELECT monday_sync.set_token('x')", "42501")?;
    expect_err_plain(
        &mut a,
        &format!("SELECT monday_sync.pull_board({SAMPLE_BOARD})"),
        "42501",
    )?;
    // The URL the token is sent to is superuser-only, before and after the library loads.
    expect_err_plain(
        &mut a,
        "SET monday_sync.api_url = 'http://127.0.0.1:1/steal'",
        "42501",
    )?;
    let url: String = a
        .query_one("SHOW monday_sync.api_url", &[])
        .map_err(pg)?
        .get(0);
    eq(
        &url.as_str(),
        &"https://api.monday.com/v2",
        "api_url unchanged by a non-superuser",
    )?;
    a.batch_execute("SELECT count(*) FROM public.q3_launch_plan")
        .map_err(pg)?;
    let settings = e.json(
        "SELECT to_jsonb(array_agg(setting)) FROM pg_settings WHERE name LIKE 'monday_sync.%'",
    )?;
    check(
        !settings.to_string().contains(TOKEN),
        "token in pg_settings",
    )?;
    expect_err_plain(
        &mut a,
        &format!("SELECT monday_sync.request_refresh({SAMPLE_BOARD})"),
        "42501",
    )?;
    expect_err_plain(&mut a, "SELECT * FROM monday_sync.jobs", "42501")?;
    e.db.batch_execute(&format!(
        "SELECT monday_sync.refresh_board({SAMPLE_BOARD}); SELECT monday_sync.request_refresh({SAMPLE_BOARD})"
    ))
    .map_err(pg)?;
    let runs = e.json(
        "SELECT jsonb_build_array((SELECT jsonb_agg(to_jsonb(r)) FROM monday_sync.sync_runs r),
                                  (SELECT jsonb_agg(to_jsonb(c)) FROM monday_sync.api_calls c),
                                  (SELECT jsonb_agg(to_jsonb(j)) FROM monday_sync.jobs j),
                                  (SELECT jsonb_agg(to_jsonb(s)) FROM monday_sync.board_status s))",
    )?;
    check(
        runs.to_string().contains("refresh_board"),
        "run history without the refresh",
    )?;
    check(
        !runs.to_string().contains(TOKEN),
        "token in the run history",
    )?;
    Ok(())
}

fn progress_is_visible_from_another_session(e: &mut Env) -> T {
    e.track()?;
    e.fake
        .with(|s| s.knobs.latency = Duration::from_millis(400));
    let conn = e.cluster_conn.clone();
    let url = e.fake.url();
    let puller = std::thread::spawn(move || -> T {
        let mut c = connect_str(&conn)?;
        c.batch_execute(&format!(
            "SET monday_sync.api_url = '{url}'; SELECT monday_sync.pull_board({SAMPLE_BOARD})"
        ))
        .map_err(pg)
    });
    let mut seen: Vec<(i64, i64, String)> = Vec::new();
    let t = Instant::now();
    while !puller.is_finished() && t.elapsed() < Duration::from_secs(30) {
        for r in e.db.query("SELECT items_seen, coalesce(items_expected, 0), phase FROM monday_sync.pull_progress WHERE board_id IN (18414630189, 18414630191)", &[]).map_err(pg)? {
            seen.push((r.get(0), r.get(1), r.get(2)));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    puller.join().map_err(|_| "puller panicked".to_string())??;
    check(
        seen.iter().any(|s| s.0 > 0 && s.0 < 1200 && s.1 == 1200),
        &format!("a partial count of 1,200 in progress: {seen:?}"),
    )?;
    check(
        seen.windows(2).all(|w| w[0].0 <= w[1].0),
        "items_seen never goes back",
    )?;
    eq(
        &e.i64("SELECT count(*) FROM monday_sync.pull_progress")?,
        &0,
        "no progress row after the pull",
    )
}

// ---------------------------------------------------------------- incremental refresh

const OTHER_BOARD: i64 = 18414630555;

pub(crate) fn refresh(e: &mut Env) -> Result<serde_json::Value, String> {
    e.json(&format!("SELECT monday_sync.refresh_board({SAMPLE_BOARD})"))
}

pub(crate) fn num(v: &serde_json::Value, k: &str) -> i64 {
    v.get(k).and_then(|x| x.as_i64()).unwrap_or(-1)
}

pub(crate) fn state_of(e: &mut Env, table: &str, id: i64) -> Result<String, String> {
    let r =
        e.db.query_one(
            &format!("SELECT state FROM public.{table} WHERE item_id = $1"),
            &[&id],
        )
        .map_err(|x| format!("item {id} in {table}: {}", pg(x)))?;
    Ok(r.get(0))
}

fn incremental_refresh_applies_exactly_the_changes(e: &mut Env) -> T {
    e.track()?;
    // Before any full pull there is no watermark: the refresh walks the board and says why.
    let first = refresh(e)?;
    eq(&first["mode"].as_str(), &Some("full"), "first refresh mode")?;
    check(
        first["full_reason"]
            .as_str()
            .is_some_and(|r| r.contains("no watermark")),
        &format!("full_reason: {first}"),
    )?;
    e.check_table("q3_launch_plan", SAMPLE_BOARD)?;

    // Nothing changed: one call, nothing written.
    e.fake.clear_log();
    let r = refresh(e)?;
    eq(&r["mode"].as_str(), &Some("incremental"), "mode")?;
    eq(
        &e.calls(),
        &1,
        "API calls of a refresh with nothing changed",
    )?;
    eq(
        &num(&r, "rows_written"),
        &0,
        "rows written with nothing changed",
    )?;
    eq(&num(&r, "changed_items"), &0, "changed items")?;

    // Every kind of change, on items and subitems.
    let ids: Vec<i64> = e.fake.with(|s| s.world.active_items(SAMPLE_BOARD));
    let subs: Vec<i64> = e.fake.with(|s| s.world.active_items(SAMPLE_SUBITEMS_BOARD));
    let new_id = 18300000001i64;
    e.fake.with(|s| {
        let w = &mut s.world;
        w.add_board(OTHER_BOARD, "Elsewhere");
        w.set_cell(
            ids[0],
            "text0",
            Some(serde_json::json!("refreshed")),
            Some("refreshed"),
        );
        w.rename(ids[1], "Renamed on monday");
        w.move_to_group(ids[2], "new_group_mkxz");
        w.set_state(ids[3], State::Archived);
        w.set_state(ids[4], State::Deleted);
        w.purge(ids[5]);
        w.add_item(SAMPLE_BOARD, ids[6], new_id, "Created on monday");
        w.set_state(ids[7], State::Archived);
        w.move_to_board(ids[8], OTHER_BOARD);
        w.rename(subs[0], "Subitem renamed");
        w.set_state(subs[1], State::Deleted);
    });
    e.fake.clear_log();
    let r = refresh(e)?;
    eq(&r["mode"].as_str(), &Some("incremental"), "mode")?;
    let k = num(&r, "changed_items");
    // Subitem entries also name their parents (whose subitems column changes).
    check(
        (11..=13).contains(&k),
        &format!("changed items: {k} (11 changed, plus subitems' parents): {r}"),
    )?;
    // The log is read until an empty page or an entry at the watermark (which the first page
    // holds when an applied entry shares the watermark's second), then one items(ids:).
    check(
        (2..=3).contains(&e.calls()),
        &format!(
            "API calls for k ≤ 100 changes: {} (bound 2 + ceil(k/100) = 3)",
            e.calls()
        ),
    )?;
    let items_call = e
        .fake
        .log()
        .into_iter()
        .find(|l| l.roots.iter().any(|r| r == "items"))
        .ok_or("no items(ids:) call")?;
    eq(
        &items_call.variables["limit"].as_i64(),
        &Some(k),
        "items(ids:) passes an explicit limit",
    )?;
    e.check_table("q3_launch_plan", SAMPLE_BOARD)?;
    e.check_table("q3_launch_plan_subitems", SAMPLE_SUBITEMS_BOARD)?;
    eq(
        &state_of(e, "q3_launch_plan", ids[5])?,
        &"deleted".to_string(),
        "purged item",
    )?;
    eq(
        &state_of(e, "q3_launch_plan", ids[8])?,
        &"deleted".to_string(),
        "item moved to another board",
    )?;
    eq(
        &state_of(e, "q3_launch_plan", new_id)?,
        &"active".to_string(),
        "created item",
    )?;
    eq(
        &state_of(e, "q3_launch_plan_subitems", subs[1])?,
        &"deleted".to_string(),
        "deleted subitem",
    )?;
    eq(
        &e.i64(&format!(
            "SELECT count(*) FROM public.q3_launch_plan WHERE item_id = {} AND notes = 'refreshed'",
            ids[0]
        ))?,
        &1,
        "the changed cell, typed",
    )?;

    // Restored on monday: active again. Applying the same log twice changes nothing.
    e.fake.with(|s| s.world.set_state(ids[7], State::Active));
    e.fake.clear_log();
    let r = refresh(e)?;
    eq(&num(&r, "changed_items"), &1, "a restore names one item")?;
    eq(
        &state_of(e, "q3_launch_plan", ids[7])?,
        &"active".to_string(),
        "restored item",
    )?;
    let again = refresh(e)?;
    eq(
        &num(&again, "changed_items"),
        &0,
        "entries are applied once",
    )?;
    eq(&num(&again, "rows_written"), &0, "nothing rewritten")?;

    // 250 changed items: the log, then ceil(250/100) = 3 calls of items(ids:).
    e.fake.with(|s| {
        for (n, id) in ids[20..270].iter().enumerate() {
            s.world.set_cell(
                *id,
                "numeric_mkx1",
                Some(serde_json::json!(format!("{n}"))),
                Some(&n.to_string()),
            );
        }
    });
    e.fake.clear_log();
    let r = refresh(e)?;
    eq(&num(&r, "changed_items"), &250, "changed items")?;
    eq(&num(&r, "rows_written"), &250, "rows written")?;
    check(
        (1 + 3..=2 + 3).contains(&e.calls()),
        &format!(
            "calls for 250 changes: {} (bound 2 + ceil(250/100) = 5)",
            e.calls()
        ),
    )?;
    e.check_table("q3_launch_plan", SAMPLE_BOARD)?;
    // The run history says what each refresh did.
    eq(
        &e.i64("SELECT count(*) FROM monday_sync.sync_runs WHERE kind = 'refresh_board' AND status = 'succeeded' AND mode = 'incremental' AND message LIKE 'incremental:%'")?,
        &5,
        "incremental runs recorded",
    )
}

fn refresh_falls_back_to_a_full_reconcile(e: &mut Env) -> T {
    e.track()?;
    e.pull()?;
    let ids: Vec<i64> = e.fake.with(|s| s.world.active_items(SAMPLE_BOARD));
    // A watermark older than monday_sync.activity_log_retention (7 days by default).
    e.db.batch_execute(&format!(
        "UPDATE monday_sync.boards SET activity_watermark = now() - interval '30 days' WHERE board_id = {SAMPLE_BOARD}"
    ))
    .map_err(pg)?;
    e.fake
        .with(|s| s.world.rename(ids[0], "Seen by the reconcile"));
    let r = refresh(e)?;
    eq(&r["mode"].as_str(), &Some("full"), "mode past retention")?;
    check(
        r["full_reason"]
            .as_str()
            .is_some_and(|x| x.contains("activity_log_retention")),
        &format!("full_reason: {r}"),
    )?;
    e.check_table("q3_launch_plan", SAMPLE_BOARD)?;
    eq(
        &e.i64("SELECT count(*) FROM monday_sync.sync_runs WHERE kind = 'refresh_board' AND mode = 'full' AND message LIKE 'full reconcile (the watermark % is older than monday_sync.activity_log_retention%'")?,
        &1,
        "the run history says why",
    )?;
    // More entries since the watermark than the log can reach (10,000): a full reconcile.
    e.fake.with(|s| {
        for n in 0..10_001 {
            let id = ids[n % ids.len()];
            s.world.set_cell(
                id,
                "numeric_mkx1",
                Some(serde_json::json!(format!("{n}"))),
                Some(&n.to_string()),
            );
        }
    });
    e.fake.clear_log();
    let r = refresh(e)?;
    eq(&r["mode"].as_str(), &Some("full"), "mode past the reach")?;
    check(
        r["full_reason"]
            .as_str()
            .is_some_and(|x| x.contains("10000")),
        &format!("full_reason: {r}"),
    )?;
    let log_pages = e
        .fake
        .log()
        .iter()
        .filter(|l| l.query.contains("activity_logs"))
        .count();
    eq(
        &log_pages,
        &20,
        "activity-log pages read before giving up (10,000 / 500)",
    )?;
    e.check_table("q3_launch_plan", SAMPLE_BOARD)?;
    // After the reconcile, refreshes are incremental again.
    e.fake.clear_log();
    let r = refresh(e)?;
    eq(
        &r["mode"].as_str(),
        &Some("incremental"),
        "mode after the reconcile",
    )?;
    eq(&e.calls(), &1, "calls after the reconcile")
}

/// Sessions count against the one budget in shared memory; past monday_sync.daily_call_limit a
/// call is refused before it reaches monday.
fn sessions_share_the_daily_budget(e: &mut Env) -> T {
    e.track()?;
    e.pull()?;
    let before = e.i64("SELECT calls_today FROM monday_sync.api_budget")?;
    e.fake.clear_log();
    refresh(e)?;
    let after = e.i64("SELECT calls_today FROM monday_sync.api_budget")?;
    eq(
        &(after - before),
        &(e.calls() as i64),
        "calls counted for this session",
    )?;
    let left = e.i64("SELECT complexity_left FROM monday_sync.api_budget")?;
    check(
        left > 0 && left < 10_000_000,
        &format!("complexity_left {left}"),
    )?;
    let result = (|| -> T {
        // One statement per call: ALTER SYSTEM cannot run in the implicit transaction of a batch.
        e.db.batch_execute(&format!(
            "ALTER SYSTEM SET monday_sync.daily_call_limit = {after}"
        ))
        .map_err(pg)?;
        e.db.batch_execute("SELECT pg_reload_conf()").map_err(pg)?;
        std::thread::sleep(Duration::from_millis(300));
        e.fake.clear_log();
        let msg = expect_err(
            &mut e.db,
            &format!("SELECT monday_sync.refresh_board({SAMPLE_BOARD})"),
            "53400",
        )?;
        check(msg.contains("monday_sync.daily_call_limit"), &msg)?;
        eq(&e.calls(), &0, "calls that reached monday past the limit")
    })();
    e.db.batch_execute("ALTER SYSTEM RESET monday_sync.daily_call_limit")
        .map_err(pg)?;
    e.db.batch_execute("SELECT pg_reload_conf()").map_err(pg)?;
    result
}

type Test = (&'static str, fn(&mut Env) -> T, usize);

/// pull_account: users (paged), teams with members, tags; deactivated and deleted ones marked,
/// never dropped; people and tags columns readable as names.
fn account_is_pulled_and_kept(e: &mut Env) -> T {
    use crate::fake::world::USER_ID;
    e.fake.with(|s| {
        for k in 0..1500i64 {
            let (kind, status) = match k % 100 {
                0 => ("guest", "PENDING"),
                1 => ("member", "INACTIVE"),
                _ => ("member", "ACTIVE"),
            };
            s.world.add_user(
                70_000_000 + k,
                &format!("User {k}"),
                &format!("u{k}@example.com"),
                kind,
                status,
            );
        }
        s.world
            .add_team(52000, "Data team", &[70_000_002, 70_000_003]);
    });
    e.fake.clear_log();
    let r = e.json("SELECT monday_sync.pull_account()")?;
    eq(&r["users"], &serde_json::json!(1504), &format!("{r}"))?;
    eq(
        &(r["teams"].clone(), r["tags"].clone()),
        &(serde_json::json!(2), serde_json::json!(2)),
        &format!("{r}"),
    )?;
    eq(
        &r["deactivated_users"],
        &serde_json::json!(15),
        &format!("{r}"),
    )?;
    eq(
        &(r["workspaces"].clone(), r["folders"].clone()),
        &(serde_json::json!(1), serde_json::json!(1)),
        &format!("{r}"),
    )?;
    eq(
        &e.calls(),
        &5,
        "two pages of users, one call for teams and tags, one each for workspaces and folders",
    )?;
    eq(
        &e.json("SELECT jsonb_build_object('ws', workspace_id, 'boards', board_ids) FROM monday_sync.folders")?,
        &serde_json::json!({"ws": 4200001, "boards": [SAMPLE_BOARD]}),
        "a folder, its workspace and boards",
    )?;
    eq(
        &e.i64("SELECT count(*) FROM monday_sync.users WHERE is_admin")?,
        &1,
        "admins",
    )?;
    eq(
        &e.i64("SELECT count(*) FROM monday_sync.users WHERE is_guest")?,
        &16,
        "guests",
    )?;
    eq(
        &e.json("SELECT to_jsonb(team_ids) FROM monday_sync.users WHERE user_id = 70000002")?,
        &serde_json::json!([52000]),
        "a user's teams",
    )?;
    eq(
        &e.json("SELECT to_jsonb(user_ids) FROM monday_sync.teams WHERE team_id = 52000")?,
        &serde_json::json!([70000002, 70000003]),
        "a team's members",
    )?;
    // Names for a people column (a user, a team, an unknown id) and a tags column.
    eq(
        &e.json(&format!(
            "SELECT to_jsonb(monday_sync.user_names(ARRAY[{USER_ID}, 51166, 999]::bigint[]))"
        ))?,
        &serde_json::json!(["Dana Levi", "Payments team", "999"]),
        "user_names",
    )?;
    eq(
        &e.json("SELECT to_jsonb(monday_sync.tag_names(ARRAY[295064, 295026]::bigint[]))")?,
        &serde_json::json!(["q3", "payments"]),
        "tag_names",
    )?;
    // Over the typed table: the people column as names.
    e.track()?;
    e.pull()?;
    let people: Option<String> = e
        .db
        .query_one(
            "SELECT c.sql_name::text FROM monday_sync.columns c WHERE c.board_id = $1 AND c.column_type = 'people' LIMIT 1",
            &[&SAMPLE_BOARD],
        )
        .map_err(pg)?
        .get(0);
    let col = people.ok_or("the sample board has no people column")?;
    let named = e.i64(&format!(
        "SELECT count(*) FROM public.q3_launch_plan WHERE cardinality({col}) > 0 AND monday_sync.user_names({col}) <> {col}::text[]"
    ))?;
    check(named > 0, "people cells read as names")?;
    // Deactivated, deleted, gone: kept and marked.
    e.fake.with(|s| {
        if let Some(u) = s.world.account_users.get_mut(&70_000_010) {
            u.insert("status".into(), serde_json::json!("INACTIVE"));
        }
        if let Some(u) = s.world.account_users.get_mut(&70_000_011) {
            u.insert("is_deleted".into(), serde_json::json!(true));
        }
        s.world.account_tags.remove(&295064);
        s.world.account_teams.remove(&52000);
        s.world.account_folders.remove(&5_300_001);
        if let Some(ws) = s.world.account_workspaces.get_mut(&4_200_001) {
            ws.insert("state".into(), serde_json::json!("deleted"));
        }
    });
    let r = e.json("SELECT monday_sync.pull_account()")?;
    eq(
        &r["marked_deleted"],
        &serde_json::json!({"users": 1, "teams": 1, "tags": 1, "workspaces": 0, "folders": 1}),
        &format!("{r}"),
    )?;
    eq(&e.i64("SELECT count(*) FROM monday_sync.workspaces WHERE state = 'deleted' AND deleted_at IS NOT NULL")?, &1, "a deleted workspace, kept and marked")?;
    eq(
        &e.i64("SELECT count(*) FROM monday_sync.folders WHERE deleted_at IS NOT NULL")?,
        &1,
        "a folder monday no longer lists, marked",
    )?;
    eq(&e.i64("SELECT count(*) FROM monday_sync.users WHERE user_id = 70000010 AND NOT enabled AND deleted_at IS NULL")?, &1, "deactivated, kept")?;
    eq(&e.i64("SELECT count(*) FROM monday_sync.users WHERE user_id = 70000011 AND deleted_at IS NOT NULL")?, &1, "deleted, marked")?;
    eq(&e.i64("SELECT count(*) FROM monday_sync.tags WHERE tag_id = 295064 AND deleted_at IS NOT NULL")?, &1, "tag marked")?;
    eq(
        &e.json("SELECT to_jsonb(monday_sync.tag_names(ARRAY[295064]::bigint[]))")?,
        &serde_json::json!(["q3"]),
        "a deleted tag keeps its name",
    )?;
    Ok(())
}

/// enable_history: every version a pull, refresh or local change makes is kept, unchanged rows add
/// none, and as_of gives the table as it was.
/// `enable_updates`: a board's updates with their replies and files, and the files of its file
/// columns, pulled in full, then incrementally with each refresh (one call per board when nothing
/// is new), then in full again to see edits and deletions.
fn updates_and_files_are_pulled(e: &mut Env) -> T {
    use crate::fake::world::{FIRST_ITEM, USER_ID};
    e.track()?;
    e.pull()?;
    let refused = e.db.query_one(
        &format!("SELECT monday_sync.pull_updates({SAMPLE_BOARD})"),
        &[],
    );
    check(
        refused.is_err_and(|x| pg(x).contains("55000")),
        "pull_updates before enable_updates: 55000",
    )?;
    let items: Vec<i64> = e.fake.with(|s| s.world.active_items(SAMPLE_BOARD));
    let sub_item = e.fake.with(|s| {
        s.world
            .subitems_board(SAMPLE_BOARD)
            .map(|b| s.world.active_items(b))
            .and_then(|v| v.first().copied())
    });
    // 250 updates over the items (3 pages), every fifth with two replies, one with a file.
    e.fake.with(|s| {
        for k in 0..250i64 {
            let item = items[(k as usize) % items.len()];
            let at = format!(
                "2026-11-{:02}T{:02}:{:02}:00Z",
                1 + k / 24 % 28,
                k % 24,
                k % 60
            );
            let file = (k == 7).then_some((990_001, "contract.pdf"));
            s.world
                .add_update(item, 800_000 + k, USER_ID, &format!("Note {k}"), &at, file);
            if k % 5 == 0 {
                s.world
                    .add_reply(800_000 + k, 810_000 + 2 * k, 7, "ok", &at);
                s.world
                    .add_reply(800_000 + k, 810_001 + 2 * k, 8, "done", &at);
            }
        }
        if let Some(sub) = sub_item {
            s.world.add_update(
                sub,
                870_000,
                USER_ID,
                "On a subitem",
                "2026-11-20T10:00:00Z",
                None,
            );
        }
    });
    // Two items hold their own files in the file column.
    e.fake.with(|s| {
        let col = file_col_id(s, SAMPLE_BOARD);
        for (k, item) in items.iter().take(2).enumerate() {
            let f = serde_json::json!({"files": [{"name": format!("spec{k}.png"), "assetId": 990_100 + k as i64,
                "isImage": "true", "fileType": "ASSET", "createdAt": 1749369004275i64, "createdBy": "44865791"}]});
            s.world.set_cell(*item, &col, Some(f), Some("https://x"));
        }
    });
    e.json(&format!("SELECT monday_sync.refresh_board({SAMPLE_BOARD})"))?;
    e.fake.clear_log();
    let t: String =
        e.db.query_one(
            &format!("SELECT monday_sync.enable_updates({SAMPLE_BOARD})::text"),
            &[],
        )
        .map_err(pg)?
        .get(0);
    eq(&t.as_str(), &"q3_launch_plan_updates", "the updates table")?;
    eq(
        &e.i64("SELECT count(*) FROM public.q3_launch_plan_updates")?,
        &(250 + 100),
        "250 updates and 100 replies",
    )?;
    eq(
        &e.i64("SELECT count(*) FROM public.q3_launch_plan_updates WHERE reply_to = 800005 AND item_id = (SELECT item_id FROM public.q3_launch_plan_updates WHERE update_id = 800005)")?,
        &2,
        "replies point at their update and its item",
    )?;
    eq(
        &e.json("SELECT to_jsonb(u) - 'synced_at' FROM public.q3_launch_plan_updates u WHERE update_id = 800001")?,
        &serde_json::json!({
            "update_id": 800001, "item_id": items[1], "reply_to": null, "creator_id": USER_ID,
            "body_text": "Note 1", "body_html": "<p>Note 1</p>",
            "created_at": "2026-11-01T01:01:00+00:00", "updated_at": "2026-11-01T01:01:00+00:00",
            "edited_at": "2026-11-01T01:01:00+00:00", "deleted_at": null
        }),
        "an update as monday has it",
    )?;
    // The file column's files: each asset id the column names, with its column.
    let file_col: String = e
        .db
        .query_one(
            "SELECT sql_name::text FROM monday_sync.columns WHERE board_id = $1 AND column_type = 'file'",
            &[&SAMPLE_BOARD],
        )
        .map_err(pg)?
        .get(0);
    let named = e.i64(&format!(
        "SELECT count(DISTINCT f->>'assetId') FROM public.q3_launch_plan t,
                jsonb_array_elements(t.{file_col}->'files') f WHERE f ? 'assetId'"
    ))?;
    check(named > 0, "the sample's file column names files")?;
    eq(
        &e.i64("SELECT count(*) FROM public.q3_launch_plan_assets WHERE column_id IS NOT NULL")?,
        &named,
        "every file of the file column",
    )?;
    eq(
        &e.json("SELECT jsonb_build_object('item', item_id, 'update', update_id, 'name', name, 'ext', file_extension, 'url', url) FROM public.q3_launch_plan_assets WHERE asset_id = 990001")?,
        &serde_json::json!({"item": items[7], "update": 800007, "name": "contract.pdf", "ext": ".pdf",
            "url": "https://fake.monday.com/protected_static/9876543/resources/990001/contract.pdf"}),
        "an update's file, its url without a signature",
    )?;
    eq(
        &e.i64("SELECT count(*) FROM public.q3_launch_plan_assets WHERE url ~ 'Signature|\\?'")?,
        &0,
        "no signed link is stored",
    )?;
    if sub_item.is_some() {
        eq(
            &e.i64("SELECT count(*) FROM public.q3_launch_plan_subitems_updates")?,
            &1,
            "a subitem's update is in the subitems table's",
        )?;
    }
    let walk_calls = e.calls();
    eq(
        &e.fake
            .log()
            .iter()
            .filter(|l| l.query.contains("BoardUpdates("))
            .count(),
        &4,
        "three pages of the board's updates and one of the subitems board's",
    )?;
    check(walk_calls <= 4 + 2, &format!("{walk_calls} calls"))?;
    eq(
        &e.json("SELECT jsonb_build_object('owner', u.relowner = t.relowner) FROM pg_class u, pg_class t WHERE u.oid = 'public.q3_launch_plan_updates'::regclass AND t.oid = 'public.q3_launch_plan'::regclass")?,
        &serde_json::json!({"owner": true}),
        "the updates table belongs to the typed table's owner",
    )?;

    // New updates arrive with the next refresh: one call per board for them, no file call.
    let now: String =
        e.db.query_one(
            "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
            &[],
        )
        .map_err(pg)?
        .get(0);
    e.fake.with(|s| {
        s.world
            .add_update(FIRST_ITEM, 880_001, USER_ID, "Fresh", &now, None);
        s.world.add_reply(880_001, 880_002, 7, "Fresh reply", &now);
        s.world
            .add_update(items[3], 880_003, USER_ID, "Also fresh", &now, None);
    });
    e.fake.clear_log();
    let r = e.json(&format!("SELECT monday_sync.refresh_board({SAMPLE_BOARD})"))?;
    eq(
        &e.i64("SELECT count(*) FROM public.q3_launch_plan_updates WHERE update_id >= 880001")?,
        &3,
        &format!("the new updates and reply after a refresh: {r}"),
    )?;
    let upd_calls = |e: &Env| {
        e.fake
            .log()
            .iter()
            .filter(|l| l.query.contains("BoardUpdatesSince") || l.query.contains("AssetsByIds"))
            .count()
    };
    eq(&upd_calls(e), &2, "one call for each board's new updates")?;
    let synced = e.i64("SELECT count(*) FROM public.q3_launch_plan_updates WHERE synced_at = (SELECT max(synced_at) FROM public.q3_launch_plan_updates)")?;
    e.fake.clear_log();
    e.json(&format!("SELECT monday_sync.refresh_board({SAMPLE_BOARD})"))?;
    eq(&upd_calls(e), &2, "nothing new: still one call per board")?;
    eq(
        &e.i64("SELECT count(*) FROM public.q3_launch_plan_updates WHERE synced_at = (SELECT max(synced_at) FROM public.q3_launch_plan_updates)")?,
        &synced,
        "re-read updates are not rewritten",
    )?;

    // Edits and deletions of older updates, and a file taken out of its column: a full pull.
    let (gone_item, gone_asset) = (items[1], 990_101i64);
    e.fake.with(|s| {
        s.world.edit_update(800_001, "Note 1, edited", &now);
        s.world.updates.remove(&800_002);
        let col = file_col_id(s, SAMPLE_BOARD);
        s.world.set_cell(
            gone_item,
            &col,
            Some(serde_json::json!({"files": []})),
            Some(""),
        );
    });
    e.json(&format!("SELECT monday_sync.refresh_board({SAMPLE_BOARD})"))?;
    let still = e.i64(&format!(
        "SELECT count(*) FROM public.q3_launch_plan_assets WHERE asset_id = {gone_asset} AND removed_at IS NULL AND item_id = {gone_item}"
    ))?;
    eq(
        &still,
        &0,
        "a file no column names any more is marked removed",
    )?;
    eq(
        &e.i64("SELECT count(*) FROM public.q3_launch_plan_assets WHERE asset_id = 990100 AND removed_at IS NULL AND column_id IS NOT NULL")?,
        &1,
        "the other item's file stays",
    )?;
    let r = e.json(&format!(
        "SELECT monday_sync.pull_updates({SAMPLE_BOARD}, full => true)"
    ))?;
    eq(
        &e.json("SELECT jsonb_build_object('body', body_text, 'deleted', deleted_at IS NOT NULL) FROM public.q3_launch_plan_updates WHERE update_id = 800001")?,
        &serde_json::json!({"body": "Note 1, edited", "deleted": false}),
        &format!("an edit seen by a full pull: {r}"),
    )?;
    eq(
        &e.i64("SELECT count(*) FROM public.q3_launch_plan_updates WHERE update_id = 800002 AND deleted_at IS NOT NULL")?,
        &1,
        "a deleted update is marked, not dropped",
    )?;
    eq(
        &e.i64("SELECT count(*) FROM monday_sync.sync_runs WHERE kind = 'pull_updates' AND status = 'succeeded'")?,
        &2,
        "enable_updates and pull_updates are runs",
    )?;
    e.db.batch_execute(&format!(
        "SELECT monday_sync.disable_updates({SAMPLE_BOARD})"
    ))
    .map_err(pg)?;
    e.fake.clear_log();
    e.json(&format!("SELECT monday_sync.refresh_board({SAMPLE_BOARD})"))?;
    eq(&upd_calls(e), &0, "disabled: a refresh reads no updates")?;
    // untrack_board keeps them with the table, or drops them with it.
    e.json(&format!(
        "SELECT monday_sync.untrack_board({SAMPLE_BOARD}, drop_table => true)"
    ))?;
    eq(
        &e.i64("SELECT count(*) FROM pg_class WHERE relname IN ('q3_launch_plan_updates', 'q3_launch_plan_assets', 'q3_launch_plan_subitems_updates', 'q3_launch_plan_subitems_assets')")?,
        &0,
        "the updates and files tables go with drop_table",
    )?;
    Ok(())
}

fn file_col_id(s: &crate::fake::Shared, board: i64) -> String {
    s.world.boards[&board]
        .columns
        .iter()
        .find(|c| c.typ == "file")
        .map(|c| c.id.clone())
        .unwrap_or_default()
}

/// `track_workspace`: every board of a workspace into one schema, their first pulls queued, a
/// board that cannot be tracked reported while the others go on, and boards created there later
/// tracked by calling it again (the worker's schedule is in the worker suite).
#[allow(non_snake_case)]
fn workspace_is_tracked_whole(e: &mut Env) -> T {
    const WS: i64 = 4_300_001;
    let (B1, B2, B3, B4): (i64, i64, i64, i64) = (5_100_001, 5_100_002, 5_100_003, 5_100_004);
    e.fake.with(|s| {
        s.world.add_workspace(WS, "Sales Ops", "open", "active");
        s.world.add_workspace_board(B1, "Pipeline", WS);
        s.world.add_workspace_board(B2, "Accounts", WS);
        s.world.add_workspace_board(B4, "Secret", WS);
        s.world.boards.get_mut(&B4).unwrap().restricted = true;
        s.world
            .add_item(B1, crate::fake::world::FIRST_ITEM, 5_200_001, "Deal A");
        s.world
            .add_item(B1, crate::fake::world::FIRST_ITEM, 5_200_002, "Deal B");
    });
    let missing =
        e.db.query_one("SELECT monday_sync.track_workspace(999)", &[]);
    check(
        missing.is_err_and(|x| pg(x).contains("P0002")),
        "an unknown workspace: P0002",
    )?;
    e.fake.clear_log();
    let r = e.json(&format!("SELECT monday_sync.track_workspace({WS})"))?;
    eq(
        &r["schema"],
        &serde_json::json!("sales_ops"),
        &format!("{r}"),
    )?;
    eq(
        &r["tracked"],
        &serde_json::json!([{"board_id": B1, "name": "Pipeline"}, {"board_id": B2, "name": "Accounts"}]),
        "two boards tracked",
    )?;
    eq(
        &(
            r["failed"][0]["board_id"].clone(),
            r["failed"][0]["sqlstate"].clone(),
        ),
        &(serde_json::json!(B4), serde_json::json!("42501")),
        &format!("the board the token cannot see is reported: {r}"),
    )?;
    eq(
        &e.i64("SELECT count(*) FROM pg_tables WHERE schemaname = 'sales_ops' AND tablename IN ('pipeline', 'accounts')")?,
        &2,
        "both tables in the workspace's schema",
    )?;
    eq(
        &e.i64(&format!("SELECT count(*) FROM monday_sync.jobs WHERE command = 'pull' AND status = 'queued' AND board_id IN ({B1}, {B2})"))?,
        &2,
        "their first pulls queued for the worker",
    )?;
    e.json(&format!("SELECT monday_sync.pull_board({B1})"))?;
    eq(
        &e.i64("SELECT count(*) FROM sales_ops.pipeline")?,
        &2,
        "a workspace board pulls into its table",
    )?;
    // A board created on monday later: the next look tracks it, and only it.
    e.fake
        .with(|s| s.world.add_workspace_board(B3, "Renewals", WS));
    let r = e.json(&format!("SELECT monday_sync.track_workspace({WS})"))?;
    eq(
        &(r["tracked"].clone(), r["already_tracked"].clone()),
        &(
            serde_json::json!([{"board_id": B3, "name": "Renewals"}]),
            serde_json::json!(2),
        ),
        &format!("only the new board: {r}"),
    )?;
    eq(
        &e.i64(&format!("SELECT count(*) FROM monday_sync.boards WHERE target_schema = 'sales_ops' AND board_id = {B3}"))?,
        &1,
        "into the same schema",
    )?;
    let other = e.db.query_one(
        &format!("SELECT monday_sync.track_workspace({WS}, 'elsewhere')"),
        &[],
    );
    check(
        other.is_err_and(|x| pg(x).contains("22023")),
        "another schema for a tracked workspace: 22023",
    )?;
    let reserved = e.db.query_one(
        "SELECT monday_sync.track_workspace(4200001, 'monday_sync')",
        &[],
    );
    check(
        reserved.is_err_and(|x| pg(x).contains("3F000")),
        "the extension's schema is refused: 3F000",
    )?;
    eq(
        &e.i64(&format!(
            "SELECT monday_sync.untrack_workspace({WS})::int::bigint"
        ))?,
        &1,
        "untrack_workspace",
    )?;
    eq(
        &e.i64("SELECT count(*) FROM monday_sync.boards WHERE target_schema = 'sales_ops'")?,
        &3,
        "its boards stay tracked",
    )?;
    Ok(())
}

fn history_keeps_every_version(e: &mut Env) -> T {
    e.track()?;
    e.pull()?;
    let t = |e: &mut Env, sql: &str| -> Result<Option<String>, String> {
        Ok(e.db
            .query_one(sql, &[])
            .map_err(pg)?
            .get::<_, Option<String>>(0))
    };
    let e1 = e.db.query_one(
        "SELECT monday_sync.as_of(NULL::public.q3_launch_plan, now())::text",
        &[],
    );
    check(
        e1.is_err_and(|x| pg(x).contains("55000")),
        "as_of before enable_history: 55000",
    )?;
    let h = t(
        e,
        &format!("SELECT monday_sync.enable_history({SAMPLE_BOARD})::text"),
    )?;
    eq(
        &h.as_deref(),
        &Some("q3_launch_plan_history"),
        "the history table",
    )?;
    let items = e.i64("SELECT count(*) FROM public.q3_launch_plan")?;
    let hist = |e: &mut Env| e.i64("SELECT count(*) FROM public.q3_launch_plan_history");
    eq(&hist(e)?, &items, "a first version of each row")?;
    let subs = e.i64("SELECT count(*) FROM public.q3_launch_plan_subitems")?;
    eq(
        &e.i64("SELECT count(*) FROM public.q3_launch_plan_subitems_history")?,
        &subs,
        "subitems too",
    )?;

    // Nothing changed: a refresh and a pull add no version and make no extra call.
    refresh(e)?;
    e.fake.clear_log();
    e.pull()?;
    let calls = e.calls();
    eq(
        &hist(e)?,
        &items,
        "versions after a refresh and a pull with nothing changed",
    )?;

    // Changes on monday, a refresh: one more version for each changed item.
    let ids: Vec<i64> = e.fake.with(|s| s.world.active_items(SAMPLE_BOARD));
    let before = t(
        e,
        "SELECT notes FROM public.q3_launch_plan WHERE item_id = $1::text::bigint"
            .replace("$1", &ids[0].to_string())
            .as_str(),
    )?;
    let t1 = t(e, "SELECT clock_timestamp()::text")?.unwrap_or_default();
    std::thread::sleep(Duration::from_millis(20));
    e.fake.with(|s| {
        s.world.set_cell(
            ids[0],
            "text0",
            Some(serde_json::json!("second version")),
            Some("second version"),
        );
        s.world.rename(ids[1], "Renamed for history");
        s.world.set_state(ids[2], State::Deleted);
    });
    refresh(e)?;
    let v = e.json(&format!(
        "SELECT jsonb_agg(jsonb_build_object('source', source, 'open', valid_to IS NULL, 'notes', row->>'notes') ORDER BY valid_from)
           FROM public.q3_launch_plan_history WHERE item_id = {}",
        ids[0]
    ))?;
    eq(
        &v,
        &serde_json::json!([
            {"source": "enabled", "open": false, "notes": before},
            {"source": "refresh", "open": true, "notes": "second version"}
        ]),
        "the item's versions",
    )?;
    eq(
        &hist(e)?,
        &(items + 3),
        "three items changed, three versions",
    )?;
    let st = t(e, &format!(
        "SELECT row->>'state' FROM public.q3_launch_plan_history WHERE item_id = {} AND valid_to IS NULL",
        ids[2]
    ))?;
    eq(
        &st.as_deref(),
        &Some("deleted"),
        "a deleted item's last version",
    )?;

    // The board as it was at t1, and now.
    let then = t(e, &format!(
        "SELECT notes FROM monday_sync.as_of(NULL::public.q3_launch_plan, '{t1}') WHERE item_id = {}",
        ids[0]
    ))?;
    eq(&then, &before, "as_of(t1): the old value")?;
    let name_then = t(e, &format!(
        "SELECT name FROM monday_sync.as_of(NULL::public.q3_launch_plan, '{t1}') WHERE item_id = {}",
        ids[1]
    ))?;
    check(
        name_then.as_deref() != Some("Renamed for history"),
        "as_of(t1): the old name",
    )?;
    let now = t(e, &format!(
        "SELECT notes FROM monday_sync.as_of(NULL::public.q3_launch_plan, now()) WHERE item_id = {}",
        ids[0]
    ))?;
    eq(&now.as_deref(), &Some("second version"), "as_of(now)")?;
    eq(
        &e.i64(&format!(
            "SELECT count(*) FROM monday_sync.as_of(NULL::public.q3_launch_plan, '{t1}')"
        ))?,
        &items,
        "as_of(t1): every row of then",
    )?;
    // A local change is a version too (source local); two in one transaction make one.
    e.db.batch_execute(&format!(
        "BEGIN; UPDATE public.q3_launch_plan SET notes = 'local 1' WHERE item_id = {0};
                UPDATE public.q3_launch_plan SET notes = 'local 2' WHERE item_id = {0}; COMMIT;",
        ids[3]
    ))
    .map_err(pg)?;
    let v = e.json(&format!(
        "SELECT jsonb_agg(jsonb_build_object('source', source, 'notes', row->>'notes') ORDER BY valid_from)
           FROM public.q3_launch_plan_history WHERE item_id = {} AND valid_to IS NULL",
        ids[3]
    ))?;
    eq(
        &v,
        &serde_json::json!([{"source": "local", "notes": "local 2"}]),
        "one version per transaction",
    )?;
    // Off: no more versions; the history stays.
    e.db.batch_execute(&format!(
        "SELECT monday_sync.disable_history({SAMPLE_BOARD})"
    ))
    .map_err(pg)?;
    let n = hist(e)?;
    e.db.batch_execute(&format!(
        "UPDATE public.q3_launch_plan SET notes = 'untracked change' WHERE item_id = {}",
        ids[3]
    ))
    .map_err(pg)?;
    eq(&hist(e)?, &n, "no version once disabled")?;
    check(
        calls <= 3,
        &format!("{calls} calls for a pull of an unchanged board"),
    )?;
    Ok(())
}

pub fn run(c: &Cluster) -> Result<String, String> {
    let tests: Vec<Test> = vec![
        (
            "track_board creates typed tables",
            track_creates_typed_tables,
            1200,
        ),
        (
            "pull_board backfills within the call bound",
            pull_board_backfills,
            1200,
        ),
        (
            "changes on monday arrive; nothing is dropped",
            changes_on_monday_arrive,
            1200,
        ),
        (
            "more missing items than items(ids:)'s default limit",
            many_missing_items_beat_the_default_limit,
            1200,
        ),
        (
            "columns follow the board; map_column",
            columns_follow_the_board,
            1200,
        ),
        (
            "typed rows match the JSON path",
            typed_rows_match_the_json_path,
            1200,
        ),
        (
            "pull_item upserts and marks deleted",
            pull_item_upserts_and_marks_deleted,
            60,
        ),
        (
            "an undecodable cell does not fail the page",
            undecodable_cell_does_not_fail_the_page,
            60,
        ),
        (
            "faults: 5xx, HTML, drop, complexity 200/429, Retry-After, hang",
            faults_are_retried_or_waited,
            60,
        ),
        (
            "failures: bounded retries, max_wait, access, daily limit, token",
            failures_are_clear_errors,
            60,
        ),
        (
            "an expired cursor restarts the walk",
            cursor_expiry_restarts_the_walk,
            1200,
        ),
        (
            "statement_timeout and pg_cancel_backend are prompt",
            cancel_and_timeout_are_prompt,
            60,
        ),
        ("the token stays private", token_is_private, 60),
        (
            "pull_progress shows a pull from another session",
            progress_is_visible_from_another_session,
            1200,
        ),
        (
            "incremental refresh applies exactly the changes",
            incremental_refresh_applies_exactly_the_changes,
            1200,
        ),
        (
            "refresh falls back to a full reconcile",
            refresh_falls_back_to_a_full_reconcile,
            1200,
        ),
        (
            "sessions share the daily budget",
            sessions_share_the_daily_budget,
            60,
        ),
        (
            "the account: users, teams, tags; user_names, tag_names",
            account_is_pulled_and_kept,
            60,
        ),
        (
            "history keeps every version; as_of",
            history_keeps_every_version,
            60,
        ),
        (
            "updates, replies and files: full, incremental, full again",
            updates_and_files_are_pulled,
            60,
        ),
        (
            "track_workspace: every board into one schema, new ones later",
            workspace_is_tracked_whole,
            60,
        ),
        (
            "parallel pull: the table equals a sequential pull's; walks overlap",
            crate::parallel::parallel_pull_equals_sequential,
            crate::parallel::ITEMS,
        ),
        (
            "parallel pull: an expired cursor restarts its group only",
            crate::parallel::parallel_walk_restarts_one_group,
            crate::parallel::ITEMS,
        ),
        (
            "parallel pull: an item moved between groups during the walk is reconciled",
            crate::parallel::item_moved_during_the_walk_is_reconciled,
            crate::parallel::ITEMS,
        ),
        (
            "parallel pull: concurrency limit, walks, an error, statement_timeout",
            crate::parallel::parallel_pull_limits_errors_and_cancel,
            crate::parallel::ITEMS,
        ),
        // Hardening (issue 9).
        (
            "functions in public are never called (pinned search_path)",
            crate::hardening::search_path_cannot_be_borrowed,
            60,
        ),
        (
            "typed tables known by OID, written as their owner",
            crate::hardening::tables_are_known_by_oid_and_written_as_their_owner,
            60,
        ),
        (
            "the token stays out of logs; token_file",
            crate::hardening::token_stays_out_of_logs,
            60,
        ),
        (
            "the documented grants work for plain roles",
            crate::hardening::documented_grants_work,
            60,
        ),
        (
            "monday cannot make it spin, stall or lose track",
            crate::hardening::monday_cannot_make_it_spin_or_stall,
            60,
        ),
        (
            "NUL bytes and malformed items never stop a board",
            crate::hardening::bad_values_never_stop_a_board,
            60,
        ),
        (
            "a column whose type changes on monday follows",
            crate::hardening::column_type_changes_follow,
            60,
        ),
        (
            "long names, concurrent and conflicting track_board, dropped columns",
            crate::hardening::names_races_and_leftovers,
            60,
        ),
    ];
    let filter = std::env::var("E2E_FILTER").unwrap_or_default();
    let (mut passed, mut failed) = (0, Vec::new());
    for (i, (name, f, n)) in tests.into_iter().enumerate() {
        if !filter.is_empty() && !name.contains(&filter) {
            continue;
        }
        let t = Instant::now();
        let result = setup(c, World::sample(n, true), i).and_then(|mut env| f(&mut env));
        match result {
            Ok(()) => {
                passed += 1;
                println!("e2e: ok     {name} ({:.1} s)", t.elapsed().as_secs_f64());
            }
            Err(e) => {
                println!("e2e: FAILED {name}: {e}");
                failed.push(name);
            }
        }
    }
    let log = std::fs::read_to_string(c.dir.join("server.log")).unwrap_or_default();
    if log.contains(TOKEN) || log.contains("wrong-token-zz9") || log.contains("tok-LEAK-5512") {
        println!("e2e: FAILED the server log contains the token");
        failed.push("token in the server log");
    }
    if failed.is_empty() {
        Ok(format!("{passed} passed, 0 failed"))
    } else {
        Err(format!(
            "e2e: {} failed: {}",
            failed.len(),
            failed.join("; ")
        ))
    }
}
