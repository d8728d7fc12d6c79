//! The column codec: monday column JSON → the exact `to_jsonb` text of a native Postgres value.
//!
//! No pgrx here. The SQL glue (`crate::pg`) hands a [`Cell`] over the binary jsonb it received;
//! unit tests hand one over a `serde_json` object. Decoding never panics on any input: every
//! problem is a [`DecodeError`] that the glue turns into SQLSTATE 22P02 (malformed JSON) or
//! 22023 (valid JSON of the wrong shape).

pub mod countries;
pub mod datetime;
pub mod encode;
pub mod item;
pub mod kind;
pub mod numeric;

#[cfg(test)]
mod encode_proptests;
#[cfg(test)]
mod encode_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use compact_str::{CompactString, ToCompactString};
use serde_json::{Map, Value};
use std::fmt::Write as _;

pub use encode::{encode, EncodeError, EncodeErrorCode};
pub use kind::Kind;

use datetime::Date;

/// One element of `Item.column_values` (or a webhook event) as the decoder sees it.
pub trait Cell {
    /// A top-level field that is a JSON string. `None` when absent, null or not a string.
    fn str_field(&self, key: &str) -> Option<&str>;
    /// A top-level field that is present and not JSON null, as an owned JSON value.
    fn json_field(&self, key: &str) -> Option<Value>;
    /// [`json_field`](Self::json_field) borrowed, for a cell parsed borrowed (`None` from the
    /// others, which then take `json_field`).
    fn stored_field(&self, _key: &str) -> Option<&serde_json_borrow::Value<'_>> {
        None
    }
}

impl Cell for Map<String, Value> {
    fn str_field(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_str()
    }
    fn json_field(&self, key: &str) -> Option<Value> {
        self.get(key).filter(|v| !v.is_null()).cloned()
    }
}

/// `o[key]` of an object parsed borrowed; a repeated key gives its last value, as in a
/// `serde_json` map (and in jsonb).
pub fn field<'v, 'a>(
    o: &'v serde_json_borrow::ObjectAsVec<'a>,
    key: &str,
) -> Option<&'v serde_json_borrow::Value<'a>> {
    o.as_vec()
        .iter()
        .rev()
        .find(|(k, _)| &**k == key)
        .map(|(_, v)| v)
}

/// A cell of a page parsed borrowed (`crate::api::client::data_of`): a repeated key gives its
/// last value, as in a `serde_json` map.
impl Cell for serde_json_borrow::ObjectAsVec<'_> {
    fn str_field(&self, key: &str) -> Option<&str> {
        field(self, key)?.as_str()
    }
    fn json_field(&self, key: &str) -> Option<Value> {
        field(self, key).filter(|v| !v.is_null()).map(Value::from)
    }
    fn stored_field(&self, key: &str) -> Option<&serde_json_borrow::Value<'_>> {
        field(self, key).filter(|v| !v.is_null())
    }
}

/// Which SQLSTATE an error maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 22P02 invalid_text_representation: `value` is not valid JSON.
    Malformed,
    /// 22023 invalid_parameter_value: valid JSON of the wrong shape for its column type.
    WrongShape,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub code: ErrorCode,
    pub message: String,
    pub detail: String,
    pub hint: String,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.detail)
    }
}

impl std::error::Error for DecodeError {}

/// At most this many bytes of a bad value are echoed into an error's DETAIL.
pub const DETAIL_BYTES: usize = 100;

/// A prefix of `s` of at most `max` bytes, cut on a character boundary.
pub fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A decoded cell: the text of `to_jsonb(v)`, or SQL NULL.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    Null,
    /// A JSON string (text, date, daterange, time, timestamptz, interval).
    Text(CompactString),
    /// A JSON number in canonical form (numeric, integer, bigint).
    Number(CompactString),
    Bool(bool),
    BigIntArray(Vec<i64>),
    TextArray(Vec<String>),
    /// Valid JSON text, emitted as is (jsonb columns).
    Json(String),
}

impl Decoded {
    pub fn is_null(&self) -> bool {
        matches!(self, Decoded::Null)
    }

    /// Appends the JSON text of this value. `Null` is written as `null` (callers that need SQL
    /// NULL check [`Decoded::is_null`] first).
    pub fn write_json(&self, out: &mut String) {
        match self {
            Decoded::Null => out.push_str("null"),
            Decoded::Text(s) => write_json_string(out, s),
            Decoded::Number(n) => out.push_str(n),
            Decoded::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Decoded::BigIntArray(ids) => {
                out.push('[');
                for (i, id) in ids.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let _ = write!(out, "{id}");
                }
                out.push(']');
            }
            Decoded::TextArray(items) => {
                out.push('[');
                for (i, s) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_json_string(out, s);
                }
                out.push(']');
            }
            Decoded::Json(text) => out.push_str(text),
        }
    }

    pub fn to_json(&self) -> String {
        let mut s = String::new();
        self.write_json(&mut s);
        s
    }
}

/// Writes `s` as a JSON string literal.
pub fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// What the decoder knows about the cell for error messages.
struct Ctx<'a, C: Cell + ?Sized> {
    cell: &'a C,
    type_name: &'a str,
}

