//! SQL surface of the sync engine: `set_token`, `track_board`, `map_column`, `pull_board`,
//! `pull_item`. HTTP runs through `crate::api` (cancellable); tables are written through SPI with
//! every identifier quoted by `quote_identifier`; values always travel as parameters.
#![allow(clippy::result_large_err)] // ErrorReport is the SQL error type.

use super::budget::PgHooks;
use super::jsonb::RegClass;
use super::progress::{Figures, Progress};
use super::security::{as_owner, lock_schema, lookup, not_ours, open_target, Lookup, Target};
use super::settings;
use crate::api::{documents, ApiError, ApiErrorKind, Client};
use crate::codec::Kind;
use crate::sync::names::{
    subitems_table_name, table_name, unique_column_name, with_suffix, FIXED_COLUMNS,
};
use crate::sync::rows::{build_rows, MappedColumn};
use crate::sync::{board_meta, id_of, BoardMeta};
use pgrx::datum::DatumWithOid;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::spi::{quote_identifier, Spi};
use pgrx::PgMemoryContexts;
use serde_json::{json, Value};
use std::time::Instant;

pub(super) type R<T> = Result<T, ErrorReport>;

/// How a sync's database work is split into transactions. A SQL function (`pull_board`,
/// `refresh_board`) runs in its caller's transaction: `Inline`. The background worker commits each
/// step on its own, so a crash loses at most the page being written and HTTP never happens inside
/// a transaction.
pub(super) trait Steps {
    fn step<T>(&mut self, f: impl FnOnce() -> R<T>) -> R<T>;
}

pub(super) struct Inline;

impl Steps for Inline {
    fn step<T>(&mut self, f: impl FnOnce() -> R<T>) -> R<T> {
        f()
    }
}

pub(super) fn err(
    code: PgSqlErrorCode,
    message: impl Into<String>,
    detail: impl Into<String>,
    hint: impl Into<String>,
) -> ErrorReport {
    ErrorReport::new(code, message.into(), "monday_sync")
        .set_detail(detail.into())
        .set_hint(hint.into())
}

// ---------- SPI helpers (Postgres errors raised inside SPI propagate as errors) ----------

pub(super) fn spi_fail(e: pgrx::spi::SpiError) -> ! {
    pgrx::error!("monday_sync: SPI failed: {e}")
}

/// Runs a statement; returns the number of rows it processed.
pub(super) fn exec(sql: &str, args: &[DatumWithOid]) -> u64 {
    Spi::connect_mut(|c| c.update(sql, None, args).map(|t| t.len() as u64))
        .unwrap_or_else(|e| spi_fail(e))
}

/// First column of the first row, or None when there is no row (or it is NULL).
pub(super) fn one<T: FromDatum + IntoDatum>(sql: &str, args: &[DatumWithOid]) -> Option<T> {
    Spi::connect_mut(|c| {
        let t = c.update(sql, Some(1), args)?;
        if t.is_empty() {
            return Ok(None);
        }
        t.first().get_one::<T>()
    })
    .unwrap_or_else(|e| spi_fail(e))
}

pub(super) fn q(ident: &str) -> String {
    quote_identifier(ident)
}

pub(super) fn not_null<T>(v: Option<T>, name: &str) -> R<T> {
    v.ok_or_else(|| {
        err(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            format!("{name} must not be NULL"),
            format!("{name} was NULL"),
            "Pass a value; see \\df+ monday_sync.*",
        )
    })
}

// ---------- the token ----------

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

pub(super) fn token() -> R<String> {
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

/// monday's answer → an SQL error with a SQLSTATE, naming the board when there is one.
pub(super) fn api_err(e: ApiError, what: &str) -> ErrorReport {
    let code = match e.kind {
        ApiErrorKind::TokenRejected => PgSqlErrorCode::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
        ApiErrorKind::Unauthorized => PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        ApiErrorKind::NotFound => PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
        ApiErrorKind::DailyLimit | ApiErrorKind::WaitTooLong => {
            PgSqlErrorCode::ERRCODE_CONFIGURATION_LIMIT_EXCEEDED
        }
        ApiErrorKind::Unavailable => PgSqlErrorCode::ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
        ApiErrorKind::CursorExpired | ApiErrorKind::Api => PgSqlErrorCode::ERRCODE_FDW_ERROR,
    };
    err(code, format!("{what}: {}", e.message), e.detail, e.hint)
}

pub(crate) fn new_client(hooks: &mut PgHooks) -> R<Client<'_>> {
    Ok(Client::new(settings::api_config(token()?), hooks))
}

// ---------- tracked boards ----------

#[derive(Clone, Debug)]
pub(super) struct Tracked {
    pub board_id: i64,
    pub name: String,
    /// Where the table was created (its name then; it is found by `table_oid`).
    pub schema: String,
    pub table: String,
    pub subitems_board_id: Option<i64>,
    /// The table monday_sync created for the board (InvalidOid: none yet).
    pub table_oid: pg_sys::Oid,
}

impl Tracked {
    /// The name the table was created under (for messages, and to create it).
    pub fn recorded(&self) -> String {
        format!("{}.{}", q(&self.schema), q(&self.table))
    }

    /// The board's own table, found by OID and locked: an error when it was dropped.
    pub fn target(&self) -> R<Target> {
        open_target(self.table_oid, self.board_id, &self.recorded())
    }
}

pub(super) fn tracked(board_id: i64) -> Option<Tracked> {
    Spi::connect(|c| {
        let t = c.select(
            "SELECT board_name, target_schema::text, target_table::text, subitems_board_id, table_oid
               FROM monday_sync.boards WHERE board_id = $1",
            None,
            &[board_id.into()],
        )?;
        if t.is_empty() {
            return Ok(None);
        }
        let r = t.first();
        Ok(Some(Tracked {
            board_id,
            name: r.get::<String>(1)?.unwrap_or_default(),
            schema: r.get::<String>(2)?.unwrap_or_default(),
            table: r.get::<String>(3)?.unwrap_or_default(),
            subitems_board_id: r.get::<i64>(4)?,
            table_oid: r.get::<pg_sys::Oid>(5)?.unwrap_or(pg_sys::InvalidOid),
        }))
    })
    .unwrap_or_else(|e| spi_fail(e))
}

pub(super) fn not_tracked(board_id: i64, what: &str) -> ErrorReport {
    err(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("monday board {board_id} is not tracked"),
        what.to_string(),
        format!("SELECT monday_sync.track_board({board_id});"),
    )
}

/// The OID of whatever relation has this name now (not necessarily ours).
/// The schema's row is locked first, so the schema cannot be renamed or swapped before the
/// transaction ends.
fn oid_by_name(schema: &str, table: &str) -> Option<pg_sys::Oid> {
    oid_in(lock_schema(schema)?, table)
}

/// The OID of the relation `table` in the schema with OID `nsp`.
fn oid_in(nsp: pg_sys::Oid, table: &str) -> Option<pg_sys::Oid> {
    one::<pg_sys::Oid>(
        "SELECT c.oid FROM pg_catalog.pg_class c WHERE c.relnamespace = $1 AND c.relname = $2::pg_catalog.name",
        &[nsp.into(), table.into()],
    )
}

fn fetch_meta(client: &mut Client, board_id: i64) -> R<BoardMeta> {
    let data = client
        .query(
            "BoardMeta",
            documents::BOARD_META,
            json!({ "board": board_id.to_string() }),
        )
        .map_err(|e| api_err(e, &format!("monday board {board_id}")))?;
    data.pointer("/boards/0")
        .and_then(board_meta)
        .ok_or_else(|| board_not_found(board_id))
}

pub(super) fn board_not_found(board_id: i64) -> ErrorReport {
    err(
        PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
        format!("monday board {board_id} was not found"),
        format!("boards(ids: [{board_id}]) returned no board: it does not exist, was deleted, or is not shared with the token's user"),
        "Check the id in the board's URL (https://<account>.monday.com/boards/<board id>).",
    )
}

