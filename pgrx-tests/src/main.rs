//! monday_sync's driver: `demo`, `test`, `bench`, `setup`. Run it through `pgrx-tests/run`.
//!
//! Everything happens in throwaway clusters under /tmp owned by `postgres`, on Unix sockets only.

mod bench;
mod bench_parallel;
mod cluster;
mod e2e;
mod fake;
mod hardening;
mod package;
mod parallel;
mod regress;
mod setup;
mod upgrade;
mod util;
mod webhooks;
mod worker;
mod writeback;

use cluster::Cluster;
use std::path::{Path, PathBuf};
use std::time::Instant;
use util::{pg_err, run, step};

/// The repository root (this crate lives in `<root>/pgrx-tests`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("pgrx-tests has a parent")
        .to_path_buf()
}

fn pkglibdir() -> String {
    util::run_ok(&setup::pg_config(), &["--pkglibdir"])
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "/usr/lib/postgresql/15/lib".into())
}

/// Builds and installs the extension into Debian's PostgreSQL 15. The old .so is removed first:
/// overwriting a mapped library in place crashes any cluster that has it loaded.
fn install(release: bool) -> Result<(), String> {
    let _ = std::fs::remove_file(format!("{}/monday_sync.so", pkglibdir()));
    step(&format!(
        "cargo pgrx install{} (PostgreSQL 15)",
        if release { " --release" } else { "" }
    ));
    let pg_config = setup::pg_config();
    let mut args = vec!["pgrx", "install", "--pg-config", pg_config.as_str()];
    if release {
        args.push("--release");
    }
    run("cargo", &args, &[])
}

fn usage() -> ! {
    eprintln!(
        "usage: pgrx-tests/run <command>\n\
         \n  demo [--keep]   build, install into a throwaway cluster, decode the bundled items page into a typed table\
         \n  test            every test layer: unit + property + #[pg_test], then pg_regress against a real cluster\
         \n  regress         only pg_regress (pgrx-tests/regress) against an installed build\
         \n  upgrade         only the upgrade test: build and install v0.1.0, fill it, install this build, ALTER EXTENSION UPDATE,\
         \n                  compare with a fresh install; then pg_dump / pg_restore and adopt after untrack_board\
         \n  webhooks        only the webhook tests (WEBHOOKS_FILTER=<part of a name>)\
         \n  write           only the write-back tests (WRITE_FILTER=<part of a name>)\
         \n  bench           codec throughput (pure Rust) and SQL decode vs bare jsonb parse over 1,000,000 values\
         \n  bench-sync      only the sync benchmark (backfills of 10,000 and 100,000 items at 0 and 100 ms):\
         \n                  v0.2.0 and this build side by side (BENCH_SYNC_PREVIOUS=0: this build alone)\
         \n  bench-parallel  only the parallel-pull benchmark (100,000 items in 10 groups at 0 and 100 ms: one cursor vs group walks)\
         \n  bench-refresh   only the incremental refresh benchmark (10,000 items; lag under pg_cron)\
         \n  bench-webhooks  only the webhook benchmark (events/s and time to 200 at 32 senders; lag; API calls)\
         \n  bench-write     only the write-back benchmark (1,000 single-row UPDATEs: calls, COMMIT to monday p50/p99; upsert_items of 10,000 records)\
         \n  bench-account   only the account benchmark (pull_account of 1,000 users, 100 teams: calls, seconds)\
         \n  bench-rounds    only the refresh-round benchmark (200 boards refreshed at once, idle and busy: calls, seconds; rounds off and on)\
         \n  bench-history   only the history benchmark (10,000 changes: versions, storage, refresh time with and without)\
         \n  fake-monday [--port N] [--items N] [--groups N] [--latency-ms N] [--max-concurrency N] [--token T] [--no-subitems]\
         \n                  serve the fake monday API on 127.0.0.1 until interrupted\
         \n  package         build target/debian/postgresql-15-monday-sync_<version>_<arch>.deb (release build)\
         \n  package-test    build the .deb, install it with apt, check it on a clean cluster, remove it (root)\
         \n  setup           only install what is missing (apt packages, cargo-pgrx, cargo pgrx init)"
    );
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::env::set_current_dir(root()).expect("cd to the repository root");
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup::ensure(),
        Some("demo") => setup::ensure().and_then(|_| demo(args.iter().any(|a| a == "--keep"))),
        Some("test") => setup::ensure().and_then(|_| test()),
        Some("e2e") => setup::ensure().and_then(|_| e2e_only()),
        Some("regress") => setup::ensure().and_then(|_| install(false)).and_then(|_| {
            let c = Cluster::start("regress", 28816, &[])?;
            println!("\nregress: {}", regress::run(&c)?);
            Ok(())
        }),
        Some("worker") => setup::ensure()
            .and_then(|_| install(false))
            .and_then(|_| run_worker()),
        Some("upgrade") => setup::ensure().and_then(|_| run_upgrade()),
        Some("webhooks") => setup::ensure()
            .and_then(|_| install(false))
            .and_then(|_| run_webhooks()),
        Some("write") => setup::ensure()
            .and_then(|_| install(false))
            .and_then(|_| run_write()),
        Some("bench") => setup::ensure().and_then(|_| bench()),
        Some("fake-monday") => serve_fake(&args[1..]),
        Some("package") => setup::ensure().and_then(|_| {
            let deb = package::build(&root())?;
            println!("{}", deb.display());
            Ok(())
        }),
        Some("package-test") => setup::ensure().and_then(|_| {
            let r = package::test(&root())?;
            println!("\npackage: {r}");
            Ok(())
        }),
        // Installs the previous release, then this build (release) itself.
        Some("bench-sync") => setup::ensure().and_then(|_| bench::sync()),
        Some("bench-parallel") => setup::ensure()
            .and_then(|_| install(true))
            .and_then(|_| bench_parallel::run_bench()),
        Some("bench-write") => setup::ensure()
            .and_then(|_| install(true))
            .and_then(|_| bench::write()),
        // bench-write's second half, from the release build (installed and set up already).
        Some("_bench-write") => bench::write(),
        Some("_bench-history") => bench::history(),
        Some("_bench-rounds") => bench::rounds(),
        Some("bench-account") => setup::ensure()
            .and_then(|_| install(true))
            .and_then(|_| bench::account()),
        Some("bench-rounds") => setup::ensure()
            .and_then(|_| install(true))
            .and_then(|_| bench::rounds()),
        Some("bench-history") => setup::ensure()
            .and_then(|_| install(true))
            .and_then(|_| bench::history()),
        Some("bench-webhooks") => setup::ensure()
            .and_then(|_| install(true))
            .and_then(|_| bench::webhooks()),
        Some("bench-refresh") => setup::ensure()
            .and_then(|_| install(true))
            .and_then(|_| {
                run(
                    "cargo",
                    &["build", "--release", "-q", "-p", "monday_sync_harness"],
                    &[],
                )
            })
            .and_then(|_| bench::refresh()),
        _ => usage(),
    };
    if let Err(e) = result {
        eprintln!("\nerror: {e}");
        std::process::exit(1);
    }
}

