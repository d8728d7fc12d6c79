//! The parallel-pull benchmark: a 100,000-item board in 10 groups, served by the fake monday
//! server (release build, its own process) at 0 ms and 100 ms latency per request, pulled by one
//! cursor (`monday_sync.parallel_pull_threshold` above the board) and by group walks in parallel
//! (the default `monday_sync.parallel_pull_walks`, 4). Each pull goes into a fresh database, so
//! every row is written. Prints wall time, API calls, items/s and the most requests the fake
//! had in flight at once.

use crate::cluster::Cluster;
use crate::util::{pg_err, run, step};
use std::time::Instant;

const ITEMS: usize = 100_000;
const GROUPS: usize = 10;
const BOARD: i64 = crate::fake::world::SAMPLE_BOARD;

use crate::bench::{cpu_split, start_fake_with, stats};

/// utime + stime of a process (all its threads), in seconds.
fn cpu_seconds(pid: i32) -> f64 {
    let (u, s) = cpu_split(pid);
    u + s
}

pub fn run_bench() -> Result<(), String> {
    step("parallel-pull benchmark: building the fake monday server (release)");
    run(
        "cargo",
        &["build", "--release", "-q", "-p", "monday_sync_harness"],
        &[],
    )?;
    let c = Cluster::start(
        "benchpar",
        28823,
        &["shared_preload_libraries = 'monday_sync'", "jit = off"],
    )?;
    println!(
        "\nFull backfill of {ITEMS} items in {GROUPS} groups with pull_board (release build; one backend; 500 items per page; fake in its own process):"
    );
    println!(
        "  {:>8} {:>18} {:>8} {:>8} {:>6} {:>9} {:>12} {:>11} {:>8}",
        "latency",
        "pull",
        "seconds",
        "items/s",
        "calls",
        "in flight",
        "fake's time",
        "backend CPU",
        "speed-up"
    );
    let latencies: Vec<u64> = std::env::var("BENCH_PARALLEL_LATENCY")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .filter(|v: &Vec<u64>| !v.is_empty())
        .unwrap_or_else(|| vec![0, 100]);
    for (i, &latency) in latencies.iter().enumerate() {
        let port = crate::cluster::instance_port(28870 + i as u16);
        let groups = GROUPS.to_string();
        let fake = start_fake_with(ITEMS, latency, port, &["--groups", &groups])?;
        let mut sequential = 0.0;
        for parallel in [false, true] {
            let db_name = format!(
                "benchpar_{latency}_{}",
                if parallel { "par" } else { "seq" }
            );
            let mut db = crate::bench::fresh_database(&c, &db_name, fake.port, BOARD)?;
            if !parallel {
                db.batch_execute("SET monday_sync.parallel_pull_threshold = 2147483647")
                    .map_err(pg_err)?;
            }
            let pid: i32 = db
                .query_one("SELECT pg_backend_pid()", &[])
                .map_err(pg_err)?
                .get(0);
            let before = stats(port)?;
            let cpu0 = cpu_seconds(pid);
            let t = Instant::now();
            let summary: serde_json::Value = db
                .query_one(&format!("SELECT monday_sync.pull_board({BOARD})"), &[])
                .map_err(pg_err)?
                .get(0);
            let secs = t.elapsed().as_secs_f64();
            let cpu = cpu_seconds(pid) - cpu0;
            let after = stats(port)?;
            let fake_s = (after["server_ms"].as_f64().unwrap_or(0.0)
                - before["server_ms"].as_f64().unwrap_or(0.0))
                / 1000.0;
            let calls =
                after["requests"].as_i64().unwrap_or(0) - before["requests"].as_i64().unwrap_or(0);
            let seen = summary["items_seen"].as_i64().unwrap_or(0);
            if seen != ITEMS as i64 || summary["rows_written"].as_i64() != Some(ITEMS as i64) {
                return Err(format!("pull_board saw {seen} items of {ITEMS}: {summary}"));
            }
            let walks = summary["parallel_walks"].as_i64().unwrap_or(0);
            if parallel != (walks > 0) {
                return Err(format!(
                    "parallel = {parallel} but the summary says {summary}"
                ));
            }
            if !parallel {
                sequential = secs;
            }
            println!(
                "  {:>6}ms {:>18} {:>8.2} {:>8.0} {:>6} {:>9} {:>10.1} s {:>9.2} s {:>8}",
                latency,
                if parallel {
                    format!("parallel, {walks} walks")
                } else {
                    "one cursor".to_string()
                },
                secs,
                ITEMS as f64 / secs,
                calls,
                // The fake's peak since it started (the one-cursor pull runs first).
                after["peak_in_flight"],
                fake_s,
                cpu,
                if parallel {
                    format!("{:.2}x", sequential / secs)
                } else {
                    String::new()
                }
            );
            drop(db);
            c.connect("postgres")?
                .batch_execute(&format!("DROP DATABASE {db_name}"))
                .map_err(pg_err)?;
        }
        drop(fake);
    }
    println!("  API calls: the one-cursor walk needs ceil(N/500); the parallel one asks the metadata first, then ceil(n/500) per group.");
    println!("  in flight: the most requests the fake had in flight at once (its peak since it started).");
    println!("  fake's time: what the fake spent on the pull's requests, waits for its lock excluded: validating and executing");
    println!("  (one request at a time, under its lock), then serialising (concurrently). The fake and the backend share the");
    println!(
        "  machine's 2 cores: their CPU, not monday's latency, bounds the parallel pull here."
    );
    Ok(())
}
