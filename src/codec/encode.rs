//! Encoding: a typed value → the JSON monday accepts for its column in `column_values`
//! (`change_multiple_column_values`, `create_item`, `create_subitem`; FACTS.md §2.2). The
//! inverse of [`decode`](super::decode): for every writable type, `decode(encode(v)) == v` for
//! the values monday can hold (see "What does not round-trip" below).
//!
//! No pgrx here, and no panics on any input: every problem is an [`EncodeError`].
//!
//! # Contract, for the SQL function
//!
//! ```sql
//! monday_sync.encode(column_type text, value jsonb, column_settings jsonb DEFAULT NULL)
//!     RETURNS jsonb  -- IMMUTABLE PARALLEL SAFE, *not* STRICT
//! ```
//!
//! is [`encode`]`(column_type, value, column_settings)` with these conversions:
//!
//! * **`column_type`**: a `ColumnType` enum name or a legacy/webhook spelling (`color`,
//!   `multiple-person`, …), read as [`Kind::from_name`] reads it. SQL NULL is an error (22004,
//!   as `pg::errors::not_null` reports it): without a type there is no answer.
//! * **`value`**: `to_jsonb(v)` where `v` has the column's SQL type
//!   (`monday_sync.column_sql_type(column_type)`), i.e. exactly what `monday_sync.decode` returns.
//!   **SQL NULL must be passed as JSON `null`**: NULL means "clear the column" and has an answer,
//!   so the function must not be declared STRICT.
//!   *Numbers*: `serde_json` holds a non-integer JSON number as an `f64`, which drops a
//!   `numeric`'s display scale (`12.50` → `12.5`) and digits past the 17th. The glue should hand
//!   a jsonb numeric that is not an integer over as `Value::String(<numeric_out text>)` (at any
//!   depth), integers as JSON numbers: every place [`encode`] reads a number takes both, and
//!   integers stay numbers so a status index is never mistaken for a label.
//! * **`column_settings`**: the column's `settings_str` (parsed, or the raw JSON string), read for
//!   status and dropdown (`labels`), rating (`limit`, the scale). Keys monday does not put there,
//!   which the caller adds when it knows better:
//!   - `"create_labels_if_missing": true` — a status/dropdown label missing from `labels` is sent
//!     by name for monday to create, instead of being an error. The mutation must then be called
//!     with `create_labels_if_missing: true` as well.
//!   - `"first_day_of_the_week": "sunday"` — the account's first weekday (`Account.
//!     first_day_of_the_week`), which a week must start on. Default `"monday"`.
//!   - `"countryShortName": "US"` — the country of phone numbers given without one.
//! * **Returns** the JSON to put under the column's id in `column_values`. Never SQL NULL: a clear
//!   is JSON `null` for every type FACTS lists it for, `{"tag_ids":[]}` for tags.
//! * **Errors**: [`EncodeError`] → `ErrorReport` with [`EncodeErrorCode::sqlstate`], `message`,
//!   `detail`, `hint`:
//!
//! | code | SQLSTATE | when |
//! |---|---|---|
//! | `InvalidValue` | 22023 invalid_parameter_value | wrong JSON shape for the type; a value monday refuses (unknown label, week not Monday–Sunday, bad e-mail, …); bad `column_settings` |
//! | `InvalidText` | 22P02 invalid_text_representation | a number or id in text that is not one; `column_settings` text that is not JSON |
//! | `DatetimeFormat` | 22007 invalid_datetime_format | a date, daterange or time that does not parse |
//! | `DatetimeOverflow` | 22008 datetime_field_overflow | `infinity`, or dates outside years 1–9999 |
//! | `OutOfRange` | 22003 numeric_value_out_of_range | latitude/longitude/rating out of range, infinite numbers |
//! | `TooLong` | 22001 string_data_right_truncation | item name over 255 characters, long text over 2,000 |
//! | `NullNotAllowed` | 22004 null_value_not_allowed | clearing the name; NULL inside an array |
//! | `ReadOnly` | 0A000 feature_not_supported | a type monday computes or the API cannot write |
//! | `UnknownType` | 42704 undefined_object | a column type monday has not told us about |
//!
//! # Encodings (v → JSON monday accepts)
//!
//! | type | v (`to_jsonb`) | sent |
//! |---|---|---|
//! | name | `"Launch"` | `"Launch"` (1–255 characters; cannot be cleared) |
//! | text | `"Hello"` | `"Hello"` |
//! | long_text | `"…"` | `{"text":"…"}` (≤ 2,000 characters) |
//! | numbers | `-12.50` | `"-12.50"` (canonical numeric text) |
//! | status | `"Done"` | `{"index":1}` when the settings know the label, else `{"label":"Done"}` |
//! | dropdown | `["Cookie","Cupcake"]` | `{"ids":[1,3]}` when the settings know every label, else `{"labels":[…]}` |
//! | date | `"2026-06-15"` | `{"date":"2026-06-15"}` |
//! | timeline | `"[2019-06-03,2019-06-08)"` | `{"from":"2019-06-03","to":"2019-06-07"}` |
//! | week | `"[2019-06-10,2019-06-17)"` | `{"week":{"startDate":"2019-06-10","endDate":"2019-06-16"}}` |
//! | hour | `"16:42:00"` | `{"hour":16,"minute":42}` |
//! | people | `[44865791]` | `{"personsAndTeams":[{"id":44865791,"kind":"person"}]}` |
//! | board_relation, dependency | `[18265984789]` | `{"item_ids":["18265984789"]}` |
//! | email | `"a@b.com"` | `{"email":"a@b.com","text":"a@b.com"}` |
//! | phone | `"+12025550169"` | `{"phone":"+12025550169","countryShortName":"US"}` |
//! | link | `"https://monday.com"` | `{"url":"https://monday.com","text":"https://monday.com"}` |
//! | location | `{"lat":29.97,"lng":31.13,"address":"Giza"}` | `{"lat":"29.97","lng":"31.13","address":"Giza"}` |
//! | checkbox | `true` / `false` | `{"checked":"true"}` / `null` |
//! | rating | `5` | `{"rating":5}` |
//! | tags | `[295026]` | `{"tag_ids":[295026]}` |
//! | country | `"US"` | `{"countryCode":"US","countryName":"United States"}` |
//! | world_clock | `"Europe/London"` | `{"timezone":"Europe/London"}` |
//! | team (deprecated) | `{"team_id":51166}` | `{"team_id":51166}` |
//!
//! Read-only (`ReadOnly`): mirror, formula, subtasks, vote, color_picker, creation_log,
//! last_updated, item_id, time_tracking, file, doc, direct_doc, button, auto_number, progress,
//! group, integration, item_assignees, unsupported. [`writable`] tells them apart without a value.
//!
//! Writing replaces the whole cell with what `v` holds, and `v` holds what `decode` keeps: a
//! people cell loses its teams (decode keeps persons only), an email or link cell's display text
//! becomes the address or URL, a phone keeps no other country than the one sent. `create_item`
//! takes the name as `item_name`; in `column_values` it is for `change_multiple_column_values`.
//!
//! # What does not round-trip
//!
//! Empty values are clears: `""`, `[]` and the `empty` daterange encode as a clear, which reads
//! back as NULL. A checkbox's `false` is an unchecked box both ways. Forms `decode` never returns
//! but [`encode`] takes (a status index, a phone with its country, a lower-case country code, a
//! non-canonical daterange or number) come back in `decode`'s own form.

