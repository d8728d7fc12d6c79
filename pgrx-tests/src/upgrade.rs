//! `pgrx-tests/run upgrade`: the way pgmq tests its upgrades. The previous release (the tag v0.1.0)
//! is built and installed, a database is filled with it against the fake monday (a tracked board
//! with subitems, a schedule, a finished and a queued job, run history, the token); then this build
//! is installed over it, the worker is seen waiting for `ALTER EXTENSION monday_sync UPDATE`, the
//! update runs, and the data, the token and the sync are checked, with every object of the
//! extension compared against a fresh `CREATE EXTENSION` (upgrade_catalog.sql). Then `pg_dump` and
//! restore of that database: the configuration comes back without the token, the typed tables are
//! found again, and after `set_token` the sync resumes.

use crate::cluster::Cluster;
use crate::e2e::{check, check_table, eq};
use crate::fake::world::{World, SAMPLE_BOARD, SAMPLE_SUBITEMS_BOARD};
use crate::fake::Fake;
use crate::util::{pg_err, step};
use postgres::Client;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The previous release: its tag, and the commit it points at (for a clone without tags).
const OLD_TAG: &str = "v0.1.0";
const OLD_COMMIT: &str = "8170c11";
const OLD_VERSION: &str = "0.1.0";
const TOKEN: &str = "fake-token-upgrade-31c7";
const DB: &str = "msup";
const PORT: u16 = 28850;
const CATALOG: &str = include_str!("upgrade_catalog.sql");

type T = Result<(), String>;

/// This build's version: the extension's Cargo.toml (this crate has a version of its own).
fn new_version() -> String {
    include_str!("../../Cargo.toml")
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or("?")
        .to_string()
}

/// The target directory the harness builds in (`CARGO_TARGET_DIR`, else `<root>/target`).
fn target_dir() -> PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| crate::root().join("target"))
}

/// A previous release of the extension, to build from git: the upgrade test's and the sync
/// benchmark's (`pgrx-tests/run bench-sync` measures it side by side with this build).
pub struct Release {
    /// Its tag.
    pub tag: &'static str,
    /// The commit the tag points at (for a clone without tags).
    pub commit: &'static str,
    /// Its version (the extension's Cargo.toml at the tag).
    pub version: &'static str,
}

/// The release the upgrade test starts from.
pub const UPGRADE_FROM: Release = Release {
    tag: OLD_TAG,
    commit: OLD_COMMIT,
    version: OLD_VERSION,
};

/// Builds and installs the previous release.
pub fn install_old() -> T {
    install_release(&UPGRADE_FROM, false)
}

/// Builds and installs a previous release into the PostgreSQL install (`MS_PG_CONFIG`). Its sources
/// are exported once (`git archive`, not a worktree: a cached `target/` then needs no git metadata)
/// to `target/upgrade/monday_sync-<version>` and built in `target/upgrade/target` (`--release`
/// when `release`: its own profile directory there), so CI caches both with `target/` and a second
/// run only installs. The installed `.so` is removed first; stop any cluster that has it loaded.
pub fn install_release(r: &Release, release: bool) -> T {
    let base = target_dir().join("upgrade");
    let src = base.join(format!("monday_sync-{}", r.version));
    if !src.join("Cargo.toml").exists() {
        std::fs::create_dir_all(&src).map_err(|e| format!("{}: {e}", src.display()))?;
        let export = |rev: &str| {
            std::process::Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "git archive --format=tar {rev} | tar -x -C '{}'",
                    src.display()
                ))
                .status()
                .is_ok_and(|s| s.success())
                && src.join("Cargo.toml").exists()
        };
        if !export(r.tag) && !export(r.commit) {
            let _ = std::fs::remove_dir_all(&src);
            return Err(format!(
                "cannot export {} (or commit {}) from git: fetch it with `git fetch --tags`",
                r.tag, r.commit
            ));
        }
    }
    let _ = std::fs::remove_file(format!("{}/monday_sync.so", crate::pkglibdir()));
    step(&format!(
        "cargo pgrx install{} of monday_sync {} (the tag {}, built in {})",
        if release { " --release" } else { "" },
        r.version,
        r.tag,
        base.join("target").display()
    ));
    let pg_config = crate::setup::pg_config();
    let mut args = vec!["pgrx", "install", "--pg-config", pg_config.as_str()];
    if release {
        args.push("--release");
    }
    let status = std::process::Command::new("cargo")
        .args(&args)
        .current_dir(&src)
        .env("CARGO_TARGET_DIR", base.join("target"))
        .stdin(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    check(
        status.success(),
        &format!("monday_sync {} builds and installs", r.version),
    )
}

