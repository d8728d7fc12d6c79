//! SQL surface of the column codec: `decode`, `decode_item`, `encode`, `column_sql_type`.
#![allow(clippy::result_large_err)] // pgrx's ErrorReport is the SQL error type; it is returned once per call.

use super::errors::report;
use super::jsonb::{JsonbArg, JsonbOut, NulInText, RegType};
use crate::codec::{self, item, DecodeError, ErrorCode, Kind};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

/// `monday_sync.decode(column_type, column_value, column_settings)`: one monday column value →
/// `to_jsonb` of its native Postgres value, or NULL when the cell is empty.
#[pg_extern(immutable, parallel_safe)]
fn decode(
    column_type: Option<&str>,
    column_value: Option<JsonbArg>,
    column_settings: default!(Option<JsonbArg>, "NULL"),
) -> Result<Option<JsonbOut>, ErrorReport> {
    let Some(cell) = column_value else {
        return Ok(None);
    };
    if !cell.is_object() {
        return Err(report(not_an_object(&cell)));
    }
    // Settings are only read for status and dropdown: don't convert them for every other row.
    let settings = column_settings
        .filter(|_| Kind::from_name(codec::column_type(column_type, &cell)).uses_settings())
        .map(|s| s.to_value());
    match codec::decode(column_type, &cell, settings.as_ref()) {
        Ok(d) if d.is_null() => Ok(None),
        Ok(d) => JsonbOut::from_decoded(&d)
            .map(Some)
            .map_err(|NulInText| nul_in_text(&cell)),
        Err(e) => Err(report(e)),
    }
}

fn nul_in_text(cell: &JsonbArg) -> ErrorReport {
    use crate::codec::Cell;
    ErrorReport::new(
        PgSqlErrorCode::ERRCODE_UNTRANSLATABLE_CHARACTER,
        "decoded monday value contains \\u0000, which PostgreSQL text cannot store",
        "monday_sync",
    )
    .set_detail(format!(
        "column \"{}\"",
        codec::truncate_bytes(cell.str_field("id").unwrap_or("?"), 64)
    ))
    .set_hint("Remove the NUL character from the value on monday, or read the raw value with ->>.")
}

fn not_an_object(cell: &JsonbArg) -> DecodeError {
    let text = cell.to_text();
    DecodeError {
        code: ErrorCode::WrongShape,
        message: "monday column value must be a JSON object".into(),
        detail: format!("got: {}", codec::truncate_bytes(&text, codec::DETAIL_BYTES)),
        hint: "Pass one element of Item.column_values, e.g. {\"id\":\"status\",\"type\":\"status\",\"text\":\"Done\",\"value\":\"{\\\"index\\\":1}\"}.".into(),
    }
}

/// `monday_sync.decode_item(item, columns)`: a whole item → `{column_id: decoded value, …}`.
#[pg_extern(immutable, parallel_safe)]
fn decode_item(
    item: Option<JsonbArg>,
    columns: default!(Option<JsonbArg>, "NULL"),
) -> Result<Option<JsonbOut>, ErrorReport> {
    let Some(item) = item else { return Ok(None) };
    let columns = match columns {
        Some(c) => Some(item::Columns::from_json(&c.to_value()).map_err(report)?),
        None => None,
    };
    let text = item::decode_item(&item.to_value(), columns.as_ref()).map_err(report)?;
    Ok(Some(JsonbOut::from_json_text(&text)))
}

