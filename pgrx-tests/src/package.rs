//! The Debian package. `pgrx-tests/run package` builds
//! `target/debian/postgresql-15-monday-sync_<version>_<arch>.deb` from `cargo pgrx package` (the
//! release build: the library, the control file, the install and upgrade scripts) and
//! `dpkg-deb`; `pgrx-tests/run package-test` (the end of `pgrx-tests/run test`) installs it with
//! `apt-get install ./…deb` on this machine, checks it on a clean cluster — `CREATE EXTENSION`,
//! the version, a pull against the fake monday server and a job run by the packaged worker — and
//! removes it again.

use crate::cluster::Cluster;
use crate::e2e::{check, eq};
use crate::fake::world::{World, SAMPLE_BOARD};
use crate::fake::Fake;
use crate::util::{capture, pg_err, run, step};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const NAME: &str = "postgresql-15-monday-sync";

/// The extension's version, from the top-level Cargo.toml (the harness has its own).
pub fn version(root: &Path) -> Result<String, String> {
    let toml = std::fs::read_to_string(root.join("Cargo.toml")).map_err(|e| e.to_string())?;
    let mut in_package = false;
    for line in toml.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            in_package = l == "[package]";
        } else if in_package && l.starts_with("version") {
            if let Some(v) = l.split('"').nth(1) {
                return Ok(v.to_string());
            }
        }
    }
    Err("no [package] version in Cargo.toml".into())
}