use super::countries;
use super::datetime::{self, Date, DateRange, RangeError};
use super::numeric::{self, Numeric};
use super::{truncate_bytes, Kind, DETAIL_BYTES};
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::HashSet;

/// Which SQLSTATE an encoding error maps to (see the table in the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeErrorCode {
    /// 22023 invalid_parameter_value: wrong shape, or a value monday would refuse.
    InvalidValue,
    /// 22P02 invalid_text_representation: text that should hold a number (or JSON) does not.
    InvalidText,
    /// 22007 invalid_datetime_format: a date, daterange or time that does not parse.
    DatetimeFormat,
    /// 22008 datetime_field_overflow: infinite dates, or dates outside years 1–9999.
    DatetimeOverflow,
    /// 22003 numeric_value_out_of_range: coordinates, ratings, infinite numbers.
    OutOfRange,
    /// 22001 string_data_right_truncation: text longer than monday keeps.
    TooLong,
    /// 22004 null_value_not_allowed: clearing what cannot be cleared, NULL array elements.
    NullNotAllowed,
    /// 0A000 feature_not_supported: a column type that cannot be written through column values.
    ReadOnly,
    /// 42704 undefined_object: a column type name monday has not told us about.
    UnknownType,
}

impl EncodeErrorCode {
    /// The five-character SQLSTATE.
    pub fn sqlstate(self) -> &'static str {
        match self {
            EncodeErrorCode::InvalidValue => "22023",
            EncodeErrorCode::InvalidText => "22P02",
            EncodeErrorCode::DatetimeFormat => "22007",
            EncodeErrorCode::DatetimeOverflow => "22008",
            EncodeErrorCode::OutOfRange => "22003",
            EncodeErrorCode::TooLong => "22001",
            EncodeErrorCode::NullNotAllowed => "22004",
            EncodeErrorCode::ReadOnly => "0A000",
            EncodeErrorCode::UnknownType => "42704",
        }
    }
}

/// A value that cannot be written: what an SQL error needs, in plain English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError {
    pub code: EncodeErrorCode,
    pub message: String,
    pub detail: String,
    pub hint: String,
}

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.detail)
    }
}

impl std::error::Error for EncodeError {}

/// monday's limits (FACTS.md §1.3, §2.2, §4.2).
const NAME_MAX_CHARS: usize = 255;
const LONG_TEXT_MAX_CHARS: usize = 2_000;
const STATUS_MAX_LABELS: usize = 40;

/// Encodes one value for `column_values`. `value` is `to_jsonb` of the column's SQL type, JSON
/// null to clear; `settings` is the column's settings (see the module docs for the keys read).
pub fn encode(
    column_type: &str,
    value: &Value,
    settings: Option<&Value>,
) -> Result<Value, EncodeError> {
    let ctx = Ctx { column_type, value };
    let target = target(&ctx)?;
    if value.is_null() {
        return clear(&ctx, target);
    }
    match target {
        Target::Name => encode_name(&ctx),
        Target::Text => Ok(non_empty(ctx.string("text")?).map_or(Value::Null, Value::from)),
        Target::LongText => encode_long_text(&ctx),
        Target::Numbers => encode_number(&ctx),
        Target::Status => encode_status(&ctx, settings),
        Target::Dropdown => encode_dropdown(&ctx, settings),
        Target::Date => encode_date(&ctx),
        Target::Timeline => encode_timeline(&ctx),
        Target::Week => encode_week(&ctx, settings),
        Target::Hour => encode_hour(&ctx),
        Target::People => Ok(ctx.ids("person")?.map_or(Value::Null, |ids| {
            let people: Vec<Value> = ids
                .into_iter()
                .map(|id| json!({"id": id, "kind": "person"}))
                .collect();
            json!({ "personsAndTeams": people })
        })),
        // FACTS §2.2 shows item ids as strings; monday has taken integers too since 2024-03.
        Target::Relation => Ok(ctx.ids("item")?.map_or(Value::Null, |ids| {
            let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
            json!({ "item_ids": ids })
        })),
        Target::Tags => Ok(ctx
            .ids("tag")?
            .map_or_else(|| json!({"tag_ids": []}), |ids| json!({ "tag_ids": ids }))),
        Target::Email => encode_email(&ctx),
        Target::Phone => encode_phone(&ctx, settings),
        Target::Link => encode_link(&ctx),
        Target::Location => encode_location(&ctx),
        Target::Checkbox => match value {
            Value::Bool(true) => Ok(json!({"checked": "true"})),
            // FACTS §2.2: null is the one documented way to uncheck.
            Value::Bool(false) => Ok(Value::Null),
            _ => Err(ctx.wrong_shape("a JSON boolean", "Pass to_jsonb(true) or to_jsonb(false).")),
        },
        Target::Rating => encode_rating(&ctx, settings),
        Target::Country => encode_country(&ctx),
        Target::WorldClock => encode_world_clock(&ctx),
        Target::Team => encode_team(&ctx),
    }
}

/// Whether [`encode`] can write a column of this type (false for read-only and unknown types).
pub fn writable(column_type: &str) -> bool {
    target(&Ctx {
        column_type,
        value: &Value::Null,
    })
    .is_ok()
}

/// The column types [`encode`] writes, as `Target` arms handle them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Name,
    Text,
    LongText,
    Numbers,
    Status,
    Dropdown,
    Date,
    Timeline,
    Week,
    Hour,
    People,
    /// board_relation and dependency.
    Relation,
    Email,
    Phone,
    Link,
    Location,
    Checkbox,
    Rating,
    Tags,
    Country,
    WorldClock,
    /// The deprecated team column (FACTS §1.3, §2.2).
    Team,
}

/// The value being encoded, for error messages.
struct Ctx<'a> {
    column_type: &'a str,
    value: &'a Value,
}