/// `monday_sync.encode(column_type, value, column_settings)`: a typed value (`to_jsonb` of the
/// column's SQL type, as `decode` returns it) → the JSON monday accepts for the column in
/// `column_values`. SQL NULL (or JSON null) clears the column. Not STRICT: NULL has an answer.
/// STABLE, not IMMUTABLE: a daterange's text depends on the session's DateStyle.
#[pg_extern(stable, parallel_safe)]
#[search_path(pg_catalog, pg_temp)] // it runs SQL (the daterange cast)
fn encode(
    column_type: Option<&str>,
    value: Option<JsonbArg>,
    column_settings: default!(Option<JsonbArg>, "NULL"),
) -> Result<pgrx::JsonB, ErrorReport> {
    let column_type = super::errors::not_null(column_type, "column_type")?;
    // Numbers that are not integers as their exact text: 12.50 keeps its scale.
    let mut value = value
        .map(|v| v.to_value_exact())
        .unwrap_or(serde_json::Value::Null);
    // to_jsonb of a daterange is its text in the session's DateStyle ("[06-03-2019,06-08-2019)"
    // under Postgres, MDY): read it as Postgres reads it, and hand the encoder ISO dates.
    if let (serde_json::Value::String(text), Kind::Timeline | Kind::Week) =
        (&value, Kind::from_name(column_type))
    {
        if let Some(iso) = daterange_iso(text) {
            value = serde_json::Value::String(iso);
        }
    }
    let settings = column_settings.map(|s| s.to_value());
    codec::encode::encode(column_type, &value, settings.as_ref())
        .map(pgrx::JsonB)
        .map_err(|e| {
            ErrorReport::new(encode_sqlstate(e.code), e.message, "monday_sync")
                .set_detail(e.detail)
                .set_hint(e.hint)
        })
}

/// A daterange literal in any DateStyle → its canonical form with ISO dates (`[a,b)`, `empty`,
/// an open bound left empty). Text that is no daterange raises PostgreSQL's own 22P02 (malformed
/// range literal), as a cast would.
pub(crate) fn daterange_iso(text: &str) -> Option<String> {
    super::spi::one::<String>(
        "SELECT CASE WHEN pg_catalog.isempty(r) THEN 'empty'
                ELSE pg_catalog.concat(CASE WHEN pg_catalog.lower_inc(r) THEN '[' ELSE '(' END,
                       pg_catalog.to_char(pg_catalog.lower(r), 'YYYY-MM-DD'), ',',
                       pg_catalog.to_char(pg_catalog.upper(r), 'YYYY-MM-DD'),
                       CASE WHEN pg_catalog.upper_inc(r) THEN ']' ELSE ')' END) END
           FROM (SELECT $1::pg_catalog.daterange AS r) s",
        &[text.into()],
    )
}

pub(crate) fn encode_sqlstate(c: codec::encode::EncodeErrorCode) -> PgSqlErrorCode {
    use codec::encode::EncodeErrorCode as E;
    use PgSqlErrorCode as P;
    match c {
        E::InvalidValue => P::ERRCODE_INVALID_PARAMETER_VALUE,
        E::InvalidText => P::ERRCODE_INVALID_TEXT_REPRESENTATION,
        E::DatetimeFormat => P::ERRCODE_INVALID_DATETIME_FORMAT,
        E::DatetimeOverflow => P::ERRCODE_DATETIME_FIELD_OVERFLOW,
        E::OutOfRange => P::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
        E::TooLong => P::ERRCODE_STRING_DATA_RIGHT_TRUNCATION,
        E::NullNotAllowed => P::ERRCODE_NULL_VALUE_NOT_ALLOWED,
        E::ReadOnly => P::ERRCODE_FEATURE_NOT_SUPPORTED,
        E::UnknownType => P::ERRCODE_UNDEFINED_OBJECT,
    }
}