/// Brings the mapping table (and the typed table, when it exists) in line with the board's columns:
/// new columns are added, removed ones are marked removed (their data stays), a column whose type
/// changed on monday is retyped (or, when its values do not convert, replaced by a new SQL column),
/// and a typed column someone dropped is added again. Returns the live mapping; what it did that a
/// DBA should know goes to `notes`.
pub(super) fn reconcile(
    board_id: i64,
    target: Option<&Target>,
    meta: &BoardMeta,
    notes: &mut Vec<String>,
) -> Vec<MappedColumn> {
    notes.extend(meta.warnings.iter().cloned());
    // (column_id, sql_name, column_type, sql_type)
    let existing: Vec<(String, String, String, String)> = Spi::connect(|c| {
        c.select(
            "SELECT column_id, sql_name::text, column_type, sql_type::text FROM monday_sync.columns WHERE board_id = $1",
            None,
            &[board_id.into()],
        )?
        .map(|r| {
            Ok((
                r.get::<String>(1)?.unwrap_or_default(),
                r.get::<String>(2)?.unwrap_or_default(),
                r.get::<String>(3)?.unwrap_or_default(),
                r.get::<String>(4)?.unwrap_or_default(),
            ))
        })
        .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
    })
    .unwrap_or_else(|e| spi_fail(e));
    let mut taken: Vec<String> = existing.iter().map(|(_, n, _, _)| n.clone()).collect();
    for (pos, col) in meta
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.typ != "name")
    {
        let settings = col.settings.to_string();
        if let Some((_, sql_name, old_type, sql_type)) =
            existing.iter().find(|(id, _, _, _)| *id == col.id)
        {
            if *old_type != col.typ {
                let new_sql_type = Kind::from_name(&col.typ).sql_type();
                let same: bool = one(
                    "SELECT $1::pg_catalog.regtype = $2::pg_catalog.regtype",
                    &[sql_type.as_str().into(), new_sql_type.into()],
                )
                .unwrap_or(false);
                if !same {
                    retype(
                        board_id,
                        target,
                        col,
                        old_type,
                        sql_name,
                        new_sql_type,
                        &mut taken,
                        notes,
                    );
                }
            }
            // Unchanged columns are not rewritten: a refresh that finds nothing new writes nothing.
            exec(
                "UPDATE monday_sync.columns SET title = $3, column_type = $4, settings = $5::jsonb,
                        position = $6, removed_at = NULL
                  WHERE board_id = $1 AND column_id = $2
                    AND (title, column_type, settings, position, removed_at)
                        IS DISTINCT FROM ($3, $4, $5::jsonb, $6, NULL)",
                &[
                    board_id.into(),
                    col.id.as_str().into(),
                    col.title.as_str().into(),
                    col.typ.as_str().into(),
                    settings.into(),
                    (pos as i32).into(),
                ],
            );
            continue;
        }
        let sql_name = unique_column_name(&col.title, &col.id, &taken);
        taken.push(sql_name.clone());
        let sql_type = Kind::from_name(&col.typ).sql_type();
        exec(
            "INSERT INTO monday_sync.columns (board_id, column_id, title, column_type, settings, sql_name, sql_type, position)
             VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7::regtype, $8)",
            &[board_id.into(), col.id.as_str().into(), col.title.as_str().into(), col.typ.as_str().into(), settings.into(), sql_name.as_str().into(), sql_type.into(), (pos as i32).into()],
        );
        if let Some(t) = target {
            // The type name comes from Kind::sql_type, a fixed list of built-in types.
            ddl(
                t,
                &format!(
                    "ALTER TABLE {} ADD COLUMN {} {sql_type}",
                    t.qualified,
                    q(&sql_name)
                ),
            );
            comment_column(t, &sql_name, col.id.as_str(), &col.title, &col.typ);
        }
    }
    let live: Vec<&str> = meta.columns.iter().map(|c| c.id.as_str()).collect();
    for (id, _, _, _) in existing
        .iter()
        .filter(|(id, _, _, _)| !live.contains(&id.as_str()))
    {
        exec(
            "UPDATE monday_sync.columns SET removed_at = now() WHERE board_id = $1 AND column_id = $2 AND removed_at IS NULL",
            &[board_id.into(), id.as_str().into()],
        );
    }
    if let Some(t) = target {
        restore_dropped_columns(board_id, t, notes);
    }
    for (pos, g) in meta.groups.iter().enumerate() {
        exec(
            "INSERT INTO monday_sync.groups (board_id, group_id, title, position) VALUES ($1, $2, $3, $4)
             ON CONFLICT (board_id, group_id) DO UPDATE SET title = excluded.title, position = excluded.position, removed_at = NULL
             WHERE (groups.title, groups.position, groups.removed_at) IS DISTINCT FROM (excluded.title, excluded.position, NULL)",
            &[board_id.into(), g.id.as_str().into(), g.title.as_str().into(), if g.position.is_empty() { pos.to_string() } else { g.position.clone() }.into()],
        );
    }
    let live_groups: Vec<String> = meta.groups.iter().map(|g| g.id.clone()).collect();
    exec(
        "UPDATE monday_sync.groups SET removed_at = now() WHERE board_id = $1 AND removed_at IS NULL AND group_id <> ALL ($2)",
        &[board_id.into(), live_groups.into()],
    );
    exec(
        "UPDATE monday_sync.boards SET board_name = $2, items_count = $3
          WHERE board_id = $1 AND (board_name, items_count) IS DISTINCT FROM ($2, $3)",
        &[
            board_id.into(),
            meta.name.as_str().into(),
            meta.items_count.into(),
        ],
    );
    mapping(board_id)
}

/// A column whose type changed on monday (numbers → text, say). The SQL column is retyped when
/// every stored value converts (`USING col::text::new_type`, tried in a subtransaction); otherwise
/// it keeps its data under its name, its mapping row is kept as removed (column id
/// `<id>~<old type>`), and the monday column gets a new SQL column of the new type.
#[allow(clippy::too_many_arguments)]
fn retype(
    board_id: i64,
    target: Option<&Target>,
    col: &crate::sync::ApiColumn,
    old_type: &str,
    sql_name: &str,
    new_sql_type: &str,
    taken: &mut Vec<String>,
    notes: &mut Vec<String>,
) {
    let set_type = |name: &str| {
        exec(
            "UPDATE monday_sync.columns SET sql_name = $3, sql_type = $4::regtype WHERE board_id = $1 AND column_id = $2",
            &[board_id.into(), col.id.as_str().into(), name.into(), new_sql_type.into()],
        );
    };
    let Some(t) = target else {
        set_type(sql_name);
        return;
    };
    let altered = in_subtransaction(|| {
        ddl(
            t,
            &format!(
                "ALTER TABLE {tb} ALTER COLUMN {c} TYPE {new_sql_type} USING {c}::pg_catalog.text::{new_sql_type}",
                tb = t.qualified,
                c = q(sql_name)
            ),
        );
    });
    match altered {
        Ok(()) => {
            set_type(sql_name);
            comment_column(t, sql_name, &col.id, &col.title, &col.typ);
            notes.push(format!(
                "board {board_id}: column \"{}\" changed type on monday ({old_type} → {}): {} retyped to {new_sql_type}",
                col.id, col.typ, q(sql_name)
            ));
        }
        Err(why) => {
            let new_name = unique_column_name(&col.title, &col.id, taken);
            taken.push(new_name.clone());
            let old_id = format!("{}~{old_type}", col.id);
            exec(
                "UPDATE monday_sync.columns SET column_id = $3, removed_at = now()
                  WHERE board_id = $1 AND column_id = $2",
                &[
                    board_id.into(),
                    col.id.as_str().into(),
                    old_id.as_str().into(),
                ],
            );
            exec(
                "INSERT INTO monday_sync.columns (board_id, column_id, title, column_type, settings, sql_name, sql_type, position)
                 SELECT board_id, $2, title, $3, settings, $4, $5::regtype, position
                   FROM monday_sync.columns WHERE board_id = $1 AND column_id = $6",
                &[board_id.into(), col.id.as_str().into(), col.typ.as_str().into(), new_name.as_str().into(), new_sql_type.into(), old_id.as_str().into()],
            );
            ddl(
                t,
                &format!(
                    "ALTER TABLE {} ADD COLUMN {} {new_sql_type}",
                    t.qualified,
                    q(&new_name)
                ),
            );
            comment_column(t, &new_name, &col.id, &col.title, &col.typ);
            notes.push(format!(
                "board {board_id}: column \"{}\" changed type on monday ({old_type} → {}) and its values do not convert ({why}): \
                 new column {} {new_sql_type}; {} keeps the old values and is marked removed",
                col.id, col.typ, q(&new_name), q(sql_name)
            ));
        }
    }
}