/// The demo's webhook listener (the fake delivers to it).
const DEMO_LISTEN: u16 = 28837;

fn demo(keep: bool) -> Result<(), String> {
    let real = match (
        std::env::var("MONDAY_API_TOKEN"),
        std::env::var("MONDAY_BOARD_ID"),
    ) {
        (Ok(t), Ok(b)) if !t.trim().is_empty() => Some((
            t.trim().to_string(),
            b.trim()
                .parse::<i64>()
                .map_err(|_| format!("MONDAY_BOARD_ID is not a board id: {b}"))?,
        )),
        (Ok(_), Err(_)) => {
            return Err(
                "MONDAY_API_TOKEN is set but MONDAY_BOARD_ID is not: set both for the real API"
                    .into(),
            )
        }
        _ => None,
    };
    install(false)?;
    let mut c = Cluster::start("demo", 28815, &["shared_preload_libraries = 'monday_sync'"])?;
    let mut db = c.connect("postgres")?;
    db.batch_execute("CREATE EXTENSION monday_sync")
        .map_err(pg_err)?;
    // The fake lives as long as this process (and the cluster, with --keep).
    let mut _fake = None;
    let (token, board) = match real {
        Some((token, board)) => {
            step(&format!(
                "pulling monday board {board} from the real API (https://api.monday.com/v2)"
            ));
            (token, board)
        }
        None => {
            let fake =
                fake::Fake::start(fake::World::sample(1234, true)).map_err(|e| e.to_string())?;
            step(&format!(
                "pulling the sample board from the fake monday server at {} (MONDAY_API_TOKEN + MONDAY_BOARD_ID use the real API)",
                fake.url()
            ));
            // Server-wide, so the background worker (reloading on SIGHUP) uses the fake too.
            for sql in [
                format!("ALTER SYSTEM SET monday_sync.api_url = '{}'", fake.url()),
                format!("ALTER SYSTEM SET monday_sync.webhook_listen = '127.0.0.1:{DEMO_LISTEN}'"),
                format!(
                    "ALTER SYSTEM SET monday_sync.webhook_public_url = 'http://127.0.0.1:{DEMO_LISTEN}'"
                ),
            ] {
                db.batch_execute(&sql).map_err(pg_err)?;
            }
            db.batch_execute("SELECT pg_reload_conf()")
                .map_err(pg_err)?;
            std::thread::sleep(std::time::Duration::from_millis(300));
            db = c.connect("postgres")?;
            let token = fake.with(|s| s.knobs.token.clone());
            _fake = Some(fake);
            (token, fake::world::SAMPLE_BOARD)
        }
    };
    db.execute("SELECT monday_sync.set_token($1)", &[&token])
        .map_err(pg_err)?;
    println!(
        "{}",
        c.psql(
            "postgres",
            &[
                "-v",
                &format!("board={board}"),
                "-f",
                "pgrx-tests/demo/sync.sql"
            ]
        )?
    );
    match &_fake {
        Some(fake) => {
            step("real time: subscribe the sample board; changes made on the fake arrive as webhooks");
            let vars = ["-v", &format!("board={board}")];
            println!(
                "{}",
                c.psql(
                    "postgres",
                    &[vars[0], vars[1], "-f", "pgrx-tests/demo/webhooks.sql"]
                )?
            );
            let first: Vec<i64> = db
                .query(
                    &format!(
                        "SELECT item_id FROM public.{} ORDER BY item_id LIMIT 3",
                        "q3_launch_plan"
                    ),
                    &[],
                )
                .map_err(pg_err)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            if first.len() == 3 {
                println!(
                    "-- on monday: item {} renamed, item {} set to Done, a note on item {}",
                    first[0], first[1], first[2]
                );
                fake.with(|s| {
                    let w = &mut s.world;
                    w.rename(first[0], "Renamed on monday");
                    w.set_cell(
                        first[1],
                        "status",
                        Some(serde_json::json!({"index": 1, "post_id": null})),
                        Some("Done"),
                    );
                    w.set_cell(
                        first[2],
                        "text0",
                        Some(serde_json::json!("typed on monday a moment ago")),
                        Some("typed on monday a moment ago"),
                    );
                });
            }
            println!(
                "{}",
                c.psql(
                    "postgres",
                    &[vars[0], vars[1], "-f", "pgrx-tests/demo/webhooks_live.sql"]
                )?
            );
            step("write-back: rows changed in PostgreSQL become monday changes");
            println!(
                "{}",
                c.psql(
                    "postgres",
                    &[vars[0], vars[1], "-f", "pgrx-tests/demo/writeback.sql"]
                )?
            );
            let on_monday: Vec<String> = fake.with(|s| {
                s.world
                    .items
                    .values()
                    .filter(|i| {
                        i.name.contains("in PostgreSQL")
                            || i.cells
                                .get("text0")
                                .and_then(|c| c.get("text"))
                                .and_then(serde_json::Value::as_str)
                                == Some("written in PostgreSQL")
                    })
                    .map(|i| {
                        format!(
                            "  item {} \"{}\": status {}, notes {}",
                            i.id,
                            i.name,
                            i.cells
                                .get("status")
                                .and_then(|c| c.get("text"))
                                .cloned()
                                .unwrap_or(serde_json::Value::Null),
                            i.cells
                                .get("text0")
                                .and_then(|c| c.get("text"))
                                .cloned()
                                .unwrap_or(serde_json::Value::Null),
                        )
                    })
                    .collect()
            });
            println!("-- and on the fake monday board, as monday's API now answers:");
            for l in on_monday {
                println!("{l}");
            }
        }
        None => println!(
            "-- real time: set monday_sync.webhook_listen and webhook_public_url (an https URL monday can reach), \
             then SELECT monday_sync.subscribe_board({board}); see the README's \"Real time: webhooks\""
        ),
    }
    if keep {
        c.keep_running();
        println!(
            "The cluster keeps running: psql -h {} -p {} -U postgres (the fake stops with this process)",
            c.socket_dir().display(),
            c.port
        );
    }
    Ok(())
}