/// `monday_sync.column_sql_type(column_type)`: the Postgres type `decode` converts to.
#[pg_extern(immutable, parallel_safe, strict)]
fn column_sql_type(column_type: &str) -> RegType {
    use pg_sys::BuiltinOid as B;
    let oid = match Kind::from_name(column_type).sql_type() {
        "text" => B::TEXTOID,
        "numeric" => B::NUMERICOID,
        "text[]" => B::TEXTARRAYOID,
        "date" => B::DATEOID,
        "daterange" => B::DATERANGEOID,
        "time" => B::TIMEOID,
        "bigint[]" => B::INT8ARRAYOID,
        "boolean" => B::BOOLOID,
        "integer" => B::INT4OID,
        "timestamptz" => B::TIMESTAMPTZOID,
        "bigint" => B::INT8OID,
        "interval" => B::INTERVALOID,
        _ => B::JSONBOID,
    };
    RegType(oid.value())
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    // `#[pg_test]`s of the SQL glue: argument handling, NULLs, errors, the binary jsonb reader.
    use pgrx::prelude::*;

    fn q(sql: &str) -> Option<String> {
        Spi::get_one::<String>(sql).expect("query runs")
    }

    #[pg_test]
    fn decodes_through_sql_with_typed_fields() {
        assert_eq!(
            q(
                r#"SELECT monday_sync.decode('status', '{"id":"status","text":"Done","value":"{\"index\":1,\"post_id\":null}"}')::text"#
            ),
            Some(r#""Done""#.into())
        );
        assert_eq!(
            q(
                r#"SELECT monday_sync.decode(NULL, '{"id":"n","type":"numbers","text":"-12.50","value":"\"-12.50\""}')::text"#
            ),
            Some("-12.50".into())
        );
        assert_eq!(
            q(
                r#"SELECT monday_sync.decode('board_relation', '{"id":"r","value":null,"linked_item_ids":["18265984789","3"]}')::text"#
            ),
            Some("[18265984789, 3]".into())
        );
    }

    #[pg_test]
    fn result_equals_to_jsonb_of_the_sql_type() {
        let same = Spi::get_one::<bool>(
            r#"SELECT monday_sync.decode('timeline', '{"id":"t","value":"{\"to\":\"2019-06-07\",\"from\":\"2019-06-03\"}"}')
                      = to_jsonb('[2019-06-03,2019-06-07]'::daterange)"#,
        );
        assert_eq!(same, Ok(Some(true)));
    }

    #[pg_test]
    fn empty_cells_are_sql_null() {
        for v in [r#"{"id":"x","value":null}"#, r#"{"id":"x","value":"\"\""}"#] {
            let got =
                Spi::get_one::<bool>(&format!("SELECT monday_sync.decode('text', '{v}') IS NULL"));
            assert_eq!(got, Ok(Some(true)), "{v}");
        }
        assert_eq!(
            Spi::get_one::<bool>("SELECT monday_sync.decode('text', NULL) IS NULL"),
            Ok(Some(true))
        );
    }

    #[pg_test]
    fn settings_resolve_status_index() {
        assert_eq!(
            q(
                r#"SELECT monday_sync.decode('status', '{"id":"s","text":null,"value":"{\"index\":2}"}',
                                            '{"labels":{"0":"Working on it","1":"Done","2":"Stuck"}}')::text"#
            ),
            Some(r#""Stuck""#.into())
        );
    }

    #[pg_test]
    fn column_sql_type_is_regtype() {
        assert_eq!(
            q("SELECT monday_sync.column_sql_type('people')::text"),
            Some("bigint[]".into())
        );
        assert_eq!(
            q("SELECT monday_sync.column_sql_type('color')::text"),
            Some("text".into())
        );
        assert_eq!(
            q("SELECT monday_sync.column_sql_type('brand_new_type')::text"),
            Some("jsonb".into())
        );
    }

    #[pg_test(
        error = "malformed JSON in monday column value: EOF while parsing an object at line 1 column 8"
    )]
    fn malformed_value_is_an_error() {
        let _ = Spi::get_one::<pgrx::JsonB>(
            r#"SELECT monday_sync.decode('status', '{"id":"s","value":"{\"index\""}')"#,
        );
    }

    #[pg_test]
    fn decode_item_keys_by_column_id() {
        let got = q(r#"SELECT monday_sync.decode_item(
            '{"id":"1","name":"Launch","column_values":[
                {"id":"status","type":"status","text":null,"value":"{\"index\":1}"},
                {"id":"numbers","type":"numbers","text":"5","value":"\"5\""}]}',
            '[{"id":"status","type":"status","settings_str":"{\"labels\":{\"1\":\"Done\"}}"},
              {"id":"numbers","type":"numbers","settings_str":"{}"}]')::text"#);
        assert_eq!(
            got,
            Some(r#"{"name": "Launch", "status": "Done", "numbers": 5}"#.into())
        );
    }
}