/// Mapped columns missing from the table (someone dropped them) are added again.
fn restore_dropped_columns(board_id: i64, t: &Target, notes: &mut Vec<String>) {
    let missing: Vec<(String, String)> = Spi::connect(|c| {
        c.select(
            "SELECT m.sql_name::text, m.sql_type::text FROM monday_sync.columns m
              WHERE m.board_id = $1 AND m.removed_at IS NULL
                AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                                 WHERE a.attrelid = $2 AND a.attname = m.sql_name AND NOT a.attisdropped)
              ORDER BY m.position",
            None,
            &[board_id.into(), t.oid.into()],
        )?
        .map(|r| {
            Ok((
                r.get::<String>(1)?.unwrap_or_default(),
                r.get::<String>(2)?.unwrap_or_default(),
            ))
        })
        .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
    })
    .unwrap_or_else(|e| spi_fail(e));
    for (name, typ) in missing {
        // `typ` is regtype output (format_type): a valid, quoted type name.
        ddl(
            t,
            &format!("ALTER TABLE {} ADD COLUMN {} {typ}", t.qualified, q(&name)),
        );
        notes.push(format!(
            "board {board_id}: column {} was missing from {} and was added again (its values return with the next pull)",
            q(&name),
            t.qualified
        ));
    }
}

/// Runs `f` in a subtransaction: its ERROR is rolled back and returned as its message.
pub(crate) fn in_subtransaction(f: impl FnOnce()) -> Result<(), String> {
    use pgrx::pg_sys::panic::CaughtError;
    let (ctx, owner) = unsafe { (pg_sys::CurrentMemoryContext, pg_sys::CurrentResourceOwner) };
    unsafe { pg_sys::BeginInternalSubTransaction(std::ptr::null()) };
    let r = PgTryBuilder::new(std::panic::AssertUnwindSafe(|| {
        f();
        Ok(())
    }))
    .catch_others(|e| {
        Err(match e {
            CaughtError::PostgresError(r)
            | CaughtError::ErrorReport(r)
            | CaughtError::RustPanic { ereport: r, .. } => r.message().to_string(),
        })
    })
    .execute();
    unsafe {
        match r {
            Ok(()) => pg_sys::ReleaseCurrentSubTransaction(),
            Err(_) => pg_sys::RollbackAndReleaseCurrentSubTransaction(),
        }
        pg_sys::MemoryContextSwitchTo(ctx);
        pg_sys::CurrentResourceOwner = owner;
    }
    r
}

pub(super) fn mapping(board_id: i64) -> Vec<MappedColumn> {
    Spi::connect(|c| {
        c.select(
            "SELECT column_id, sql_name::text, column_type, settings::text, sql_type::text FROM monday_sync.columns
              WHERE board_id = $1 AND removed_at IS NULL ORDER BY position, column_id",
            None,
            &[board_id.into()],
        )?
        .map(|r| {
            let typ = r.get::<String>(3)?.unwrap_or_default();
            let settings = if Kind::from_name(&typ).uses_settings() {
                r.get::<String>(4)?.and_then(|s| serde_json::from_str(&s).ok())
            } else {
                None
            };
            Ok(MappedColumn {
                column_id: r.get::<String>(1)?.unwrap_or_default(),
                sql_name: r.get::<String>(2)?.unwrap_or_default(),
                typ,
                settings,
                sql_type: r.get::<String>(5)?.unwrap_or_default(),
            })
        })
        .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
    })
    .unwrap_or_else(|e| spi_fail(e))
}

fn comment_column(t: &Target, sql_name: &str, column_id: &str, title: &str, typ: &str) {
    let text = format!("monday column \"{title}\" (id {column_id}, type {typ})");
    ddl(
        t,
        &format!(
            "COMMENT ON COLUMN {}.{} IS {}",
            t.qualified,
            q(sql_name),
            literal(&text)
        ),
    );
}

/// DDL on a typed table runs as its owner, like its writes: an expression in it (a USING cast, a
/// default) may call code the owner wrote.
fn ddl(t: &Target, sql: &str) {
    as_owner(t.owner, || exec(sql, &[]));
}

/// A SQL string literal (for the few utility statements that cannot take parameters).
fn literal(s: &str) -> String {
    pgrx::spi::quote_literal(s)
}

/// Creates a board's typed table under its recorded name; returns its OID.
fn create_table(
    tb: &Tracked,
    cols: &[MappedColumn],
    meta: &BoardMeta,
    parent: Option<&Tracked>,
) -> pg_sys::Oid {
    let table = tb.recorded();
    let mut ddl = format!(
        "CREATE TABLE {table} (
            item_id bigint PRIMARY KEY,
            name text,
            group_id text,
            group_title text,
            state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'archived', 'deleted')),
            parent_item_id bigint,
            created_at timestamptz,
            updated_at timestamptz"
    );
    for c in cols {
        ddl.push_str(&format!(",\n            {} {}", q(&c.sql_name), c.sql_type));
    }
    // raw (a few KB per item) is TOASTed: lz4, where the server has it, compresses it several times
    // faster than pglz (pglz_compress was the top entry of a backfill's profile).
    let lz4: bool = one(
        "SELECT 'lz4' = ANY (enumvals) FROM pg_catalog.pg_settings WHERE name = 'default_toast_compression'",
        &[],
    )
    .unwrap_or(false);
    ddl.push_str(if lz4 {
        ",\n            raw jsonb COMPRESSION lz4"
    } else {
        ",\n            raw jsonb"
    });
    ddl.push_str(",\n            synced_at timestamptz NOT NULL DEFAULT now()\n        )");
    // The schema cannot be swapped between creating the table and reading its OID.
    let nsp = lock_schema(&tb.schema);
    exec(&ddl, &[]);
    let oid = nsp
        .and_then(|nsp| oid_in(nsp, &tb.table))
        .unwrap_or_else(|| pgrx::error!("monday_sync: {table} was created but cannot be found"));
    let what = match parent {
        Some(p) => format!(
            "subitems of monday board \"{}\" ({}), board {}; synced by monday_sync",
            p.name, p.board_id, tb.board_id
        ),
        None => format!(
            "monday board \"{}\" ({}); synced by monday_sync",
            tb.name, tb.board_id
        ),
    };
    exec(
        &format!("COMMENT ON TABLE {table} IS {}", literal(&what)),
        &[],
    );
    if parent.is_some() {
        exec(&format!("CREATE INDEX ON {table} (parent_item_id)"), &[]);
    }
    let created = Target {
        oid,
        qualified: table,
        owner: pg_sys::InvalidOid,
    };
    for c in cols {
        if let Some(col) = meta.columns.iter().find(|m| m.id == c.column_id) {
            comment_column(&created, &c.sql_name, &col.id, &col.title, &col.typ);
        }
    }
    oid
}

/// Splits `target` into (schema, table): `parse_ident` rules, unqualified → the caller's current
/// schema (read by the SQL wrapper before the search path is pinned).
fn parse_target(target: &str, caller_schema: Option<&str>) -> R<(String, String)> {
    let parts: Vec<String> = Spi::connect(|c| {
        let t = c.select("SELECT pg_catalog.parse_ident($1)", None, &[target.into()])?;
        Ok::<_, pgrx::spi::SpiError>(t.first().get_one::<Vec<String>>()?.unwrap_or_default())
    })
    .unwrap_or_else(|e| spi_fail(e));
    match parts.as_slice() {
        [table] => Ok((caller_schema.unwrap_or("public").to_string(), table.clone())),
        [schema, table] => Ok((schema.clone(), table.clone())),
        _ => Err(err(
            PgSqlErrorCode::ERRCODE_INVALID_NAME,
            format!("invalid target table name: {target}"),
            "expected table or schema.table",
            "Pass e.g. 'analytics.launch_plan'.",
        )),
    }
}