impl<C: Cell + ?Sized> Ctx<'_, C> {
    fn detail(&self) -> String {
        let id = self
            .cell
            .str_field("id")
            .or_else(|| self.cell.str_field("columnId"))
            .unwrap_or("?");
        let raw = match self.cell.str_field("value") {
            Some(s) => s.to_string(),
            None => self
                .cell
                .json_field("value")
                .map(|v| v.to_string())
                .unwrap_or_else(|| "null".into()),
        };
        let shown = truncate_bytes(&raw, DETAIL_BYTES);
        let ellipsis = if shown.len() < raw.len() { "…" } else { "" };
        format!(
            "column \"{}\" (type {}), value: {}{}",
            truncate_bytes(id, 64),
            truncate_bytes(self.type_name, 64),
            shown,
            ellipsis
        )
    }

    fn wrong_shape(&self, message: impl Into<String>, hint: impl Into<String>) -> DecodeError {
        DecodeError {
            code: ErrorCode::WrongShape,
            message: message.into(),
            detail: self.detail(),
            hint: hint.into(),
        }
    }
}

/// The column type a cell decodes as: the one given, else the cell's own. A webhook event has
/// both `type` (the event, "update_column_value") and `columnType` (the column's): the latter wins.
/// Empty when neither is there.
pub fn column_type<'a, C: Cell + ?Sized>(type_name: Option<&'a str>, cell: &'a C) -> &'a str {
    type_name
        .or_else(|| cell.str_field("columnType"))
        .or_else(|| cell.str_field("type"))
        .unwrap_or("")
}

/// Decodes one cell. `type_name` is the column type (enum or legacy name); when `None`, the
/// cell's own `type` (API) or `columnType` (webhook) field is used. `settings` is the column's
/// parsed `settings_str`, used to resolve status indexes and dropdown ids to labels.
pub fn decode<C: Cell + ?Sized>(
    type_name: Option<&str>,
    cell: &C,
    settings: Option<&Value>,
) -> Result<Decoded, DecodeError> {
    let type_name = column_type(type_name, cell);
    let ctx = Ctx { cell, type_name };
    if type_name.is_empty() {
        return Err(ctx.wrong_shape(
            "monday column value has no column type",
            "Pass the column type as the first argument, or include \"type\" in the column value.",
        ));
    }
    let kind = Kind::from_name(type_name);
    // Typed fragment fields (and a status's text) answer some kinds without the stored value.
    // The value is then only validated, without building it.
    if let Some(d) = from_typed_fields(kind, &ctx)? {
        validate_value(&ctx)?;
        return Ok(d);
    }
    if let Some(d) = from_string_value(kind, &ctx)? {
        return Ok(d);
    }
    // The stored value, borrowed from the cell; a webhook's real-JSON value is held here.
    let webhook_value;
    let value: Option<Stored<'_>> = match cell.str_field("value") {
        Some(text) => Some(serde_json::from_str(text).map_err(|e| malformed(&ctx, e))?),
        None => {
            webhook_value = cell.json_field("value");
            webhook_value.as_ref().map(Stored::from)
        }
    };
    let value = value.as_ref().filter(|v| !is_generic_empty(v));
    decode_kind(kind, &ctx, value, settings)
}

/// The stored `value`, parsed without copying its strings.
type Stored<'a> = serde_json_borrow::Value<'a>;

/// `v[key]` of a stored value, when present and not null.
fn sget<'v, 'c>(v: Option<&'v Stored<'c>>, key: &str) -> Option<&'v Stored<'c>> {
    v?.as_object()?.get(key).filter(|x| !x.is_null())
}

/// A stored (sub)value as an owned `serde_json::Value`.
fn owned(v: &Stored<'_>) -> Value {
    Value::from(v)
}

/// The kinds whose typed fields (requested through GraphQL fragments) carry the answer:
/// `Some` when they do, `None` to fall back to the stored value.
fn from_typed_fields<C: Cell + ?Sized>(
    kind: Kind,
    ctx: &Ctx<'_, C>,
) -> Result<Option<Decoded>, DecodeError> {
    let cell = ctx.cell;
    let nonempty_str = |k: &str| cell.str_field(k).filter(|s| !s.is_empty());
    Ok(match kind {
        Kind::Name => nonempty_str("name").map(text_out),
        // Status: typed `label`, else `text`; the index (and the webhook's label object) need the value.
        Kind::Status => nonempty_str("label")
            .or_else(|| nonempty_str("text"))
            .map(text_out),
        Kind::DisplayValue => cell
            .str_field("display_value")
            .or_else(|| cell.str_field("text"))
            .map(text_out),
        Kind::Relation => match cell.stored_field("linked_item_ids") {
            Some(list) => Some(ids_from_stored(ctx, list, RELATION_HINT)?),
            None => match cell.json_field("linked_item_ids") {
                Some(list) => Some(ids_from_list(ctx, &list, None, RELATION_HINT)?),
                None => None,
            },
        },
        Kind::Subtasks => match cell.stored_field("subitems_ids") {
            Some(list) => Some(ids_from_stored(ctx, list, SUBTASKS_HINT)?),
            None => match cell.json_field("subitems_ids") {
                Some(list) => Some(ids_from_list(ctx, &list, None, SUBTASKS_HINT)?),
                None => None,
            },
        },
        Kind::Vote => match cell.json_field("vote_count") {
            Some(n) => Some(integer_field(
                ctx,
                Some(n),
                |v| int4(v).map(i64::from),
                "vote_count must be an integer",
                "Request … on VoteValue { vote_count }.",
            )?),
            None => None,
        },
        Kind::CreationLog => match cell.stored_field("created_at") {
            Some(v) => Some(timestamp_str(ctx, Some(v.as_str()), "creation_log")?),
            None => match cell.json_field("created_at") {
                Some(v) => Some(timestamp(ctx, Some(v), "creation_log")?),
                None => None,
            },
        },
        Kind::LastUpdated => match cell.stored_field("updated_at") {
            Some(v) => Some(timestamp_str(ctx, Some(v.as_str()), "last_updated")?),
            None => match cell.json_field("updated_at") {
                Some(v) => Some(timestamp(ctx, Some(v), "last_updated")?),
                None => None,
            },
        },
        Kind::TimeTracking => match cell.json_field("duration") {
            Some(v) => Some(duration(ctx, &v)?),
            None => None,
        },
        _ => None,
    })
}

