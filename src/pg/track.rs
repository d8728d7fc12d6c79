//! Tracking: `monday_sync.track_board` records a board, its columns and groups, and creates its
//! typed table (and its subitems table); `reconcile` keeps the mapping and the table in line with
//! the board's columns on monday (added, removed, retyped and dropped columns). A typed table is
//! known by the OID recorded when monday_sync created it, and DDL on it runs as its owner. Tables
//! are written through SPI with every identifier quoted by `quote_identifier`; values always travel
//! as parameters.
#![allow(clippy::result_large_err)] // ErrorReport is the SQL error type.

use super::budget::PgHooks;
use super::client::new_client;
use super::errors::{api_err, err, not_null, R};
use super::jsonb::RegClass;
use super::mapping::mapping;
use super::runs::{finish_run, start_run, Stats};
use super::security::{as_owner, lock_schema, lookup, not_ours, open_target, Lookup, Target};
use super::spi::{exec, in_subtransaction, one, q, spi_fail};
use crate::api::{documents, Client};
use crate::codec::Kind;
use crate::sync::names::{
    subitems_table_name, table_name, unique_column_name, with_suffix, FIXED_COLUMNS,
};
use crate::sync::rows::MappedColumn;
use crate::sync::{board_meta, BoardMeta};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::spi::Spi;
use serde_json::json;

#[derive(Clone, Debug)]
pub(crate) struct Tracked {
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

pub(crate) fn tracked(board_id: i64) -> Option<Tracked> {
    Spi::connect(|c| {
        let t = c.select(
            "SELECT board_name, target_schema::text, target_table::text, subitems_board_id, table_oid::pg_catalog.oid
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

/// A tracked board that is not a subitems board: a subitems board's `feature` ("write-back",
/// "history", …) follows its parent's, and the error's HINT is `call` on the parent.
pub(crate) fn top_board(board_id: i64, what: &str, feature: &str, call: &str) -> R<Tracked> {
    let tb = tracked(board_id).ok_or_else(|| not_tracked(board_id, what))?;
    let parent: Option<i64> = one(
        "SELECT parent_board_id FROM monday_sync.boards WHERE board_id = $1",
        &[board_id.into()],
    );
    if let Some(p) = parent {
        return Err(err(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("monday board {board_id} is a subitems board"),
            format!("its {feature} follows its parent board {p}"),
            format!("SELECT monday_sync.{call}({p});"),
        ));
    }
    Ok(tb)
}

pub(crate) fn not_tracked(board_id: i64, what: &str) -> ErrorReport {
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

pub(crate) fn fetch_meta(client: &mut Client, board_id: i64) -> R<BoardMeta> {
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
pub(crate) fn reconcile(
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
        let sql_type = Kind::from_name(&col.typ).sql_type();
        // An adopted table may already have the column (a table monday_sync created earlier whose
        // mapping was forgotten by untrack_board, or restored without it): taken as it is.
        let present = target.and_then(|t| column_in_table(t, col, sql_type, &taken));
        let sql_name = match &present {
            Some(name) => name.clone(),
            None => {
                let in_table = target.map(table_columns).unwrap_or_default();
                let avoid: Vec<String> = taken.iter().chain(in_table.iter()).cloned().collect();
                unique_column_name(&col.title, &col.id, &avoid)
            }
        };
        taken.push(sql_name.clone());
        exec(
            "INSERT INTO monday_sync.columns (board_id, column_id, title, column_type, settings, sql_name, sql_type, position)
             VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7::regtype, $8)",
            &[board_id.into(), col.id.as_str().into(), col.title.as_str().into(), col.typ.as_str().into(), settings.into(), sql_name.as_str().into(), sql_type.into(), (pos as i32).into()],
        );
        if present.is_some() {
            continue;
        }
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

/// The column of an existing (adopted) table that holds a monday column: the one whose comment
/// names the column id (as `comment_column` writes it; a rename by map_column keeps it), else the
/// one with the name the mapping would choose; only when its type is the codec's and no other
/// monday column maps to it.
fn column_in_table(
    t: &Target,
    col: &crate::sync::ApiColumn,
    sql_type: &str,
    taken: &[String],
) -> Option<String> {
    let by_comment = format!("(id {}, type ", col.id);
    let by_name = unique_column_name(&col.title, &col.id, taken);
    let found: Option<String> = one(
        "SELECT a.attname::pg_catalog.text FROM pg_catalog.pg_attribute a
          WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
            AND a.atttypid = $2::pg_catalog.regtype AND a.attname <> ALL ($5::pg_catalog.text[])
            AND (pg_catalog.strpos(pg_catalog.col_description(a.attrelid, a.attnum), $3) > 0 OR a.attname = $4)
          ORDER BY a.attname = $4, a.attnum LIMIT 1",
        &[
            t.oid.into(),
            sql_type.into(),
            by_comment.into(),
            by_name.into(),
            taken.to_vec().into(),
        ],
    );
    found
}

/// The names of a table's columns.
fn table_columns(t: &Target) -> Vec<String> {
    one::<Vec<String>>(
        "SELECT pg_catalog.array_agg(a.attname::pg_catalog.text) FROM pg_catalog.pg_attribute a
          WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped",
        &[t.oid.into()],
    )
    .unwrap_or_default()
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
pub(super) fn ddl(t: &Target, sql: &str) {
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
    let mut hooks = PgHooks { worker: false };
    let mut client = new_client(&mut hooks)?;
    track_with(&mut client, board_id, target, adopt, caller_schema, None)
}

/// `track_board` with a client: `target` as the user gave it (resolved against `caller_schema`),
/// or, without one, the board's default table name in `default_schema` (`public` when None).
pub(crate) fn track_with(
    client: &mut Client,
    board_id: i64,
    target: Option<&str>,
    adopt: bool,
    caller_schema: Option<&str>,
    default_schema: Option<&str>,
) -> R<RegClass> {
    lock_board(board_id);
    // With monday_sync.databases = '*', the first board of a database starts its workers.
    super::worker::wake_on_commit();
    let runid = start_run(board_id, "track_board");
    let meta = fetch_meta(client, board_id)?;
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
        (None, None) => (
            default_schema.unwrap_or("public").to_string(),
            table_name(&meta.name, board_id),
            true,
        ),
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
        let sub_meta = fetch_meta(client, sub)?;
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
    finish_run(runid, client, &stats, "tracked", None);
    Ok(RegClass(tb.table_oid))
}

extension_sql!(
    r#"
CREATE FUNCTION monday_sync.track_board(board_id bigint, target text DEFAULT NULL, adopt boolean DEFAULT false, history boolean DEFAULT false)
RETURNS regclass LANGUAGE sql VOLATILE
-- No SET clause here: an unqualified target goes to the caller's current schema, so this wrapper
-- reads it (every name schema-qualified) and hands it to the pinned implementation; with
-- history, enable_history follows once the table exists.
AS $$ SELECT s.t FROM (SELECT monday_sync._track_board(board_id, target, adopt, pg_catalog.current_schema()::pg_catalog.text) AS t) s
      CROSS JOIN LATERAL (SELECT CASE WHEN history AND s.t IS NOT NULL THEN monday_sync.enable_history(board_id) END AS h) e $$;
"#,
    name = "track_board",
    requires = [track_board_impl, "history_objects"]
);
