//! Idempotent machine set-up: Debian packages, cargo-pgrx, `cargo pgrx init`. Each step is skipped
//! when already done, so a warm machine starts in seconds.

use crate::util::{run, run_ok, step};
use std::path::Path;

pub const PG_CONFIG: &str = "/usr/lib/postgresql/15/bin/pg_config";

/// The pg_config the harness builds, installs and runs clusters with: Debian's PostgreSQL 15, or
/// `MS_PG_CONFIG` (a second, relocated copy of it lets two harness runs proceed side by side
/// without overwriting each other's installed extension; see `MS_INSTANCE` in cluster.rs).
pub fn pg_config() -> String {
    std::env::var("MS_PG_CONFIG").unwrap_or_else(|_| PG_CONFIG.to_string())
}

/// The directory of pg_config's PostgreSQL binaries.
pub fn bindir() -> String {
    run_ok(&pg_config(), &["--bindir"])
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "/usr/lib/postgresql/15/bin".into())
}
const PGRX_VERSION: &str = "0.18.1";
const APT_PACKAGES: &[&str] = &[
    "postgresql-15",
    "postgresql-client-15",
    "postgresql-server-dev-15",
    "postgresql-15-cron",
    "sudo",
];

pub fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn dpkg_installed(pkg: &str) -> bool {
    std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

pub fn ensure() -> Result<(), String> {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| !dpkg_installed(p))
        .collect();
    if missing.is_empty() {
        step("apt packages: already installed");
    } else {
        if !is_root() {
            return Err(format!(
                "missing Debian packages {missing:?}; run as root or install them first"
            ));
        }
        step(&format!("apt-get install {}", missing.join(" ")));
        run(
            "apt-get",
            &["update", "-qq"],
            &[("DEBIAN_FRONTEND", "noninteractive")],
        )?;
        let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
        args.extend(missing.iter());
        run("apt-get", &args, &[("DEBIAN_FRONTEND", "noninteractive")])?;
    }

    let have = run_ok("cargo", &["pgrx", "--version"]).unwrap_or_default();
    if have.contains(PGRX_VERSION) {
        step(&format!("cargo-pgrx {PGRX_VERSION}: already installed"));
    } else {
        step(&format!(
            "cargo install cargo-pgrx {PGRX_VERSION} (about 4 minutes on 2 cores)"
        ));
        run(
            "cargo",
            &[
                "install",
                "cargo-pgrx",
                "--version",
                PGRX_VERSION,
                "--locked",
            ],
            &[],
        )?;
    }

    let home = std::env::var("PGRX_HOME").unwrap_or_else(|_| {
        format!(
            "{}/.pgrx",
            std::env::var("HOME").unwrap_or_else(|_| "/root".into())
        )
    });
    let config = std::fs::read_to_string(Path::new(&home).join("config.toml")).unwrap_or_default();
    if config.contains(PG_CONFIG) {
        step("cargo pgrx init: already done");
    } else {
        step("cargo pgrx init --pg15 (uses Debian's PostgreSQL 15, downloads nothing)");
        run("cargo", &["pgrx", "init", "--pg15", PG_CONFIG], &[])?;
    }
    Ok(())
}
