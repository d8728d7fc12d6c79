//! pg_regress (PostgreSQL's own) against a running throwaway cluster. `cargo pgrx regress`
//! cannot run as root; the plain tool can, with `--use-existing`.

use crate::cluster::Cluster;
use crate::util::{pg_err, run_ok, step};
use std::path::Path;
use std::process::{Command, Stdio};

const DIR: &str = "pgrx-tests/regress";
const DB: &str = "monday_sync_regress";

pub fn run(c: &Cluster) -> Result<String, String> {
    let pgxs = run_ok(&crate::setup::pg_config(), &["--pgxs"]).ok_or("pg_config --pgxs failed")?;
    let pg_regress = Path::new(pgxs.trim())
        .parent()
        .and_then(Path::parent)
        .map(|p| p.join("test/regress/pg_regress"))
        .ok_or("no pgxs dir")?;
    let mut tests: Vec<String> = std::fs::read_dir(format!("{DIR}/sql"))
        .map_err(|e| format!("{DIR}/sql: {e}"))?
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".sql")
                .map(str::to_string)
        })
        .collect();
    tests.sort();
    let outdir = "target/regress";
    let _ = std::fs::remove_dir_all(outdir);
    std::fs::create_dir_all(outdir).map_err(|e| e.to_string())?;
    let mut db = c.connect("postgres")?;
    db.batch_execute(&format!("DROP DATABASE IF EXISTS {DB}"))
        .map_err(pg_err)?;
    db.batch_execute(&format!("CREATE DATABASE {DB}"))
        .map_err(pg_err)?;
    step(&format!("pg_regress: {}", tests.join(" ")));
    let port = c.port.to_string();
    let host = c.socket_dir().to_string_lossy().into_owned();
    let out = Command::new(&pg_regress)
        .args([
            "--use-existing",
            &format!("--inputdir={DIR}"),
            &format!("--outputdir={outdir}"),
            &format!("--bindir={}", crate::setup::bindir()),
            &format!("--host={host}"),
            &format!("--port={port}"),
            "--user=postgres",
            &format!("--dbname={DB}"),
        ])
        .args(&tests)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start {}: {e}", pg_regress.display()))?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    print!("{text}");
    // PostgreSQL 15 prints `test name ... ok  12 ms` / `... FAILED`; 16+ prints TAP (`ok 1 - name`).
    let failed = text
        .lines()
        .filter(|l| l.contains(" ... FAILED") || l.starts_with("not ok "))
        .count();
    let passed = text
        .lines()
        .filter(|l| l.contains(" ... ok ") || l.starts_with("ok "))
        .count();
    if passed == 0 && failed == 0 {
        return Err(format!("pg_regress ran no test\n{text}"));
    }
    if !out.status.success() || failed > 0 {
        let diffs =
            std::fs::read_to_string(format!("{outdir}/regression.diffs")).unwrap_or_default();
        return Err(format!(
            "pg_regress: {passed} passed, {failed} failed\n{diffs}"
        ));
    }
    Ok(format!("{passed} passed, {failed} failed"))
}
