//! Writing column values the way monday takes them (FACTS.md §2.2) and storing them in the shape a
//! later read returns (§1.1, §1.3): `value` double-encoded (with `changed_at` where monday has it),
//! `text`, and the typed fields the resolver serves from the stored cell (`label`/`index`,
//! `values`, `linked_item_ids`, …), consistent with the sample board's cells
//! (`fixtures/items_page.json`).
//!
//! [`write`] validates one column's value and returns the cell to store; it changes nothing, so a
//! mutation can check every value of a field before applying any (monday's
//! `change_multiple_column_values` is atomic per field). A status/dropdown label created by
//! `create_labels_if_missing` comes back as the column's new `settings_str`, applied with the cell.
//!
//! Choices where FACTS.md is silent (each also noted where it is made):
//! * A JSON **string** given for a type whose JSON form is an object is read as that type's simple
//!   form (monday accepts simple forms mixed into `column_values`, §2.1); `""` clears every type.
//! * Cleared read shapes: the recorded stubs where FACTS has them (text/numbers `""`, status
//!   `{"changed_at"}`, checkbox `{"checked":false}`, long text `{"text":"","changed_at"}`, files
//!   `{"files":[]}`, tags `{"tag_ids":[]}`); every other type reads back as never set
//!   (`value: null`, `text` `""`, or null for the types whose empty text is null).
//! * Phone numbers are stored as sent (no libphonenumber); only digits with an optional leading
//!   `+`, 7–15 digits, and a two-letter country are accepted.

use super::exec::coded_data;
use super::world::{days_from_civil, Board, Column, Weekday, World};
use apollo_compiler::resolvers::FieldError;
use serde_json::{json, Map, Value};

/// How the value arrived: the per-type JSON (`change_column_value`, `column_values`) or the
/// simple string of `change_simple_column_value`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Form {
    Json,
    Simple,
}

/// What one column's write stores.
#[derive(Debug)]
pub struct Written {
    /// The whole cell (`text`, `value`, typed fields), replacing the old one.
    pub cell: Map<String, Value>,
    /// The column's new `settings_str` when a label was created.
    pub settings: Option<String>,
}

/// What writing needs to know besides the value.
pub struct Env<'a> {
    pub world: &'a World,
    pub board: &'a Board,
    pub create_labels: bool,
    /// `change_column_value` only: `{"clear_all": true}` on a file column.
    pub allow_clear_all: bool,
    /// `changed_at` for this change (ISO-8601 UTC with milliseconds).
    pub now: &'a str,
}

/// Types whose values monday computes, or which these mutations cannot write (FACTS.md §2.2).
pub fn read_only(typ: &str) -> bool {
    matches!(
        typ,
        "mirror"
            | "formula"
            | "creation_log"
            | "last_updated"
            | "item_id"
            | "auto_number"
            | "button"
            | "time_tracking"
            | "vote"
            | "progress"
            | "subtasks"
            | "color_picker"
            | "file"
            | "doc"
            | "direct_doc"
            | "group"
            | "integration"
            | "item_assignees"
            | "unsupported"
            | "battery"
    )
}

const DOCS: &str = "https://developer.monday.com/api-reference/docs/change-column-values";

/// `ColumnValueException` with monday's `error_data` (`column_type` in the 2025+ names).
pub fn column_error(col: &Column, sent: &Value, why: &str) -> FieldError {
    let text = match sent {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    coded_data(
        "ColumnValueException",
        200,
        &format!("invalid value, please check our API documentation for the correct data structure for this column. {DOCS} ({why})"),
        json!({"column_id": col.id, "column_type": col.typ, "column_value": text}),
    )
}

fn cell(text: Option<String>, value: Option<Value>, typed: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "text".into(),
        text.map(Value::String).unwrap_or(Value::Null),
    );
    m.insert(
        "value".into(),
        value
            .map(|v| Value::String(v.to_string()))
            .unwrap_or(Value::Null),
    );
    if let Value::Object(t) = typed {
        m.extend(t);
    }
    m
}

