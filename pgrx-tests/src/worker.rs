//! The background worker against a real cluster with monday_sync and pg_cron preloaded, and the
//! fake monday server over HTTP: jobs, pg_cron, crashes and restarts mid-job, the worker's own
//! schedule, pacing under a small complexity budget, failures, alerts and NOTIFY. These cannot be
//! `#[pg_test]`s: the worker must see committed rows, and the cluster must crash.

use crate::cluster::Cluster;
use crate::e2e::{check, check_table, eq};
use crate::fake::world::{World, SAMPLE_BOARD, SAMPLE_SUBITEMS_BOARD};
use crate::fake::{Fake, Fault};
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

type T = Result<(), String>;

const TOKEN: &str = "fake-token-worker-77aa";
const DB: &str = "mswork";
const PORT: u16 = 28820;

pub struct W {
    pub c: Cluster,
    pub fake: Fake,
    pub db: Client,
}

fn pg(e: postgres::Error) -> String {
    crate::util::pg_err(e)
}

impl W {
    fn connect(&self) -> Result<Client, String> {
        Client::connect(&self.c.conn_string(DB), NoTls).map_err(pg)
    }

    /// Connects again after a crash or a restart (the postmaster takes a few seconds).
    fn reconnect(&mut self) -> T {
        let t = Instant::now();
        loop {
            match self.connect() {
                Ok(c) => {
                    self.db = c;
                    return Ok(());
                }
                Err(e) if t.elapsed() > Duration::from_secs(60) => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
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

    fn sql(&mut self, sql: &str) -> T {
        self.db.batch_execute(sql).map_err(pg)
    }

    fn request(&mut self, command: &str) -> Result<i64, String> {
        self.i64(&format!(
            "SELECT monday_sync.request_{command}({SAMPLE_BOARD})"
        ))
    }

    /// Waits for a job to end; returns its status.
    fn wait_job(&mut self, jobid: i64, secs: u64) -> Result<String, String> {
        let t = Instant::now();
        loop {
            // The server may still be restarting after a crash: connect again and go on.
            let st = match self.text(&format!(
                "SELECT status FROM monday_sync.jobs WHERE jobid = {jobid}"
            )) {
                Ok(s) => s.unwrap_or_default(),
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(300));
                    self.reconnect()?;
                    continue;
                }
            };
            if st == "succeeded" || st == "failed" {
                return Ok(st);
            }
            if t.elapsed() > Duration::from_secs(secs) {
                let runs = self.text("SELECT string_agg(format('%s %s %s %s', runid, kind, status, message), E'\\n') FROM monday_sync.sync_runs")?;
                return Err(format!(
                    "job {jobid} still {st} after {secs} s; runs: {runs:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn table_ok(&mut self) -> T {
        check_table(&mut self.db, &self.fake, "q3_launch_plan", SAMPLE_BOARD)?;
        check_table(
            &mut self.db,
            &self.fake,
            "q3_launch_plan_subitems",
            SAMPLE_SUBITEMS_BOARD,
        )
    }

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
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn reload(&mut self, settings: &[(&str, &str)]) -> T {
        for (k, v) in settings {
            if v.is_empty() {
                self.sql(&format!("ALTER SYSTEM RESET {k}"))?;
            } else {
                self.sql(&format!("ALTER SYSTEM SET {k} = '{v}'"))?;
            }
        }
        self.sql("SELECT pg_reload_conf()")?;
        // The worker applies it at its next loop (naptime 200 ms).
        std::thread::sleep(Duration::from_millis(800));
        Ok(())
    }

    fn server_log(&self) -> String {
        std::fs::read_to_string(self.c.dir.join("server.log")).unwrap_or_default()
    }
}

// ---------------------------------------------------------------- tests

/// Before its database exists the worker waits without errors; then it connects by itself.
fn waits_for_its_database(w: &mut W) -> T {
    std::thread::sleep(Duration::from_secs(1));
    let log = w.server_log();
    check(
        log.contains("waiting for database \"mswork\""),
        &format!("the launcher does not say it is waiting:\n{log}"),
    )?;
    check(
        !log.contains("FATAL") && !log.contains("ERROR"),
        &format!("errors while waiting for the database:\n{log}"),
    )?;
    let mut admin = Client::connect(&w.c.conn_string("postgres"), NoTls).map_err(pg)?;
    admin
        .batch_execute(&format!("CREATE DATABASE {DB}"))
        .map_err(pg)?;
    w.reconnect()?;
    w.worker_pid()?;
    // Connected, waiting for CREATE EXTENSION, quietly; then idle.
    w.sql("CREATE EXTENSION monday_sync")?;
    w.db.execute("SELECT monday_sync.set_token($1)", &[&TOKEN])
        .map_err(pg)?;
    let t = Instant::now();
    loop {
        let st = w
            .text("SELECT state FROM monday_sync.worker")?
            .unwrap_or_default();
        if st == "idle" {
            break;
        }
        if t.elapsed() > Duration::from_secs(15) {
            return Err(format!("worker state {st:?}, expected idle"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = w.server_log();
    check(
        !log.contains("FATAL") && !log.contains("ERROR"),
        &format!("errors while starting:\n{log}"),
    )
}

/// Requests return at once; the worker pulls and refreshes, commits, notifies.
fn worker_runs_queued_jobs(w: &mut W) -> T {
    let t: String =
        w.db.query_one("SELECT monday_sync.track_board($1)::text", &[&SAMPLE_BOARD])
            .map_err(pg)?
            .get(0);
    eq(&t.as_str(), &"q3_launch_plan", "table")?;
    let mut listener = w.connect()?;
    listener.batch_execute("LISTEN monday_sync").map_err(pg)?;
    let t0 = Instant::now();
    let job = w.request("pull")?;
    check(
        t0.elapsed() < Duration::from_millis(500),
        "request_pull returns at once",
    )?;
    eq(&w.wait_job(job, 60)?.as_str(), &"succeeded", "pull job")?;
    w.table_ok()?;
    eq(
        &w.i64(&format!("SELECT count(*) FROM monday_sync.sync_runs WHERE jobid = {job} AND kind = 'pull_board' AND status = 'succeeded' AND mode = 'full'"))?,
        &1,
        "the job's run",
    )?;
    // NOTIFY monday_sync with a JSON payload when the job ends.
    let mut got: Option<Value> = None;
    let mut n = listener.notifications();
    let mut it = n.timeout_iter(Duration::from_secs(5));
    while let Some(m) = it.next().map_err(pg)? {
        let v: Value = serde_json::from_str(m.payload()).map_err(|e| e.to_string())?;
        if v["jobid"] == json!(job) {
            got = Some(v);
            break;
        }
    }
    let v = got.ok_or("no NOTIFY for the job")?;
    eq(&v["status"].as_str(), &Some("succeeded"), "NOTIFY status")?;
    // Any role may LISTEN: ids and a status only (errors and figures are in monday_sync.jobs).
    let mut keys: Vec<&str> = v
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort();
    eq(
        &keys,
        &vec!["board_id", "command", "jobid", "runid", "status"],
        "NOTIFY payload keys",
    )?;

    // Changes on monday, then a refresh job: exactly the changes, in the calls the issue allows.
    let ids: Vec<i64> = w.fake.with(|s| s.world.active_items(SAMPLE_BOARD));
    w.fake.with(|s| {
        s.world.rename(ids[3], "Renamed while the worker watched");
        s.world
            .set_state(ids[4], crate::fake::world::State::Archived);
    });
    w.fake.clear_log();
    // Two requests in one transaction are one job.
    let pair = w
        .db
        .query_one(
            &format!("SELECT monday_sync.request_refresh({SAMPLE_BOARD}), monday_sync.request_refresh({SAMPLE_BOARD})"),
            &[],
        )
        .map_err(pg)?;
    let (a, b): (i64, i64) = (pair.get(0), pair.get(1));
    eq(&a, &b, "requests coalesce while queued")?;
    eq(&w.wait_job(a, 30)?.as_str(), &"succeeded", "refresh job")?;
    w.table_ok()?;
    let calls = w.fake.log().len();
    check(
        (2..=3).contains(&calls),
        &format!("calls of the refresh job: {calls} (bound 2 + ceil(2/100) = 3)"),
    )?;
    eq(
        &w.text(&format!(
            "SELECT mode FROM monday_sync.sync_runs WHERE jobid = {a}"
        ))?,
        &Some("incremental".to_string()),
        "refresh mode",
    )?;
    let st = w.text("SELECT format('%s|%s|%s', queued_jobs, running_jobs, last_error IS NULL) FROM monday_sync.board_status")?;
    eq(&st, &Some("0|0|t".to_string()), "board_status")
}

/// A pull job of a board above `monday_sync.parallel_pull_threshold` walks its groups in
/// parallel, committing page by page like any pull job.
fn pull_job_walks_groups_in_parallel(w: &mut W) -> T {
    w.reload(&[("monday_sync.parallel_pull_threshold", "1000")])?;
    w.fake.with(|s| {
        s.knobs.latency = Duration::from_millis(50);
        s.log.clear();
        s.flight.reset_peak();
    });
    let job = w.request("pull")?;
    let st = w.wait_job(job, 60)?;
    let (log, peak) = w.fake.with(|s| {
        s.knobs.latency = Duration::ZERO;
        (s.log.clone(), s.flight.peak())
    });
    w.reload(&[("monday_sync.parallel_pull_threshold", "")])?;
    eq(&st.as_str(), &"succeeded", "pull job")?;
    w.table_ok()?;
    let mut groups: Vec<&str> = log
        .iter()
        .filter(|l| l.query.contains("query GroupPage"))
        .filter_map(|l| l.variables["groups"][0].as_str())
        .collect();
    groups.sort();
    eq(
        &groups,
        &vec!["new_group_mkxz", "topics"],
        "the job's filtered first pages, one a group",
    )?;
    check(peak >= 2, &format!("the walks overlapped: peak {peak}"))?;
    eq(
        &w.i64(&format!("SELECT count(*) FROM monday_sync.api_calls c JOIN monday_sync.sync_runs r USING (runid) WHERE r.jobid = {job}"))?,
        &(log.len() as i64),
        "every call of the job recorded",
    )
}

/// The worker runs no code a database user wrote with its superuser rights: functions in `public`
/// are out of its search path, and a trigger on a typed table runs as the table's owner.
fn worker_never_lends_its_superuser(w: &mut W) -> T {
    w.sql(
        "CREATE ROLE mallory_w LOGIN; GRANT CREATE, USAGE ON SCHEMA public TO mallory_w;
         ALTER TABLE public.q3_launch_plan OWNER TO mallory_w;",
    )?;
    let mut m =
        Client::connect(&format!("{} user=mallory_w", w.c.conn_string(DB)), NoTls).map_err(pg)?;
    m.batch_execute(&crate::hardening::traps("mallory_w"))
        .map_err(pg)?;
    m.batch_execute(
        "CREATE TRIGGER trap BEFORE INSERT OR UPDATE ON public.q3_launch_plan
           FOR EACH ROW EXECUTE FUNCTION public.trap();",
    )
    .map_err(pg)?;
    let ids: Vec<i64> = w.fake.with(|s| s.world.active_items(SAMPLE_BOARD));
    w.fake
        .with(|s| s.world.rename(ids[7], "Renamed under the trap"));
    let result = (|| -> T {
        let job = w.request("pull")?;
        eq(&w.wait_job(job, 60)?.as_str(), &"succeeded", "pull job")?;
        let job = w.request("refresh")?;
        eq(&w.wait_job(job, 60)?.as_str(), &"succeeded", "refresh job")?;
        w.table_ok()?;
        eq(
            &w.i64("SELECT count(*) FROM public.pwned WHERE su OR who <> 'mallory_w'")?,
            &0,
            "trap calls as anyone but the table's owner",
        )?;
        check(
            w.i64("SELECT count(*) FROM public.pwned")? > 0,
            "the owner's trigger ran",
        )?;
        eq(
            &w.text("SELECT rolsuper::text FROM pg_roles WHERE rolname = 'mallory_w'")?,
            &Some("false".to_string()),
            "mallory_w is superuser",
        )
    })();
    drop(m);
    w.sql(
        "DROP TRIGGER trap ON public.q3_launch_plan;
         ALTER TABLE public.q3_launch_plan OWNER TO postgres;
         DROP FUNCTION public.trap(), public.unnest(bigint[]), public.format(text, text, text), public.now(), public.escalate();
         DROP TABLE public.pwned;
         REVOKE CREATE, USAGE ON SCHEMA public FROM mallory_w;
         DROP ROLE mallory_w;",
    )?;
    result
}

/// A trigger that never ends (a table owner's sleep or loop) fails its step after
/// monday_sync.worker_step_timeout instead of holding the one worker for every board.
fn a_slow_trigger_cannot_hold_the_worker(w: &mut W) -> T {
    w.reload(&[("monday_sync.worker_step_timeout", "1s")])?;
    w.sql(
        "CREATE FUNCTION public.slow() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN PERFORM pg_sleep(30); RETURN NEW; END $$;
         CREATE TRIGGER slow BEFORE INSERT OR UPDATE ON public.q3_launch_plan
           FOR EACH ROW EXECUTE FUNCTION public.slow();",
    )?;
    let result = (|| -> T {
        let t = Instant::now();
        let job = w.request("pull")?;
        loop {
            let msg = w.text(&format!(
                "SELECT message FROM monday_sync.sync_runs WHERE jobid = {job} AND status = 'failed' ORDER BY runid DESC LIMIT 1"
            )).unwrap_or(None);
            if let Some(m) = msg {
                check(
                    m.contains("statement timeout"),
                    &format!("the failed run: {m}"),
                )?;
                break;
            }
            if t.elapsed() > Duration::from_secs(20) {
                return Err("the slow trigger still holds the worker after 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        check(
            t.elapsed() < Duration::from_secs(10),
            &format!("the step ended after {:?}", t.elapsed()),
        )
    })();
    w.sql(
        "DROP TRIGGER slow ON public.q3_launch_plan; DROP FUNCTION public.slow();
         DELETE FROM monday_sync.jobs WHERE status = 'queued';",
    )?;
    w.reload(&[("monday_sync.worker_step_timeout", "")])?;
    result?;
    // The worker goes on: the next job succeeds.
    let job = w.request("pull")?;
    eq(
        &w.wait_job(job, 60)?.as_str(),
        &"succeeded",
        "the next pull",
    )?;
    w.table_ok()
}

/// pg_cron calls request_refresh; the worker applies the change.
fn pg_cron_schedules_refreshes(w: &mut W) -> T {
    // pg_cron lives in cron.database_name ('postgres' here); the job runs in the worker's database.
    let mut cron = Client::connect(&w.c.conn_string("postgres"), NoTls).map_err(pg)?;
    cron.batch_execute(&format!(
        "CREATE EXTENSION IF NOT EXISTS pg_cron;
         SELECT cron.schedule_in_database('monday-refresh', '* * * * *', 'SELECT monday_sync.request_refresh({SAMPLE_BOARD})', '{DB}')"
    ))
    .map_err(pg)?;
    let id = w.fake.with(|s| s.world.active_items(SAMPLE_BOARD)[10]);
    w.fake.with(|s| s.world.rename(id, "Changed for pg_cron"));
    let t = Instant::now();
    loop {
        let n = w.i64(&format!(
            "SELECT count(*) FROM public.q3_launch_plan WHERE item_id = {id} AND name = 'Changed for pg_cron'"
        ))?;
        if n == 1 {
            break;
        }
        if t.elapsed() > Duration::from_secs(150) {
            return Err("pg_cron's refresh did not arrive within 150 s".into());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    println!(
        "worker: pg_cron lag from the change on the fake to the row: {:.1} s (one-minute schedule)",
        t.elapsed().as_secs_f64()
    );
    let ran: i64 = cron
        .query_one("SELECT count(*) FROM cron.job_run_details WHERE command LIKE '%request_refresh%' AND status = 'succeeded'", &[])
        .map_err(pg)?
        .get(0);
    check(ran >= 1, "cron.job_run_details has no succeeded run")?;
    cron.batch_execute("SELECT cron.unschedule('monday-refresh')")
        .map_err(pg)?;
    w.table_ok()
}

/// kill -9 of the worker, an immediate and a fast restart of PostgreSQL, and pg_terminate_backend,
/// in the middle of a pull (the worker waiting on a slow HTTP answer): the worker stops at once,
/// the run is marked failed, the job runs again, the table is exactly right.
fn crash_and_restart_mid_job(w: &mut W) -> T {
    for how in [
        "kill -9",
        "immediate restart",
        "fast restart",
        "pg_terminate_backend",
    ] {
        w.sql("TRUNCATE public.q3_launch_plan, public.q3_launch_plan_subitems")?;
        w.fake
            .with(|s| s.knobs.latency = Duration::from_millis(700));
        let job = w.request("pull")?;
        // Wait until the first page is committed (rows visible from here).
        let t = Instant::now();
        loop {
            let n = w.i64("SELECT count(*) FROM public.q3_launch_plan")?;
            if n > 0 {
                check(n < 1200, "the pull ended before the crash")?;
                break;
            }
            if t.elapsed() > Duration::from_secs(30) {
                return Err("no page committed within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let pid = w.worker_pid()?;
        let t = Instant::now();
        match how {
            "kill -9" => {
                crate::util::capture("kill", &["-9", &pid.to_string()])?;
            }
            "immediate restart" => w.c.restart("immediate")?,
            "fast restart" => {
                // SIGTERM reaches the worker in the middle of an HTTP wait: it must stop at once.
                w.c.restart("fast")?;
                check(
                    t.elapsed() < Duration::from_secs(10),
                    &format!("a fast restart took {:.1} s", t.elapsed().as_secs_f64()),
                )?;
            }
            _ => {
                w.sql(&format!("SELECT pg_terminate_backend({pid})"))?;
                loop {
                    let gone = w.i64(&format!(
                        "SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}"
                    ))? == 0;
                    if gone {
                        break;
                    }
                    check(
                        t.elapsed() < Duration::from_secs(2),
                        "the worker did not stop within 2 s of SIGTERM",
                    )?;
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        w.fake.with(|s| s.knobs.latency = Duration::ZERO);
        std::thread::sleep(Duration::from_secs(1));
        w.reconnect()?;
        eq(
            &w.wait_job(job, 90)?.as_str(),
            &"succeeded",
            &format!("the job after {how}"),
        )?;
        let runs = w.text(&format!(
            "SELECT string_agg(status || ':' || left(coalesce(message, ''), 16), ',' ORDER BY runid) FROM monday_sync.sync_runs WHERE jobid = {job}"
        ))?;
        check(
            runs.as_deref()
                .is_some_and(|r| r.starts_with("failed:server restarted,succeeded:")),
            &format!("runs of the job after {how}: {runs:?}"),
        )?;
        eq(
            &w.i64(&format!(
                "SELECT attempts::bigint FROM monday_sync.jobs WHERE jobid = {job}"
            ))?,
            &2,
            "attempts",
        )?;
        w.table_ok()?;
        eq(
            &w.i64("SELECT count(*) - count(DISTINCT item_id) FROM public.q3_launch_plan")?,
            &0,
            "no row twice",
        )?;
    }
    Ok(())
}

/// Without pg_cron: the worker's own refresh and reconcile schedule.
/// The account's job: on request, and on the worker's schedule (monday_sync.account_interval).
fn account_job(w: &mut W) -> T {
    w.sql("DELETE FROM monday_sync.users")?;
    let id = w.i64("SELECT monday_sync.request_pull_account()")?;
    let t = Instant::now();
    loop {
        let st = w.text(&format!(
            "SELECT status FROM monday_sync.jobs WHERE jobid = {id}"
        ))?;
        if st.as_deref() == Some("succeeded") {
            break;
        }
        check(st.as_deref() != Some("failed"), "the account job failed")?;
        check(
            t.elapsed() < Duration::from_secs(20),
            &format!("the account job did not run: {st:?}"),
        )?;
        std::thread::sleep(Duration::from_millis(100));
    }
    let users = w.i64("SELECT count(*) FROM monday_sync.users WHERE deleted_at IS NULL")?;
    let on_fake = w.fake.with(|s| s.world.account_users.len()) as i64;
    eq(&users, &on_fake, "users pulled by the worker")?;
    let run = w.text(&format!(
        "SELECT r.kind || ' ' || r.status FROM monday_sync.sync_runs r JOIN monday_sync.jobs j USING (runid) WHERE j.jobid = {id}"
    ))?;
    eq(&run.as_deref(), &Some("pull_account succeeded"), "its run")?;
    // On the schedule: a new user arrives without a request.
    w.fake.with(|s| {
        s.world.add_user(
            80_000_001,
            "Scheduled Sam",
            "sam@example.com",
            "member",
            "ACTIVE",
        )
    });
    w.reload(&[("monday_sync.account_interval", "1s")])?;
    let t = Instant::now();
    let r = loop {
        if w.i64("SELECT count(*) FROM monday_sync.users WHERE user_id = 80000001")? == 1 {
            break Ok(());
        }
        if t.elapsed() > Duration::from_secs(20) {
            break Err("the scheduled account pull did not arrive".to_string());
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    w.reload(&[("monday_sync.account_interval", "")])?;
    r
}

/// Boards created in a tracked workspace are tracked and pulled by the worker on its schedule
/// (monday_sync.workspace_interval), with no call from anyone.
fn workspace_boards_are_found(w: &mut W) -> T {
    const WS: i64 = 4_300_101;
    const NEW: i64 = 5_300_001;
    w.fake.with(|s| {
        s.world.add_workspace(WS, "Field Team", "open", "active");
        s.world.add_workspace_board(5_300_000, "Visits", WS);
    });
    // Tracked by another (super)user: the tables found later are that role's, not the worker's.
    w.sql(&format!(
        "CREATE ROLE ws_owner SUPERUSER; SET ROLE ws_owner; SELECT monday_sync.track_workspace({WS}); RESET ROLE"
    ))?;
    w.fake.with(|s| {
        s.world.add_workspace_board(NEW, "Inspections", WS);
        s.world
            .add_item(NEW, crate::fake::world::FIRST_ITEM, 5_400_001, "Site 1");
    });
    w.reload(&[("monday_sync.workspace_interval", "1s")])?;
    let t = Instant::now();
    let r = loop {
        if w.i64("SELECT count(*) FROM pg_tables WHERE schemaname = 'field_team' AND tablename = 'inspections'")? == 1
            && w.i64("SELECT count(*) FROM field_team.inspections")? == 1
        {
            break Ok(());
        }
        if t.elapsed() > Duration::from_secs(30) {
            break Err(format!(
                "the new board was not tracked and pulled: {:?}",
                w.text("SELECT string_agg(command || ' ' || status || ' ' || coalesce(last_error, ''), '; ') FROM monday_sync.jobs WHERE command IN ('workspaces', 'pull')")?
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    w.reload(&[("monday_sync.workspace_interval", "")])?;
    r?;
    eq(
        &w.text("SELECT r.kind || ' ' || r.status FROM monday_sync.sync_runs r JOIN monday_sync.jobs j USING (runid) WHERE j.command = 'workspaces' ORDER BY r.runid LIMIT 1")?.as_deref(),
        &Some("track_workspace succeeded"),
        "the workspaces job's run",
    )?;
    eq(
        &w.text("SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE oid = 'field_team.inspections'::regclass")?.as_deref(),
        &Some("ws_owner"),
        "the table belongs to the role that tracked the workspace",
    )?;
    // Leave the worker as the next tests expect it: one tracked board, no workspace.
    w.sql(&format!(
        "SELECT monday_sync.untrack_workspace({WS});
         SELECT monday_sync.untrack_board(b, drop_table => true) FROM unnest(ARRAY[5300000, {NEW}]::bigint[]) b;
         DELETE FROM monday_sync.jobs WHERE command = 'workspaces';
         DROP SCHEMA field_team CASCADE;
         DROP ROLE ws_owner;"
    ))
}

/// Refresh rounds: due refreshes of many boards are settled by one probe call; only the boards
/// where something happened make calls of their own, and their rows are right.
fn refresh_rounds(w: &mut W) -> T {
    const N: i64 = 40;
    const FIRST: i64 = 6_100_000;
    w.fake.with(|s| {
        s.world.add_workspace(4_300_200, "Round", "open", "active");
        for b in 0..N {
            s.world
                .add_workspace_board(FIRST + b, &format!("Round {b}"), 4_300_200);
            for k in 0..3 {
                s.world.add_item(
                    FIRST + b,
                    crate::fake::world::FIRST_ITEM,
                    FIRST * 10 + b * 10 + k,
                    &format!("R{b}.{k}"),
                );
            }
        }
    });
    // The round's calls are counted exactly: no scheduled look at the tracked workspace among
    // them (its 5-minute boundary may fall inside this test).
    w.reload(&[("monday_sync.workspace_interval", "0")])?;
    w.sql("SELECT monday_sync.track_workspace(4300200)")?;
    // Their first pulls, by the worker.
    let t = Instant::now();
    while w.i64("SELECT count(*) FROM monday_sync.jobs WHERE command = 'pull' AND status IN ('queued', 'running')")? > 0 {
        check(t.elapsed() < Duration::from_secs(60), "the first pulls did not finish")?;
        std::thread::sleep(Duration::from_millis(100));
    }
    let request_all = |w: &mut W| -> Result<Vec<i64>, String> {
        let ids: Vec<i64> =
            w.db.query(
                "SELECT monday_sync.request_refresh(board_id) FROM monday_sync.boards
                  WHERE target_schema = 'round' AND parent_board_id IS NULL",
                &[],
            )
            .map_err(pg)?
            .iter()
            .map(|r| r.get::<_, i64>(0))
            .collect();
        for id in &ids {
            eq(
                &w.wait_job(*id, 60)?.as_str(),
                &"succeeded",
                "a job of the round",
            )?;
        }
        Ok(ids)
    };
    // Idle: one call for all 40.
    w.fake.clear_log();
    let ids = request_all(w)?;
    eq(&ids.len(), &(N as usize), "40 refresh jobs")?;
    let ops: Vec<String> = w
        .fake
        .log()
        .iter()
        .map(|l| l.query.split(['(', ' ']).nth(1).unwrap_or("").to_string())
        .collect();
    eq(
        &ops,
        &vec!["RefreshProbe".to_string()],
        "an idle round of 40 boards: one probe call",
    )?;
    let probe_cost = w.fake.log()[0].complexity;
    eq(
        &w.i64(&format!("SELECT count(*) FROM monday_sync.sync_runs r JOIN monday_sync.jobs j USING (runid) WHERE j.jobid = ANY (ARRAY{ids:?}) AND r.status = 'succeeded' AND r.message LIKE 'incremental: no activity since the watermark%'"))?,
        &N,
        "every board has its run",
    )?;
    // Busy: two boards changed; they refresh on their own, the others are settled by the probe.
    w.fake.with(|s| {
        s.world.rename(FIRST * 10 + 3 * 10, "Renamed on board 3");
        s.world
            .rename(FIRST * 10 + 17 * 10 + 2, "Renamed on board 17");
    });
    w.fake.clear_log();
    request_all(w)?;
    let ops: Vec<String> = w
        .fake
        .log()
        .iter()
        .map(|l| l.query.split(['(', ' ']).nth(1).unwrap_or("").to_string())
        .collect();
    eq(
        &ops,
        &vec!["RefreshProbe".to_string(), "ItemsByIds".to_string()],
        "a round where 2 of 40 boards changed: the probe, then one items call for both",
    )?;
    eq(
        &w.text("SELECT string_agg(name, ', ' ORDER BY name) FROM round.round_3 WHERE name LIKE 'Renamed%'")?
            .zip(w.text("SELECT string_agg(name, ', ') FROM round.round_17 WHERE name LIKE 'Renamed%'")?),
        &Some(("Renamed on board 3".to_string(), "Renamed on board 17".to_string())),
        "the changes are in the tables",
    )?;
    // On the worker's own schedule: boards with the same interval come due together, so their
    // refreshes run as rounds (a probe for all, not a call each). No daily limit for this part
    // (the plan below would stretch a 2-second schedule).
    w.reload(&[("monday_sync.daily_call_limit", "0")])?;
    w.sql(
        "SELECT monday_sync.set_schedule(board_id, '2 seconds', '1 day') FROM monday_sync.boards
          WHERE target_schema = 'round' AND parent_board_id IS NULL",
    )?;
    let done = |w: &mut W| {
        w.i64("SELECT count(*) FROM monday_sync.jobs j JOIN monday_sync.boards b USING (board_id)
                WHERE b.target_schema = 'round' AND j.command = 'refresh' AND j.status = 'succeeded'")
    };
    let before = done(w)?;
    w.fake.clear_log();
    std::thread::sleep(Duration::from_secs(7));
    let (jobs, calls) = (done(w)? - before, w.fake.log().len() as i64);
    check(
        jobs >= 2 * N && calls * 10 <= jobs,
        &format!(
            "scheduled refreshes of 40 boards every 2 s: {jobs} jobs in 7 s took {calls} calls"
        ),
    )?;
    // The daily plan: 40 boards every 2 s need 43,200 calls a day; with a limit of 1,000 the plan
    // does not fit, the worker says so once and stretches the intervals (×48 and a little for the
    // reconciles and the workspace: every ~97 s).
    eq(
        &w.text("SELECT format('%s|%s', boards, calls_per_day) FROM monday_sync.api_plan WHERE kind = 'refresh'")?,
        &Some("40|43200.0".to_string()),
        "api_plan: one probe every 2 s for the 40 boards",
    )?;
    w.reload(&[("monday_sync.daily_call_limit", "1000")])?;
    eq(
        &w.text("SELECT format('%s|%s', plan_fits, schedule_stretch BETWEEN 48 AND 50) FROM monday_sync.api_budget")?,
        &Some("f|t".to_string()),
        "api_budget: the plan does not fit; the stretch",
    )?;
    std::thread::sleep(Duration::from_secs(2));
    let before = done(w)?;
    std::thread::sleep(Duration::from_secs(4));
    let during = done(w)? - before;
    let warned = w
        .server_log()
        .matches("refresh intervals are stretched ×4")
        .count();
    w.reload(&[("monday_sync.daily_call_limit", "")])?;
    check(
        during <= N,
        &format!("stretched to every 96 s: {during} refresh jobs in 4 s (at most one round)"),
    )?;
    eq(&warned, &1, "one WARNING about the plan")?;
    // A probe monday refuses as too complex for one query (the fake's single-query limit stands
    // for boards that cost more than it estimates: 12 boards' worth here) is split in halves
    // until it fits (40 refused, 20 refused, then 10 at a time), and the worker remembers: the
    // next round asks 10 at a time from the start.
    w.sql(
        "SELECT monday_sync.set_schedule(board_id, '1 hour', '1 day') FROM monday_sync.boards
          WHERE target_schema = 'round' AND parent_board_id IS NULL",
    )?;
    std::thread::sleep(Duration::from_secs(1));
    w.fake
        .with(|s| s.knobs.max_query_complexity = probe_cost / N * 12);
    let mut rounds = Vec::new();
    for _ in 0..2 {
        w.fake.clear_log();
        request_all(w)?;
        let log = w.fake.log();
        let probes = log
            .iter()
            .filter(|l| l.query.contains("RefreshProbe"))
            .count();
        let refused = log
            .iter()
            .filter(|l| l.error_code.as_deref() == Some("ComplexityException"))
            .count();
        rounds.push((log.len(), probes, refused));
    }
    w.fake
        .with(|s| s.knobs.max_query_complexity = crate::fake::MAX_QUERY_COMPLEXITY);
    eq(
        &rounds,
        &vec![(6, 6, 2), (4, 4, 0)],
        "(calls, probes, refused) of two idle rounds under a small single-query limit",
    )?;
    // Leave the cluster as the next tests expect it.
    w.reload(&[("monday_sync.workspace_interval", "")])?;
    w.sql(
        "SELECT monday_sync.untrack_workspace(4300200);
         SELECT monday_sync.untrack_board(board_id, drop_table => true) FROM monday_sync.boards
          WHERE target_schema = 'round' AND parent_board_id IS NULL;
         DROP SCHEMA round CASCADE;",
    )
}

/// monday_sync.max_workers = 3: the job workers claim jobs in parallel (pulls of different boards
/// overlap), never two jobs of one board at once; the worker view shows each.
fn several_workers(w: &mut W) -> T {
    w.sql("ALTER SYSTEM SET monday_sync.max_workers = 3")?;
    w.c.restart("fast")?;
    w.reconnect()?;
    let t = Instant::now();
    while w.i64("SELECT count(DISTINCT pid) FROM monday_sync.worker WHERE state = 'idle'")? < 3 {
        check(
            t.elapsed() < Duration::from_secs(30),
            "three job workers did not come up",
        )?;
        std::thread::sleep(Duration::from_millis(200));
    }
    w.fake.with(|s| {
        s.knobs.latency = Duration::from_millis(300);
        s.world
            .add_workspace(4_300_300, "Parallel", "open", "active");
        for b in 0..6i64 {
            s.world
                .add_workspace_board(6_200_000 + b, &format!("Parallel {b}"), 4_300_300);
            for k in 0..3 {
                s.world.add_item(
                    6_200_000 + b,
                    crate::fake::world::FIRST_ITEM,
                    62_000_000 + b * 10 + k,
                    &format!("P{b}.{k}"),
                );
            }
        }
    });
    let t = Instant::now();
    // Six first pulls, and refreshes of the same boards queued behind them.
    w.sql("SELECT monday_sync.track_workspace(4300300)")?;
    w.sql(
        "SELECT monday_sync.request_refresh(board_id) FROM monday_sync.boards
          WHERE target_schema = 'parallel' AND parent_board_id IS NULL",
    )?;
    let open = "SELECT count(*) FROM monday_sync.jobs j JOIN monday_sync.boards b USING (board_id)
                 WHERE b.target_schema = 'parallel' AND j.status IN ('queued', 'running')";
    while w.i64(open)? > 0 {
        check(
            t.elapsed() < Duration::from_secs(60),
            "the jobs did not finish",
        )?;
        std::thread::sleep(Duration::from_millis(100));
    }
    w.fake.with(|s| s.knobs.latency = Duration::ZERO);
    let jobs = "FROM monday_sync.jobs a JOIN monday_sync.jobs b2 ON a.jobid < b2.jobid
                 AND tstzrange(a.started_at, a.finished_at) && tstzrange(b2.started_at, b2.finished_at)
                JOIN monday_sync.boards x ON x.board_id = a.board_id AND x.target_schema = 'parallel'
                JOIN monday_sync.boards y ON y.board_id = b2.board_id AND y.target_schema = 'parallel'";
    let overlapping = w.i64(&format!(
        "SELECT count(*) {jobs} WHERE a.board_id <> b2.board_id"
    ))?;
    let same_board = w.i64(&format!(
        "SELECT count(*) {jobs} WHERE a.board_id = b2.board_id"
    ))?;
    let failed = w.i64(
        "SELECT count(*) FROM monday_sync.jobs j JOIN monday_sync.boards b USING (board_id)
          WHERE b.target_schema = 'parallel' AND j.status <> 'succeeded'",
    )?;
    let workers_used = w.i64("SELECT count(*) FROM monday_sync.worker WHERE jobs_done > 0")?;
    // Back to one worker for the tests after this one.
    w.sql(
        "SELECT monday_sync.untrack_workspace(4300300);
         SELECT monday_sync.untrack_board(board_id, drop_table => true) FROM monday_sync.boards
          WHERE target_schema = 'parallel' AND parent_board_id IS NULL;
         DROP SCHEMA parallel CASCADE;",
    )?;
    w.sql("ALTER SYSTEM RESET monday_sync.max_workers")?;
    w.c.restart("fast")?;
    w.reconnect()?;
    w.worker_pid()?;
    eq(&failed, &0, "every job succeeded")?;
    check(
        overlapping > 0,
        "jobs of different boards ran at the same time",
    )?;
    eq(&same_board, &0, "two jobs of one board at once")?;
    check(
        workers_used >= 2,
        &format!("{workers_used} of 3 workers ran jobs"),
    )
}

/// One launcher, several databases (monday_sync.databases): a list on reload, each database with
/// its own worker, jobs and webhook listener; then `*`, where a database without the extension
/// keeps no worker and CREATE EXTENSION plus track_board there starts one at once; a database
/// taken out of the setting has its workers stopped.
fn several_databases(w: &mut W) -> T {
    const BOARD: i64 = 6_300_000;
    w.fake.with(|s| {
        s.world
            .add_workspace(4_300_400, "Elsewhere", "open", "active");
        s.world.add_workspace_board(BOARD, "Elsewhere", 4_300_400);
        for k in 0..3 {
            s.world.add_item(
                BOARD,
                crate::fake::world::FIRST_ITEM,
                63_000_000 + k,
                &format!("E{k}"),
            );
        }
    });
    let listen = w.c.port + 41;
    w.reload(&[
        ("monday_sync.databases", &format!("{DB}, msother")),
        (
            "monday_sync.webhook_listen",
            &format!("msother=127.0.0.1:{listen}"),
        ),
    ])?;
    let mut admin = Client::connect(&w.c.conn_string("postgres"), NoTls).map_err(pg)?;
    let t = Instant::now();
    while !w.server_log().contains("waiting for database \"msother\"") {
        check(
            t.elapsed() < Duration::from_secs(15),
            "the launcher did not say it waits for msother",
        )?;
        std::thread::sleep(Duration::from_millis(200));
    }
    let mine = w.worker_pid()?;
    admin.batch_execute("CREATE DATABASE msother").map_err(pg)?;
    // CREATE EXTENSION, the token, the board tracked and a pull queued: the job's id.
    let set_up = |c: &mut Client| -> Result<i64, String> {
        c.batch_execute("CREATE EXTENSION monday_sync")
            .map_err(pg)?;
        c.execute("SELECT monday_sync.set_token($1)", &[&TOKEN])
            .map_err(pg)?;
        c.execute("SELECT monday_sync.track_board($1)", &[&BOARD])
            .map_err(pg)?;
        Ok(
            c.query_one("SELECT monday_sync.request_pull($1)", &[&BOARD])
                .map_err(pg)?
                .get(0),
        )
    };
    let mut other = Client::connect(&w.c.conn_string("msother"), NoTls).map_err(pg)?;
    let job = set_up(&mut other)?;
    let wait_in = |c: &mut Client, job: i64| -> Result<String, String> {
        let t = Instant::now();
        loop {
            let st: String = c
                .query_one(
                    "SELECT status FROM monday_sync.jobs WHERE jobid = $1",
                    &[&job],
                )
                .map_err(pg)?
                .get(0);
            if st == "succeeded" || st == "failed" || t.elapsed() > Duration::from_secs(30) {
                return Ok(st);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    eq(
        &wait_in(&mut other, job)?.as_str(),
        &"succeeded",
        "a pull queued in msother",
    )?;
    let rows: i64 = other
        .query_one("SELECT count(*) FROM public.elsewhere", &[])
        .map_err(pg)?
        .get(0);
    eq(&rows, &3, "rows pulled in msother")?;
    let theirs: (Option<i32>, Option<String>, String) = {
        let r = other
            .query_one(
                "SELECT pid, database::text, state FROM monday_sync.worker",
                &[],
            )
            .map_err(pg)?;
        (r.get(0), r.get(1), r.get(2))
    };
    check(
        theirs.0.is_some() && theirs.0 != Some(mine),
        &format!("msother's worker {theirs:?} vs mswork's {mine}"),
    )?;
    eq(
        &theirs.1.as_deref(),
        &Some("msother"),
        "msother's worker database",
    )?;
    // The webhook listener of msother listens on its own address; mswork's has none.
    let t = Instant::now();
    loop {
        let (state, addr): (String, Option<String>) = {
            let r = other
                .query_one(
                    "SELECT state, address FROM monday_sync.webhook_listener",
                    &[],
                )
                .map_err(pg)?;
            (r.get(0), r.get(1))
        };
        if state == "listening" {
            eq(
                &addr,
                &Some(format!("127.0.0.1:{listen}")),
                "msother's listener address",
            )?;
            break;
        }
        check(
            t.elapsed() < Duration::from_secs(15),
            &format!("msother's listener: {state}"),
        )?;
        std::thread::sleep(Duration::from_millis(200));
    }
    let here = w
        .text("SELECT state FROM monday_sync.webhook_listener")?
        .unwrap_or_default();
    check(
        here.starts_with("applying"),
        &format!("mswork's listener: {here}"),
    )?;
    // mswork still has its own worker, the same process, and it still runs jobs.
    eq(&w.worker_pid()?, &mine, "mswork's worker after the reload")?;
    let job = w.request("refresh")?;
    eq(
        &w.wait_job(job, 60)?.as_str(),
        &"succeeded",
        "a refresh in mswork",
    )?;

    // `*`: a database without the extension keeps no worker; CREATE EXTENSION and track_board
    // there start one at once (no minute's wait).
    w.reload(&[("monday_sync.databases", "*")])?;
    let log_from = w.server_log().len();
    admin.batch_execute("CREATE DATABASE msthird").map_err(pg)?;
    let in_third = "SELECT count(*) FROM pg_stat_activity
                     WHERE datname = 'msthird' AND backend_type LIKE 'monday_sync%'";
    std::thread::sleep(Duration::from_secs(8));
    let n: i64 = admin.query_one(in_third, &[]).map_err(pg)?.get(0);
    eq(
        &n,
        &0,
        "monday_sync workers in a database without the extension",
    )?;
    let mut third = Client::connect(&w.c.conn_string("msthird"), NoTls).map_err(pg)?;
    let t = Instant::now();
    let job = set_up(&mut third)?;
    eq(
        &wait_in(&mut third, job)?.as_str(),
        &"succeeded",
        "a pull queued in msthird",
    )?;
    let took = t.elapsed();
    let log = w.server_log();
    check(
        !log[log_from..].contains("is queued, but"),
        &format!(
            "a warning about the worker in msthird:\n{}",
            &log[log_from..]
        ),
    )?;
    check(
        took < Duration::from_secs(20),
        &format!("msthird's first job took {took:?}"),
    )?;
    let n: i64 = admin.query_one(in_third, &[]).map_err(pg)?.get(0);
    check(n >= 2, &format!("{n} monday_sync workers in msthird"))?;
    eq(&w.worker_pid()?, &mine, "mswork's worker under *")?;

    // Back to mswork alone: the others' workers stop, the databases can be dropped.
    w.reload(&[
        ("monday_sync.databases", ""),
        ("monday_sync.webhook_listen", ""),
    ])?;
    drop(other);
    drop(third);
    let t = Instant::now();
    loop {
        let n: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname IN ('msother', 'msthird') AND backend_type LIKE 'monday_sync%'",
                &[],
            )
            .map_err(pg)?
            .get(0);
        if n == 0 {
            break;
        }
        check(
            t.elapsed() < Duration::from_secs(20),
            &format!("{n} workers still in msother/msthird"),
        )?;
        std::thread::sleep(Duration::from_millis(200));
    }
    for d in ["msother", "msthird"] {
        admin
            .batch_execute(&format!("DROP DATABASE {d}"))
            .map_err(pg)?;
    }
    w.sql(&format!(
        "SELECT monday_sync.untrack_board({BOARD}) WHERE EXISTS (SELECT 1 FROM monday_sync.boards WHERE board_id = {BOARD})"
    ))?;
    eq(&w.worker_pid()?, &mine, "mswork's worker at the end")
}

fn worker_schedule(w: &mut W) -> T {
    let id = w.fake.with(|s| s.world.active_items(SAMPLE_BOARD)[11]);
    w.sql(&format!(
        "SELECT monday_sync.set_schedule({SAMPLE_BOARD}, '1 second', '1 day')"
    ))?;
    w.fake.with(|s| s.world.rename(id, "Seen by the schedule"));
    let t = Instant::now();
    loop {
        if w.i64(&format!("SELECT count(*) FROM public.q3_launch_plan WHERE item_id = {id} AND name = 'Seen by the schedule'"))? == 1 {
            break;
        }
        if t.elapsed() > Duration::from_secs(20) {
            return Err("the scheduled refresh did not arrive".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // A reconcile is due when the last full pull is older than reconcile_interval.
    w.sql(&format!(
        "UPDATE monday_sync.boards SET last_full_at = now() - interval '2 days' WHERE board_id = {SAMPLE_BOARD}"
    ))?;
    let t = Instant::now();
    loop {
        if w.i64("SELECT count(*) FROM monday_sync.jobs WHERE command = 'pull' AND requested_by = 'monday_sync schedule' AND status = 'succeeded'")? >= 1 {
            break;
        }
        if t.elapsed() > Duration::from_secs(30) {
            return Err("the scheduled reconcile did not run".into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    w.sql(&format!(
        "SELECT monday_sync.set_schedule({SAMPLE_BOARD}, NULL, NULL)"
    ))?;
    // Let a refresh that was just queued finish.
    std::thread::sleep(Duration::from_secs(2));
    w.table_ok()
}

/// A small complexity budget: the worker waits for the window instead of exhausting it.
fn worker_paces_itself(w: &mut W) -> T {
    w.fake.clear_log();
    let job = w.request("pull")?;
    eq(&w.wait_job(job, 60)?.as_str(), &"succeeded", "pull")?;
    let page = w.fake.log().iter().map(|l| l.complexity).max().unwrap_or(0);
    check(page > 0, "no complexity in the fake's log")?;
    // Room for three pages a window; the worker may use 60 % of it.
    let budget = page * 3;
    w.fake
        .with(|s| s.set_budget(budget, Duration::from_secs(3)));
    w.reload(&[
        ("monday_sync.complexity_per_minute", &budget.to_string()),
        ("monday_sync.worker_budget_share", "0.6"),
    ])?;
    w.sql("TRUNCATE public.q3_launch_plan, public.q3_launch_plan_subitems")?;
    w.fake.clear_log();
    let waits_before = w.i64("SELECT worker_waits FROM monday_sync.api_budget")?;
    let job = w.request("pull")?;
    let st = w.wait_job(job, 90)?;
    w.fake
        .with(|s| s.set_budget(10_000_000, Duration::from_secs(60)));
    w.reload(&[
        ("monday_sync.complexity_per_minute", ""),
        ("monday_sync.worker_budget_share", ""),
    ])?;
    eq(&st.as_str(), &"succeeded", "paced pull")?;
    let exhausted = w
        .fake
        .log()
        .iter()
        .filter(|l| l.error_code.as_deref() == Some("COMPLEXITY_BUDGET_EXHAUSTED"))
        .count();
    if exhausted > 0 {
        let calls: Vec<String> = w
            .fake
            .log()
            .iter()
            .map(|l| {
                format!(
                    "{}:{}:{}",
                    l.roots.join("+"),
                    l.complexity,
                    l.error_code.clone().unwrap_or_default()
                )
            })
            .collect();
        let runs = w.text("SELECT string_agg(format('%s/%s/%s/%s/%s', operation, complexity_before, complexity_after, reset_in_seconds, last_error), ' ' ORDER BY runid, call_no) FROM monday_sync.api_calls WHERE runid = (SELECT max(runid) FROM monday_sync.sync_runs)")?;
        return Err(format!("{exhausted} COMPLEXITY_BUDGET_EXHAUSTED answers (budget {budget}); the fake's log: {calls:?}; api_calls: {runs:?}"));
    }
    let waits = w.i64("SELECT worker_waits FROM monday_sync.api_budget")? - waits_before;
    check(waits > 0, "the worker never waited for the window")?;
    let b =
        w.text("SELECT format('%s|%s', accounted, calls_today > 0) FROM monday_sync.api_budget")?;
    eq(&b, &Some("t|t".into()), "api_budget")?;
    w.table_ok()
}

/// A job that cannot succeed fails for good: run and job failed, NOTIFY, the alert URL, the status
/// view. A transient failure is retried.
fn failures_alert_and_retry(w: &mut W) -> T {
    let url = format!("{}/_fake/alert", w.fake.url().trim_end_matches("/v2"));
    w.reload(&[
        ("monday_sync.alert_url", &url),
        ("monday_sync.max_retries", "0"),
    ])?;
    // Transient: one 500 with no retries left in the call → the job is queued again.
    w.fake.fault(Fault::Status(500));
    let job = w.request("refresh")?;
    let t = Instant::now();
    loop {
        let s = w.text(&format!(
            "SELECT status || ':' || attempts FROM monday_sync.jobs WHERE jobid = {job}"
        ))?;
        if s.as_deref() == Some("queued:1") {
            break;
        }
        if t.elapsed() > Duration::from_secs(20) {
            return Err(format!("transient failure: job is {s:?}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    check(
        w.i64(&format!("SELECT (not_before > now() + interval '20 seconds')::int::bigint FROM monday_sync.jobs WHERE jobid = {job}"))? == 1,
        "the retry waits (backoff)",
    )?;
    w.sql(&format!(
        "UPDATE monday_sync.jobs SET not_before = now() WHERE jobid = {job}"
    ))?;
    eq(
        &w.wait_job(job, 30)?.as_str(),
        &"succeeded",
        "the retried job",
    )?;
    // A transient failure while an equal job waits (one may be queued per board and command):
    // the queued one carries the retry; this attempt ends failed, pointing at it, without alert.
    let alerts = w.fake.with(|s| s.alerts.len());
    w.fake.fault(Fault::Hang(Duration::from_secs(2)));
    let first = w.request("refresh")?;
    let t = Instant::now();
    while w
        .text(&format!(
            "SELECT status FROM monday_sync.jobs WHERE jobid = {first}"
        ))?
        .as_deref()
        != Some("running")
    {
        if t.elapsed() > Duration::from_secs(10) {
            return Err("the first job never ran".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let twin = w.request("refresh")?;
    check(
        twin != first,
        "a second request while the first runs queues a job",
    )?;
    eq(
        &w.wait_job(first, 30)?.as_str(),
        &"failed",
        "the attempt that failed beside a queued twin",
    )?;
    let err = w
        .text(&format!(
            "SELECT last_error FROM monday_sync.jobs WHERE jobid = {first}"
        ))?
        .unwrap_or_default();
    check(
        err.contains(&format!("retried as job {twin}")),
        &format!("its error: {err}"),
    )?;
    eq(&w.wait_job(twin, 30)?.as_str(), &"succeeded", "the twin")?;
    eq(
        &w.fake.with(|s| s.alerts.len()),
        &alerts,
        "alerts for a failure that is retried",
    )?;
    // Permanent: the token is rejected. No retry; an alert.
    w.fake.with(|s| s.knobs.token = "rotated-token".into());
    let job = w.request("refresh")?;
    eq(
        &w.wait_job(job, 30)?.as_str(),
        &"failed",
        "job with a rejected token",
    )?;
    eq(
        &w.i64(&format!(
            "SELECT attempts::bigint FROM monday_sync.jobs WHERE jobid = {job}"
        ))?,
        &1,
        "no retry of a permanent failure",
    )?;
    let t = Instant::now();
    let alert = loop {
        if let Some(a) = w.fake.with(|s| s.alerts.last().cloned()) {
            break a;
        }
        if t.elapsed() > Duration::from_secs(10) {
            return Err("no alert was POSTed".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    check(
        alert["text"]
            .as_str()
            .is_some_and(|t| t.contains("Q3 Launch plan") && t.contains("failed")),
        &format!("alert: {alert}"),
    )?;
    check(!alert.to_string().contains(TOKEN), "the token in an alert")?;
    let last = w
        .text("SELECT last_error FROM monday_sync.board_status")?
        .unwrap_or_default();
    check(!last.is_empty(), "board_status shows no error")?;
    w.fake.with(|s| s.knobs.token = TOKEN.into());
    w.reload(&[
        ("monday_sync.alert_url", ""),
        ("monday_sync.max_retries", ""),
    ])?;
    let job = w.request("refresh")?;
    eq(
        &w.wait_job(job, 30)?.as_str(),
        &"succeeded",
        "after the token is fixed",
    )?;
    eq(
        &w.text("SELECT last_error FROM monday_sync.board_status")?,
        &None,
        "no error after a success",
    )
}

/// Hundreds of jobs: the worker's private memory does not grow with them (a leak per job or per
/// transaction would show here long before it showed in production).
fn worker_memory_stays_flat(w: &mut W) -> T {
    let rss = |pid: i32| crate::bench::rss_anon_kb(pid).unwrap_or(0) as i64;
    let pid = w.worker_pid()?;
    let ids: Vec<i64> = w.fake.with(|s| s.world.active_items(SAMPLE_BOARD));
    let run = |w: &mut W, n: usize| -> T {
        for i in 0..n {
            w.fake
                .with(|s| s.world.rename(ids[i % 50], &format!("soak {i}")));
            let job = w.request("refresh")?;
            eq(&w.wait_job(job, 30)?.as_str(), &"succeeded", "soak job")?;
        }
        Ok(())
    };
    run(w, 50)?; // warm-up: caches, the first temp table, the HTTP agent
    let before = rss(pid);
    run(w, 300)?;
    let after = rss(pid);
    eq(&w.worker_pid()?, &pid, "the same worker ran every job")?;
    println!("worker: RssAnon of the worker over 300 refresh jobs: {before} kB → {after} kB");
    check(
        after - before < 8 * 1024,
        &format!("the worker grew by {} kB over 300 jobs", after - before),
    )?;
    w.table_ok()
}

/// DROP EXTENSION under a running worker: it goes idle, waits, and serves the extension created
/// again, without a restart.
fn worker_survives_drop_extension(w: &mut W) -> T {
    let pid = w.worker_pid()?;
    w.sql("DROP EXTENSION monday_sync CASCADE")?;
    w.sql("DROP TABLE public.q3_launch_plan, public.q3_launch_plan_subitems")?;
    std::thread::sleep(Duration::from_secs(1));
    eq(&w.worker_pid()?, &pid, "the worker after DROP EXTENSION")?;
    w.sql("CREATE EXTENSION monday_sync")?;
    w.db.execute("SELECT monday_sync.set_token($1)", &[&TOKEN])
        .map_err(pg)?;
    w.db.execute("SELECT monday_sync.track_board($1)", &[&SAMPLE_BOARD])
        .map_err(pg)?;
    let job = w.request("pull")?;
    eq(
        &w.wait_job(job, 60)?.as_str(),
        &"succeeded",
        "a pull after CREATE EXTENSION",
    )?;
    eq(&w.worker_pid()?, &pid, "the same worker")?;
    w.table_ok()
}

type Test = (&'static str, fn(&mut W) -> T);

pub fn run() -> Result<String, String> {
    let fake = Fake::start(World::sample(1200, true)).map_err(|e| e.to_string())?;
    fake.with(|s| s.knobs.token = TOKEN.into());
    let url = fake.url();
    let api_url = format!("monday_sync.api_url = '{url}'");
    let c = Cluster::start(
        "worker",
        PORT,
        &[
            "log_min_messages = info",
            "shared_preload_libraries = 'monday_sync,pg_cron'",
            "monday_sync.database = 'mswork'",
            "monday_sync.naptime = '200ms'",
            "monday_sync.request_timeout = '5s'",
            "monday_sync.max_wait = '60s'",
            &api_url,
            "cron.database_name = 'postgres'",
            "cron.use_background_workers = on",
            "max_worker_processes = 16",
        ],
    )?;
    let db = Client::connect(&c.conn_string("postgres"), NoTls).map_err(pg)?;
    let mut w = W { c, fake, db };
    let tests: Vec<Test> = vec![
        (
            "the worker waits for its database, quietly",
            waits_for_its_database,
        ),
        (
            "the worker runs queued jobs, commits and notifies",
            worker_runs_queued_jobs,
        ),
        (
            "the worker never lends its superuser to a database user",
            worker_never_lends_its_superuser,
        ),
        (
            "a big board's pull job walks its groups in parallel",
            pull_job_walks_groups_in_parallel,
        ),
        (
            "a slow trigger cannot hold the worker",
            a_slow_trigger_cannot_hold_the_worker,
        ),
        ("pg_cron schedules refreshes", pg_cron_schedules_refreshes),
        (
            "kill -9 and restart in the middle of a job",
            crash_and_restart_mid_job,
        ),
        (
            "the worker's own refresh and reconcile schedule",
            worker_schedule,
        ),
        (
            "the account: request_pull_account and monday_sync.account_interval",
            account_job,
        ),
        (
            "boards created in a tracked workspace are found by the schedule",
            workspace_boards_are_found,
        ),
        (
            "refresh rounds: one probe settles the idle boards",
            refresh_rounds,
        ),
        (
            "several job workers: in parallel, never two jobs of one board",
            several_workers,
        ),
        (
            "one launcher serves several databases (a list, then *)",
            several_databases,
        ),
        (
            "the worker paces itself under a small budget",
            worker_paces_itself,
        ),
        (
            "failures: retry, fail for good, alert",
            failures_alert_and_retry,
        ),
        (
            "the worker's memory stays flat over 300 jobs",
            worker_memory_stays_flat,
        ),
        (
            "DROP EXTENSION and CREATE EXTENSION under the worker",
            worker_survives_drop_extension,
        ),
    ];
    let filter = std::env::var("WORKER_FILTER").unwrap_or_default();
    let (mut passed, mut failed) = (0, Vec::new());
    for (i, (name, f)) in tests.into_iter().enumerate() {
        // The first two tests create the database and the board the others use.
        if i > 1 && !filter.is_empty() && !name.contains(&filter) {
            continue;
        }
        let t = Instant::now();
        match f(&mut w) {
            Ok(()) => {
                passed += 1;
                println!("worker: ok     {name} ({:.1} s)", t.elapsed().as_secs_f64());
            }
            Err(e) => {
                println!("worker: FAILED {name}: {e}");
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
                // A test that crashed the server leaves a dead connection behind.
                let _ = w.reconnect();
            }
        }
    }
    let log = w.server_log();
    if log.contains(TOKEN) {
        println!("worker: FAILED the server log contains the token");
        failed.push("token in the server log");
    }
    if log.contains("PANIC") || log.contains("terminated by signal 11") {
        println!("worker: FAILED the server log shows a crash:\n{log}");
        failed.push("a crash in the server log");
    }
    if failed.is_empty() {
        Ok(format!("{passed} passed, 0 failed"))
    } else {
        Err(format!(
            "worker: {} failed: {}",
            failed.len(),
            failed.join("; ")
        ))
    }
}