fn test() -> Result<(), String> {
    // Unit, property and #[pg_test] tests. pg_tests run their own cluster as `postgres`
    // (.cargo/config.toml: CARGO_PGRX_TEST_RUNAS / CARGO_PGRX_TEST_PGDATA).
    let pgdata = "/tmp/ms_pgtest";
    let _ = std::fs::create_dir_all(pgdata);
    if setup::is_root() {
        run("chown", &["-R", "postgres:postgres", pgdata], &[])?;
    }
    let _ = std::fs::remove_file(format!("{}/monday_sync.so", pkglibdir()));
    step("cargo test --workspace (unit, property, #[pg_test])");
    run("cargo", &["test", "--workspace"], &[])?;

    install(false)?;
    let c = Cluster::start("regress", 28816, &[])?;
    let summary = regress::run(&c)?;
    println!("\nregress: {summary}");

    step("end-to-end: a real cluster and the fake monday server over HTTP on 127.0.0.1");
    run_e2e()?;
    step("background worker and webhooks: two clusters side by side, crashes included");
    // Separate clusters, ports and fakes; the two suites overlap to keep the run short.
    let hooks = std::thread::spawn(run_webhooks);
    let write = std::thread::spawn(run_write);
    let worker = run_worker();
    let hooks = hooks
        .join()
        .unwrap_or_else(|_| Err("the webhook suite panicked".into()));
    let write = write
        .join()
        .unwrap_or_else(|_| Err("the write-back suite panicked".into()));
    worker.and(hooks).and(write)?;
    step("upgrade: the previous release, ALTER EXTENSION monday_sync UPDATE, pg_dump and restore");
    run_upgrade()?;
    step("the Debian package: built, installed with apt on a clean cluster, removed");
    let r = package::test(&root())?;
    println!("\npackage: {r}");
    Ok(())
}