/// A JSON integer, or a string holding one (monday takes both for indexes and ids).
fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn is_clear(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

/// `YYYY-MM-DD` → days since the epoch (a real calendar date, years 1–9999).
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    if !(1..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let max = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    (d <= max).then(|| days_from_civil(y, m as u32, d as u32))
}

fn date_of(days: i64) -> String {
    let (y, m, d) = super::world::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `HH:MM:SS` (or `HH:MM`) → the canonical `HH:MM:SS`.
fn parse_time(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split(':').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.len() != 2 || !p.bytes().all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    let n: Vec<u32> = parts.iter().map(|p| p.parse().unwrap_or(99)).collect();
    let sec = n.get(2).copied().unwrap_or(0);
    (n[0] < 24 && n[1] < 60 && sec < 60).then(|| format!("{:02}:{:02}:{:02}", n[0], n[1], sec))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Writes `sent` into `col` (not the name: the caller handles `name`). Err: the field error.
pub fn write(env: &Env, col: &Column, sent: &Value, form: Form) -> Result<Written, FieldError> {
    let bad = |why: &str| column_error(col, sent, why);
    if read_only(&col.typ) {
        if col.typ == "file" && env.allow_clear_all && sent.get("clear_all") == Some(&json!(true)) {
            return Ok(plain(cell(
                Some(String::new()),
                Some(json!({"files": []})),
                json!({}),
            )));
        }
        return Err(coded_data(
            "ColumnValueException",
            200,
            &format!(
                "This column type is not supported yet in the API ({})",
                col.typ
            ),
            json!({"column_id": col.id, "column_type": col.typ, "column_value": match sent { Value::String(s) => s.clone(), v => v.to_string() }}),
        ));
    }
    let settings: Value = serde_json::from_str(&col.settings_str).unwrap_or(json!({}));
    let now = env.now;
    // A string where the JSON form is an object: the type's simple form (see the module docs).
    let simple: Option<&str> = match (form, sent) {
        (Form::Simple, Value::String(s)) => Some(s.as_str()),
        (Form::Json, Value::String(s)) if !matches!(col.typ.as_str(), "text" | "numbers") => {
            Some(s.as_str())
        }
        _ => None,
    };
    if is_clear(sent) && !(col.typ == "checkbox" && matches!(sent, Value::Object(_))) {
        return Ok(plain(cleared(col, now)));
    }
    match col.typ.as_str() {
        "text" => {
            let t = match sent {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(bad("text takes a string")),
            };
            Ok(plain(cell(
                Some(t.clone()),
                Some(Value::String(t)),
                json!({}),
            )))
        }
        "long_text" => {
            let t = match (simple, sent) {
                (Some(s), _) => s.to_string(),
                (None, Value::Object(m)) => match m.get("text") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    _ => return Err(bad("text must be a string")),
                },
                _ => return Err(bad("long text takes {\"text\": …}")),
            };
            if t.chars().count() > 2000 {
                return Err(bad("long text is limited to 2,000 characters"));
            }
            Ok(plain(cell(
                Some(t.clone()),
                Some(json!({"text": t, "changed_at": now})),
                json!({"updated_at": now}),
            )))
        }
        "numbers" => {
            let t = match sent {
                Value::String(s) => s.trim().to_string(),
                Value::Number(n) => n.to_string(),
                _ => return Err(bad("numbers take a string holding a number")),
            };
            let n: f64 = t
                .parse()
                .ok()
                .filter(|f: &f64| f.is_finite())
                .filter(|_| !t.contains(|c: char| c.is_ascii_alphabetic()))
                .ok_or_else(|| bad("not a number"))?;
            Ok(plain(cell(
                Some(t.clone()),
                Some(Value::String(t)),
                json!({"number": n}),
            )))
        }
        "status" => status(env, col, sent, simple, &settings),
        "dropdown" => dropdown(env, col, sent, simple, &settings),
        "date" => {
            let (date, time) = match (simple, sent) {
                (Some(s), _) => {
                    let mut it = s.trim().splitn(2, ' ');
                    (
                        it.next().unwrap_or("").to_string(),
                        it.next().map(|t| t.trim().to_string()),
                    )
                }
                (None, Value::Object(m)) => (
                    m.get("date")
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad("date is required"))?
                        .to_string(),
                    match m.get("time") {
                        None | Some(Value::Null) => None,
                        Some(Value::String(t)) => Some(t.clone()),
                        _ => return Err(bad("time must be a string")),
                    },
                ),
                _ => return Err(bad("date takes {\"date\": \"YYYY-MM-DD\"}")),
            };
            parse_date(&date).ok_or_else(|| bad("invalid date"))?;
            let time = match time {
                Some(t) => Some(parse_time(&t).ok_or_else(|| bad("invalid time"))?),
                None => None,
            };
            let mut v = json!({"date": date, "changed_at": now});
            // Text with a time: `YYYY-MM-DD HH:MM` (UTC here; monday converts to the caller's tz).
            let text = match &time {
                Some(t) => {
                    v["time"] = json!(t);
                    format!("{date} {}", &t[..5])
                }
                None => date.clone(),
            };
            Ok(plain(cell(
                Some(text),
                Some(v),
                json!({"date": date, "time": time, "updated_at": now}),
            )))
        }
        "timeline" => {
            let m = obj_form(sent, simple, &bad)?;
            let get = |k: &str| m.get(k).and_then(Value::as_str).and_then(parse_date);
            let (Some(from), Some(to)) = (get("from"), get("to")) else {
                return Err(bad("timeline takes {\"from\": date, \"to\": date}"));
            };
            if from > to {
                return Err(bad("from is after to"));
            }
            let (f, t) = (date_of(from), date_of(to));
            Ok(plain(cell(
                Some(format!("{f} - {t}")),
                Some(json!({"from": f, "to": t, "changed_at": now})),
                json!({"from": f, "to": t, "visualization_type": null, "updated_at": now}),
            )))
        }
        "hour" => {
            let m = obj_form(sent, simple, &bad)?;
            // Integers, or strings of digits without leading zeros ("no leading zeros", §2.2).
            let get = |k: &str| match m.get(k) {
                Some(Value::Number(n)) => n.as_i64(),
                Some(Value::String(s))
                    if !s.is_empty()
                        && s.bytes().all(|c| c.is_ascii_digit())
                        && (s == "0" || !s.starts_with('0')) =>
                {
                    s.parse().ok()
                }
                None if k == "minute" => Some(0),
                _ => None,
            };
            let (Some(h), Some(min)) = (get("hour"), get("minute")) else {
                return Err(bad("hour takes {\"hour\": 0–23, \"minute\": 0–59}"));
            };
            if !(0..24).contains(&h) || !(0..60).contains(&min) {
                return Err(bad("hour must be 0–23 and minute 0–59"));
            }
            let text = if settings["hour_format"].as_str() == Some("24H") {
                format!("{h:02}:{min:02}")
            } else {
                let h12 = if h % 12 == 0 { 12 } else { h % 12 };
                format!("{h12:02}:{min:02} {}", if h < 12 { "AM" } else { "PM" })
            };
            Ok(plain(cell(
                Some(text),
                Some(json!({"hour": h, "minute": min, "changed_at": now})),
                json!({"hour": h, "minute": min, "updated_at": now}),
            )))
        }
        "week" => {
            let m = obj_form(sent, simple, &bad)?;
            let w = m.get("week").and_then(Value::as_object);
            let get = |k: &str| w?.get(k)?.as_str().and_then(parse_date);
            let (Some(start), Some(end)) = (get("startDate"), get("endDate")) else {
                return Err(bad("week takes {\"week\": {\"startDate\", \"endDate\"}}"));
            };
            // 1970-01-01 was a Thursday: weekday 0 = Sunday.
            let weekday = (start + 4).rem_euclid(7);
            let first = match env.world.first_weekday {
                Weekday::Sunday => 0,
                Weekday::Monday => 1,
            };
            if end - start != 6 || weekday != first {
                return Err(bad(&format!(
                    "a week must be 7 days starting on the account's first weekday ({:?})",
                    env.world.first_weekday
                )));
            }
            let (s, e) = (date_of(start), date_of(end));
            let (sm, em) = (&s[5..7], &e[5..7]);
            let month = |mm: &str| MONTHS[mm.parse::<usize>().unwrap_or(1) - 1];
            // Recorded: "Jun 08 - 14". Across months the form "Jun 29 - Jul 05" is a guess.
            let text = if sm == em {
                format!("{} {} - {}", month(sm), &s[8..], &e[8..])
            } else {
                format!("{} {} - {} {}", month(sm), &s[8..], month(em), &e[8..])
            };
            Ok(plain(cell(
                Some(text),
                Some(json!({"week": {"startDate": s, "endDate": e}})),
                json!({"start_date": s, "end_date": e}),
            )))
        }
        "people" => {
            let entries: Vec<(i64, String)> = match (simple, sent) {
                (Some(s), _) => s
                    .split(',')
                    .map(|p| {
                        p.trim()
                            .parse::<i64>()
                            .map(|i| (i, "person".to_string()))
                            .map_err(|_| bad("people take comma-separated user ids"))
                    })
                    .collect::<Result<_, _>>()?,
                (None, Value::Object(m)) => {
                    if m.get("clear_all") == Some(&json!(true)) {
                        return Ok(plain(cleared(col, now)));
                    }
                    let list = m
                        .get("personsAndTeams")
                        .and_then(Value::as_array)
                        .ok_or_else(|| bad("people take {\"personsAndTeams\": […]}"))?;
                    list.iter()
                        .map(|e| {
                            let id = e.get("id").and_then(int);
                            let kind = e.get("kind").and_then(Value::as_str);
                            match (id, kind) {
                                (Some(i), Some(k @ ("person" | "team" | "agent"))) => {
                                    Ok((i, k.to_string()))
                                }
                                _ => Err(bad("each entry needs an id and a kind person/team")),
                            }
                        })
                        .collect::<Result<_, _>>()?
                }
                _ => return Err(bad("people take {\"personsAndTeams\": […]}")),
            };
            if entries.is_empty() {
                return Ok(plain(cleared(col, now)));
            }
            let mut names = Vec::new();
            for (id, _) in &entries {
                names.push(
                    env.world
                        .people
                        .get(id)
                        .ok_or_else(|| bad(&format!("no user or team {id}")))?
                        .clone(),
                );
            }
            let value: Vec<Value> = entries
                .iter()
                .map(|(i, k)| json!({"id": i, "kind": k}))
                .collect();
            let typed: Vec<Value> = entries
                .iter()
                .map(|(i, k)| json!({"id": i.to_string(), "kind": k}))
                .collect();
            Ok(plain(cell(
                Some(names.join(", ")),
                Some(json!({"changed_at": now, "personsAndTeams": value})),
                json!({"persons_and_teams": typed, "updated_at": now}),
            )))
        }
        "board_relation" | "dependency" => {
            let m = obj_form(sent, simple, &bad)?;
            let ids: Vec<i64> = m
                .get("item_ids")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("takes {\"item_ids\": […]}"))?
                .iter()
                .map(|v| int(v).ok_or_else(|| bad("item ids must be ids")))
                .collect::<Result<_, _>>()?;
            // The connected boards (settings `boardIds`; a dependency links its own board).
            let boards: Vec<i64> = match settings["boardIds"].as_array() {
                Some(a) if col.typ == "board_relation" => a.iter().filter_map(int).collect(),
                _ => vec![env.board.id],
            };
            let mut names = Vec::new();
            for id in &ids {
                match env.world.items.get(id) {
                    Some(it) if boards.contains(&it.board_id) => names.push(it.name.clone()),
                    // A connected board the fake does not hold (the sample's customers board):
                    // its items cannot be checked, and have no name to show.
                    None if boards.iter().any(|b| !env.world.boards.contains_key(b)) => {}
                    _ => return Err(bad(&format!("item {id} is not on a connected board"))),
                }
            }
            let mut seen = std::collections::HashSet::new();
            let ids: Vec<String> = ids
                .iter()
                .filter(|i| seen.insert(**i))
                .map(|i| i.to_string())
                .collect();
            // The API `value` of both link types is null since 2025-04; text is always null.
            Ok(plain(cell(
                None,
                None,
                json!({"linked_item_ids": ids, "display_value": names.join(", "), "updated_at": now}),
            )))
        }
        "email" => {
            let (email, label) = match (simple, sent) {
                (Some(s), _) => {
                    let mut it = s.trim().splitn(2, ' ');
                    let e = it.next().unwrap_or("").to_string();
                    let l = it.next().map(|l| l.trim().to_string());
                    (e.clone(), l.filter(|l| !l.is_empty()).unwrap_or(e))
                }
                (None, Value::Object(m)) => {
                    match (
                        m.get("email").and_then(Value::as_str),
                        m.get("text").and_then(Value::as_str),
                    ) {
                        (Some(e), Some(t)) => (e.to_string(), t.to_string()),
                        _ => return Err(bad("email takes {\"email\", \"text\"}, both required")),
                    }
                }
                _ => return Err(bad("email takes {\"email\", \"text\"}")),
            };
            let ok = email.split_once('@').is_some_and(|(a, d)| {
                !a.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
            }) && !email.contains(char::is_whitespace);
            if !ok {
                return Err(bad("invalid email address"));
            }
            Ok(plain(cell(
                Some(format!("{label} - {email}")),
                Some(json!({"email": email, "text": label, "changed_at": now})),
                json!({"email": email, "label": label, "updated_at": now}),
            )))
        }
        "phone" => {
            let (phone, country) = match (simple, sent) {
                (Some(s), _) => {
                    let mut it = s.split_whitespace();
                    (
                        it.next().unwrap_or("").to_string(),
                        it.next().unwrap_or("").to_string(),
                    )
                }
                (None, Value::Object(m)) => (
                    m.get("phone")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    m.get("countryShortName")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                ),
                _ => return Err(bad("phone takes {\"phone\", \"countryShortName\"}")),
            };
            let digits = phone.strip_prefix('+').unwrap_or(&phone);
            if !(7..=15).contains(&digits.len()) || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad("invalid phone number"));
            }
            if country.len() != 2 || !country.bytes().all(|c| c.is_ascii_uppercase()) {
                return Err(bad("countryShortName must be an ISO country code"));
            }
            Ok(plain(cell(
                Some(phone.clone()),
                Some(json!({"phone": phone, "changed_at": now, "countryShortName": country})),
                json!({"phone": phone, "country_short_name": country, "updated_at": now}),
            )))
        }
        "link" => {
            let (url, label) = match (simple, sent) {
                (Some(s), _) => {
                    let mut it = s.trim().splitn(2, ' ');
                    let u = it.next().unwrap_or("").to_string();
                    let l = it.next().map(|l| l.trim().to_string());
                    (u.clone(), l.filter(|l| !l.is_empty()).unwrap_or(u))
                }
                (None, Value::Object(m)) => {
                    let u = m
                        .get("url")
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad("link takes {\"url\", \"text\"}"))?;
                    (
                        u.to_string(),
                        m.get("text")
                            .and_then(Value::as_str)
                            .unwrap_or(u)
                            .to_string(),
                    )
                }
                _ => return Err(bad("link takes {\"url\", \"text\"}")),
            };
            if url.is_empty() || url.contains(char::is_whitespace) {
                return Err(bad("invalid url"));
            }
            Ok(plain(cell(
                Some(format!("{label} - {url}")),
                Some(json!({"url": url, "text": label, "changed_at": now})),
                json!({"url": url, "url_text": label, "updated_at": now}),
            )))
        }
        "location" => {
            let (lat, lng, address) = match (simple, sent) {
                (Some(s), _) => {
                    let mut it = s.trim().splitn(3, ' ');
                    (
                        it.next().unwrap_or("").to_string(),
                        it.next().unwrap_or("").to_string(),
                        it.next().map(|a| a.trim().to_string()),
                    )
                }
                (None, Value::Object(m)) => {
                    let coord = |k: &str| match m.get(k) {
                        Some(Value::String(s)) => s.trim().to_string(),
                        Some(Value::Number(n)) => n.to_string(),
                        _ => String::new(),
                    };
                    (
                        coord("lat"),
                        coord("lng"),
                        m.get("address").and_then(Value::as_str).map(String::from),
                    )
                }
                _ => return Err(bad("location takes {\"lat\", \"lng\", \"address\"}")),
            };
            let num = |s: &str| s.parse::<f64>().ok().filter(|f| f.is_finite());
            let (Some(la), Some(ln)) = (num(&lat), num(&lng)) else {
                return Err(bad("lat and lng must be numbers"));
            };
            let inside = la > -90.0 && la < 90.0 && (-180.0..=180.0).contains(&ln);
            if !inside {
                return Err(bad("lat must be in (-90, 90) and lng in [-180, 180]"));
            }
            let mut v = json!({"lat": lat, "lng": lng, "changed_at": now});
            if let Some(a) = &address {
                v["address"] = json!(a);
            }
            // Text is the address (recorded); without one, the fake shows nothing.
            Ok(plain(cell(
                Some(address.clone().unwrap_or_default()),
                Some(v),
                json!({"lat": la, "lng": ln, "address": address, "updated_at": now}),
            )))
        }
        "checkbox" => {
            if form == Form::Simple {
                return Err(bad("checkbox has no simple form"));
            }
            let checked = match sent.get("checked") {
                Some(Value::String(s)) if s == "true" => true,
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) if s == "false" => false,
                Some(Value::Null) => false,
                _ => return Err(bad("checkbox takes {\"checked\": \"true\"}")),
            };
            if !checked {
                return Ok(plain(cleared(col, now)));
            }
            Ok(plain(cell(
                Some("v".into()),
                Some(json!({"checked": true, "changed_at": now})),
                json!({"checked": true, "updated_at": now}),
            )))
        }
        "rating" => {
            let m = obj_form(sent, simple, &bad)?;
            let max = settings
                .get("max")
                .or_else(|| settings.get("limit"))
                .and_then(int)
                .unwrap_or(5);
            let r = m
                .get("rating")
                .and_then(int)
                .ok_or_else(|| bad("rating takes {\"rating\": n}"))?;
            if !(1..=max).contains(&r) {
                return Err(bad(&format!("rating must be 1..{max}")));
            }
            Ok(plain(cell(
                Some(r.to_string()),
                Some(json!({"rating": r, "changed_at": now})),
                json!({"rating": r, "updated_at": now}),
            )))
        }
        "tags" => {
            let m = obj_form(sent, simple, &bad)?;
            let ids: Vec<i64> = m
                .get("tag_ids")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("tags take {\"tag_ids\": […]}"))?
                .iter()
                .map(|v| int(v).ok_or_else(|| bad("tag ids must be integers")))
                .collect::<Result<_, _>>()?;
            let names: Vec<String> = ids
                .iter()
                .map(|i| {
                    env.world
                        .tags
                        .get(i)
                        .cloned()
                        .ok_or_else(|| bad(&format!("no tag {i} (create_or_get_tag first)")))
                })
                .collect::<Result<_, _>>()?;
            Ok(plain(cell(
                Some(names.join(", ")),
                Some(json!({"tag_ids": ids})),
                json!({"tag_ids": ids}),
            )))
        }
        "country" => {
            let m = obj_form(sent, simple, &bad)?;
            let (Some(code), Some(name)) = (
                m.get("countryCode").and_then(Value::as_str),
                m.get("countryName").and_then(Value::as_str),
            ) else {
                return Err(bad("country takes {\"countryCode\", \"countryName\"}"));
            };
            if code.len() != 2 || !code.bytes().all(|c| c.is_ascii_uppercase()) || name.is_empty() {
                return Err(bad("invalid country"));
            }
            Ok(plain(cell(
                Some(name.to_string()),
                Some(json!({"countryCode": code, "countryName": name})),
                json!({"country": {"code": code, "name": name}, "updated_at": now}),
            )))
        }
        "world_clock" => {
            let m = obj_form(sent, simple, &bad)?;
            let tz = m
                .get("timezone")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("world clock takes {\"timezone\": …}"))?;
            let ok = tz == "UTC"
                || (tz.contains('/')
                    && tz
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || b"/_-+".contains(&c)));
            if !ok {
                return Err(bad("unknown timezone"));
            }
            Ok(plain(cell(
                Some(tz.to_string()),
                Some(json!({"timezone": tz, "changed_at": now})),
                json!({"timezone": tz, "updated_at": now}),
            )))
        }
        "team" => {
            let m = obj_form(sent, simple, &bad)?;
            let id = m
                .get("team_id")
                .and_then(int)
                .ok_or_else(|| bad("team takes {\"team_id\": n}"))?;
            let name = env.world.people.get(&id).cloned().unwrap_or_default();
            Ok(plain(cell(
                Some(name),
                Some(json!({"team_id": id, "changed_at": now})),
                json!({"team_id": id, "updated_at": now}),
            )))
        }
        _ => Err(bad("this column type cannot be written by the fake")),
    }
}