impl Ctx<'_> {
    /// `column type status, value: "Dne"` — the value cut to [`DETAIL_BYTES`].
    fn detail(&self) -> String {
        let raw = self.value.to_string();
        let shown = truncate_bytes(&raw, DETAIL_BYTES);
        let ellipsis = if shown.len() < raw.len() { "…" } else { "" };
        format!(
            "column type {}, value: {shown}{ellipsis}",
            truncate_bytes(self.column_type, 64)
        )
    }

    fn error(
        &self,
        code: EncodeErrorCode,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> EncodeError {
        EncodeError {
            code,
            message: message.into(),
            detail: self.detail(),
            hint: hint.into(),
        }
    }

    /// An error whose DETAIL adds `more` (already bounded by the caller) to the usual one.
    fn error_more(
        &self,
        code: EncodeErrorCode,
        message: impl Into<String>,
        more: &str,
        hint: impl Into<String>,
    ) -> EncodeError {
        let mut e = self.error(code, message, hint);
        e.detail.push_str("; ");
        e.detail.push_str(more);
        e
    }

    fn wrong_shape(&self, expected: &str, hint: &str) -> EncodeError {
        self.error(
            EncodeErrorCode::InvalidValue,
            format!(
                "a {} value must be {expected}",
                truncate_bytes(self.column_type, 64)
            ),
            hint,
        )
    }

    /// The value as a string (every type whose SQL type is `text`, `date`, `daterange`, `time`).
    fn string(&self, sql_type: &str) -> Result<&str, EncodeError> {
        self.value.as_str().ok_or_else(|| {
            self.wrong_shape(
                "a JSON string",
                &format!("Pass to_jsonb(<value>::{sql_type})."),
            )
        })
    }

    /// A `bigint[]` of monday ids: positive, distinct. `None` when empty (a clear).
    fn ids(&self, what: &str) -> Result<Option<Vec<i64>>, EncodeError> {
        let hint = format!("Pass to_jsonb of a bigint[] of {what} ids, e.g. '[123, 456]'.");
        let Value::Array(items) = self.value else {
            return Err(self.wrong_shape("a JSON array of ids", &hint));
        };
        if items.is_empty() {
            return Ok(None);
        }
        let mut ids = Vec::with_capacity(items.len());
        let mut seen = HashSet::with_capacity(items.len());
        for item in items {
            if item.is_null() {
                return Err(self.error(
                    EncodeErrorCode::NullNotAllowed,
                    format!("{what} ids must not be NULL"),
                    "Remove the NULLs, e.g. with array_remove(ids, NULL).",
                ));
            }
            let id = whole_number(item)
                .map_err(|code| {
                    self.error(
                        code,
                        format!("{what} id {} is not a whole number", short(item)),
                        &hint,
                    )
                })?
                .filter(|id| *id > 0)
                .ok_or_else(|| {
                    self.error(
                        EncodeErrorCode::InvalidValue,
                        format!("{what} id {} is not a monday id", short(item)),
                        "monday ids are positive integers.",
                    )
                })?;
            if !seen.insert(id) {
                return Err(self.error(
                    EncodeErrorCode::InvalidValue,
                    format!("{what} id {id} is listed twice"),
                    "List each id once (monday keeps one of each).",
                ));
            }
            ids.push(id);
        }
        Ok(Some(ids))
    }
}

/// A JSON scalar, shortened for a message.
fn short(v: &Value) -> String {
    let text = v.to_string();
    let cut = truncate_bytes(&text, 40);
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        text
    }
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// A whole number from a JSON number or a numeric string (`5`, `5.0`, `"5"`): `Ok(None)` for a
/// number outside bigint, `Err` with the SQLSTATE for anything that is not a whole number.
fn whole_number(v: &Value) -> Result<Option<i64>, EncodeErrorCode> {
    let text = match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                return Ok(Some(i));
            }
            n.to_string()
        }
        Value::String(s) => s.clone(),
        _ => return Err(EncodeErrorCode::InvalidValue),
    };
    match numeric::parse(&text) {
        Some(Numeric::Finite(n)) => {
            let (int, frac) = n.split_once('.').unwrap_or((&n, ""));
            if frac.bytes().any(|b| b != b'0') {
                return Err(EncodeErrorCode::InvalidValue);
            }
            Ok(int.parse().ok())
        }
        Some(Numeric::Special(_)) => Err(EncodeErrorCode::InvalidValue),
        None => Err(EncodeErrorCode::InvalidText),
    }
}

