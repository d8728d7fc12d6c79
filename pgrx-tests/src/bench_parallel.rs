//! The parallel-pull benchmark: a 100,000-item board in 10 groups, served by the fake monday
//! server (release build, its own process) at 0 ms and 100 ms latency per request, pulled by one
//! cursor (`monday_sync.parallel_pull_threshold` above the board) and by group walks in parallel
//! (the default `monday_sync.parallel_pull_walks`, 4). Each pull goes into a fresh database, so
//! every row is written. Prints wall time, API calls, items/s and the most requests the fake
//! had in flight at once.

use crate::cluster::Cluster;
use crate::util::{pg_err, run, step};
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ITEMS: usize = 100_000;
const GROUPS: usize = 10;
const BOARD: i64 = crate::fake::world::SAMPLE_BOARD;

struct FakeProcess {
    child: Child,
    port: u16,
}

impl Drop for FakeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Ports move up by 100 per `MS_INSTANCE`, like the clusters' (`cluster.rs`).
fn instance_offset() -> u16 {
    std::env::var("MS_INSTANCE")
        .ok()
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|n| (1..=9).contains(n))
        .unwrap_or(0)
        * 100
}

fn harness() -> String {
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    format!("{dir}/release/harness")
}

fn start_fake(latency_ms: u64, port: u16) -> Result<FakeProcess, String> {
    let child = Command::new(harness())
        .args([
            "fake-monday",
            "--port",
            &port.to_string(),
            "--items",
            &ITEMS.to_string(),
            "--groups",
            &GROUPS.to_string(),
            "--latency-ms",
            &latency_ms.to_string(),
            "--no-subitems",
        ])
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting the fake: {e}"))?;
    let f = FakeProcess { child, port };
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(120) {
        if stats(port).is_ok() {
            return Ok(f);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err("the fake did not start".into())
}

/// utime + stime of a process (all its threads), in seconds.
fn cpu_seconds(pid: i32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// GET /_fake/stats from the fake's process.
fn stats(port: u16) -> Result<serde_json::Value, String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.write_all(b"GET /_fake/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    let body = out.split("\r\n\r\n").nth(1).ok_or("no body")?;
    serde_json::from_str(body).map_err(|e| e.to_string())
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
        let port = 28870 + i as u16 + instance_offset();
        let fake = start_fake(latency, port)?;
        let mut sequential = 0.0;
        for parallel in [false, true] {
            let db_name = format!(
                "benchpar_{latency}_{}",
                if parallel { "par" } else { "seq" }
            );
            let mut admin = c.connect("postgres")?;
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {db_name}"))
                .map_err(pg_err)?;
            admin
                .batch_execute(&format!("CREATE DATABASE {db_name}"))
                .map_err(pg_err)?;
            let mut db = c.connect(&db_name)?;
            db.batch_execute(&format!(
                "CREATE EXTENSION monday_sync; SET monday_sync.api_url = 'http://127.0.0.1:{}/v2'; SELECT monday_sync.set_token('fake-token');
                 SELECT monday_sync.track_board({BOARD});",
                fake.port
            ))
            .map_err(pg_err)?;
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
            admin
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