const RELATION_HINT: &str =
    "Request linked_item_ids (… on BoardRelationValue { linked_item_ids }), or pass the value with \"linkedPulseIds\".";
const SUBTASKS_HINT: &str = "Request subitems_ids (… on SubtasksValue { subitems_ids }).";

fn malformed<C: Cell + ?Sized>(ctx: &Ctx<'_, C>, e: serde_json::Error) -> DecodeError {
    DecodeError {
        code: ErrorCode::Malformed,
        message: format!("malformed JSON in monday column value: {e}"),
        detail: ctx.detail(),
        hint: "monday sends \"value\" as a JSON-encoded string, e.g. \"{\\\"index\\\":1}\"; \
               pass the column value exactly as the API returned it."
            .into(),
    }
}

/// text and numbers store a JSON *string* (`"\"Hello\""`, `"\"12.50\""`): read it borrowed, without
/// building a `Value`. `None` for any other shape (webhook objects, write forms), handled later.
fn from_string_value<C: Cell + ?Sized>(
    kind: Kind,
    ctx: &Ctx<'_, C>,
) -> Result<Option<Decoded>, DecodeError> {
    if !matches!(kind, Kind::Text | Kind::Numbers) {
        return Ok(None);
    }
    let Some(text) = ctx.cell.str_field("value") else {
        return Ok(None);
    };
    if !text.trim_start().starts_with('"') {
        return Ok(None);
    }
    let s: std::borrow::Cow<'_, str> = serde_json::from_str(text).map_err(|e| malformed(ctx, e))?;
    Ok(Some(match kind {
        Kind::Text => text_out(&s),
        _ => number(ctx, &s)?,
    }))
}

/// A numbers cell from its text: empty → NULL, else canonical numeric.
fn number<C: Cell + ?Sized>(ctx: &Ctx<'_, C>, text: &str) -> Result<Decoded, DecodeError> {
    if text.trim().is_empty() {
        return Ok(Decoded::Null);
    }
    match numeric::parse(text) {
        Some(numeric::Numeric::Finite(n)) => Ok(Decoded::Number(n)),
        Some(numeric::Numeric::Special(s)) => Ok(Decoded::Text(s.into())),
        None => Err(ctx.wrong_shape(
            format!(
                "numbers value \"{}\" is not a number",
                truncate_bytes(text, DETAIL_BYTES)
            ),
            "A numbers value is a JSON string holding a number, e.g. \"\\\"12.50\\\"\".",
        )),
    }
}

/// Checks that a JSON-encoded `value` is valid JSON, without building it.
fn validate_value<C: Cell + ?Sized>(ctx: &Ctx<'_, C>) -> Result<(), DecodeError> {
    match ctx.cell.str_field("value") {
        Some(text) => serde_json::from_str::<serde::de::IgnoredAny>(text)
            .map(|_| ())
            .map_err(|e| malformed(ctx, e)),
        None => Ok(()),
    }
}

/// Forms that mean "empty" for every type: null, `""`, `{}`.
fn is_generic_empty(v: &Stored<'_>) -> bool {
    v.is_null()
        || v.as_str().is_some_and(str::is_empty)
        || v.as_object().is_some_and(|o| o.is_empty())
}

/// `v[key]` when present and not null.
fn get<'v>(v: Option<&'v Value>, key: &str) -> Option<&'v Value> {
    v?.get(key).filter(|x| !x.is_null())
}

/// `key` of the stored value, else the typed fragment field `typed` (same meaning, API 2026-07 name).
fn stored_or_typed<C: Cell + ?Sized>(
    value: Option<&Stored<'_>>,
    key: &str,
    cell: &C,
    typed: &str,
) -> Option<Value> {
    sget(value, key)
        .map(owned)
        .or_else(|| cell.json_field(typed))
}

/// A field as [`stored_or_typed`] finds it, borrowed where it can be: `Some(Some(s))` a string,
/// `Some(None)` any other value, `None` absent or null.
fn str_or_typed<'v, C: Cell + ?Sized>(
    value: Option<&'v Stored<'_>>,
    key: &str,
    cell: &'v C,
    typed: &str,
) -> Option<Option<std::borrow::Cow<'v, str>>> {
    use std::borrow::Cow;
    if let Some(v) = sget(value, key).or_else(|| cell.stored_field(typed)) {
        return Some(v.as_str().map(Cow::Borrowed));
    }
    cell.json_field(typed).map(|v| match v {
        Value::String(s) => Some(Cow::Owned(s)),
        _ => None,
    })
}