fn plain(cell: Map<String, Value>) -> Written {
    Written {
        cell,
        settings: None,
    }
}

/// The object of a type without a simple form (a simple string is an error).
fn obj_form<'v>(
    sent: &'v Value,
    simple: Option<&str>,
    bad: &dyn Fn(&str) -> FieldError,
) -> Result<&'v Map<String, Value>, FieldError> {
    if simple.is_some() {
        return Err(bad("this column type has no simple string form"));
    }
    sent.as_object()
        .ok_or_else(|| bad("this column type takes a JSON object"))
}

/// A cleared cell's read shape (see the module docs).
pub fn cleared(col: &Column, now: &str) -> Map<String, Value> {
    match col.typ.as_str() {
        "text" => cell(Some(String::new()), Some(json!("")), json!({})),
        "numbers" => cell(
            Some(String::new()),
            Some(json!("")),
            json!({"number": null}),
        ),
        "long_text" => cell(
            Some(String::new()),
            Some(json!({"text": "", "changed_at": now})),
            json!({"updated_at": now}),
        ),
        "status" => cell(
            None,
            Some(json!({"changed_at": now})),
            json!({"label": null, "index": null, "is_done": false, "updated_at": now}),
        ),
        "checkbox" => cell(
            Some(String::new()),
            Some(json!({"checked": false})),
            json!({"checked": false}),
        ),
        "tags" => cell(
            Some(String::new()),
            Some(json!({"tag_ids": []})),
            json!({"tag_ids": []}),
        ),
        "dropdown" => cell(None, None, json!({"values": []})),
        "people" => cell(Some(String::new()), None, json!({"persons_and_teams": []})),
        "board_relation" | "dependency" => cell(
            None,
            None,
            json!({"linked_item_ids": [], "display_value": ""}),
        ),
        "date" => cell(
            Some(String::new()),
            None,
            json!({"date": null, "time": null}),
        ),
        "timeline" => cell(Some(String::new()), None, json!({"from": null, "to": null})),
        _ => cell(Some(String::new()), None, json!({})),
    }
}