/// How a board's table is placed: its name, whether that name was chosen by us (and may take a
/// suffix when another board reserves it), and whether an existing table of that name may be
/// adopted.
struct Placement<'a> {
    schema: &'a str,
    table: &'a str,
    default_name: bool,
    adopt: bool,
    /// The board whose track_board this is (the parent, for a subitems board): for hints.
    top: i64,
}

/// Records a board (and creates its table) or refreshes an already tracked one. Only a table
/// monday_sync created (known by OID) is ever used; a table of the same name that is not ours is
/// refused (42P07) unless `adopt` says to take it.
fn track(
    meta: &BoardMeta,
    at: &Placement,
    parent: Option<&Tracked>,
    notes: &mut Vec<String>,
) -> R<Tracked> {
    let mut tb = match tracked(meta.id) {
        Some(mut tb) => {
            exec(
                "UPDATE monday_sync.boards SET board_name = $2, items_count = $3, board_kind = $4 WHERE board_id = $1",
                &[meta.id.into(), meta.name.as_str().into(), meta.items_count.into(), meta.kind.as_str().into()],
            );
            tb.name = meta.name.clone();
            tb
        }
        None => {
            // A name another board reserves (its table may have been dropped) is never shared.
            let mut table = at.table.to_string();
            for k in 2..=100 {
                let other: Option<i64> = one(
                    "SELECT board_id FROM monday_sync.boards WHERE target_schema = $1 AND target_table = $2",
                    &[at.schema.into(), table.as_str().into()],
                );
                let Some(other) = other else { break };
                if !at.default_name || k == 100 {
                    return Err(err(
                        PgSqlErrorCode::ERRCODE_DUPLICATE_TABLE,
                        format!("table {}.{} is reserved by monday board {other}", q(at.schema), q(&table)),
                        format!("monday board {other} is tracked into that table (whether or not it exists now)"),
                        format!("Pass another table: SELECT monday_sync.track_board({}, 'schema.table');", at.top),
                    ));
                }
                table = with_suffix(at.table, k);
            }
            let inserted = exec(
                "INSERT INTO monday_sync.boards (board_id, board_name, board_kind, target_schema, target_table, parent_board_id, items_count)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                &[meta.id.into(), meta.name.as_str().into(), meta.kind.as_str().into(), at.schema.into(), table.as_str().into(), parent.map(|p| p.board_id).into(), meta.items_count.into()],
            );
            if inserted == 0 {
                return Err(err(
                    PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE,
                    format!(
                        "monday board {} was tracked by another transaction at the same time",
                        meta.id
                    ),
                    "a concurrent track_board committed first (or took the table name)",
                    "Run track_board again: it picks up what the other one did.",
                ));
            }
            Tracked {
                board_id: meta.id,
                name: meta.name.clone(),
                schema: at.schema.into(),
                table,
                subitems_board_id: None,
                table_oid: pg_sys::InvalidOid,
            }
        }
    };
    if let Lookup::Found(t) = lookup(tb.table_oid) {
        reconcile(meta.id, Some(&t), meta, notes);
        return Ok(tb);
    }
    // No table of ours: create one under the recorded name, or adopt the one there when asked.
    let oid = match oid_by_name(&tb.schema, &tb.table) {
        Some(oid) => {
            let holder: Option<i64> = one(
                "SELECT board_id FROM monday_sync.boards WHERE table_oid = $1 AND board_id <> $2",
                &[oid.into(), meta.id.into()],
            );
            let owner: String = one(
                "SELECT pg_catalog.pg_get_userbyid(relowner)::text FROM pg_catalog.pg_class WHERE oid = $1",
                &[oid.into()],
            )
            .unwrap_or_default();
            if let Some(b) = holder {
                return Err(not_ours(
                    &tb.recorded(),
                    at.top,
                    format!("it holds monday board {b}"),
                ));
            }
            if !at.adopt {
                let why = if tb.table_oid != pg_sys::InvalidOid {
                    format!("the table monday_sync created for board {} was dropped; this one was created since (owner {owner})", meta.id)
                } else {
                    format!("it was not created by monday_sync (owner {owner})")
                };
                return Err(not_ours(&tb.recorded(), at.top, why));
            }
            check_adoptable(oid, &tb.recorded(), at.top)?;
            let t = open_target(oid, meta.id, &tb.recorded())?;
            reconcile(meta.id, Some(&t), meta, notes);
            notes.push(format!(
                "board {}: adopted the existing table {} (owner {owner})",
                meta.id, t.qualified
            ));
            oid
        }
        None => {
            let cols = reconcile(meta.id, None, meta, notes);
            create_table(&tb, &cols, meta, parent)
        }
    };
    exec(
        "UPDATE monday_sync.boards SET table_oid = $2 WHERE board_id = $1",
        &[meta.id.into(), oid.into()],
    );
    tb.table_oid = oid;
    Ok(tb)
}

/// A table may be adopted when it is a plain table with every fixed column and a unique item_id.
fn check_adoptable(oid: pg_sys::Oid, name: &str, top: i64) -> R<()> {
    let fixed: Vec<String> = FIXED_COLUMNS.iter().map(|c| c.to_string()).collect();
    let ok: bool = one(
        "SELECT c.relkind = 'r'
                AND (SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attname = ANY ($2::text[]) AND NOT a.attisdropped) = pg_catalog.cardinality($2::text[])
                AND EXISTS (SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a
                              ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                             WHERE i.indrelid = c.oid AND i.indisunique AND i.indnatts = 1 AND a.attname = 'item_id')
           FROM pg_catalog.pg_class c WHERE c.oid = $1",
        &[oid.into(), fixed.into()],
    )
    .unwrap_or(false);
    if ok {
        return Ok(());
    }
    Err(err(
        PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
        format!("table {name} cannot be adopted"),
        format!(
            "a synced table is a plain table with a unique item_id and the columns {}",
            FIXED_COLUMNS.join(", ")
        ),
        format!("Pass another table: SELECT monday_sync.track_board({top}, 'schema.table');"),
    ))
}

/// Serializes track_board calls for one board (concurrent ones would race on its rows and table).
fn lock_board(board_id: i64) {
    // Two int4 keys: 'mond' and the board id folded to 32 bits.
    let key = ((board_id as u64) ^ ((board_id as u64) >> 32)) as u32 as i32;
    exec(
        "SELECT pg_catalog.pg_advisory_xact_lock(1836019300, $1)",
        &[key.into()],
    );
}