fn pg(e: postgres::Error) -> String {
    pg_err(e)
}

/// Every row of a query as text, one string per row (for before/after comparisons).
fn rows(db: &mut Client, sql: &str) -> Result<Vec<String>, String> {
    Ok(db
        .query(&format!("SELECT t::text FROM ({sql}) t"), &[])
        .map_err(pg)?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect())
}

fn text(db: &mut Client, sql: &str) -> Result<Option<String>, String> {
    db.query_one(sql, &[])
        .map_err(pg)
        .map(|r| r.get::<_, Option<String>>(0))
}

fn i64_of(db: &mut Client, sql: &str) -> Result<i64, String> {
    db.query_one(sql, &[]).map_err(pg).map(|r| r.get(0))
}

/// What must survive: the configuration, the typed rows, jobs and runs, as text.
fn snapshot(db: &mut Client) -> Result<BTreeMap<&'static str, Vec<String>>, String> {
    let mut s = BTreeMap::new();
    for (k, sql) in [
        ("boards", "SELECT board_id, board_name, board_kind, target_schema, target_table, parent_board_id, subitems_board_id, items_count, tracked_at, last_pulled_at, activity_watermark, last_refreshed_at, last_full_at, refresh_interval, reconcile_interval FROM monday_sync.boards ORDER BY board_id"),
        ("columns", "SELECT board_id, column_id, title, column_type, settings, sql_name, sql_type, position, added_at, removed_at FROM monday_sync.columns ORDER BY 1, 2"),
        ("groups", "SELECT * FROM monday_sync.groups ORDER BY 1, 2"),
        ("items", "SELECT * FROM public.q3_launch_plan ORDER BY item_id"),
        ("subitems", "SELECT * FROM public.q3_launch_plan_subitems ORDER BY item_id"),
    ] {
        s.insert(k, rows(db, sql)?);
    }
    Ok(s)
}

/// Runs the catalog query; (kind, name) → definition.
fn catalog(db: &mut Client) -> Result<BTreeMap<(String, String), String>, String> {
    Ok(db
        .query(CATALOG, &[])
        .map_err(pg)?
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect())
}

/// The objects of the extension in two databases, compared; a readable diff when they differ.
pub fn same_schema(upgraded: &mut Client, fresh: &mut Client) -> T {
    let (a, b) = (catalog(upgraded)?, catalog(fresh)?);
    let mut diff = Vec::new();
    for (k, v) in &b {
        match a.get(k) {
            None => diff.push(format!(
                "missing after the upgrade: {} {}\n    fresh: {}",
                k.0, k.1, v
            )),
            Some(u) if u != v => diff.push(format!(
                "differs: {} {}\n    upgraded: {}\n    fresh:    {}",
                k.0,
                k.1,
                u.replace('\n', "\n              "),
                v.replace('\n', "\n              ")
            )),
            _ => {}
        }
    }
    for (k, v) in &a {
        if !b.contains_key(k) {
            diff.push(format!(
                "only after the upgrade (not in a fresh install): {} {}\n    {}",
                k.0, k.1, v
            ));
        }
    }
    if diff.is_empty() {
        println!(
            "  the upgraded extension equals a fresh CREATE EXTENSION: {} catalog entries",
            b.len()
        );
        Ok(())
    } else {
        Err(format!(
            "the upgraded database differs from a fresh CREATE EXTENSION monday_sync in {} places \
             (sql/monday_sync--{OLD_VERSION}--{}.sql misses something):\n{}",
            diff.len(),
            new_version(),
            diff.join("\n")
        ))
    }
}