fn status(
    env: &Env,
    col: &Column,
    sent: &Value,
    simple: Option<&str>,
    settings: &Value,
) -> Result<Written, FieldError> {
    let bad = |why: &str| column_error(col, sent, why);
    let labels = settings["labels"].as_object().cloned().unwrap_or_default();
    enum Want {
        Index(i64),
        Label(String),
    }
    let want = match (simple, sent) {
        // Simple form: digits are an index ("numeric labels must be sent by index"), else a label.
        (Some(s), _) => match s.trim().parse::<i64>() {
            Ok(i) => Want::Index(i),
            Err(_) => Want::Label(s.trim().to_string()),
        },
        (None, Value::Object(m)) => match (m.get("label"), m.get("index")) {
            (Some(Value::String(l)), None) => Want::Label(l.clone()),
            (None, Some(i)) => Want::Index(int(i).ok_or_else(|| bad("index must be an integer"))?),
            (Some(_), Some(_)) => return Err(bad("give a label or an index, not both")),
            _ => return Err(bad("status takes {\"label\": …} or {\"index\": n}")),
        },
        _ => return Err(bad("status takes {\"label\": …} or {\"index\": n}")),
    };
    let mut new_settings = None;
    let index = match want {
        Want::Index(i) => {
            if !labels.contains_key(&i.to_string()) {
                return Err(bad(&format!("no label with index {i}")));
            }
            i
        }
        Want::Label(l) => match labels.iter().find(|(_, v)| v.as_str() == Some(l.as_str())) {
            Some((k, _)) => k.parse().unwrap_or(0),
            None if env.create_labels && !l.is_empty() => {
                if labels.len() >= 40 {
                    return Err(bad("a status column has at most 40 labels"));
                }
                // A new label takes the lowest free id (5 stays the default empty label).
                let i = (0..40)
                    .find(|i| *i != 5 && !labels.contains_key(&i.to_string()))
                    .unwrap_or(39);
                let mut s = settings.clone();
                if !s.is_object() {
                    s = json!({});
                }
                if !s["labels"].is_object() {
                    s["labels"] = json!({});
                }
                s["labels"][i.to_string()] = json!(l);
                let pos = s["labels_positions_v2"]
                    .as_object()
                    .map(|p| p.values().filter_map(Value::as_i64).max().unwrap_or(-1) + 1);
                if let Some(p) = pos {
                    s["labels_positions_v2"][i.to_string()] = json!(p);
                }
                new_settings = Some(s.to_string());
                i
            }
            None => {
                return Err(bad(&format!(
                    "label {l:?} does not exist (create_labels_if_missing: true creates it)"
                )))
            }
        },
    };
    let label = match &new_settings {
        Some(s) => serde_json::from_str::<Value>(s).unwrap_or_default()["labels"]
            [index.to_string()]
        .as_str()
        .unwrap_or("")
        .to_string(),
        None => labels[&index.to_string()]
            .as_str()
            .unwrap_or("")
            .to_string(),
    };
    let is_done = match settings["done_colors"].as_array() {
        Some(d) => d.iter().any(|x| x.as_i64() == Some(index)),
        None => index == 1,
    };
    // The default empty label (5, "") has text null although value holds its index (§1.2).
    let text = (!label.is_empty()).then(|| label.clone());
    Ok(Written {
        cell: cell(
            text,
            Some(json!({"index": index, "changed_at": env.now})),
            json!({"label": label, "index": index, "is_done": is_done, "updated_at": env.now}),
        ),
        settings: new_settings,
    })
}