/// Resolves the column type to what [`encode`] writes, or says why it cannot. Every [`Kind`] is
/// listed: a new one does not compile until it is given a decision here.
fn target(ctx: &Ctx<'_>) -> Result<Target, EncodeError> {
    let read_only = |what: &str, why: &str, hint: &str| EncodeError {
        code: EncodeErrorCode::ReadOnly,
        message: format!("monday {what} columns cannot be written"),
        detail: format!("column type {}: {why}", truncate_bytes(ctx.column_type, 64)),
        hint: hint.into(),
    };
    let leave_out = "Leave this column out of column_values.";
    let name = normalized(ctx.column_type);
    Ok(match Kind::from_name(ctx.column_type) {
        Kind::Name => Target::Name,
        Kind::Text => Target::Text,
        Kind::LongText => Target::LongText,
        Kind::Numbers => Target::Numbers,
        Kind::Status => Target::Status,
        Kind::Dropdown => Target::Dropdown,
        Kind::Date => Target::Date,
        Kind::Timeline => Target::Timeline,
        Kind::Week => Target::Week,
        Kind::Hour => Target::Hour,
        Kind::People => Target::People,
        Kind::Relation => Target::Relation,
        Kind::Email => Target::Email,
        Kind::Phone => Target::Phone,
        Kind::Link => Target::Link,
        Kind::Location => Target::Location,
        Kind::Checkbox => Target::Checkbox,
        Kind::Rating => Target::Rating,
        Kind::Tags => Target::Tags,
        Kind::Country => Target::Country,
        Kind::WorldClock => Target::WorldClock,
        Kind::DisplayValue if name == "formula" => {
            return Err(read_only(
                "formula",
                "monday computes a formula from the item's other columns",
                "Write the columns the formula reads instead.",
            ))
        }
        Kind::DisplayValue => {
            return Err(read_only(
                "mirror",
                "a mirror column shows values of the items linked on another board",
                "Write the mirrored column on the linked item instead.",
            ))
        }
        Kind::Subtasks => {
            return Err(read_only(
                "subitems",
                "the subitems column lists the item's subitems, which are items of their own",
                "Create subitems with the create_subitem mutation.",
            ))
        }
        Kind::Vote => {
            return Err(read_only(
                "vote",
                "votes are cast by users in monday; the API has no write form for them",
                leave_out,
            ))
        }
        Kind::ColorPicker => {
            return Err(read_only(
                "color_picker",
                "monday's API can read a color picker column but not update or clear it",
                leave_out,
            ))
        }
        Kind::CreationLog => {
            return Err(read_only(
                "creation_log",
                "monday records who created the item, and when",
                leave_out,
            ))
        }
        Kind::LastUpdated => {
            return Err(read_only(
                "last_updated",
                "monday records the item's last change itself",
                leave_out,
            ))
        }
        Kind::ItemId => return Err(read_only("item_id", "monday assigns item ids", leave_out)),
        Kind::TimeTracking => {
            return Err(read_only(
                "time_tracking",
                "time tracking is started and stopped in monday; the API cannot set it",
                leave_out,
            ))
        }
        Kind::Json => match name.as_str() {
            "team" => Target::Team,
            "file" => {
                return Err(read_only(
                    "file",
                    "files are uploaded to monday, not sent in column_values",
                    "Upload with the add_file_to_column mutation; clear with change_column_value \
                     and the value {\"clear_all\": true}.",
                ))
            }
            "doc" | "direct_doc" => {
                return Err(read_only(
                    "doc",
                    "a doc column holds a monday doc, which column_values cannot create",
                    leave_out,
                ))
            }
            "button" => {
                return Err(read_only(
                    "button",
                    "a button runs an automation when clicked; it holds no value to write",
                    leave_out,
                ))
            }
            "auto_number" => {
                return Err(read_only(
                    "auto_number",
                    "monday numbers items itself (the API cannot even read this column)",
                    leave_out,
                ))
            }
            "progress" => {
                return Err(read_only(
                    "progress",
                    "monday computes progress from the board's status columns",
                    leave_out,
                ))
            }
            "group" => {
                return Err(read_only(
                    "group",
                    "an item's group is where the item is, not a column value",
                    "Move the item with the move_item_to_group mutation.",
                ))
            }
            "integration" | "item_assignees" | "unsupported" => {
                return Err(read_only(
                    &name,
                    "monday documents no JSON form to write this column type",
                    leave_out,
                ))
            }
            _ => {
                return Err(EncodeError {
                    code: EncodeErrorCode::UnknownType,
                    message: format!(
                        "unknown monday column type \"{}\"",
                        truncate_bytes(ctx.column_type, 64)
                    ),
                    detail: "encode knows the column types of monday's API 2026-07 and their \
                             legacy names."
                        .into(),
                    hint: "Pass the column's type as monday's API reports it (Column.type), e.g. \
                           text, status, date, people."
                        .into(),
                })
            }
        },
    })
}

/// Lower case, `-` → `_`, trimmed: the spelling [`Kind::from_name`] compares.
fn normalized(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| {
            if c == '-' {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// What clears a column of each type (FACTS §2.2's clear column).
fn clear(ctx: &Ctx<'_>, target: Target) -> Result<Value, EncodeError> {
    match target {
        Target::Name => Err(ctx.error(
            EncodeErrorCode::NullNotAllowed,
            "an item's name cannot be cleared",
            "Pass a new name of 1 to 255 characters, or leave the name out of column_values.",
        )),
        // FACTS documents no clear form for tags: an empty tag list is what "no tags" stores.
        Target::Tags => Ok(json!({"tag_ids": []})),
        // null clears every other type (FACTS §2.2), and unchecks a checkbox.
        _ => Ok(Value::Null),
    }
}

fn encode_name(ctx: &Ctx<'_>) -> Result<Value, EncodeError> {
    let name = ctx.string("text")?;
    let chars = name.chars().count();
    if chars == 0 {
        return Err(ctx.error(
            EncodeErrorCode::InvalidValue,
            "an item's name cannot be empty",
            "Pass a name of 1 to 255 characters.",
        ));
    }
    if chars > NAME_MAX_CHARS {
        return Err(ctx.error_more(
            EncodeErrorCode::TooLong,
            format!("item name is {chars} characters long; monday allows at most 255"),
            &format!("{chars} characters"),
            "Shorten the name, e.g. with left(name, 255).",
        ));
    }
    Ok(Value::String(name.to_string()))
}

fn encode_long_text(ctx: &Ctx<'_>) -> Result<Value, EncodeError> {
    let Some(text) = non_empty(ctx.string("text")?) else {
        return Ok(Value::Null);
    };
    let chars = text.chars().count();
    if chars > LONG_TEXT_MAX_CHARS {
        return Err(ctx.error(
            EncodeErrorCode::TooLong,
            format!("long text is {chars} characters long; monday keeps at most 2,000"),
            "Shorten the text, e.g. with left(text, 2000).",
        ));
    }
    Ok(json!({ "text": text }))
}

/// numbers: the canonical `numeric` text, as a JSON string (FACTS §2.2: `"3"`).
fn encode_number(ctx: &Ctx<'_>) -> Result<Value, EncodeError> {
    let hint = "Pass to_jsonb(<value>::numeric), e.g. 12.50.";
    let text: Cow<'_, str> = match ctx.value {
        Value::Number(n) => Cow::Owned(n.to_string()),
        Value::String(s) => Cow::Borrowed(s),
        _ => return Err(ctx.wrong_shape("a JSON number", hint)),
    };
    match numeric::parse(&text) {
        Some(Numeric::Finite(n)) => Ok(Value::String(n.into())),
        Some(Numeric::Special("NaN")) => Err(ctx.error(
            EncodeErrorCode::InvalidValue,
            "monday numbers columns cannot hold NaN",
            "Pass NULL to clear the column instead.",
        )),
        Some(Numeric::Special(_)) => Err(ctx.error(
            EncodeErrorCode::OutOfRange,
            "monday numbers columns cannot hold an infinite number",
            "Pass a finite number, or NULL to clear the column.",
        )),
        None => Err(ctx.error(
            EncodeErrorCode::InvalidText,
            format!(
                "\"{}\" is not a number",
                truncate_bytes(&text, DETAIL_BYTES)
            ),
            hint,
        )),
    }
}

/// The column settings as an object: `settings_str` parsed, or given parsed. `None` when absent.
fn settings_map<'s>(
    ctx: &Ctx<'_>,
    settings: Option<&'s Value>,
) -> Result<Option<Cow<'s, Map<String, Value>>>, EncodeError> {
    let hint = "Pass the column's settings_str (a JSON object), or NULL.";
    let not_object = || {
        ctx.error(
            EncodeErrorCode::InvalidValue,
            "column_settings must be a JSON object",
            hint,
        )
    };
    match settings {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(Cow::Borrowed(m))),
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => Ok(Some(Cow::Owned(m))),
            Ok(Value::Null) => Ok(None),
            Ok(_) => Err(not_object()),
            Err(e) => Err(ctx.error(
                EncodeErrorCode::InvalidText,
                format!("column_settings is not valid JSON: {e}"),
                hint,
            )),
        },
        Some(_) => Err(not_object()),
    }
}

