//! The API token and the client built from it: `monday_sync.set_token` stores the token where
//! only the extension's owner can read it (or `monday_sync.token_file` names a file holding it);
//! `new_client` builds the `crate::api` client the SQL functions call monday with (the worker and
//! refresh build theirs from `token`). HTTP runs through `crate::api` (cancellable).
#![allow(clippy::result_large_err)] // ErrorReport is the SQL error type.

use super::budget::PgHooks;
use super::errors::{err, R};
use super::settings;
use super::spi::{exec, one};
use crate::api::Client;
use pgrx::prelude::*;

/// `monday_sync.set_token(token)`: stores the API token where only the extension's owner can read
/// it. NULL removes it.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn set_token(token: Option<&str>) -> R<()> {
    match token.map(str::trim) {
        None => {
            exec("DELETE FROM monday_sync._credentials", &[]);
        }
        Some("") => {
            return Err(err(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                "the monday API token is empty",
                "set_token was given an empty string",
                "Pass the token from monday: Profile → Developers → My access tokens; set_token(NULL) removes it.",
            ))
        }
        Some(t) => {
            exec(
                "INSERT INTO monday_sync._credentials (id, token) VALUES (true, $1)
                 ON CONFLICT (id) DO UPDATE SET token = excluded.token, set_at = now(), set_by = current_user",
                &[t.into()],
            );
        }
    }
    Ok(())
}

pub(crate) fn token() -> R<String> {
    let can_read: bool = one(
        "SELECT has_table_privilege('monday_sync._credentials', 'SELECT')",
        &[],
    )
    .unwrap_or(false);
    if !can_read {
        return Err(err(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            "only the owner of monday_sync can call monday's API",
            "the API token is readable only by the extension's owner",
            "Call this as the extension's owner (or a superuser); other roles can read the synced tables.",
        ));
    }
    if let Some(path) = settings::token_file() {
        return token_from_file(&path);
    }
    one::<String>("SELECT token FROM monday_sync._credentials", &[]).ok_or_else(|| {
        err(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "no monday API token is set",
            "monday_sync._credentials is empty and monday_sync.token_file is not set",
            "Name a file holding it in monday_sync.token_file, or SELECT monday_sync.set_token('<token>');",
        )
    })
}

/// The token from `monday_sync.token_file`: the first line, trimmed. Read each time it is needed,
/// so a rotated file takes effect at once. The token never passes through SQL text.
fn token_from_file(path: &str) -> R<String> {
    use std::io::Read;
    let mut text = String::new();
    let read = std::fs::File::open(path).and_then(|f| f.take(64 * 1024).read_to_string(&mut text));
    if let Err(e) = read {
        return Err(err(
            PgSqlErrorCode::ERRCODE_UNDEFINED_FILE,
            "could not read monday_sync.token_file",
            format!("{path}: {}", e.kind()),
            "The file must exist and be readable by the operating-system user that runs PostgreSQL (chmod 600, owned by postgres).",
        ));
    }
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.is_empty() {
        return Err(err(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "monday_sync.token_file is empty",
            format!("{path} holds no token on its first line"),
            "Write the token (Profile → Developers → My access tokens) as the file's only line.",
        ));
    }
    Ok(token)
}

pub(crate) fn new_client(hooks: &mut PgHooks) -> R<Client<'_>> {
    Ok(Client::new(settings::api_config(token()?), hooks))
}