/// `monday_sync.track_board(board_id, target, adopt)`: reads the board's columns and groups,
/// records them, and creates the typed table (and its subitems table). Idempotent: tracking again
/// refreshes the mapping and recreates a dropped table. The SQL wrapper passes the caller's schema.
#[pg_extern(volatile, parallel_unsafe, name = "_track_board")]
#[search_path(pg_catalog, pg_temp)]
fn track_board_impl(
    board_id: Option<i64>,
    target: Option<&str>,
    adopt: Option<bool>,
    caller_schema: Option<&str>,
) -> R<RegClass> {
    let board_id = not_null(board_id, "board_id")?;
    let adopt = adopt.unwrap_or(false);
    lock_board(board_id);
    let mut hooks = PgHooks { worker: false };
    let mut client = new_client(&mut hooks)?;
    let runid = start_run(board_id, "track_board");
    let meta = fetch_meta(&mut client, board_id)?;
    if meta.kind == "sub_items_board" && tracked(board_id).is_none() {
        return Err(err(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("monday board {board_id} is a subitems board"),
            format!("\"{}\" holds the subitems of another board", meta.name),
            "Track the parent board: its subitems are synced with it, into <table>_subitems.",
        ));
    }
    let (schema, table, default_name) = match (tracked(board_id), target) {
        (Some(tb), None) => (tb.schema, tb.table, false),
        (Some(tb), Some(t)) => {
            let (s, n) = parse_target(t, caller_schema)?;
            if (s.as_str(), n.as_str()) != (tb.schema.as_str(), tb.table.as_str()) {
                return Err(err(
                    PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                    format!("monday board {board_id} is already tracked into {}", tb.recorded()),
                    format!("asked for {}.{}", q(&s), q(&n)),
                    "Rename the table with ALTER TABLE and update monday_sync.boards (target_schema, target_table), or DELETE FROM monday_sync.boards WHERE board_id = … to start over.",
                ));
            }
            (s, n, false)
        }
        (None, Some(t)) => {
            let (s, n) = parse_target(t, caller_schema)?;
            (s, n, false)
        }
        (None, None) => ("public".to_string(), table_name(&meta.name, board_id), true),
    };
    let mut stats = Stats::default();
    let mut notes = Vec::new();
    let at = Placement {
        schema: &schema,
        table: &table,
        default_name,
        adopt,
        top: board_id,
    };
    let mut tb = track(&meta, &at, None, &mut notes)?;
    if let Some(sub) = meta.subitems_board() {
        let sub_meta = fetch_meta(&mut client, sub)?;
        let sub_table = tracked(sub)
            .map(|t| t.table)
            .unwrap_or_else(|| subitems_table_name(&tb.table));
        let sub_at = Placement {
            schema: &tb.schema,
            table: &sub_table,
            ..at
        };
        track(&sub_meta, &sub_at, Some(&tb), &mut notes)?;
        exec(
            "UPDATE monday_sync.boards SET subitems_board_id = $2 WHERE board_id = $1",
            &[board_id.into(), sub.into()],
        );
        tb.subitems_board_id = Some(sub);
    }
    stats.note_all(notes);
    finish_run(runid, &client, &stats, "tracked", None);
    Ok(RegClass(tb.table_oid))
}

extension_sql!(
    r#"
CREATE FUNCTION monday_sync.track_board(board_id bigint, target text DEFAULT NULL, adopt boolean DEFAULT false)
RETURNS regclass LANGUAGE sql VOLATILE
-- No SET clause here: an unqualified target goes to the caller's current schema, so this wrapper
-- reads it (every name schema-qualified) and hands it to the pinned implementation.
AS $$ SELECT monday_sync._track_board(board_id, target, adopt, pg_catalog.current_schema()::pg_catalog.text) $$;
"#,
    name = "track_board",
    requires = [track_board_impl]
);

/// The SQL wrapper gives `map_column` a `regtype` parameter.
#[pg_extern(volatile, parallel_unsafe, name = "_map_column")]
#[search_path(pg_catalog, pg_temp)]
fn map_column_impl(
    board_id: Option<i64>,
    column_id: Option<&str>,
    sql_name: Option<&str>,
    sql_type: Option<&str>,
) -> R<()> {
    let board_id = not_null(board_id, "board_id")?;
    let column_id = not_null(column_id, "column_id")?;
    let sql_name = not_null(sql_name, "sql_name")?;
    let tb = tracked(board_id).ok_or_else(|| {
        not_tracked(
            board_id,
            "map_column renames or retypes the column of a tracked board",
        )
    })?;
    let target = tb.target()?;
    let current: Option<(String, String)> = Spi::connect(|c| {
        let t = c.select(
            "SELECT sql_name::text, sql_type::text FROM monday_sync.columns WHERE board_id = $1 AND column_id = $2",
            Some(1),
            &[board_id.into(), column_id.into()],
        )?;
        if t.is_empty() {
            return Ok::<_, pgrx::spi::SpiError>(None);
        }
        let r = t.first();
        Ok(Some((r.get::<String>(1)?.unwrap_or_default(), r.get::<String>(2)?.unwrap_or_default())))
    })
    .unwrap_or_else(|e| spi_fail(e));
    let Some((old_name, old_type)) = current else {
        return Err(err(
            PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
            format!("monday board {board_id} has no column \"{column_id}\""),
            "map_column takes monday's column id, not its title",
            format!("SELECT column_id, title, sql_name FROM monday_sync.columns WHERE board_id = {board_id};"),
        ));
    };
    let new_name = sql_name.trim();
    if new_name.is_empty() || new_name.len() > 63 || FIXED_COLUMNS.contains(&new_name) {
        return Err(err(
            PgSqlErrorCode::ERRCODE_INVALID_NAME,
            format!("\"{new_name}\" cannot name a synced column"),
            format!(
                "names must be 1 to 63 bytes and not one of: {}",
                FIXED_COLUMNS.join(", ")
            ),
            "Choose another name.",
        ));
    }
    if new_name != old_name {
        let clash: Option<bool> = one(
            "SELECT true FROM monday_sync.columns WHERE board_id = $1 AND sql_name = $2",
            &[board_id.into(), new_name.into()],
        );
        if clash.is_some() {
            return Err(err(
                PgSqlErrorCode::ERRCODE_DUPLICATE_COLUMN,
                format!("column \"{new_name}\" already exists in {}", target.qualified),
                "another monday column is mapped to that name",
                format!("SELECT column_id, sql_name FROM monday_sync.columns WHERE board_id = {board_id};"),
            ));
        }
        ddl(
            &target,
            &format!(
                "ALTER TABLE {} RENAME COLUMN {} TO {}",
                target.qualified,
                q(&old_name),
                q(new_name)
            ),
        );
        exec(
            "UPDATE monday_sync.columns SET sql_name = $3 WHERE board_id = $1 AND column_id = $2",
            &[board_id.into(), column_id.into(), new_name.into()],
        );
    }
    if let Some(ty) = sql_type.filter(|t| *t != old_type) {
        // `ty` is the output of regtype (format_type): a valid, quoted type name.
        ddl(
            &target,
            &format!(
                "ALTER TABLE {t} ALTER COLUMN {c} TYPE {ty} USING {c}::pg_catalog.text::{ty}",
                t = target.qualified,
                c = q(new_name)
            ),
        );
        exec(
            "UPDATE monday_sync.columns SET sql_type = $3::regtype WHERE board_id = $1 AND column_id = $2",
            &[board_id.into(), column_id.into(), ty.into()],
        );
    }
    Ok(())
}

extension_sql!(
    r#"
CREATE FUNCTION monday_sync.map_column(board_id bigint, column_id text, sql_name text, sql_type regtype DEFAULT NULL)
RETURNS void LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT monday_sync._map_column(board_id, column_id, sql_name, sql_type::text) $$;
"#,
    name = "map_column",
    requires = [map_column_impl]
);

// ---------- runs ----------

#[derive(Default, Debug)]
pub(super) struct Stats {
    pub items_seen: i64,
    pub rows_written: i64,
    pub marked_deleted: i64,
    pub warnings: i64,
    pub warning_texts: Vec<String>,
    pub restarts: i64,
    pub items_count: Option<i64>,
}

impl Stats {
    /// The board's walk plus its subitems board's, for the run row.
    /// The figures a summary shows for one board (the subitems board's, in `"subitems"`).
    pub fn summary(&self) -> Value {
        json!({
            "items_seen": self.items_seen,
            "rows_written": self.rows_written,
            "marked_deleted": self.marked_deleted,
            "warnings": self.warnings,
        })
    }

    /// A warning for the run history (the first five are kept word for word).
    pub fn note(&mut self, text: String) {
        self.warnings += 1;
        if self.warning_texts.len() < 5 {
            self.warning_texts.push(text);
        }
    }

    pub fn note_all(&mut self, texts: Vec<String>) {
        for t in texts {
            self.note(t);
        }
    }

    pub fn plus(&self, o: &Stats) -> Stats {
        Stats {
            items_seen: self.items_seen + o.items_seen,
            rows_written: self.rows_written + o.rows_written,
            marked_deleted: self.marked_deleted + o.marked_deleted,
            warnings: self.warnings + o.warnings,
            warning_texts: self
                .warning_texts
                .iter()
                .chain(&o.warning_texts)
                .cloned()
                .collect(),
            restarts: self.restarts + o.restarts,
            items_count: None,
        }
    }
}