/// One label of a status or dropdown column: its stable id and its text.
struct Label {
    id: i64,
    name: String,
}

/// The labels in settings: status `{"1":"Done"}`, dropdown `[{"id":1,"name":"Cookie"}]` (the same
/// two shapes the decoder reads). `None` when the settings have no `labels`: then nothing is known
/// and labels are sent by name for monday to check. Entries that are not id → text are skipped.
fn settings_labels(
    ctx: &Ctx<'_>,
    settings: Option<&Map<String, Value>>,
) -> Result<Option<Vec<Label>>, EncodeError> {
    let Some(labels) = settings.and_then(|s| s.get("labels")) else {
        return Ok(None);
    };
    let labels = match labels {
        Value::Null => return Ok(None),
        Value::Object(m) => m
            .iter()
            .filter_map(|(id, name)| {
                Some(Label {
                    id: id.trim().parse().ok()?,
                    name: name.as_str()?.to_string(),
                })
            })
            .collect(),
        Value::Array(a) => a
            .iter()
            .filter_map(|e| {
                Some(Label {
                    id: whole_number(e.get("id")?).ok()??,
                    name: e
                        .get("name")
                        .or_else(|| e.get("label"))?
                        .as_str()?
                        .to_string(),
                })
            })
            .collect(),
        _ => {
            return Err(ctx.error(
                EncodeErrorCode::InvalidValue,
                "column_settings \"labels\" must be an object or an array",
                "Pass the column's settings_str as monday returns it.",
            ))
        }
    };
    Ok(Some(labels))
}

/// The id of a label (the lowest, should two labels share a text).
fn label_id(labels: &[Label], name: &str) -> Option<i64> {
    labels.iter().filter(|l| l.name == name).map(|l| l.id).min()
}

/// `"Done" (1), "Stuck" (2)`, at most about 200 bytes, for a DETAIL.
fn label_list(labels: &[Label]) -> String {
    let mut sorted: Vec<&Label> = labels.iter().filter(|l| !l.name.is_empty()).collect();
    sorted.sort_by_key(|l| l.id);
    let mut out = String::from("the column's labels: ");
    if sorted.is_empty() {
        out.push_str("none");
    }
    for (i, l) in sorted.iter().enumerate() {
        if out.len() > 200 {
            out.push_str(", …");
            break;
        }
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&format!("\"{}\" ({})", truncate_bytes(&l.name, 40), l.id));
    }
    out
}

/// `create_labels_if_missing` in the settings (a key the caller adds; see the module docs).
fn may_create_labels(
    ctx: &Ctx<'_>,
    settings: Option<&Map<String, Value>>,
) -> Result<bool, EncodeError> {
    match settings.and_then(|s| s.get("create_labels_if_missing")) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ctx.error(
            EncodeErrorCode::InvalidValue,
            "column_settings \"create_labels_if_missing\" must be true or false",
            "Add \"create_labels_if_missing\": true to column_settings to let monday create labels.",
        )),
    }
}

const CREATE_LABELS_HINT: &str = "Use one of the column's labels, or add \
    \"create_labels_if_missing\": true to column_settings (and pass create_labels_if_missing: true \
    to the mutation) to let monday create it.";

fn encode_status(ctx: &Ctx<'_>, settings: Option<&Value>) -> Result<Value, EncodeError> {
    let settings = settings_map(ctx, settings)?;
    let labels = settings_labels(ctx, settings.as_deref())?;
    let create = may_create_labels(ctx, settings.as_deref())?;
    match ctx.value {
        Value::String(label) if label.is_empty() => Ok(Value::Null),
        Value::String(label) => {
            let Some(labels) = labels else {
                return Ok(json!({ "label": label }));
            };
            // By index when known: exact, and safe for labels that look like numbers (FACTS §2.2).
            if let Some(id) = label_id(&labels, label) {
                return Ok(json!({ "index": id }));
            }
            if !create {
                return Err(ctx.error_more(
                    EncodeErrorCode::InvalidValue,
                    format!(
                        "status label \"{}\" does not exist in the column settings",
                        truncate_bytes(label, 64)
                    ),
                    &label_list(&labels),
                    CREATE_LABELS_HINT,
                ));
            }
            if labels.len() >= STATUS_MAX_LABELS {
                return Err(ctx.error_more(
                    EncodeErrorCode::InvalidValue,
                    format!(
                        "cannot add status label \"{}\": the column already has monday's maximum of 40 labels",
                        truncate_bytes(label, 64)
                    ),
                    &label_list(&labels),
                    "Use one of the column's labels, or remove one in monday first.",
                ));
            }
            Ok(json!({ "label": label }))
        }
        // A label id (FACTS §2.2 `{"index":1}`): not what decode returns, but what monday stores.
        Value::Number(_) => {
            let index = whole_number(ctx.value)
                .ok()
                .flatten()
                .filter(|i| *i >= 0)
                .ok_or_else(|| {
                    ctx.error(
                        EncodeErrorCode::InvalidValue,
                        "a status index must be a whole number of 0 or more",
                        "Pass the label's text, or its id from the column's settings_str labels.",
                    )
                })?;
            if let Some(labels) = labels {
                if !labels.iter().any(|l| l.id == index) {
                    return Err(ctx.error_more(
                        EncodeErrorCode::InvalidValue,
                        format!("status index {index} does not exist in the column settings"),
                        &label_list(&labels),
                        "Pass one of the column's label ids, or the label's text.",
                    ));
                }
            }
            Ok(json!({ "index": index }))
        }
        _ => Err(ctx.wrong_shape(
            "a JSON string (the label)",
            "Pass to_jsonb(<label>::text), e.g. \"Done\".",
        )),
    }
}

