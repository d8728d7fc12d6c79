//! Running commands and printing progress.

use std::process::{Command, Stdio};

pub fn step(msg: &str) {
    eprintln!("==> {msg}");
}

/// Runs a command with inherited stdio; an error names the command and its exit status.
pub fn run(cmd: &str, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let status = Command::new(cmd)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot start {cmd}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{cmd} {}` failed: {status}", args.join(" ")))
    }
}

/// Runs a command and returns its stdout when it succeeds.
pub fn run_ok(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a command, capturing stdout and stderr; Err carries both.
pub fn capture(cmd: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start {cmd}: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "`{cmd} {}` failed: {}\n{text}",
            args.join(" "),
            out.status
        ))
    }
}

/// A postgres client error with the server's message, DETAIL and HINT when there are any.
pub fn pg_err(e: postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{}: {}", db.code().code(), db.message());
            if let Some(d) = db.detail() {
                s.push_str(&format!("\nDETAIL: {d}"));
            }
            if let Some(h) = db.hint() {
                s.push_str(&format!("\nHINT: {h}"));
            }
            s
        }
        None => e.to_string(),
    }
}