fn start_run(board_id: i64, kind: &str) -> i64 {
    start_job_run(board_id, kind, None, None)
}

/// A run row; `jobid` when the worker runs it for a queued job, `mode` for pulls and refreshes.
pub(super) fn start_job_run(
    board_id: i64,
    kind: &str,
    jobid: Option<i64>,
    mode: Option<&str>,
) -> i64 {
    one(
        "INSERT INTO monday_sync.sync_runs (board_id, kind, status, jobid, mode) VALUES ($1, $2, 'running', $3, $4) RETURNING runid",
        &[board_id.into(), kind.into(), jobid.into(), mode.into()],
    )
    .unwrap_or_else(|| pgrx::error!("monday_sync: could not start a run"))
}

/// A run that ended in an error (only the worker can record one: a SQL function's error rolls
/// back its run with everything else).
pub(super) fn fail_run(runid: i64, client: &Client, message: &str) {
    record_calls(runid, client);
    let notes = client.notes();
    let message = if notes.is_empty() {
        message.to_string()
    } else {
        format!("{message}; warnings: {}", notes.join("; "))
    };
    let message = message.as_str();
    exec(
        "UPDATE monday_sync.sync_runs SET status = 'failed', finished_at = clock_timestamp(), message = $2,
                api_calls = $3, complexity_used = $4
          WHERE runid = $1",
        &[
            runid.into(),
            message.into(),
            (client.http_calls() as i32).into(),
            client.complexity_used().into(),
        ],
    );
}

fn record_calls(runid: i64, client: &Client) {
    for (i, c) in client.calls.iter().enumerate() {
        exec(
            "INSERT INTO monday_sync.api_calls (runid, call_no, operation, http_status, attempts, waited_ms, duration_ms,
                    complexity_before, complexity_after, complexity_cost, reset_in_seconds, last_error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                runid.into(),
                (i as i32 + 1).into(),
                c.operation.into(),
                (c.http_status as i32).into(),
                (c.attempts as i32).into(),
                (c.waited.as_millis() as i64).into(),
                (c.elapsed.as_millis() as i64).into(),
                c.complexity.map(|x| x.before).into(),
                c.complexity.map(|x| x.after).into(),
                c.complexity.map(|x| x.query).into(),
                c.complexity.map(|x| x.reset_in_seconds as i32).into(),
                c.last_error.clone().into(),
            ],
        );
    }
}

/// A run that succeeded; `mode` when only the end knows it (a refresh that fell back to full).
pub(super) fn finish_run(
    runid: i64,
    client: &Client,
    stats: &Stats,
    summary: &str,
    mode: Option<&str>,
) {
    record_calls(runid, client);
    // What monday answered that could not be true (clamped waits and resets) is a warning too.
    let mut texts = stats.warning_texts.clone();
    let notes = client.notes();
    let warnings = stats.warnings + notes.len() as i64;
    texts.extend(notes.into_iter().take(5));
    let mut message = summary.to_string();
    if !texts.is_empty() {
        message.push_str("; warnings: ");
        message.push_str(&texts.join("; "));
        if warnings as usize > texts.len() {
            message.push_str(&format!("; … {} more", warnings as usize - texts.len()));
        }
    }
    exec(
        "UPDATE monday_sync.sync_runs SET status = 'succeeded', finished_at = clock_timestamp(),
                items_seen = $2, rows_written = $3, api_calls = $4, complexity_used = $5, warnings = $6, message = $7,
                mode = coalesce($8, mode)
          WHERE runid = $1",
        &[runid.into(), stats.items_seen.into(), stats.rows_written.into(), (client.http_calls() as i32).into(), client.complexity_used().into(), (warnings as i32).into(), message.into(), mode.into()],
    );
}

// ---------- writing rows ----------