fn encode_dropdown(ctx: &Ctx<'_>, settings: Option<&Value>) -> Result<Value, EncodeError> {
    let hint = "Pass to_jsonb of a text[] of labels, e.g. '[\"Cookie\", \"Cupcake\"]'.";
    let Value::Array(items) = ctx.value else {
        return Err(ctx.wrong_shape("a JSON array of labels", hint));
    };
    if items.is_empty() {
        return Ok(Value::Null);
    }
    let mut names: Vec<&str> = Vec::with_capacity(items.len());
    let mut seen = HashSet::with_capacity(items.len());
    for item in items {
        let name = match item {
            Value::String(s) if !s.is_empty() => s.as_str(),
            Value::String(_) => {
                return Err(ctx.error(
                    EncodeErrorCode::InvalidValue,
                    "dropdown labels must not be empty",
                    "Remove the empty strings from the array.",
                ))
            }
            Value::Null => {
                return Err(ctx.error(
                    EncodeErrorCode::NullNotAllowed,
                    "dropdown labels must not be NULL",
                    "Remove the NULLs, e.g. with array_remove(labels, NULL).",
                ))
            }
            _ => return Err(ctx.wrong_shape("a JSON array of strings", hint)),
        };
        if !seen.insert(name) {
            return Err(ctx.error(
                EncodeErrorCode::InvalidValue,
                format!(
                    "dropdown label \"{}\" is listed twice",
                    truncate_bytes(name, 64)
                ),
                "List each label once (monday keeps one of each).",
            ));
        }
        names.push(name);
    }
    let settings = settings_map(ctx, settings)?;
    let labels = settings_labels(ctx, settings.as_deref())?;
    let create = may_create_labels(ctx, settings.as_deref())?;
    let Some(labels) = labels else {
        return Ok(json!({ "labels": names }));
    };
    let ids: Vec<Option<i64>> = names.iter().map(|n| label_id(&labels, n)).collect();
    if ids.iter().all(Option::is_some) {
        return Ok(json!({ "ids": ids.into_iter().flatten().collect::<Vec<_>>() }));
    }
    if create {
        // monday takes labels or ids, never both (FACTS §2.2): all by name, so it can create.
        return Ok(json!({ "labels": names }));
    }
    let missing = names
        .iter()
        .zip(&ids)
        .find(|(_, id)| id.is_none())
        .map_or("", |(n, _)| n);
    Err(ctx.error_more(
        EncodeErrorCode::InvalidValue,
        format!(
            "dropdown label \"{}\" does not exist in the column settings",
            truncate_bytes(missing, 64)
        ),
        &label_list(&labels),
        CREATE_LABELS_HINT,
    ))
}

/// `YYYY-MM-DD` exactly, as `to_jsonb(date)` prints it.
fn parse_date(ctx: &Ctx<'_>, s: &str) -> Result<Date, EncodeError> {
    if s.len() == 10 {
        if let Some(d) = Date::parse(s) {
            return Ok(d);
        }
    }
    let t = s.trim();
    // to_jsonb prints BC dates with a suffix and years past 9999 with more digits.
    let beyond = t.eq_ignore_ascii_case("infinity")
        || t.eq_ignore_ascii_case("-infinity")
        || t.ends_with(" BC")
        || (t.len() > 10 && t.bytes().take(5).all(|b| b.is_ascii_digit()));
    if beyond {
        return Err(ctx.error(
            EncodeErrorCode::DatetimeOverflow,
            format!(
                "date \"{}\" is outside the years 1 to 9999 that monday holds",
                truncate_bytes(s, 40)
            ),
            "Pass a date between 0001-01-01 and 9999-12-31, or NULL to clear the column.",
        ));
    }
    Err(ctx.error(
        EncodeErrorCode::DatetimeFormat,
        format!("\"{}\" is not a YYYY-MM-DD date", truncate_bytes(s, 40)),
        "Pass to_jsonb(<value>::date), e.g. \"2026-06-15\".",
    ))
}

fn encode_date(ctx: &Ctx<'_>) -> Result<Value, EncodeError> {
    let s = ctx.string("date")?;
    let date = parse_date(ctx, s)?;
    Ok(json!({ "date": date.to_iso().as_str() }))
}

/// A bounded daterange's first and last days; `None` for the empty range (a clear).
fn date_span(ctx: &Ctx<'_>, example: &str) -> Result<Option<(Date, Date)>, EncodeError> {
    let s = ctx.string("daterange")?;
    let hint = format!("Pass to_jsonb of a daterange, e.g. \"{example}\".");
    match datetime::parse_daterange(s) {
        Ok(DateRange::Empty) => Ok(None),
        Ok(DateRange::Days {
            first: Some(first),
            last: Some(last),
        }) => Ok(Some((first, last))),
        Ok(DateRange::Days { .. }) => Err(ctx.error(
            EncodeErrorCode::InvalidValue,
            format!(
                "a {} needs both a first and a last day",
                truncate_bytes(ctx.column_type, 64)
            ),
            hint,
        )),
        Err(RangeError::Format) => Err(ctx.error(
            EncodeErrorCode::DatetimeFormat,
            format!("\"{}\" is not a daterange", truncate_bytes(s, 60)),
            hint,
        )),
        Err(RangeError::Overflow) => Err(ctx.error(
            EncodeErrorCode::DatetimeOverflow,
            format!(
                "daterange \"{}\" reaches outside the years 1 to 9999 that monday holds",
                truncate_bytes(s, 60)
            ),
            hint,
        )),
        Err(RangeError::Reversed) => Err(ctx.error(
            EncodeErrorCode::InvalidValue,
            "range lower bound must be less than or equal to range upper bound",
            hint,
        )),
    }
}

/// timeline: `{"from","to"}` with monday's inclusive last day (`[a,b)` → to = b − 1 day).
fn encode_timeline(ctx: &Ctx<'_>) -> Result<Value, EncodeError> {
    Ok(match date_span(ctx, "[2019-06-03,2019-06-08)")? {
        None => Value::Null,
        Some((first, last)) => {
            json!({"from": first.to_iso().as_str(), "to": last.to_iso().as_str()})
        }
    })
}