/// Builds the .deb; returns its path.
pub fn build(root: &Path) -> Result<PathBuf, String> {
    let version = version(root)?;
    let arch = capture("dpkg", &["--print-architecture"])?
        .trim()
        .to_string();
    let out = root.join("target/debian");
    let tree = out.join("tree");
    let _ = std::fs::remove_dir_all(&tree);
    std::fs::create_dir_all(&tree).map_err(|e| e.to_string())?;
    step("cargo pgrx package (release build of the library, install and upgrade scripts)");
    let pg_config = crate::setup::pg_config();
    let tree_s = tree.to_string_lossy().into_owned();
    run(
        "cargo",
        &[
            "pgrx",
            "package",
            "--pg-config",
            &pg_config,
            "--out-dir",
            &tree_s,
        ],
        &[],
    )?;
    // What cargo pgrx package lays out is what the package installs.
    let so = tree.join("usr/lib/postgresql/15/lib/monday_sync.so");
    check(so.exists(), &format!("{} was not built", so.display()))?;
    let doc = tree.join(format!("usr/share/doc/{NAME}"));
    std::fs::create_dir_all(&doc).map_err(|e| e.to_string())?;
    for f in ["README.md", "SECURITY.md"] {
        std::fs::copy(root.join(f), doc.join(f)).map_err(|e| format!("{f}: {e}"))?;
    }
    let installed_kb = dir_size(&tree) / 1024;
    let debian = tree.join("DEBIAN");
    std::fs::create_dir_all(&debian).map_err(|e| e.to_string())?;
    let control = format!(
        "Package: {NAME}\n\
         Version: {version}\n\
         Architecture: {arch}\n\
         Maintainer: monday_sync maintainers <maintainers@users.noreply.github.com>\n\
         Depends: postgresql-15, libc6\n\
         Recommends: postgresql-15-cron\n\
         Section: database\n\
         Priority: optional\n\
         Installed-Size: {installed_kb}\n\
         Description: Sync monday.com boards into typed PostgreSQL tables, from inside the database\n \
         monday_sync is a PostgreSQL 15 extension: CREATE EXTENSION monday_sync, and monday.com\n \
         boards become typed tables kept current by a background worker, webhooks received\n \
         inside the database, and write-back. Add monday_sync to shared_preload_libraries for\n \
         the worker.\n"
    );
    std::fs::write(debian.join("control"), control).map_err(|e| e.to_string())?;
    let deb = out.join(format!("{NAME}_{version}_{arch}.deb"));
    let _ = std::fs::remove_file(&deb);
    step(&format!("dpkg-deb --build → {}", deb.display()));
    capture(
        "dpkg-deb",
        &[
            "--root-owner-group",
            "--build",
            &tree_s,
            &deb.to_string_lossy(),
        ],
    )?;
    Ok(deb)
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Builds the package, installs it with apt, checks it on a clean cluster, removes it.
pub fn test(root: &Path) -> Result<String, String> {
    if !crate::setup::is_root() {
        return Ok("skipped: installing a package needs root".into());
    }
    let deb = build(root)?;
    let version = version(root)?;
    // Whatever `cargo pgrx install` put there is replaced by the package's files (no cluster runs
    // the library now; dpkg replaces files by rename anyway).
    step(&format!("apt-get install {}", deb.display()));
    run(
        "apt-get",
        &[
            "install",
            "-y",
            "-qq",
            "--reinstall",
            "--no-install-recommends",
            &deb.to_string_lossy(),
        ],
        &[("DEBIAN_FRONTEND", "noninteractive")],
    )?;
    let r = check_installed(&version);
    step(&format!("apt-get remove {NAME}"));
    let removed = run(
        "apt-get",
        &["remove", "-y", "-qq", NAME],
        &[("DEBIAN_FRONTEND", "noninteractive")],
    );
    let summary = r?;
    removed?;
    let control = format!(
        "{}/extension/monday_sync.control",
        crate::util::run_ok(&crate::setup::pg_config(), &["--sharedir"])
            .unwrap_or_default()
            .trim()
    );
    check(
        !Path::new(&control).exists(),
        "apt-get remove left the control file",
    )?;
    Ok(format!("{summary}; removed cleanly"))
}

fn check_installed(version: &str) -> Result<String, String> {
    let status = capture("dpkg-query", &["-W", "-f=${Status} ${Version}", NAME])?;
    eq(
        &status.trim(),
        &format!("install ok installed {version}").as_str(),
        "dpkg knows the package",
    )?;
    let files = capture("dpkg", &["-L", NAME])?;
    for f in [
        "/usr/lib/postgresql/15/lib/monday_sync.so",
        "/usr/share/postgresql/15/extension/monday_sync.control",
        &format!("/usr/share/postgresql/15/extension/monday_sync--{version}.sql"),
    ] {
        check(
            files.lines().any(|l| l == f),
            &format!("the package has no {f}"),
        )?;
    }
    let upgrades = files
        .lines()
        .filter(|l| l.contains("/extension/monday_sync--") && l.matches("--").count() == 2)
        .count();
    check(
        upgrades >= 1,
        "the package ships no upgrade script (ALTER EXTENSION monday_sync UPDATE from 0.1.0)",
    )?;
    // A clean cluster with the packaged library preloaded.
    let fake = Fake::start(World::sample(50, true)).map_err(|e| e.to_string())?;
    fake.with(|s| s.knobs.token = crate::e2e::TOKEN.into());
    let c = Cluster::start(
        "pkg",
        28850,
        &[
            "shared_preload_libraries = 'monday_sync'",
            "monday_sync.database = 'pkg'",
            "monday_sync.naptime = '200ms'",
        ],
    )?;
    let mut admin = c.connect("postgres")?;
    admin.batch_execute("CREATE DATABASE pkg").map_err(pg_err)?;
    let mut db = c.connect("pkg")?;
    db.batch_execute(&format!(
        "CREATE EXTENSION monday_sync;
         ALTER DATABASE pkg SET monday_sync.api_url = '{}';",
        fake.url()
    ))
    .map_err(pg_err)?;
    let mut db = c.connect("pkg")?;
    let v: String = db
        .query_one(
            "SELECT extversion FROM pg_extension WHERE extname = 'monday_sync'",
            &[],
        )
        .map_err(pg_err)?
        .get(0);
    eq(&v.as_str(), &version, "the installed version")?;
    db.execute("SELECT monday_sync.set_token($1)", &[&crate::e2e::TOKEN])
        .map_err(pg_err)?;
    db.query_one("SELECT monday_sync.track_board($1)", &[&SAMPLE_BOARD])
        .map_err(pg_err)?;
    db.query_one("SELECT monday_sync.pull_board($1)", &[&SAMPLE_BOARD])
        .map_err(pg_err)?;
    let rows: i64 = db
        .query_one("SELECT count(*) FROM public.q3_launch_plan", &[])
        .map_err(pg_err)?
        .get(0);
    eq(&rows, &50, "a pull through the packaged library")?;
    // The packaged worker runs a job (the server-wide api_url reaches it through the database
    // setting above).
    let job: i64 = db
        .query_one("SELECT monday_sync.request_refresh($1)", &[&SAMPLE_BOARD])
        .map_err(pg_err)?
        .get(0);
    let t = Instant::now();
    loop {
        let st: Option<String> = db
            .query_one(
                "SELECT status FROM monday_sync.jobs WHERE jobid = $1",
                &[&job],
            )
            .map_err(pg_err)?
            .get(0);
        if st.as_deref() == Some("succeeded") {
            break;
        }
        check(
            st.as_deref() != Some("failed") && t.elapsed() < Duration::from_secs(30),
            &format!("the packaged worker did not run the refresh: {st:?}"),
        )?;
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(format!(
        "{NAME} {version} installed with apt; CREATE EXTENSION, a pull of 50 items and a worker job on a clean cluster; {upgrades} upgrade script(s) packaged"
    ))
}