/// A non-empty string.
fn nonempty(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// An integer from a JSON number or a numeric string (`44865791`, `"44865791"`).
fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// [`as_i64`] of a value parsed borrowed.
fn stored_i64(v: &Stored<'_>) -> Option<i64> {
    match v {
        Stored::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                .map(|f| f as i64)
        }),
        Stored::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// [`ids_from_list`] (no inner key) of a list parsed borrowed.
fn ids_from_stored<C: Cell + ?Sized>(
    ctx: &Ctx<'_, C>,
    list: &Stored<'_>,
    hint: &str,
) -> Result<Decoded, DecodeError> {
    let Stored::Array(entries) = list else {
        return Err(ctx.wrong_shape("expected an array of ids", hint));
    };
    let mut ids = Vec::with_capacity(entries.len());
    for e in entries {
        ids.push(stored_i64(e).ok_or_else(|| ctx.wrong_shape("id is not an integer", hint))?);
    }
    Ok(id_array(ids))
}

fn text_out(s: &str) -> Decoded {
    if s.is_empty() {
        Decoded::Null
    } else {
        Decoded::Text(s.into())
    }
}

fn decode_kind<C: Cell + ?Sized>(
    kind: Kind,
    ctx: &Ctx<'_, C>,
    value: Option<&Stored<'_>>,
    settings: Option<&Value>,
) -> Result<Decoded, DecodeError> {
    let cell = ctx.cell;
    // Arms that inspect a value's whole shape (rare forms: webhooks, write forms, values without
    // typed fields) work on it as an owned serde_json::Value; field lookups use `sget`.
    let whole = || value.map(owned);
    match kind {
        Kind::Name => {
            let s = value
                .and_then(|v| v.as_str())
                .or_else(|| cell.str_field("text"));
            Ok(s.map(text_out).unwrap_or(Decoded::Null))
        }
        Kind::Text => match whole().as_ref() {
            None => Ok(Decoded::Null),
            Some(Value::String(s)) => Ok(text_out(s)),
            // Webhook and write forms: {"value": "…"} / {"text": "…"}; numbers typed into text.
            Some(v @ Value::Object(_)) => {
                match get(Some(v), "value").or_else(|| get(Some(v), "text")) {
                    Some(Value::String(s)) => Ok(text_out(s)),
                    None => Ok(Decoded::Null),
                    Some(other) => Ok(text_out(&scalar_text(other))),
                }
            }
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(text_out(&scalar_text(v))),
            Some(_) => Err(ctx.wrong_shape(
                "text value must be a JSON string",
                "A text column's value is a JSON string such as \"\\\"Hello\\\"\".",
            )),
        },
        Kind::LongText => match value {
            None => Ok(Decoded::Null),
            Some(v) if v.is_string() => Ok(v.as_str().map(text_out).unwrap_or(Decoded::Null)),
            Some(v) if v.is_object() => {
                match sget(value, "text").or_else(|| sget(value, "value")) {
                    Some(t) if t.is_string() => {
                        Ok(t.as_str().map(text_out).unwrap_or(Decoded::Null))
                    }
                    None => Ok(Decoded::Null),
                    Some(_) => Err(ctx.wrong_shape(
                        "long_text \"text\" must be a string",
                        "A long_text value looks like {\"text\":\"…\"}.",
                    )),
                }
            }
            Some(_) => Err(ctx.wrong_shape(
                "long_text value must be an object with \"text\"",
                "A long_text value looks like {\"text\":\"…\"}.",
            )),
        },
        Kind::Numbers => {
            let value = whole();
            let value = value.as_ref();
            let raw = match value {
                Some(Value::Object(_)) => get(value, "value").or_else(|| get(value, "number")),
                other => other,
            };
            match raw {
                None => match cell.json_field("number") {
                    Some(n @ Value::Number(_)) => number(ctx, &n.to_string()),
                    _ => Ok(Decoded::Null),
                },
                Some(Value::String(s)) => number(ctx, s),
                Some(n @ Value::Number(_)) => number(ctx, &n.to_string()),
                Some(_) => Err(ctx.wrong_shape(
                    "numbers value must be a number string",
                    "A numbers value is a JSON string holding a number, e.g. \"\\\"12.50\\\"\".",
                )),
            }
        }
        Kind::Status => decode_status(ctx, whole().as_ref(), settings),
        Kind::Dropdown => decode_dropdown(ctx, whole().as_ref(), settings),
        Kind::Date => {
            let raw = str_or_typed(value, "date", cell, "date");
            match raw {
                None => Ok(Decoded::Null),
                Some(Some(s)) if s.is_empty() => Ok(Decoded::Null),
                Some(Some(s)) => match Date::parse(&s) {
                    Some(d) => Ok(Decoded::Text(d.to_iso())),
                    None => Err(ctx.wrong_shape(
                        format!(
                            "date \"{}\" is not a valid YYYY-MM-DD date",
                            truncate_bytes(&s, 40)
                        ),
                        "A date value looks like {\"date\":\"2026-06-15\"}.",
                    )),
                },
                Some(_) => Err(ctx.wrong_shape(
                    "date \"date\" must be a string",
                    "A date value looks like {\"date\":\"2026-06-15\"}.",
                )),
            }
        }
        Kind::Timeline => {
            let from = str_or_typed(value, "from", cell, "from");
            let to = str_or_typed(value, "to", cell, "to");
            date_range(
                ctx,
                from,
                to,
                "A timeline value looks like {\"from\":\"2019-06-03\",\"to\":\"2019-06-07\"}.",
            )
        }
        Kind::Week => {
            let week = sget(value, "week");
            let start = str_or_typed(week, "startDate", cell, "start_date");
            let end = str_or_typed(week, "endDate", cell, "end_date");
            date_range(ctx, start, end, "A week value looks like {\"week\":{\"startDate\":\"2019-06-10\",\"endDate\":\"2019-06-16\"}}.")
        }
        Kind::Hour => {
            let hour = stored_or_typed(value, "hour", cell, "hour");
            let minute = stored_or_typed(value, "minute", cell, "minute");
            let hint = "An hour value looks like {\"hour\":16,\"minute\":42}.";
            match (hour, minute) {
                (None, None) => Ok(Decoded::Null),
                (h, m) => {
                    let h = match h {
                        Some(h) => as_i64(&h).ok_or_else(|| {
                            ctx.wrong_shape("hour \"hour\" must be an integer", hint)
                        })?,
                        None => {
                            return Err(ctx.wrong_shape("hour value has a minute but no hour", hint))
                        }
                    };
                    let m = match m {
                        Some(m) => as_i64(&m).ok_or_else(|| {
                            ctx.wrong_shape("hour \"minute\" must be an integer", hint)
                        })?,
                        None => 0,
                    };
                    datetime::time_of_day(h, m)
                        .map(Decoded::Text)
                        .ok_or_else(|| {
                            ctx.wrong_shape(format!("hour {h}:{m} is out of range"), hint)
                        })
                }
            }
        }
        Kind::People => {
            let hint = "A people value looks like {\"personsAndTeams\":[{\"id\":44865791,\"kind\":\"person\"}]}.";
            // The stored list read borrowed (the usual case); the typed field owned, as before.
            if let Some(list) = sget(value, "personsAndTeams") {
                let Stored::Array(entries) = list else {
                    return Err(
                        ctx.wrong_shape("people \"personsAndTeams\" must be an array", hint)
                    );
                };
                let mut ids = Vec::with_capacity(entries.len());
                for e in entries {
                    let o = e.as_object();
                    let kind = o
                        .and_then(|o| field(o, "kind"))
                        .and_then(Stored::as_str)
                        .unwrap_or("person");
                    if kind != "person" {
                        continue;
                    }
                    let id = o
                        .and_then(|o| field(o, "id"))
                        .and_then(stored_i64)
                        .ok_or_else(|| {
                            ctx.wrong_shape("people entry has no integer \"id\"", hint)
                        })?;
                    ids.push(id);
                }
                return Ok(id_array(ids));
            }
            let list = stored_or_typed(value, "personsAndTeams", cell, "persons_and_teams");
            let Some(list) = list else {
                return Ok(Decoded::Null);
            };
            let Value::Array(entries) = list else {
                return Err(ctx.wrong_shape("people \"personsAndTeams\" must be an array", hint));
            };
            let mut ids = Vec::with_capacity(entries.len());
            for e in &entries {
                let kind = e.get("kind").and_then(Value::as_str).unwrap_or("person");
                if kind != "person" {
                    continue;
                }
                let id = e
                    .get("id")
                    .and_then(as_i64)
                    .ok_or_else(|| ctx.wrong_shape("people entry has no integer \"id\"", hint))?;
                ids.push(id);
            }
            Ok(id_array(ids))
        }
        // Typed linked_item_ids / subitems_ids were handled by from_typed_fields; these are the
        // stored forms (before API 2025-04, and webhooks).
        Kind::Relation => {
            let value = whole();
            let value = value.as_ref();
            if let Some(list) = get(value, "linkedPulseIds") {
                return ids_from_list(ctx, list, Some("linkedPulseId"), RELATION_HINT);
            }
            if let Some(list) = get(value, "item_ids") {
                return ids_from_list(ctx, list, None, RELATION_HINT);
            }
            Ok(Decoded::Null)
        }
        Kind::Subtasks => match get(whole().as_ref(), "linkedPulseIds") {
            Some(list) => ids_from_list(ctx, list, Some("linkedPulseId"), SUBTASKS_HINT),
            None => Ok(Decoded::Null),
        },
        // mirror and formula carry no stored value: without display_value the cell is empty.
        Kind::DisplayValue => Ok(Decoded::Null),
        Kind::Email => Ok(string_field(value, "email", cell, "email")),
        Kind::Phone => Ok(string_field(value, "phone", cell, "phone")),
        Kind::Link => Ok(string_field(value, "url", cell, "url")),
        Kind::Country => {
            if let Some(code) = sget(value, "countryCode")
                .and_then(|c| c.as_str())
                .filter(|c| !c.is_empty())
            {
                return Ok(Decoded::Text(code.into()));
            }
            let typed = cell.json_field("country");
            Ok(nonempty(get(typed.as_ref(), "code"))
                .map(text_out)
                .unwrap_or(Decoded::Null))
        }
        Kind::WorldClock => Ok(string_field(value, "timezone", cell, "timezone")),
        Kind::ColorPicker => decode_color(ctx, whole().as_ref()),
        Kind::Location => decode_location(ctx, value),
        Kind::Checkbox => {
            let checked = stored_or_typed(value, "checked", cell, "checked");
            match checked {
                None => Ok(Decoded::Bool(
                    value.is_none() && cell.str_field("text") == Some("v"),
                )),
                Some(Value::Bool(b)) => Ok(Decoded::Bool(b)),
                Some(Value::String(s)) if s == "true" || s == "v" => Ok(Decoded::Bool(true)),
                Some(Value::String(s)) if s == "false" || s.is_empty() => Ok(Decoded::Bool(false)),
                Some(_) => Err(ctx.wrong_shape(
                    "checkbox \"checked\" must be true or false",
                    "A checkbox value looks like {\"checked\":true}.",
                )),
            }
        }
        Kind::Rating => integer_field(
            ctx,
            stored_or_typed(value, "rating", cell, "rating"),
            |v| int4(v).map(i64::from),
            "rating \"rating\" must be an integer",
            "A rating value looks like {\"rating\":5}.",
        ),
        Kind::Vote => {
            let voters = stored_or_typed(value, "voter_ids", cell, "voter_ids");
            match voters {
                Some(Value::Array(a)) => Ok(Decoded::Number(a.len().to_compact_string())),
                Some(_) => Err(ctx.wrong_shape(
                    "vote \"voter_ids\" must be an array",
                    "A vote value looks like {\"voter_ids\":[12345]}.",
                )),
                None => Ok(cell
                    .str_field("text")
                    .and_then(|t| t.trim().parse::<i32>().ok())
                    .map(|n| Decoded::Number(n.to_compact_string()))
                    .unwrap_or(Decoded::Null)),
            }
        }
        Kind::Tags => {
            let hint = "A tags value looks like {\"tag_ids\":[295026,295064]}.";
            if let Some(list) = sget(value, "tag_ids").or_else(|| cell.stored_field("tag_ids")) {
                return ids_from_stored(ctx, list, hint);
            }
            match stored_or_typed(value, "tag_ids", cell, "tag_ids") {
                Some(list) => ids_from_list(ctx, &list, None, hint),
                None => Ok(Decoded::Null),
            }
        }
        Kind::CreationLog => timestamp_str(
            ctx,
            sget(value, "created_at").map(|v| v.as_str()),
            "creation_log",
        ),
        Kind::LastUpdated => {
            let raw = sget(value, "updated_at")
                .map(|v| v.as_str())
                .or_else(|| cell.str_field("text").filter(|t| !t.is_empty()).map(Some));
            timestamp_str(ctx, raw, "last_updated")
        }
        Kind::ItemId => integer_field(
            ctx,
            stored_or_typed(value, "item_id", cell, "item_id"),
            as_i64,
            "item_id must be an integer",
            "An item_id value looks like {\"item_id\":\"1711043053\"}.",
        ),
        Kind::TimeTracking => match sget(value, "duration") {
            None => Ok(Decoded::Null),
            Some(v) => duration(ctx, &owned(v)),
        },
        Kind::Json => match value {
            None => Ok(Decoded::Null),
            Some(v) if is_empty_collection_value(v) => Ok(Decoded::Null),
            Some(v) => match ctx.cell.str_field("value") {
                // The value text is already the JSON we were asked for: keep it byte for byte.
                Some(text) => Ok(Decoded::Json(text.to_string())),
                None => Ok(Decoded::Json(owned(v).to_string())),
            },
        },
    }
}

/// `{"files":[]}`, `{"labels":[]}` and other objects whose only payload is an empty list.
fn is_empty_collection_value(v: &Stored<'_>) -> bool {
    if let Some(a) = v.as_array() {
        return a.is_empty();
    }
    let Some(m) = v.as_object() else { return false };
    let mut payload = m.iter().filter(|(k, _)| *k != "changed_at");
    match (payload.next(), payload.next()) {
        (None, _) => true,
        (Some((_, only)), None) => only.as_array().is_some_and(<[_]>::is_empty),
        _ => false,
    }
}

/// The text of a JSON scalar (numbers as written, booleans as true/false).
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `integer` range check, as `::integer` would do.
fn int4(v: &Value) -> Option<i32> {
    as_i64(v).and_then(|n| i32::try_from(n).ok())
}

fn id_array(ids: Vec<i64>) -> Decoded {
    if ids.is_empty() {
        Decoded::Null
    } else {
        Decoded::BigIntArray(ids)
    }
}

/// Ids from `["1","2"]`, `[1,2]`, or `[{"<inner>":1}]`.
fn ids_from_list<C: Cell + ?Sized>(
    ctx: &Ctx<'_, C>,
    list: &Value,
    inner: Option<&str>,
    hint: &str,
) -> Result<Decoded, DecodeError> {
    let Value::Array(entries) = list else {
        return Err(ctx.wrong_shape("expected an array of ids", hint));
    };
    let mut ids = Vec::with_capacity(entries.len());
    for e in entries {
        let v = match inner {
            Some(k) => e.get(k).unwrap_or(&Value::Null),
            None => e,
        };
        ids.push(as_i64(v).ok_or_else(|| ctx.wrong_shape("id is not an integer", hint))?);
    }
    Ok(id_array(ids))
}

/// A string from the value (first matching key, or the value itself when it is a string — the
/// simple write form), else the typed field of the same meaning.
fn string_field<C: Cell + ?Sized>(
    value: Option<&Stored<'_>>,
    key: &str,
    cell: &C,
    typed: &str,
) -> Decoded {
    if let Some(s) = sget(value, key)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
    {
        return Decoded::Text(s.into());
    }
    if let Some(s) = value.and_then(|v| v.as_str()) {
        return text_out(s);
    }
    cell.str_field(typed).map(text_out).unwrap_or(Decoded::Null)
}

fn date_range<C: Cell + ?Sized>(
    ctx: &Ctx<'_, C>,
    from: Option<Option<std::borrow::Cow<'_, str>>>,
    to: Option<Option<std::borrow::Cow<'_, str>>>,
    hint: &str,
) -> Result<Decoded, DecodeError> {
    let parse = |v: Option<Option<std::borrow::Cow<'_, str>>>,
                 what: &str|
     -> Result<Option<Date>, DecodeError> {
        match v {
            None => Ok(None),
            Some(Some(s)) if s.is_empty() => Ok(None),
            Some(Some(s)) => Date::parse(&s).map(Some).ok_or_else(|| {
                ctx.wrong_shape(
                    format!(
                        "{what} date \"{}\" is not a valid YYYY-MM-DD date",
                        truncate_bytes(&s, 40)
                    ),
                    hint,
                )
            }),
            Some(_) => Err(ctx.wrong_shape(format!("{what} date must be a string"), hint)),
        }
    };
    let lower = parse(from, "start")?;
    let upper = parse(to, "end")?;
    if lower.is_none() && upper.is_none() {
        return Ok(Decoded::Null);
    }
    datetime::daterange_inclusive(lower, upper)
        .map(Decoded::Text)
        .ok_or_else(|| ctx.wrong_shape("range starts after it ends", hint))
}

/// An integer cell (`integer` or `bigint`, by `parse`); absent → NULL.
fn integer_field<C: Cell + ?Sized>(
    ctx: &Ctx<'_, C>,
    raw: Option<Value>,
    parse: impl Fn(&Value) -> Option<i64>,
    message: &str,
    hint: &str,
) -> Result<Decoded, DecodeError> {
    match raw {
        None => Ok(Decoded::Null),
        Some(v) => parse(&v)
            .map(|n| Decoded::Number(n.to_compact_string()))
            .ok_or_else(|| ctx.wrong_shape(message, hint)),
    }
}

fn duration<C: Cell + ?Sized>(ctx: &Ctx<'_, C>, v: &Value) -> Result<Decoded, DecodeError> {
    as_i64(v)
        .map(|n| Decoded::Text(datetime::interval_seconds(n)))
        .ok_or_else(|| {
            ctx.wrong_shape(
                "time_tracking duration must be a whole number of seconds",
                "Request … on TimeTrackingValue { duration }.",
            )
        })
}

fn timestamp<C: Cell + ?Sized>(
    ctx: &Ctx<'_, C>,
    raw: Option<Value>,
    what: &str,
) -> Result<Decoded, DecodeError> {
    timestamp_str(ctx, raw.as_ref().map(Value::as_str), what)
}

/// [`timestamp`] of a value seen as [`str_or_typed`] sees it (`Some(None)`: not a string).
fn timestamp_str<C: Cell + ?Sized>(
    ctx: &Ctx<'_, C>,
    raw: Option<Option<&str>>,
    what: &str,
) -> Result<Decoded, DecodeError> {
    match raw {
        None => Ok(Decoded::Null),
        Some(Some("")) => Ok(Decoded::Null),
        Some(Some(s)) => datetime::timestamptz_utc(s)
            .map(Decoded::Text)
            .ok_or_else(|| {
                ctx.wrong_shape(
                    format!(
                        "{what} timestamp \"{}\" is not ISO-8601",
                        truncate_bytes(s, 40)
                    ),
                    "Timestamps look like \"2026-03-21T08:47:10Z\".",
                )
            }),
        Some(_) => Err(ctx.wrong_shape(
            format!("{what} timestamp must be a string"),
            "Timestamps look like \"2026-03-21T08:47:10Z\".",
        )),
    }
}

/// Status label: typed `label`, else `text`, else the index via the column settings.
fn decode_status<C: Cell + ?Sized>(
    ctx: &Ctx<'_, C>,
    value: Option<&Value>,
    settings: Option<&Value>,
) -> Result<Decoded, DecodeError> {
    let cell = ctx.cell;
    // Typed `label` and `text` were tried by from_typed_fields. Webhook dialect: {"label":{"index":0,"text":"Working on it",…}}; write form {"label":"Done"}.
    match get(value, "label") {
        Some(Value::Object(l)) => {
            if let Some(t) = l
                .get("text")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
            {
                return Ok(Decoded::Text(t.into()));
            }
        }
        Some(Value::String(s)) if !s.is_empty() => return Ok(Decoded::Text(s.as_str().into())),
        _ => {}
    }
    let index = get(value, "index")
        .cloned()
        .or_else(|| get(value, "label").and_then(|l| l.get("index")).cloned())
        .or_else(|| cell.json_field("index"));
    let Some(index) = index else {
        return Ok(Decoded::Null);
    };
    let hint =
        "Pass the column's settings_str as column_settings so the index resolves to its label.";
    let Some(index) = as_i64(&index) else {
        return Err(ctx.wrong_shape("status \"index\" must be an integer", hint));
    };
    if let Some(label) = settings_label(settings, index) {
        return Ok(text_out(&label));
    }
    // Index 5 is the default empty (grey) label: with no text it is an empty cell.
    if index == 5 {
        return Ok(Decoded::Null);
    }
    Err(ctx.wrong_shape(
        format!("status index {index} has no label in the column settings"),
        hint,
    ))
}

/// The label of an id in settings `labels`: `{"1":"Done"}` or `[{"id":1,"name":"Done"}]`.
fn settings_label(settings: Option<&Value>, id: i64) -> Option<String> {
    let settings = settings?;
    // settings_str passed as a JSON string rather than parsed.
    if let Value::String(s) = settings {
        let parsed: Value = serde_json::from_str(s).ok()?;
        return settings_label(Some(&parsed), id);
    }
    match settings.get("labels")? {
        Value::Object(m) => m
            .get(&id.to_string())
            .and_then(Value::as_str)
            .map(str::to_string),
        Value::Array(a) => a.iter().find_map(|e| {
            if e.get("id").and_then(as_i64) == Some(id) {
                e.get("name")
                    .or_else(|| e.get("label"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            } else {
                None
            }
        }),
        _ => None,
    }
}

/// Dropdown labels in order: typed `values`, else ids via settings, else `text`.
fn decode_dropdown<C: Cell + ?Sized>(
    ctx: &Ctx<'_, C>,
    value: Option<&Value>,
    settings: Option<&Value>,
) -> Result<Decoded, DecodeError> {
    let cell = ctx.cell;
    let hint = "Pass the column's settings_str as column_settings, or request … on DropdownValue { values { label } }.";
    let labels_of = |list: &Value, key: &str| -> Result<Vec<String>, DecodeError> {
        let Value::Array(a) = list else {
            return Err(ctx.wrong_shape("dropdown options must be an array", hint));
        };
        a.iter()
            .map(|e| match e {
                Value::String(s) => Ok(s.clone()),
                _ => e
                    .get(key)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| ctx.wrong_shape("dropdown option has no label", hint)),
            })
            .collect()
    };
    let labels: Vec<String> = if let Some(list) = cell.json_field("values") {
        labels_of(&list, "label")?
    } else if let Some(list) = get(value, "chosenValues") {
        labels_of(list, "name")?
    } else if let Some(list) = get(value, "labels") {
        labels_of(list, "name")?
    } else if let Some(ids) = get(value, "ids") {
        let Value::Array(ids) = ids else {
            return Err(ctx.wrong_shape("dropdown \"ids\" must be an array", hint));
        };
        let mut out = Vec::with_capacity(ids.len());
        let text_labels: Option<Vec<&str>> = cell
            .str_field("text")
            .filter(|t| !t.is_empty())
            .map(|t| t.split(", ").collect());
        for (i, id) in ids.iter().enumerate() {
            let id =
                as_i64(id).ok_or_else(|| ctx.wrong_shape("dropdown id is not an integer", hint))?;
            match settings_label(settings, id) {
                Some(l) => out.push(l),
                None => match text_labels.as_ref().filter(|t| t.len() == ids.len()) {
                    Some(t) => out.push(t[i].to_string()),
                    None => {
                        return Err(ctx.wrong_shape(
                            format!("dropdown id {id} has no label in the column settings"),
                            hint,
                        ))
                    }
                },
            }
        }
        out
    } else {
        match cell.str_field("text").filter(|t| !t.is_empty()) {
            Some(t) if value.is_some() => t.split(", ").map(str::to_string).collect(),
            _ => Vec::new(),
        }
    };
    Ok(if labels.is_empty() {
        Decoded::Null
    } else {
        Decoded::TextArray(labels)
    })
}

fn decode_color<C: Cell + ?Sized>(
    ctx: &Ctx<'_, C>,
    value: Option<&Value>,
) -> Result<Decoded, DecodeError> {
    let hint = "A color_picker value looks like {\"color\":{\"hex\":\"#FF5733\"}}.";
    match get(value, "color") {
        Some(Value::String(s)) => return Ok(text_out(s)),
        Some(Value::Object(c)) => {
            if let Some(hex) = c
                .get("hex")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
            {
                return Ok(Decoded::Text(hex.into()));
            }
            // Stored as RGB: {"rgb":{"r":255,"g":87,"b":51}} or {"r":…,"g":…,"b":…}.
            let rgb = c.get("rgb").and_then(Value::as_object).unwrap_or(c);
            let ch = |k: &str| {
                rgb.get(k)
                    .and_then(as_i64)
                    .filter(|n| (0..=255).contains(n))
            };
            if let (Some(r), Some(g), Some(b)) = (ch("r"), ch("g"), ch("b")) {
                return Ok(Decoded::Text(compact_str::format_compact!(
                    "#{r:02X}{g:02X}{b:02X}"
                )));
            }
            return Err(ctx.wrong_shape("color_picker color has neither hex nor rgb", hint));
        }
        Some(_) => {
            return Err(ctx.wrong_shape("color_picker color must be an object or string", hint))
        }
        None => {}
    }
    match ctx.cell.json_field("color") {
        Some(Value::String(s)) => Ok(text_out(&s)),
        Some(Value::Object(c)) => Ok(c
            .get("hex")
            .and_then(Value::as_str)
            .map(text_out)
            .unwrap_or(Decoded::Null)),
        _ => Ok(Decoded::Null),
    }
}

/// `{"address","lat","lng"}` with lat/lng as JSON numbers (monday stores them as strings).
fn decode_location<C: Cell + ?Sized>(
    ctx: &Ctx<'_, C>,
    value: Option<&Stored<'_>>,
) -> Result<Decoded, DecodeError> {
    let cell = ctx.cell;
    let hint =
        "A location value looks like {\"lat\":\"29.97\",\"lng\":\"31.13\",\"address\":\"…\"}.";
    let pick = |k: &str| stored_or_typed(value, k, cell, k);
    let coord = |k: &str| -> Result<Option<CompactString>, DecodeError> {
        match pick(k) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(v @ (Value::String(_) | Value::Number(_))) => {
                match numeric::parse(&scalar_text(&v)) {
                    Some(numeric::Numeric::Finite(n)) => Ok(Some(n)),
                    _ => Err(ctx.wrong_shape(format!("location {k} is not a number"), hint)),
                }
            }
            Some(_) => Err(ctx.wrong_shape(format!("location {k} is not a number"), hint)),
        }
    };
    let lat = coord("lat")?;
    let lng = coord("lng")?;
    let address = match pick("address") {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    };
    if lat.is_none() && lng.is_none() && address.is_none() {
        return Ok(Decoded::Null);
    }
    // jsonb orders keys by length, then bytewise: lat, lng, address.
    let mut out = String::with_capacity(64);
    out.push_str("{\"lat\": ");
    out.push_str(lat.as_deref().unwrap_or("null"));
    out.push_str(", \"lng\": ");
    out.push_str(lng.as_deref().unwrap_or("null"));
    out.push_str(", \"address\": ");
    match &address {
        Some(a) => write_json_string(&mut out, a),
        None => out.push_str("null"),
    }
    out.push('}');
    Ok(Decoded::Json(out))
}