/// week: exactly 7 days from the account's first weekday (FACTS §2.2, D25:Week).
fn encode_week(ctx: &Ctx<'_>, settings: Option<&Value>) -> Result<Value, EncodeError> {
    let Some((first, last)) = date_span(ctx, "[2019-06-10,2019-06-17)")? else {
        return Ok(Value::Null);
    };
    let settings = settings_map(ctx, settings)?;
    let starts_sunday = match settings
        .as_deref()
        .and_then(|s| s.get("first_day_of_the_week"))
    {
        None | Some(Value::Null) => false,
        Some(Value::String(d)) if d.eq_ignore_ascii_case("monday") => false,
        Some(Value::String(d)) if d.eq_ignore_ascii_case("sunday") => true,
        Some(_) => {
            return Err(ctx.error(
                EncodeErrorCode::InvalidValue,
                "column_settings \"first_day_of_the_week\" must be \"monday\" or \"sunday\"",
                "Use the account's first_day_of_the_week as monday's API reports it.",
            ))
        }
    };
    let (first_name, last_name, first_weekday) = if starts_sunday {
        ("Sunday", "Saturday", 6)
    } else {
        ("Monday", "Sunday", 0)
    };
    let days = last.days_from_epoch() - first.days_from_epoch() + 1;
    let hint = format!(
        "A week runs {first_name} to {last_name}: pass '[<a {first_name}>, <the next {first_name}>)'{}.",
        if starts_sunday {
            ""
        } else {
            ", e.g. \"[2019-06-10,2019-06-17)\"; if the account's weeks start on Sunday, add \
             \"first_day_of_the_week\": \"sunday\" to column_settings"
        }
    );
    if days != 7 {
        return Err(ctx.error(
            EncodeErrorCode::InvalidValue,
            format!("a week must be 7 days long, not {days}"),
            hint,
        ));
    }
    if first.weekday() != first_weekday {
        return Err(ctx.error(
            EncodeErrorCode::InvalidValue,
            format!(
                "a week must start on a {first_name}; {} is a {}",
                first.to_iso().as_str(),
                WEEKDAYS[first.weekday() as usize]
            ),
            hint,
        ));
    }
    Ok(json!({"week": {"startDate": first.to_iso().as_str(), "endDate": last.to_iso().as_str()}}))
}

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// hour: `{"hour":16,"minute":42}` (numbers, so no leading zeros). monday keeps no seconds.
fn encode_hour(ctx: &Ctx<'_>) -> Result<Value, EncodeError> {
    let s = ctx.string("time")?;
    let Some((hour, minute, second, micros)) = datetime::parse_time(s) else {
        return Err(ctx.error(
            EncodeErrorCode::DatetimeFormat,
            format!("\"{}\" is not a time of day", truncate_bytes(s, 40)),
            "Pass to_jsonb(<value>::time), e.g. \"16:42:00\".",
        ));
    };
    if hour == 24 {
        return Err(ctx.error(
            EncodeErrorCode::InvalidValue,
            "monday hour columns end at 23:59; 24:00:00 cannot be written",
            "Pass 00:00:00 instead.",
        ));
    }
    if second != 0 || micros != 0 {
        return Err(ctx.error(
            EncodeErrorCode::InvalidValue,
            format!(
                "monday hour columns hold hours and minutes only; \"{}\" has seconds",
                truncate_bytes(s, 40)
            ),
            "Round to the minute first, e.g. date_trunc('minute', t)::time.",
        ));
    }
    Ok(json!({"hour": hour, "minute": minute}))
}

/// Text with no whitespace and no control characters (addresses, URLs, codes).
fn is_compact(s: &str) -> bool {
    !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// email: the address, which is also the display text (FACTS §2.2: both keys are required,
/// and the decoded value carries the address alone).
fn encode_email(ctx: &Ctx<'_>) -> Result<Value, EncodeError> {
    let Some(email) = non_empty(ctx.string("text")?) else {
        return Ok(Value::Null);
    };
    let valid = email.len() <= 254
        && is_compact(email)
        && email.rsplit_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if !valid {
        return Err(ctx.error(
            EncodeErrorCode::InvalidValue,
            format!("\"{}\" is not an e-mail address", truncate_bytes(email, 60)),
            "Pass an address such as \"ann@example.com\", without spaces or a display name.",
        ));
    }
    Ok(json!({"email": email, "text": email}))
}

/// phone: `{"phone","countryShortName"}`. monday validates the pair with libphonenumber and
/// its JSON form needs the country (FACTS §2.2), which the decoded value does not carry: it comes
/// from a trailing ` US` on the value (monday's simple-string form) or from column_settings.
fn encode_phone(ctx: &Ctx<'_>, settings: Option<&Value>) -> Result<Value, EncodeError> {
    let Some(text) = non_empty(ctx.string("text")?) else {
        return Ok(Value::Null);
    };
    let hint = "Pass digits with an optional leading + and the ISO-2 country after a space, e.g. \
                \"+19175998722 US\", or give the country as \"countryShortName\" in column_settings.";
    let (number, suffix) = match text.rsplit_once(' ') {
        Some((n, c)) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
            (n.trim_end(), Some(c))
        }
        _ => (text, None),
    };
    let digits = number.strip_prefix('+').unwrap_or(number);
    if !(4..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ctx.error(
            EncodeErrorCode::InvalidValue,
            format!(
                "\"{}\" is not a phone number monday accepts",
                truncate_bytes(number, 40)
            ),
            hint,
        ));
    }
    let country =
        match suffix {
            Some(c) => c.to_string(),
            None => {
                let settings = settings_map(ctx, settings)?;
                match settings.as_deref().and_then(|s| s.get("countryShortName")) {
                    Some(Value::String(c)) => c.clone(),
                    None | Some(Value::Null) => {
                        return Err(ctx.error(
                            EncodeErrorCode::InvalidValue,
                            "a phone number needs its country for monday to accept it",
                            hint,
                        ))
                    }
                    Some(_) => return Err(ctx.error(
                        EncodeErrorCode::InvalidValue,
                        "column_settings \"countryShortName\" must be a two-letter country code",
                        hint,
                    )),
                }
            }
        };
    let code = country.to_ascii_uppercase();
    if countries::name_of(&code).is_none() {
        return Err(ctx.error(
            EncodeErrorCode::InvalidValue,
            format!(
                "\"{}\" is not an ISO 3166 country code",
                truncate_bytes(&country, 20)
            ),
            hint,
        ));
    }
    Ok(json!({"phone": number, "countryShortName": code}))
}

/// link: the URL, which is also the display text (the decoded value carries the URL alone).
fn encode_link(ctx: &Ctx<'_>) -> Result<Value, EncodeError> {
    let Some(url) = non_empty(ctx.string("text")?) else {
        return Ok(Value::Null);
    };
    if !is_compact(url) {
        return Err(ctx.error(
            EncodeErrorCode::InvalidValue,
            format!(
                "\"{}\" is not a URL: it contains spaces or control characters",
                truncate_bytes(url, 60)
            ),
            "Percent-encode spaces (%20), e.g. \"https://example.com/a%20b\".",
        ));
    }
    Ok(json!({"url": url, "text": url}))
}