/// The upgrade test; it installs the previous release, then this build again (debug).
fn run_upgrade() -> Result<(), String> {
    let u = upgrade::run();
    // Whatever happened, the current build is what stays installed.
    if u.is_err() {
        let _ = install(false);
    }
    println!("\nupgrade: {}", u?);
    Ok(())
}

fn run_write() -> Result<(), String> {
    let w = writeback::run()?;
    println!("\nwrite: {w}");
    Ok(())
}

fn run_webhooks() -> Result<(), String> {
    let w = webhooks::run()?;
    println!("\nwebhooks: {w}");
    Ok(())
}

/// The end-to-end tests in their cluster (monday_sync preloaded).
fn run_e2e() -> Result<(), String> {
    let c = Cluster::start(
        "e2e",
        28818,
        &[
            "log_min_messages = info",
            "shared_preload_libraries = 'monday_sync'",
        ],
    )?;
    let e2e = e2e::run(&c)?;
    println!("\ne2e: {e2e}");
    Ok(())
}

fn run_worker() -> Result<(), String> {
    let w = worker::run()?;
    println!("\nworker: {w}");
    Ok(())
}

fn bench() -> Result<(), String> {
    step("codec throughput, pure Rust (release build)");
    run(
        "cargo",
        &[
            "run",
            "--release",
            "-q",
            "--bin",
            "codec_bench",
            "--",
            "pgrx-tests/fixtures/bench_corpus.json",
        ],
        &[],
    )?;

    install(true)?;
    let c = Cluster::start(
        "bench",
        28817,
        &[
            "shared_buffers = 512MB",
            "jit = off",
            "max_parallel_workers_per_gather = 0",
        ],
    )?;
    let mut db = c.connect("postgres")?;
    let corpus = std::fs::read_to_string("pgrx-tests/fixtures/bench_corpus.json")
        .map_err(|e| e.to_string())?;
    step("loading 1,000,000 stored column values (cycling the mixed corpus)");
    db.batch_execute("CREATE EXTENSION monday_sync")
        .map_err(pg_err)?;
    db.execute(
        // Stored in a fixed order, cycling through the corpus as a board's cells come (item by
        // item, column by column). Without ORDER BY the join's output order changes from run to
        // run, and with it how predictable the branches are: ratios moved between 1.3x and 1.8x.
        "CREATE TABLE cells AS
           SELECT c.cv FROM generate_series(0, 999999) AS g(i)
           JOIN (SELECT cv, ord - 1 AS k, count(*) OVER () AS n
                   FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY AS e(cv, ord)) c ON c.k = g.i % c.n
           ORDER BY g.i",
        &[&corpus],
    )
    .map_err(pg_err)?;
    db.batch_execute("VACUUM ANALYZE cells").map_err(pg_err)?;

    // Wall time varies by ±40% on a shared machine; the backend's own CPU time (utime + stime
    // from /proc) measures the work each query does. Both are printed; the ratio uses CPU time.
    let pid: i32 = db
        .query_one("SELECT pg_backend_pid()", &[])
        .map_err(pg_err)?
        .get(0);
    let cpu = move || -> Result<f64, String> {
        let stat =
            std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        Ok((ticks(11) + ticks(12)) / 100.0) // utime, stime (fields 14, 15; USER_HZ = 100)
    };
    let time = |db: &mut postgres::Client, sql: &str| -> Result<(f64, f64), String> {
        let (c0, start) = (cpu()?, Instant::now());
        db.query_one(sql, &[]).map_err(pg_err)?;
        Ok((start.elapsed().as_secs_f64(), cpu()? - c0))
    };
    let baseline_sql = "SELECT count((cv->>'value')::jsonb) FROM cells";
    let decode_sql = "SELECT count(monday_sync.decode(NULL, cv)) FROM cells";
    // One warm-up pass each so both read from shared buffers; then seven timed runs each,
    // interleaved, and the best of each.
    time(&mut db, baseline_sql)?;
    time(&mut db, decode_sql)?;
    let (mut bases, mut decs) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        bases.push(time(&mut db, baseline_sql)?);
        decs.push(time(&mut db, decode_sql)?);
    }
    let best = |v: &[(f64, f64)], pick: fn(&(f64, f64)) -> f64| {
        v.iter().map(pick).fold(f64::INFINITY, f64::min)
    };
    let show = |v: &[(f64, f64)]| {
        v.iter()
            .map(|t| format!("{:.2}", t.0))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (base_wall, dec_wall) = (best(&bases, |t| t.0), best(&decs, |t| t.0));
    let (base_cpu, dec_cpu) = (best(&bases, |t| t.1), best(&decs, |t| t.1));
    println!("\nSQL over 1,000,000 stored column values (release build, one backend, jit off; best of 7):");
    println!(
        "  {:<12} {:<56} {:>9} {:>9}   wall runs",
        "", "query", "wall s", "CPU s"
    );
    println!(
        "  {:<12} {baseline_sql:<56} {base_wall:>9.3} {base_cpu:>9.2}   {}",
        "bare parse",
        show(&bases)
    );
    println!(
        "  {:<12} {decode_sql:<56} {dec_wall:>9.3} {dec_cpu:>9.2}   {}",
        "decode",
        show(&decs)
    );
    println!(
        "  ratio decode / bare parse: {:.2}x backend CPU time, {:.2}x wall time (target <= 1.5x)",
        dec_cpu / base_cpu,
        dec_wall / base_wall
    );
    drop(db);
    drop(c);
    bench::sync()?;
    bench::refresh()?;
    bench::webhooks()?;
    bench::write()?;
    bench::history()?;
    bench::account()
}

