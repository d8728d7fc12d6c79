//! The column mapping (`monday_sync.columns`): a board's live mapped columns (`mapping`), and
//! `monday_sync.map_column`, which renames or retypes the SQL column a monday column lands in.
#![allow(clippy::result_large_err)] // ErrorReport is the SQL error type.

use super::errors::{err, not_null, R};
use super::spi::{exec, one, q, spi_fail};
use super::track::{ddl, not_tracked, tracked};
use crate::codec::Kind;
use crate::sync::names::FIXED_COLUMNS;
use crate::sync::rows::MappedColumn;
use pgrx::prelude::*;
use pgrx::spi::Spi;

pub(crate) fn mapping(board_id: i64) -> Vec<MappedColumn> {
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