/// location: lat/lng as strings (as monday stores them), address when there is one.
fn encode_location(ctx: &Ctx<'_>) -> Result<Value, EncodeError> {
    let hint = "Pass a jsonb object such as {\"lat\": 29.9773, \"lng\": 31.1325, \"address\": \
                \"Giza Pyramid Complex\"}.";
    let Value::Object(m) = ctx.value else {
        return Err(ctx.wrong_shape("a JSON object with lat, lng and address", hint));
    };
    if let Some(k) = m
        .keys()
        .find(|k| !matches!(k.as_str(), "lat" | "lng" | "address"))
    {
        return Err(ctx.error(
            EncodeErrorCode::InvalidValue,
            format!("location has an unknown key \"{}\"", truncate_bytes(k, 40)),
            hint,
        ));
    }
    // A coordinate as canonical numeric text; `bound` is its largest absolute value.
    let coord = |key: &str, bound: u32, inclusive: bool| -> Result<Option<String>, EncodeError> {
        let text = match m.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => {
                return Err(ctx.error(
                    EncodeErrorCode::InvalidValue,
                    format!("location {key} must be a number"),
                    hint,
                ))
            }
        };
        let Some(Numeric::Finite(n)) = numeric::parse(&text) else {
            return Err(ctx.error(
                EncodeErrorCode::InvalidText,
                format!(
                    "location {key} \"{}\" is not a number",
                    truncate_bytes(&text, 40)
                ),
                hint,
            ));
        };
        if !within(&n, bound, inclusive) {
            let range = if inclusive {
                format!("from -{bound} to {bound}")
            } else {
                format!("strictly between -{bound} and {bound}")
            };
            return Err(ctx.error(
                EncodeErrorCode::OutOfRange,
                format!(
                    "location {key} {} is out of range: monday takes {range}",
                    truncate_bytes(&n, 40)
                ),
                hint,
            ));
        }
        Ok(Some(n.into()))
    };
    // FACTS §2.2: lat ∈ (−90, 90), lng ∈ [−180, 180].
    let lat = coord("lat", 90, false)?;
    let lng = coord("lng", 180, true)?;
    let address = match m.get("address") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => non_empty(s),
        Some(_) => {
            return Err(ctx.error(
                EncodeErrorCode::InvalidValue,
                "location address must be a string",
                hint,
            ))
        }
    };
    match (lat, lng) {
        (None, None) if address.is_none() => Ok(Value::Null),
        (Some(lat), Some(lng)) => {
            let mut out = Map::new();
            out.insert("lat".into(), Value::String(lat));
            out.insert("lng".into(), Value::String(lng));
            if let Some(a) = address {
                out.insert("address".into(), Value::String(a.to_string()));
            }
            Ok(Value::Object(out))
        }
        _ => Err(ctx.error(
            EncodeErrorCode::InvalidValue,
            "a location needs both lat and lng",
            "monday places a location by its coordinates; the address alone is only a label.",
        )),
    }
}

/// Whether canonical numeric text `n` has |n| < bound (or ≤ bound when `inclusive`), exactly.
fn within(n: &str, bound: u32, inclusive: bool) -> bool {
    let abs = n.strip_prefix('-').unwrap_or(n);
    let (int, frac) = abs.split_once('.').unwrap_or((abs, ""));
    let Ok(int) = int.parse::<u64>() else {
        return false;
    };
    let whole = frac.bytes().all(|b| b == b'0');
    int < u64::from(bound) || (inclusive && int == u64::from(bound) && whole)
}

/// rating: 1 up to the column's scale (`limit` in its settings, when given).
fn encode_rating(ctx: &Ctx<'_>, settings: Option<&Value>) -> Result<Value, EncodeError> {
    let hint = "Pass to_jsonb(<value>::integer), from 1 up to the column's scale.";
    let rating = match whole_number(ctx.value) {
        Ok(Some(r)) => r,
        // Beyond bigint: out of any scale.
        Ok(None) => i64::MAX,
        Err(_) => return Err(ctx.wrong_shape("a whole number", hint)),
    };
    let settings = settings_map(ctx, settings)?;
    let scale = match settings.as_deref().and_then(|s| s.get("limit")) {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            whole_number(v)
                .ok()
                .flatten()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    ctx.error(
                EncodeErrorCode::InvalidValue,
                "column_settings \"limit\" (the rating scale) must be a positive whole number",
                "Pass the column's settings_str as monday returns it.",
            )
                })?,
        ),
    };
    let top = scale.unwrap_or(i64::from(i32::MAX));
    if !(1..=top).contains(&rating) {
        let range = match scale {
            Some(s) => format!("from 1 to {s}"),
            None => "from 1 up to the column's scale".into(),
        };
        return Err(ctx.error(
            EncodeErrorCode::OutOfRange,
            format!(
                "rating {} is out of range: monday takes {range}",
                short(ctx.value)
            ),
            "Pass NULL to clear the rating.",
        ));
    }
    Ok(json!({ "rating": rating }))
}

/// country: the ISO code and its English name (FACTS §2.2 sends both).
fn encode_country(ctx: &Ctx<'_>) -> Result<Value, EncodeError> {
    let Some(code) = non_empty(ctx.string("text")?) else {
        return Ok(Value::Null);
    };
    let upper = code.to_ascii_uppercase();
    let name = (upper.len() == 2)
        .then(|| countries::name_of(&upper))
        .flatten()
        .ok_or_else(|| {
            ctx.error(
                EncodeErrorCode::InvalidValue,
                format!(
                    "\"{}\" is not an ISO 3166 country code",
                    truncate_bytes(code, 20)
                ),
                "Pass the two-letter code, e.g. \"US\" or \"FR\".",
            )
        })?;
    Ok(json!({"countryCode": upper, "countryName": name}))
}

/// world_clock: an IANA time zone name (`Europe/London`, `America/Argentina/Buenos_Aires`, `UTC`).
fn encode_world_clock(ctx: &Ctx<'_>) -> Result<Value, EncodeError> {
    let Some(zone) = non_empty(ctx.string("text")?) else {
        return Ok(Value::Null);
    };
    let valid = zone.len() <= 64
        && zone.split('/').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+'))
        });
    if !valid {
        return Err(ctx.error(
            EncodeErrorCode::InvalidValue,
            format!("\"{}\" is not a time zone name", truncate_bytes(zone, 40)),
            "Pass an IANA time zone such as \"Europe/London\" (see pg_timezone_names).",
        ));
    }
    Ok(json!({ "timezone": zone }))
}

/// team (deprecated): `{"team_id":N}`. The decoded value is the stored object, whose
/// `changed_at` monday sets itself; a bare id is taken too.
fn encode_team(ctx: &Ctx<'_>) -> Result<Value, EncodeError> {
    let hint = "Pass {\"team_id\": <team id>}.";
    let id = match ctx.value {
        Value::Object(m) if m.keys().all(|k| k == "team_id" || k == "changed_at") => {
            m.get("team_id").unwrap_or(&Value::Null)
        }
        v @ Value::Number(_) => v,
        _ => return Err(ctx.wrong_shape("a JSON object with team_id", hint)),
    };
    if id.is_null() {
        return Ok(Value::Null);
    }
    match whole_number(id) {
        Ok(Some(id)) if id > 0 => Ok(json!({ "team_id": id })),
        _ => Err(ctx.error(
            EncodeErrorCode::InvalidValue,
            format!("team id {} is not a monday id", short(id)),
            hint,
        )),
    }
}