/// The upsert for one table: rows come as one JSON array; unchanged rows are not written.
fn upsert_sql(table: &str, cols: &[MappedColumn]) -> String {
    // The item's own fields: every fixed column but `raw` and `synced_at`, which come last.
    let fixed = &FIXED_COLUMNS[..FIXED_COLUMNS.len() - 2];
    let mut all: Vec<String> = fixed.iter().map(|c| q(c)).collect();
    all.extend(cols.iter().map(|c| q(&c.sql_name)));
    all.push(q("raw"));
    let rest = &all[1..];
    let list = all.join(", ");
    let set_cols = rest.join(", ");
    let set_vals: Vec<String> = rest.iter().map(|c| format!("excluded.{c}")).collect();
    // Typed columns compare as text: a column retyped with map_column may lack an equality operator.
    let cmp = |prefix: &str| -> String {
        rest.iter()
            .enumerate()
            .map(|(i, c)| {
                if i >= fixed.len() - 1 && c != "raw" {
                    format!("{prefix}.{c}::text")
                } else {
                    format!("{prefix}.{c}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    // Explicit casts apply type modifiers (numeric(12,2), varchar(n)) that the record type alone does not.
    let mut select: Vec<String> = fixed.iter().map(|c| q(c)).collect();
    select.extend(cols.iter().map(|c| {
        if c.sql_type.is_empty() {
            q(&c.sql_name)
        } else {
            format!("CAST({} AS {})", q(&c.sql_name), c.sql_type)
        }
    }));
    select.push(q("raw"));
    format!(
        "INSERT INTO {t} AS t ({list}, synced_at)
         SELECT {select}, now() FROM json_populate_recordset(NULL::{t}, $1::json)
         ON CONFLICT (item_id) DO UPDATE SET ({set_cols}, synced_at) = ROW({vals}, now())
         WHERE ({old}) IS DISTINCT FROM ({new})",
        t = table,
        vals = set_vals.join(", "),
        select = select.join(", "),
        old = cmp("t"),
        new = cmp("excluded"),
    )
}

pub(super) struct Writer {
    board_id: i64,
    oid: pg_sys::Oid,
    recorded: String,
    /// The upsert, and the table name it was built for (the table is found by OID on every page:
    /// a rename between pages rebuilds it).
    sql: String,
    built_for: String,
    cols: Vec<MappedColumn>,
    /// Everything Postgres allocates for one page (the rows' text, SPI) lives here and is freed
    /// after the page: the backend's memory stays flat however many pages a walk has.
    page_memory: PgMemoryContexts,
}

impl Writer {
    pub fn new(tb: &Tracked, cols: Vec<MappedColumn>) -> Writer {
        // A child of TopMemoryContext: the worker commits between pages, which frees every
        // transaction context.
        let page_memory = unsafe {
            PgMemoryContexts::TopMemoryContext
                .switch_to(|_| PgMemoryContexts::new("monday_sync page"))
        };
        Writer {
            board_id: tb.board_id,
            oid: tb.table_oid,
            recorded: tb.recorded(),
            sql: String::new(),
            built_for: String::new(),
            cols,
            page_memory,
        }
    }

    /// Writes one page into the board's own table (by OID), with its owner's rights; the ids go to
    /// the walk's seen-set when `seen`.
    pub fn write(&mut self, items: &[Value], stats: &mut Stats, seen: bool) -> R<Vec<i64>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let target = open_target(self.oid, self.board_id, &self.recorded)?;
        if target.qualified != self.built_for {
            self.sql = upsert_sql(&target.qualified, &self.cols);
            self.built_for = target.qualified.clone();
        }
        let (sql, cols) = (&self.sql, &self.cols);
        // SAFETY: nothing allocated in the page context outlives this call (results are Rust values).
        let ids = unsafe {
            self.page_memory
                .switch_to(|_| Self::write_page(sql, cols, &target, items, stats, seen))
        };
        unsafe { self.page_memory.reset() };
        Ok(ids)
    }

    fn write_page(
        sql: &str,
        cols: &[MappedColumn],
        target: &Target,
        items: &[Value],
        stats: &mut Stats,
        seen: bool,
    ) -> Vec<i64> {
        let page = build_rows(items, cols);
        stats.rows_written += as_owner(target.owner, || exec(sql, &[page.json.into()])) as i64;
        // The page kept the first of its warnings word for word and counted the rest.
        stats.warnings += (page.warning_count - page.warnings.len()) as i64;
        stats.note_all(page.warnings);
        if seen {
            exec(
                "INSERT INTO pg_temp.monday_sync_seen SELECT pg_catalog.unnest($1::bigint[]) ON CONFLICT DO NOTHING",
                &[page.ids.clone().into()],
            );
        }
        page.ids
    }
}

pub(super) fn items_of(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A full walk of one board: every page, restarts on an expired cursor, then the reconciliation of
/// rows the walk did not see (archived, deleted, moved). Database work happens in `steps`; HTTP
/// happens between them.
pub(super) fn walk<S: Steps>(
    client: &mut Client,
    tb: &Tracked,
    stats: &mut Stats,
    progress: &Option<Progress>,
    base: &Figures,
    steps: &mut S,
) -> R<()> {
    steps.step(|| {
        let target = tb.target()?;
        // The walk's seen-set lives in a temp table, not in memory: memory stays flat at any board
        // size. It outlives the worker's per-page transactions and is dropped after the walk. The
        // table's owner reads it in the final anti-join (which runs with the owner's rights).
        exec(
            "CREATE TEMP TABLE IF NOT EXISTS monday_sync_seen (item_id bigint PRIMARY KEY)",
            &[],
        );
        exec("TRUNCATE pg_temp.monday_sync_seen", &[]);
        let owner: Option<String> = one(
            "SELECT pg_catalog.pg_get_userbyid($1)::text",
            &[target.owner.into()],
        );
        if let Some(owner) = owner {
            exec(
                &format!("GRANT SELECT ON pg_temp.monday_sync_seen TO {}", q(&owner)),
                &[],
            );
        }
        Ok(())
    })?;
    let what = format!("monday board {}", tb.board_id);
    let mut writer: Option<Writer> = None;
    let mut walked: i64 = 0;
    let report = |client: &Client, stats: &Stats, walked: i64, phase: u8| {
        if let Some(p) = progress {
            p.update(&Figures {
                phase,
                board_id: tb.board_id,
                items_seen: base.items_seen + walked,
                items_count: base.items_count + stats.items_count.unwrap_or(0),
                rows_written: base.rows_written + stats.rows_written,
                api_calls: client.http_calls() as i64,
                complexity: client.complexity_used(),
            });
        }
    };
    'walk: loop {
        let data = client
            .query(
                "BoardPage",
                documents::BOARD_PAGE,
                json!({ "board": tb.board_id.to_string(), "limit": documents::PAGE_LIMIT }),
            )
            .map_err(|e| api_err(e, &what))?;
        let board = data
            .pointer("/boards/0")
            .ok_or_else(|| board_not_found(tb.board_id))?;
        let meta = board_meta(board).ok_or_else(|| board_not_found(tb.board_id))?;
        stats.items_count = meta.items_count;
        // Pipelined: the next page is requested before this one is written, so monday's latency
        // overlaps with our writing.
        let next = |client: &mut Client, cursor: Option<&str>| {
            cursor.map(|c| {
                client.begin(
                    "NextPage",
                    documents::NEXT_PAGE,
                    json!({ "cursor": c, "limit": documents::PAGE_LIMIT }),
                )
            })
        };
        let mut pending = next(
            client,
            board.pointer("/items_page/cursor").and_then(Value::as_str),
        );
        let first = items_of(board.pointer("/items_page/items"));
        walked += steps.step(|| {
            let w = match writer.as_mut() {
                Some(w) => w,
                None => {
                    let target = tb.target()?;
                    let mut notes = Vec::new();
                    let cols = reconcile(tb.board_id, Some(&target), &meta, &mut notes);
                    stats.note_all(notes);
                    writer.insert(Writer::new(tb, cols))
                }
            };
            Ok(w.write(first, stats, true)?.len() as i64)
        })?;
        report(client, stats, walked, 1);
        while let Some(p) = pending.take() {
            match client.finish(p) {
                Ok(d) => {
                    pending = next(
                        client,
                        d.pointer("/next_items_page/cursor").and_then(Value::as_str),
                    );
                    let w = writer.as_mut().expect("the first page made a writer");
                    walked += steps.step(|| {
                        Ok(
                            w.write(items_of(d.pointer("/next_items_page/items")), stats, true)?
                                .len() as i64,
                        )
                    })?;
                    report(client, stats, walked, 1);
                }
                Err(e) if e.kind == ApiErrorKind::CursorExpired && stats.restarts < 3 => {
                    // Rows already written stay; the new walk skips nothing and rewrites nothing unchanged.
                    stats.restarts += 1;
                    continue 'walk;
                }
                Err(e) => return Err(api_err(e, &what)),
            }
        }
        break;
    }
    let mut w = writer.expect("the walk made a writer");

    // Rows that were active but did not come back in a complete walk: ask monday what became of them.
    let missing: Vec<i64> = steps.step(|| {
        stats.items_seen +=
            one::<i64>("SELECT count(*) FROM pg_temp.monday_sync_seen", &[]).unwrap_or(0);
        // As the table's owner (planning alone can run code the owner wrote: index and statistics
        // expressions), who was granted SELECT on the seen-set; ONLY: no child tables.
        let target = tb.target()?;
        Ok(as_owner(target.owner, || Spi::connect(|c| {
            c.select(
                &format!(
                    "SELECT item_id FROM ONLY {} t WHERE state = 'active'
                       AND NOT EXISTS (SELECT 1 FROM pg_temp.monday_sync_seen s WHERE s.item_id = t.item_id)
                     ORDER BY item_id",
                    target.qualified
                ),
                None,
                &[],
            )?
            .map(|r| Ok(r.get::<i64>(1)?.unwrap_or_default()))
            .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
        })
        .unwrap_or_else(|e| spi_fail(e))))
    })?;
    report(client, stats, stats.items_seen, 2);
    for chunk in missing.chunks(documents::IDS_PER_CALL) {
        let d = items_by_ids(client, chunk).map_err(|e| api_err(e, &what))?;
        steps.step(|| {
            let returned: Vec<Value> = items_of(d.get("items"))
                .iter()
                .filter(|it| it.pointer("/board/id").and_then(id_of) == Some(tb.board_id))
                .cloned()
                .collect();
            let written = w.write(&returned, stats, false)?;
            let gone: Vec<i64> = chunk
                .iter()
                .copied()
                .filter(|i| !written.contains(i))
                .collect();
            stats.marked_deleted += mark_deleted(tb, &gone)?;
            Ok(())
        })?;
    }
    steps.step(|| {
        exec("DROP TABLE IF EXISTS pg_temp.monday_sync_seen", &[]);
        Ok(())
    })?;
    if let Some(n) = stats.items_count {
        if n != stats.items_seen {
            stats.warnings += 1;
            stats.warning_texts.push(format!(
                "board {}: the walk saw {} items but monday's items_count is {n} (items changed during the pull?)",
                tb.board_id, stats.items_seen
            ));
        }
    }
    Ok(())
}

/// `items(ids:)` for at most 100 ids, with the explicit `limit` (its default is 25).
pub(super) fn items_by_ids(client: &mut Client, ids: &[i64]) -> Result<Value, ApiError> {
    let strs: Vec<String> = ids.iter().map(i64::to_string).collect();
    client.query(
        "ItemsByIds",
        documents::ITEMS_BY_IDS,
        json!({ "ids": strs, "limit": ids.len() }),
    )
}

/// Marks rows deleted (kept, never dropped), as the table's owner; returns how many changed.
pub(super) fn mark_deleted(tb: &Tracked, ids: &[i64]) -> R<i64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let t = tb.target()?;
    let sql = format!(
        "UPDATE ONLY {} SET state = 'deleted', synced_at = pg_catalog.now() WHERE item_id = ANY ($1) AND state <> 'deleted'",
        t.qualified
    );
    Ok(as_owner(t.owner, || exec(&sql, &[ids.to_vec().into()])) as i64)
}

/// A full pull of a board and its subitems board: both walks, then the watermark for incremental
/// refreshes (the walk's start: changes logged since then are replayed by the next refresh).
pub(super) fn pull_core<S: Steps>(
    client: &mut Client,
    tb: &Tracked,
    progress: &Option<Progress>,
    steps: &mut S,
) -> R<(Stats, Option<Stats>)> {
    let started: pgrx::datum::TimestampWithTimeZone =
        steps.step(|| Ok(one("SELECT clock_timestamp()", &[]).expect("clock_timestamp")))?;
    let mut stats = Stats::default();
    walk(client, tb, &mut stats, progress, &Figures::default(), steps)?;
    let mut sub_stats = None;
    if let Some(sub) = steps.step(|| Ok(tb.subitems_board_id.and_then(tracked)))? {
        let mut s = Stats::default();
        let base = Figures {
            items_seen: stats.items_seen,
            items_count: stats.items_count.unwrap_or(0),
            rows_written: stats.rows_written,
            ..Default::default()
        };
        walk(client, &sub, &mut s, progress, &base, steps)?;
        sub_stats = Some(s);
    }
    steps.step(|| {
        exec(
            "UPDATE monday_sync.boards SET last_pulled_at = now(), last_full_at = now(), activity_watermark = $2
              WHERE board_id = ANY ($1)",
            &[
                vec![Some(tb.board_id), tb.subitems_board_id]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<i64>>()
                    .into(),
                started.into(),
            ],
        );
        Ok(())
    })?;
    Ok((stats, sub_stats))
}

pub(super) fn pull_text(total: &Stats) -> String {
    format!(
        "{} items seen, {} rows written, {} marked deleted{}",
        total.items_seen,
        total.rows_written,
        total.marked_deleted,
        if total.restarts > 0 {
            format!(", {} cursor restarts", total.restarts)
        } else {
            String::new()
        }
    )
}

pub(super) fn summary(
    runid: i64,
    board_id: i64,
    stats: &Stats,
    sub: Option<&Stats>,
    client: &Client,
    started: Instant,
) -> Value {
    let mut v = json!({
        "runid": runid,
        "board_id": board_id,
        "items_seen": stats.items_seen,
        "rows_written": stats.rows_written,
        "marked_deleted": stats.marked_deleted,
        "api_calls": client.http_calls(),
        "complexity_used": client.complexity_used(),
        "duration_ms": started.elapsed().as_millis() as i64,
        "warnings": stats.warnings,
        "cursor_restarts": stats.restarts,
    });
    if let Some(s) = sub {
        v["subitems"] = s.summary();
    }
    v
}

/// `monday_sync.pull_board(board_id)`: a full backfill / reconcile of a tracked board and its
/// subitems. Returns a summary; the run is recorded in `monday_sync.sync_runs`.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn pull_board(board_id: i64) -> R<pgrx::JsonB> {
    let tb = tracked(board_id).ok_or_else(|| {
        not_tracked(
            board_id,
            "pull_board fills the table that track_board creates",
        )
    })?;
    let mut hooks = PgHooks { worker: false };
    let mut client = new_client(&mut hooks)?;
    let started = Instant::now();
    let runid = start_job_run(board_id, "pull_board", None, Some("full"));
    let progress = Progress::start(runid, board_id, 1);
    let (stats, sub_stats) = pull_core(&mut client, &tb, &progress, &mut Inline)?;
    let total = stats.plus(sub_stats.as_ref().unwrap_or(&Stats::default()));
    finish_run(runid, &client, &total, &pull_text(&total), None);
    if total.warnings > 0 {
        pgrx::notice!(
            "monday_sync: {} warning(s) during the pull of board {board_id}; see monday_sync.sync_runs (runid {runid})",
            total.warnings
        );
    }
    Ok(pgrx::JsonB(summary(
        runid,
        board_id,
        &stats,
        sub_stats.as_ref(),
        &client,
        started,
    )))
}

/// One row of a typed table as jsonb, without `raw`. As the table's owner: `to_jsonb` may call a
/// cast the owner defined for a column's type.
fn row_json(t: &Target, item_id: i64) -> Option<pgrx::JsonB> {
    as_owner(t.owner, || {
        one(
            &format!(
                "SELECT pg_catalog.to_jsonb(t) OPERATOR(pg_catalog.-) 'raw' FROM ONLY {} t WHERE item_id = $1",
                t.qualified
            ),
            &[item_id.into()],
        )
    })
}

/// `monday_sync.pull_item(item_id)`: fetches one item (or subitem), upserts it, returns its row.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn pull_item(item_id: i64) -> R<pgrx::JsonB> {
    let mut hooks = PgHooks { worker: false };
    let mut client = new_client(&mut hooks)?;
    let what = format!("monday item {item_id}");
    let d = client
        .query(
            "ItemsByIds",
            documents::ITEMS_BY_IDS,
            json!({ "ids": [item_id.to_string()], "limit": 1 }),
        )
        .map_err(|e| api_err(e, &what))?;
    let items = items_of(d.get("items")).to_vec();
    let Some(item) = items.first() else {
        // Gone from monday: keep the row, mark it deleted.
        let boards: Vec<i64> = Spi::connect(|c| {
            c.select(
                "SELECT board_id FROM monday_sync.boards ORDER BY board_id",
                None,
                &[],
            )?
            .map(|r| Ok(r.get::<i64>(1)?.unwrap_or_default()))
            .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
        })
        .unwrap_or_else(|e| spi_fail(e));
        for b in boards {
            let Some(tb) = tracked(b) else { continue };
            let Lookup::Found(t) = lookup(tb.table_oid) else {
                continue;
            };
            as_owner(t.owner, || {
                exec(
                    &format!("UPDATE ONLY {} SET state = 'deleted', synced_at = pg_catalog.now() WHERE item_id = $1 AND state <> 'deleted'", t.qualified),
                    &[item_id.into()],
                )
            });
            let row = row_json(&t, item_id);
            if let Some(row) = row {
                let runid = start_run(b, "pull_item");
                let stats = Stats {
                    items_seen: 0,
                    rows_written: 1,
                    marked_deleted: 1,
                    ..Default::default()
                };
                finish_run(
                    runid,
                    &client,
                    &stats,
                    &format!("item {item_id} no longer exists on monday: marked deleted"),
                    None,
                );
                let mut v = row.0;
                v["state"] = json!("deleted");
                return Ok(pgrx::JsonB(v));
            }
        }
        return Err(err(
            PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            format!("monday item {item_id} was not found"),
            format!("items(ids: [{item_id}]) returned nothing and no tracked table holds it"),
            "Check the item id (the number after /pulses/ in the item's URL).",
        ));
    };
    let board_id = item.pointer("/board/id").and_then(id_of).unwrap_or(0);
    let tb = tracked(board_id).ok_or_else(|| {
        not_tracked(
            board_id,
            &format!("item {item_id} belongs to monday board {board_id}"),
        )
    })?;
    let target = tb.target()?;
    let runid = start_run(board_id, "pull_item");
    let mut cols = mapping(board_id);
    let mut stats = Stats {
        items_seen: 1,
        ..Default::default()
    };
    if !build_rows(&items, &cols).unmapped.is_empty() {
        // A column was added on monday since the last pull: map it first.
        let meta = fetch_meta(&mut client, board_id)?;
        let mut notes = Vec::new();
        cols = reconcile(board_id, Some(&target), &meta, &mut notes);
        stats.note_all(notes);
    }
    Writer::new(&tb, cols).write(&items, &mut stats, false)?;
    let text = format!(
        "item {item_id}: {} row{} written",
        stats.rows_written,
        if stats.rows_written == 1 { "" } else { "s" }
    );
    finish_run(runid, &client, &stats, &text, None);
    row_json(&target, item_id).ok_or_else(|| {
        pgrx::error!("monday_sync: item {item_id} was written but cannot be read back")
    })
}