/// Waits until the server log holds `needle` (after byte `from`).
fn wait_log(c: &Cluster, from: usize, needle: &str, secs: u64) -> T {
    let t = Instant::now();
    loop {
        if c.log().get(from..).is_some_and(|l| l.contains(needle)) {
            return Ok(());
        }
        if t.elapsed() > Duration::from_secs(secs) {
            return Err(format!(
                "the server log does not say {needle:?} after {secs} s:\n{}",
                c.log().get(from..).unwrap_or("")
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn wait_job(db: &mut Client, jobid: i64, secs: u64) -> Result<String, String> {
    let t = Instant::now();
    loop {
        let st = text(
            db,
            &format!("SELECT status FROM monday_sync.jobs WHERE jobid = {jobid}"),
        )?
        .unwrap_or_default();
        if st == "succeeded" || st == "failed" {
            return Ok(st);
        }
        if t.elapsed() > Duration::from_secs(secs) {
            return Err(format!("job {jobid} still {st:?} after {secs} s"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn run() -> Result<String, String> {
    let started = Instant::now();
    let new = new_version();
    install_old()?;
    let fake = Fake::start(World::sample(150, true)).map_err(|e| e.to_string())?;
    fake.with(|s| s.knobs.token = TOKEN.into());
    let mut c = Cluster::start(
        "upgrade",
        PORT,
        &[
            "shared_preload_libraries = 'monday_sync'",
            &format!("monday_sync.database = '{DB}'"),
            &format!("monday_sync.api_url = '{}'", fake.url()),
            "monday_sync.naptime = 200",
            "log_min_messages = info",
        ],
    )?;
    let mut admin = c.connect("postgres")?;
    admin
        .batch_execute(&format!("CREATE DATABASE {DB}"))
        .map_err(pg)?;
    let mut db = c.connect(DB)?;

    step(&format!(
        "upgrade: monday_sync {OLD_VERSION} filled against the fake monday"
    ));
    db.batch_execute(&format!(
        "CREATE EXTENSION monday_sync VERSION '{OLD_VERSION}'"
    ))
    .map_err(pg)?;
    db.execute("SELECT monday_sync.set_token($1)", &[&TOKEN])
        .map_err(pg)?;
    db.batch_execute(&format!(
        "SELECT monday_sync.track_board({SAMPLE_BOARD});
         SELECT monday_sync.pull_board({SAMPLE_BOARD});
         SELECT monday_sync.set_schedule({SAMPLE_BOARD}, interval '1 day', interval '7 days');"
    ))
    .map_err(pg)?;
    let done = i64_of(
        &mut db,
        &format!("SELECT monday_sync.request_refresh({SAMPLE_BOARD})"),
    )?;
    eq(
        &wait_job(&mut db, done, 60)?,
        &"succeeded".to_string(),
        "0.1.0's worker runs a refresh",
    )?;
    // A job that stays queued across the upgrade (due in an hour; requested again after it).
    let queued = i64_of(
        &mut db,
        &format!(
            "INSERT INTO monday_sync.jobs (board_id, command, not_before)
             VALUES ({SAMPLE_BOARD}, 'pull', now() + interval '1 hour') RETURNING jobid"
        ),
    )?;
    let before = snapshot(&mut db)?;
    let jobs_before = rows(
        &mut db,
        "SELECT jobid, board_id, command, status, attempts, queued_at, runid, requested_by FROM monday_sync.jobs ORDER BY jobid",
    )?;
    let runs_before = rows(&mut db, "SELECT runid, board_id, kind, status, jobid, mode, started_at, finished_at, items_seen, rows_written, api_calls FROM monday_sync.sync_runs ORDER BY runid")?;
    check(
        before["items"].len() > 100 && !before["subitems"].is_empty(),
        "0.1.0 pulled the board and its subitems",
    )?;
    drop(db);
    drop(admin);

    step(&format!(
        "upgrade: this build ({new}) installed over it; the worker waits for ALTER EXTENSION"
    ));
    c.stop();
    crate::install(false)?;
    let log_from = c.log().len();
    c.start_again()?;
    let mut db = c.connect(DB)?;
    wait_log(
        &c,
        log_from,
        &format!("monday_sync {new} is loaded but the database has {OLD_VERSION}: run ALTER EXTENSION monday_sync UPDATE"),
        30,
    )?;
    std::thread::sleep(Duration::from_secs(3));
    let said = c.log()[log_from..]
        .matches("is loaded but the database has")
        .count();
    eq(&said, &1, "the worker says it once while it waits")?;
    eq(
        &i64_of(
            &mut db,
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'monday_sync worker'",
        )?,
        &1,
        "the worker stays alive while it waits",
    )?;
    eq(
        &text(
            &mut db,
            &format!("SELECT status FROM monday_sync.jobs WHERE jobid = {done}"),
        )?,
        &Some("succeeded".to_string()),
        "nothing touched meanwhile",
    )?;

    step("upgrade: ALTER EXTENSION monday_sync UPDATE");
    let t = Instant::now();
    db.batch_execute("ALTER EXTENSION monday_sync UPDATE")
        .map_err(pg)?;
    let took = t.elapsed();
    eq(
        &text(
            &mut db,
            "SELECT extversion FROM pg_extension WHERE extname = 'monday_sync'",
        )?,
        &Some(new.clone()),
        "extversion after the update",
    )?;
    wait_log(
        &c,
        log_from,
        &format!("the database has monday_sync {new} now: resuming"),
        15,
    )?;

    // The data survived.
    let after = snapshot(&mut db)?;
    for (k, v) in &before {
        eq(
            &after[k].len(),
            &v.len(),
            &format!("{k}: rows after the update"),
        )?;
        check(after[k] == *v, &format!("{k}: unchanged by the update"))?;
    }
    eq(
        &rows(&mut db, "SELECT jobid, board_id, command, status, attempts, queued_at, runid, requested_by FROM monday_sync.jobs ORDER BY jobid")?,
        &jobs_before,
        "jobs kept",
    )?;
    eq(
        &rows(&mut db, "SELECT runid, board_id, kind, status, jobid, mode, started_at, finished_at, items_seen, rows_written, api_calls FROM monday_sync.sync_runs ORDER BY runid")?,
        &runs_before,
        "run history kept",
    )?;
    eq(
        &i64_of(
            &mut db,
            "SELECT count(*) FROM monday_sync.boards WHERE table_oid IS NOT NULL AND table_oid::text IN ('q3_launch_plan', 'q3_launch_plan_subitems')",
        )?,
        &2,
        "boards.table_oid filled in for the tables 0.1.0 tracked",
    )?;

    step("upgrade: the sync resumes through the worker, with the token 0.1.0 stored");
    let first: i64 = i64_of(
        &mut db,
        "SELECT min(item_id) FROM public.q3_launch_plan WHERE state = 'active'",
    )?;
    fake.with(|s| s.world.rename(first, "Renamed after the upgrade"));
    // The request joins the queued job (one per board and command) and makes it due now.
    let jobid = i64_of(
        &mut db,
        &format!("SELECT monday_sync.request_pull({SAMPLE_BOARD})"),
    )?;
    eq(&jobid, &queued, "the request joins the job queued in 0.1.0")?;
    eq(
        &wait_job(&mut db, jobid, 60)?,
        &"succeeded".to_string(),
        "the queued job runs after the update",
    )?;
    check_table(&mut db, &fake, "q3_launch_plan", SAMPLE_BOARD)?;
    check_table(
        &mut db,
        &fake,
        "q3_launch_plan_subitems",
        SAMPLE_SUBITEMS_BOARD,
    )?;
    eq(
        &text(
            &mut db,
            &format!("SELECT name FROM public.q3_launch_plan WHERE item_id = {first}"),
        )?,
        &Some("Renamed after the upgrade".to_string()),
        "the change on monday arrived",
    )?;
    // A 0.2.0 feature on the upgraded board.
    eq(
        &text(
            &mut db,
            &format!("SELECT monday_sync.enable_history({SAMPLE_BOARD})::text"),
        )?,
        &Some("q3_launch_plan_history".to_string()),
        "enable_history on the upgraded board",
    )?;
    check(
        i64_of(
            &mut db,
            "SELECT count(*) FROM monday_sync.as_of(NULL::public.q3_launch_plan, now())",
        )? == before["items"].len() as i64,
        "as_of reads the history of the upgraded board",
    )?;

    step("upgrade: every object equals a fresh CREATE EXTENSION");
    let mut admin = c.connect("postgres")?;
    admin.batch_execute("CREATE DATABASE msfresh").map_err(pg)?;
    let mut fresh = c.connect("msfresh")?;
    fresh
        .batch_execute("CREATE EXTENSION monday_sync")
        .map_err(pg)?;
    same_schema(&mut db, &mut fresh)?;
    drop(fresh);

    let dump = dump_and_restore(&c, &fake, &mut db, &mut admin)?;
    let adopt = adopt_after_untrack(&mut db, &fake)?;
    drop(db);
    drop(admin);
    c.stop();
    Ok(format!(
        "{OLD_VERSION} → {new} passed (ALTER EXTENSION UPDATE {:.2} s; {dump}; {adopt}; {:.0} s in all)",
        took.as_secs_f64(),
        started.elapsed().as_secs_f64()
    ))
}

/// pg_dump -Fc of the upgraded database, restored into a new one: the configuration and the typed
/// tables come back (found again by the restored `table_oid`), the token does not; after
/// `set_token` a refresh picks up a change on monday.
fn dump_and_restore(
    c: &Cluster,
    fake: &Fake,
    db: &mut Client,
    admin: &mut Client,
) -> Result<String, String> {
    step("dump: pg_dump -Fc, pg_restore into a new database");
    // A webhook subscription row (the listener is not part of this test): it must be dumped.
    db.batch_execute(&format!(
        "INSERT INTO monday_sync.webhooks (webhook_id, board_id, event, url)
         VALUES (777001, {SAMPLE_BOARD}, 'change_column_value', 'https://example.org/webhook/…')"
    ))
    .map_err(pg)?;
    let before = snapshot(db)?;
    let hooks = rows(
        db,
        "SELECT webhook_id, board_id, event, url FROM monday_sync.webhooks ORDER BY 1",
    )?;
    let file = c.dir.join("msup.dump");
    let f = file.to_string_lossy().into_owned();
    c.tool("pg_dump", &["-Fc", "-f", &f, DB])?;
    let bytes = std::fs::read(&file).map_err(|e| e.to_string())?;
    check(
        !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
        "the token is not in the dump",
    )?;
    admin
        .batch_execute("CREATE DATABASE msrestore")
        .map_err(pg)?;
    c.tool("pg_restore", &["--exit-on-error", "-d", "msrestore", &f])?;
    let mut r = c.connect("msrestore")?;
    let after = snapshot(&mut r)?;
    for (k, v) in &before {
        check(after[k] == *v, &format!("{k}: restored as dumped"))?;
    }
    eq(
        &rows(
            &mut r,
            "SELECT webhook_id, board_id, event, url FROM monday_sync.webhooks ORDER BY 1",
        )?,
        &hooks,
        "webhook subscriptions restored",
    )?;
    eq(
        &i64_of(&mut r, "SELECT count(*) FROM monday_sync._credentials")?,
        &0,
        "no token after the restore",
    )?;
    eq(
        &rows(
            &mut r,
            "SELECT table_oid::text, history_oid::text FROM monday_sync.boards ORDER BY board_id",
        )?,
        &rows(
            db,
            "SELECT table_oid::text, history_oid::text FROM monday_sync.boards ORDER BY board_id",
        )?,
        "the restored boards point at the restored tables",
    )?;
    check(
        i64_of(
            &mut r,
            "SELECT count(*) FROM monday_sync.boards b JOIN pg_class c ON c.oid = b.table_oid",
        )? == 2,
        "table_oid holds the restored tables' OIDs",
    )?;
    let first: i64 = i64_of(
        &mut r,
        "SELECT max(item_id) FROM public.q3_launch_plan WHERE state = 'active'",
    )?;
    fake.with(|s| s.world.rename(first, "Renamed after the restore"));
    r.execute("SELECT monday_sync.set_token($1)", &[&TOKEN])
        .map_err(pg)?;
    r.batch_execute(&format!("SELECT monday_sync.refresh_board({SAMPLE_BOARD})"))
        .map_err(pg)?;
    eq(
        &text(
            &mut r,
            &format!("SELECT name FROM public.q3_launch_plan WHERE item_id = {first}"),
        )?,
        &Some("Renamed after the restore".to_string()),
        "a refresh of the restored database picks up a change on monday",
    )?;
    check_table(&mut r, fake, "q3_launch_plan", SAMPLE_BOARD)?;
    // The history trigger came back with the table and keeps versions in the restored database.
    check(
        i64_of(
            &mut r,
            &format!("SELECT count(*) FROM public.q3_launch_plan_history WHERE item_id = {first}"),
        )? >= 2,
        "history goes on in the restored database",
    )?;
    Ok(format!(
        "dump/restore passed ({} KB dump)",
        bytes.len() / 1024
    ))
}

/// untrack_board keeps the tables; tracking the board again with adopt => true takes them back,
/// columns and all, and a pull writes into them.
fn adopt_after_untrack(db: &mut Client, fake: &Fake) -> Result<String, String> {
    step("adopt: untrack_board, then track_board(adopt => true) on the tables it left");
    db.batch_execute("DELETE FROM monday_sync.webhooks")
        .map_err(pg)?;
    let items = rows(db, "SELECT * FROM public.q3_launch_plan ORDER BY item_id")?;
    const MAPPING: &str =
        "SELECT board_id, column_id, sql_name, sql_type FROM monday_sync.columns WHERE removed_at IS NULL ORDER BY 1, 2";
    let mapping = rows(db, MAPPING)?;
    db.batch_execute(&format!(
        "SELECT monday_sync.untrack_board({SAMPLE_BOARD});
         SELECT monday_sync.track_board({SAMPLE_BOARD}, adopt => true);"
    ))
    .map_err(pg)?;
    eq(
        &rows(db, "SELECT * FROM public.q3_launch_plan ORDER BY item_id")?,
        &items,
        "the adopted table keeps its rows and columns",
    )?;
    eq(
        &rows(db, MAPPING)?,
        &mapping,
        "the adopted tables' columns are mapped as before (none added)",
    )?;
    db.batch_execute(&format!("SELECT monday_sync.pull_board({SAMPLE_BOARD})"))
        .map_err(pg)?;
    check_table(db, fake, "q3_launch_plan", SAMPLE_BOARD)?;
    Ok("adopt after untrack passed".into())
}
