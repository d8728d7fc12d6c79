//! The extension's security boundary inside Postgres (see SECURITY.md).
//!
//! - Every SQL statement runs with `search_path = pg_catalog, pg_temp`: SQL functions pin it with
//!   `SET search_path` (the `#[search_path]` attribute), the worker pins it for its whole session.
//!   A function or operator a user creates in `public` is never reachable.
//! - A typed table is known by the OID recorded when monday_sync created it, never by its name:
//!   [`open_target`] locks it by OID and renders its current name; a table of the same name that
//!   someone else created is not ours.
//! - Rows are written into a typed table with the rights of its owner ([`as_owner`]), as
//!   PostgreSQL 16's logical replication applies changes (`run_as_owner = false`): the owner's
//!   triggers, defaults, rules and policies never run with more than the owner's privileges, under
//!   `SECURITY_RESTRICTED_OPERATION`, and any setting they change is rolled back.
#![allow(clippy::result_large_err)]

use super::errors::{err, R};
use super::spi::spi_fail;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::spi::{quote_identifier, Spi};
use std::ffi::CString;

/// The search path every statement of the extension runs with.
pub const SEARCH_PATH: &str = "pg_catalog, pg_temp";

/// Pins `search_path` for the rest of this session (the worker, which calls no SQL function with
/// a `SET` clause). An `ALTER DATABASE … SET search_path` or a reload cannot undo it.
pub fn pin_session_search_path() {
    pin_session_setting("search_path", SEARCH_PATH);
}

/// A setting for the rest of this session that no configuration source overrides.
pub fn pin_session_setting(name: &str, value: &str) {
    let name = CString::new(name).expect("no NUL");
    let value = CString::new(value).expect("no NUL");
    unsafe {
        pg_sys::SetConfigOption(
            name.as_ptr(),
            value.as_ptr(),
            pg_sys::GucContext::PGC_SUSET,
            pg_sys::GucSource::PGC_S_OVERRIDE,
        )
    };
}

/// A typed table as it is now: found by its recorded OID, locked for writing.
#[derive(Clone, Debug)]
pub struct Target {
    pub oid: pg_sys::Oid,
    /// `schema.table`, quoted.
    pub qualified: String,
    pub owner: pg_sys::Oid,
}

/// What became of a recorded table.
pub enum Lookup {
    Found(Target),
    /// No relation has that OID any more (dropped).
    Missing,
    /// The OID names something that is not a plain table.
    NotATable(String),
}

/// Looks up a typed table by OID, after taking `RowExclusiveLock` on it (so it cannot be dropped,
/// renamed or moved until the transaction ends, and the catalogs read below are current), and a
/// share lock on its schema's `pg_namespace` row: `ALTER SCHEMA … RENAME` takes no lock a table
/// lock would block, and a schema swapped in under the same name would make the name we render
/// here point at another table. Renaming (or dropping) the schema now waits for this transaction.
pub fn lookup(oid: pg_sys::Oid) -> Lookup {
    if oid == pg_sys::InvalidOid {
        return Lookup::Missing;
    }
    unsafe { pg_sys::LockRelationOid(oid, pg_sys::RowExclusiveLock as pg_sys::LOCKMODE) };
    // `update`: a row lock needs a read-write SPI call.
    let row: Option<(String, String, String, pg_sys::Oid)> = Spi::connect_mut(|c| {
        let t = c.update(
            "SELECT n.nspname::text, c.relname::text, c.relkind::text, c.relowner
               FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE c.oid = $1
                FOR SHARE OF n",
            Some(1),
            &[oid.into()],
        )?;
        if t.is_empty() {
            return Ok::<_, pgrx::spi::SpiError>(None);
        }
        let r = t.first();
        Ok(Some((
            r.get::<String>(1)?.unwrap_or_default(),
            r.get::<String>(2)?.unwrap_or_default(),
            r.get::<String>(3)?.unwrap_or_default(),
            r.get::<pg_sys::Oid>(4)?.unwrap_or(pg_sys::InvalidOid),
        )))
    })
    .unwrap_or_else(|e| spi_fail(e));
    match row {
        None => Lookup::Missing,
        Some((schema, table, kind, owner)) => {
            let qualified = format!("{}.{}", quote_identifier(&schema), quote_identifier(&table));
            if kind != "r" {
                Lookup::NotATable(qualified)
            } else {
                Lookup::Found(Target {
                    oid,
                    qualified,
                    owner,
                })
            }
        }
    }
}