fn dropdown(
    env: &Env,
    col: &Column,
    sent: &Value,
    simple: Option<&str>,
    settings: &Value,
) -> Result<Written, FieldError> {
    let bad = |why: &str| column_error(col, sent, why);
    let labels: Vec<(i64, String)> = settings["labels"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| Some((int(l.get("id")?)?, l.get("name")?.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    enum Want {
        Ids(Vec<i64>),
        Labels(Vec<String>),
    }
    let want = match (simple, sent) {
        // "1,2" are ids when every part is a known id; otherwise the parts are labels.
        (Some(s), _) => {
            let parts: Vec<String> = s.split(',').map(|p| p.trim().to_string()).collect();
            let ids: Option<Vec<i64>> = parts
                .iter()
                .map(|p| {
                    p.parse()
                        .ok()
                        .filter(|i| labels.iter().any(|(id, _)| id == i))
                })
                .collect();
            match ids {
                Some(ids) => Want::Ids(ids),
                None => Want::Labels(parts),
            }
        }
        (None, Value::Object(m)) => match (m.get("ids"), m.get("labels")) {
            (Some(Value::Array(a)), None) => Want::Ids(
                a.iter()
                    .map(|v| int(v).ok_or_else(|| bad("ids must be integers")))
                    .collect::<Result<_, _>>()?,
            ),
            (None, Some(Value::Array(a))) => Want::Labels(
                a.iter()
                    .map(|v| {
                        v.as_str()
                            .map(|s| s.to_string())
                            .ok_or_else(|| bad("labels must be strings"))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            (Some(_), Some(_)) => return Err(bad("ids and labels cannot be mixed")),
            _ => return Err(bad("dropdown takes {\"ids\": […]} or {\"labels\": […]}")),
        },
        _ => return Err(bad("dropdown takes {\"ids\": […]} or {\"labels\": […]}")),
    };
    let mut all = labels.clone();
    let mut created = false;
    let ids: Vec<i64> = match want {
        Want::Ids(ids) => {
            for i in &ids {
                if !labels.iter().any(|(id, _)| id == i) {
                    return Err(bad(&format!("no label with id {i}")));
                }
            }
            ids
        }
        Want::Labels(names) => {
            let mut ids = Vec::new();
            for n in names {
                match all.iter().find(|(_, l)| *l == n) {
                    Some((id, _)) => ids.push(*id),
                    None if env.create_labels && !n.is_empty() => {
                        let id = all.iter().map(|(i, _)| *i).max().unwrap_or(0) + 1;
                        all.push((id, n));
                        created = true;
                        ids.push(id);
                    }
                    None => {
                        return Err(bad(&format!(
                            "label {n:?} does not exist (create_labels_if_missing: true creates it)"
                        )))
                    }
                }
            }
            ids
        }
    };
    let mut seen = std::collections::HashSet::new();
    let ids: Vec<i64> = ids.into_iter().filter(|i| seen.insert(*i)).collect();
    if ids.is_empty() {
        return Ok(plain(cleared(col, env.now)));
    }
    let name = |i: &i64| {
        all.iter()
            .find(|(id, _)| id == i)
            .map(|(_, n)| n.clone())
            .unwrap_or_default()
    };
    let new_settings = created.then(|| {
        let mut s = if settings.is_object() {
            settings.clone()
        } else {
            json!({})
        };
        s["labels"] = Value::Array(
            all.iter()
                .map(|(i, n)| json!({"id": i, "name": n}))
                .collect(),
        );
        s.to_string()
    });
    Ok(Written {
        cell: cell(
            Some(ids.iter().map(name).collect::<Vec<_>>().join(", ")),
            Some(json!({"ids": ids})),
            json!({"values": ids.iter().map(|i| json!({"id": i.to_string(), "label": name(i)})).collect::<Vec<_>>()}),
        ),
        settings: new_settings,
    })
}