fn flag<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `fake-monday`: the fake API on its own, for psql sessions and the demo.
fn serve_fake(args: &[String]) -> Result<(), String> {
    let port: u16 = flag(args, "--port", 28880);
    let items: usize = flag(args, "--items", 120);
    let latency: u64 = flag(args, "--latency-ms", 0);
    let token: String = flag(args, "--token", "fake-token".to_string());
    let subitems = !args.iter().any(|a| a == "--no-subitems");
    let groups: usize = flag(args, "--groups", 0);
    let mut world = fake::World::sample(items, subitems);
    if groups > 0 {
        world.spread_groups(fake::world::SAMPLE_BOARD, groups);
    }
    let max_concurrency: usize = flag(args, "--max-concurrency", 0);
    let fake = fake::Fake::start_on(world, port).map_err(|e| e.to_string())?;
    fake.with(|s| {
        s.knobs.latency = std::time::Duration::from_millis(latency);
        s.knobs.token = token.clone();
        s.knobs.max_concurrency = (max_concurrency > 0).then_some(max_concurrency);
    });
    println!(
        "fake monday API on {} (board {}, {items} items, token {token:?}); Ctrl-C stops it",
        fake.url(),
        fake::world::SAMPLE_BOARD
    );
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

/// `e2e`: only the end-to-end tests (E2E_FILTER=<part of a name> picks some).
fn e2e_only() -> Result<(), String> {
    install(false)?;
    run_e2e()
}