/// [`lookup`], with an error for a table that is gone.
pub fn open_target(oid: pg_sys::Oid, board_id: i64, recorded: &str) -> R<Target> {
    match lookup(oid) {
        Lookup::Found(t) => Ok(t),
        Lookup::Missing => Err(err(
            PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
            format!("the table of monday board {board_id} is missing"),
            format!("{recorded} (the table monday_sync created) was dropped"),
            format!("SELECT monday_sync.track_board({board_id}); creates it again."),
        )),
        Lookup::NotATable(q) => Err(err(
            PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
            format!("the table of monday board {board_id} is no longer a table"),
            format!("{q} is not a plain table"),
            format!("Drop it and run SELECT monday_sync.track_board({board_id});"),
        )),
    }
}

/// Runs `f` with the privileges of `owner` (a typed table's owner), as logical replication's
/// `SwitchToUntrustedUser` does: `SECURITY_RESTRICTED_OPERATION` (no SET ROLE, no temp tables, no
/// session state), and a GUC nest level rolled back afterwards, so nothing the owner's code sets
/// (a `search_path` among them) outlives the statement. Nothing changes when `owner` is already
/// the current user. The user and the settings are restored however `f` ends, an ERROR included
/// (its unwinding drops the guard), so a caller that catches the error goes on as itself.
///
/// Everything written under `as_owner` is the extension's own write (a pull, a refresh, a
/// webhook, a write-back answer): the write-back trigger sees [`sync_writing`] and records nothing.
pub fn as_owner<T>(owner: pg_sys::Oid, f: impl FnOnce() -> T) -> T {
    let _sync = SyncWrite::enter();
    as_role(owner, f)
}

thread_local! {
    /// What the extension's current write into typed tables comes from, for history.
    static SOURCE: std::cell::Cell<&'static str> = const { std::cell::Cell::new("") };
}

/// Names where the extension's writes come from (`pull`, `refresh`, `webhook`, `write-back`) for
/// as long as it lives; the previous name comes back when it is dropped (an ERROR included).
pub struct SourceGuard(&'static str);

impl Drop for SourceGuard {
    fn drop(&mut self) {
        SOURCE.with(|c| c.set(self.0));
    }
}

pub fn sync_source(source: &'static str) -> SourceGuard {
    SourceGuard(SOURCE.with(|c| c.replace(source)))
}

/// Where the change being written comes from: the extension's current source, `sync` when it
/// named none, `local` for a change someone made in PostgreSQL.
pub fn change_source() -> &'static str {
    if !sync_writing() {
        return "local";
    }
    match SOURCE.with(|c| c.get()) {
        "" => "sync",
        s => s,
    }
}

thread_local! {
    /// How deep this backend is in [`as_owner`] calls.
    static SYNC_WRITES: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Marks the extension's own writes for as long as it lives (an ERROR's unwinding included).
struct SyncWrite;

impl SyncWrite {
    fn enter() -> SyncWrite {
        SYNC_WRITES.with(|c| c.set(c.get() + 1));
        SyncWrite
    }
}

impl Drop for SyncWrite {
    fn drop(&mut self) {
        SYNC_WRITES.with(|c| c.set(c.get().saturating_sub(1)));
    }
}

/// True while the extension itself writes into a typed table (see [`as_owner`]): a row changed
/// now is monday's news, not a local change to send back.
pub fn sync_writing() -> bool {
    SYNC_WRITES.with(|c| c.get() > 0)
}

/// Runs `f` as the extension's owner (who owns its tables), from code that runs as another role
/// (the write-back trigger runs as whoever changed the row), under `SECURITY_RESTRICTED_OPERATION`.
pub fn as_extension_owner<T>(f: impl FnOnce() -> T) -> T {
    as_role(extension_owner(), f)
}

