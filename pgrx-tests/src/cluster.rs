//! A throwaway PostgreSQL 15 cluster owned by `postgres` (initdb refuses root), listening only on
//! a Unix socket inside its own data directory. Stopped and removed on drop.

use crate::setup::is_root;
use crate::util::{capture, step};
use std::path::{Path, PathBuf};

/// `MS_INSTANCE=<n>` (1–9): the harness run's instance number, 0 without it.
pub fn instance() -> u16 {
    std::env::var("MS_INSTANCE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|n| (1..=9).contains(n))
        .unwrap_or(0)
}

/// A fixed port of the harness moved up by 100·`MS_INSTANCE`, as a cluster's is, so that a second
/// harness run's clusters and fake servers do not collide with the first's.
pub fn instance_port(port: u16) -> u16 {
    port + 100 * instance()
}

pub struct Cluster {
    pub dir: PathBuf,
    pub port: u16,
    keep: bool,
}

/// Runs a Postgres binary as `postgres` when we are root, as ourselves otherwise.
fn pg_bin(prog: &str, args: &[&str]) -> Result<String, String> {
    let path = format!("{}/{prog}", crate::setup::bindir());
    if is_root() {
        let mut a = vec!["-u", "postgres", path.as_str()];
        a.extend_from_slice(args);
        capture("sudo", &a)
    } else {
        capture(&path, args)
    }
}

impl Cluster {
    /// Creates and starts a fresh cluster in `/tmp/ms_<name>` with extra postgresql.conf lines.
    /// With `MS_INSTANCE=<n>` (1–9) set, the directory is `/tmp/ms<n>_<name>` and the port is
    /// moved up by 100·n, so a second harness run (with its own `MS_PG_CONFIG`) does not collide.
    pub fn start(name: &str, port: u16, conf: &[&str]) -> Result<Cluster, String> {
        let instance = instance();
        let port = instance_port(port);
        let dir = PathBuf::from(if instance == 0 {
            format!("/tmp/ms_{name}")
        } else {
            format!("/tmp/ms{instance}_{name}")
        });
        if dir.join("postmaster.pid").exists() {
            let _ = pg_bin(
                "pg_ctl",
                &["-D", &dir.to_string_lossy(), "-m", "immediate", "stop"],
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        if is_root() {
            capture("chown", &["postgres:postgres", &dir.to_string_lossy()])?;
        }
        let d = dir.to_string_lossy().into_owned();
        step(&format!("initdb {d} (port {port}, socket only)"));
        pg_bin(
            "initdb",
            &[
                "-D",
                &d,
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
        )?;
        let mut lines = vec![
            format!("port = {port}"),
            format!("unix_socket_directories = '{d}'"),
            "listen_addresses = ''".to_string(),
            "fsync = off".to_string(),
            "log_min_messages = warning".to_string(),
        ];
        lines.extend(conf.iter().map(|s| s.to_string()));
        let conf_path = dir.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path).map_err(|e| e.to_string())?;
        text.push_str("\n# monday_sync harness\n");
        text.push_str(&lines.join("\n"));
        text.push('\n');
        std::fs::write(&conf_path, text).map_err(|e| e.to_string())?;
        let log = format!("{d}/server.log");
        pg_bin("pg_ctl", &["-D", &d, "-l", &log, "-w", "-t", "60", "start"])
            .map_err(|e| format!("{e}\n{}", std::fs::read_to_string(&log).unwrap_or_default()))?;
        Ok(Cluster {
            dir,
            port,
            keep: false,
        })
    }

    /// Leaves the cluster running after the harness exits (the demo, so a person can look).
    pub fn keep_running(&mut self) {
        self.keep = true;
    }

    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    pub fn conn_string(&self, db: &str) -> String {
        format!(
            "host={} port={} user=postgres dbname={db}",
            self.dir.display(),
            self.port
        )
    }

    pub fn connect(&self, db: &str) -> Result<postgres::Client, String> {
        postgres::Client::connect(&self.conn_string(db), postgres::NoTls)
            .map_err(|e| format!("connect: {}", crate::util::pg_err(e)))
    }

    /// psql with the cluster's socket, as postgres, output to our stdout.
    pub fn psql(&self, db: &str, args: &[&str]) -> Result<String, String> {
        let port = self.port.to_string();
        let host = self.dir.to_string_lossy().into_owned();
        let mut a = vec![
            "-X",
            "-q",
            "-h",
            host.as_str(),
            "-p",
            port.as_str(),
            "-U",
            "postgres",
            "-d",
            db,
            "-v",
            "ON_ERROR_STOP=1",
        ];
        a.extend_from_slice(args);
        capture(&format!("{}/psql", crate::setup::bindir()), &a)
    }

    /// `pg_ctl stop -m <mode>` then start: `immediate` is what a power cut and a reboot look like
    /// to the extension; `fast` is an orderly restart (SIGTERM to every backend and worker).
    pub fn restart(&self, mode: &str) -> Result<(), String> {
        let d = self.dir.to_string_lossy().into_owned();
        pg_bin("pg_ctl", &["-D", &d, "-m", mode, "-w", "-t", "60", "stop"])?;
        self.start_again()
    }

    /// Starts the cluster again after `stop` (a new build installed meanwhile, say).
    pub fn start_again(&self) -> Result<(), String> {
        let d = self.dir.to_string_lossy().into_owned();
        let log = format!("{d}/server.log");
        pg_bin("pg_ctl", &["-D", &d, "-l", &log, "-w", "-t", "60", "start"]).map(|_| ())
    }

    /// The server log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// A client program of the cluster's PostgreSQL (pg_dump, pg_restore) as `postgres`, with the
    /// cluster's socket and port; files it writes belong to `postgres` (use the cluster directory).
    pub fn tool(&self, prog: &str, args: &[&str]) -> Result<String, String> {
        let port = self.port.to_string();
        let host = self.dir.to_string_lossy().into_owned();
        let mut a = vec!["-h", host.as_str(), "-p", port.as_str(), "-U", "postgres"];
        a.extend_from_slice(args);
        pg_bin(prog, &a)
    }

    pub fn stop(&mut self) {
        let d = self.dir.to_string_lossy().into_owned();
        let _ = pg_bin("pg_ctl", &["-D", &d, "-m", "fast", "-w", "stop"]);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.keep {
            self.stop();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