/// Runs `f` as `role` under `SECURITY_RESTRICTED_OPERATION`, its settings rolled back afterwards
/// (see [`as_owner`]), but as a change of that role's own, not the extension's: the write-back
/// trigger records what `f` changes (the worker running an upsert for the role that asked).
pub fn as_role<T>(role: pg_sys::Oid, f: impl FnOnce() -> T) -> T {
    let owner = role;
    let mut user = pg_sys::InvalidOid;
    let mut context: i32 = 0;
    unsafe { pg_sys::GetUserIdAndSecContext(&mut user, &mut context) };
    if owner == user || owner == pg_sys::InvalidOid {
        return f();
    }
    struct Restore {
        user: pg_sys::Oid,
        context: i32,
        nest: i32,
    }
    impl Drop for Restore {
        fn drop(&mut self) {
            unsafe {
                pg_sys::AtEOXact_GUC(false, self.nest);
                pg_sys::SetUserIdAndSecContext(self.user, self.context);
            }
        }
    }
    let _restore = Restore {
        user,
        context,
        nest: unsafe { pg_sys::NewGUCNestLevel() },
    };
    unsafe {
        pg_sys::SetUserIdAndSecContext(
            owner,
            context
                | pg_sys::SECURITY_RESTRICTED_OPERATION as i32
                | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32,
        )
    };
    f()
}

/// The role that owns the extension (and its tables), read from `pg_extension`.
pub fn extension_owner() -> pg_sys::Oid {
    let name = std::ffi::CString::new("monday_sync").expect("no NUL");
    let ext = unsafe { pg_sys::get_extension_oid(name.as_ptr(), true) };
    if ext == pg_sys::InvalidOid {
        return pg_sys::InvalidOid;
    }
    Spi::get_one_with_args::<pg_sys::Oid>(
        "SELECT extowner FROM pg_catalog.pg_extension WHERE oid = $1",
        &[ext.into()],
    )
    .ok()
    .flatten()
    .unwrap_or(pg_sys::InvalidOid)
}

/// Locks a schema's `pg_namespace` row (see [`lookup`]) and returns its OID.
pub fn lock_schema(name: &str) -> Option<pg_sys::Oid> {
    Spi::connect_mut(|c| {
        let t = c.update(
            "SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1 FOR SHARE",
            Some(1),
            &[name.into()],
        )?;
        if t.is_empty() {
            return Ok::<_, pgrx::spi::SpiError>(None);
        }
        t.first().get_one::<pg_sys::Oid>()
    })
    .unwrap_or_else(|e| spi_fail(e))
}

/// A refusal to touch a table monday_sync did not create.
pub fn not_ours(qualified: &str, board_id: i64, why: String) -> pgrx::pg_sys::panic::ErrorReport {
    err(
        PgSqlErrorCode::ERRCODE_DUPLICATE_TABLE,
        format!("table {qualified} already exists and is not monday board {board_id}'s"),
        why,
        format!(
            "monday_sync writes only into tables it created. Pass another table: SELECT monday_sync.track_board({board_id}, 'schema.table'); \
             or, if this is the board's own table (restored from a dump, say) and you trust its triggers, adopt it: \
             SELECT monday_sync.track_board({board_id}, '{qualified}', adopt => true);"
        ),
    )
}

/// A relation's schema and name (unquoted), by OID; empty strings when it is gone.
pub fn schema_and_name(oid: pg_sys::Oid) -> (String, String) {
    Spi::connect(|c| {
        let r = c.select(
            "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1",
            Some(1),
            &[oid.into()],
        )?;
        if r.is_empty() {
            return Ok((String::new(), String::new()));
        }
        let r = r.first();
        Ok::<_, pgrx::spi::SpiError>((
            r.get::<String>(1)?.unwrap_or_default(),
            r.get::<String>(2)?.unwrap_or_default(),
        ))
    })
    .unwrap_or_else(|e| super::spi::spi_fail(e))
}

/// A table the extension keeps next to a typed table (`<table>_history`, `_updates`, `_assets`)
/// is created only where no relation has that name yet: someone else's table is never taken for
/// it. `keeps` says what it would hold (DETAIL), `call` the function to call again (HINT).
pub fn side_table_free(qualified: &str, keeps: String, call: &str) -> R<()> {
    let taken: bool = super::spi::one(
        "SELECT pg_catalog.to_regclass($1) IS NOT NULL",
        &[qualified.into()],
    )
    .unwrap_or(false);
    if taken {
        return Err(err(
            PgSqlErrorCode::ERRCODE_DUPLICATE_TABLE,
            format!("relation {qualified} already exists"),
            keeps,
            format!("Rename or drop that table, then call {call} again."),
        ));
    }
    Ok(())
}
