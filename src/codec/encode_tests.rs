//! Tests of [`encode`]: the exact JSON sent per type, `decode(encode(v)) == v` through a model of
//! what monday stores and returns (FACTS.md §2.2 write forms → §1.1/§1.3 read shapes), and every
//! error case with its SQLSTATE.

use super::encode::{encode, writable, EncodeError, EncodeErrorCode};
use super::*;
use serde_json::json;

/// The `changed_at` monday stamps on stored values.
const CHANGED_AT: &str = "2026-01-05T10:00:00.000Z";

/// What monday knows about a column beyond its type: its labels (status and dropdown), whether
/// the mutation is sent with `create_labels_if_missing: true`, and the account's first weekday.
#[derive(Debug, Clone, Default)]
pub(super) struct Column {
    pub labels: Vec<(i64, String)>,
    pub create_labels: bool,
    pub weeks_start_sunday: bool,
    /// Further keys the caller puts in column_settings (`limit`, `countryShortName`).
    pub extra: Map<String, Value>,
}

impl Column {
    pub fn with_labels(labels: &[(i64, &str)]) -> Column {
        Column {
            labels: labels.iter().map(|(i, l)| (*i, l.to_string())).collect(),
            ..Column::default()
        }
    }

    /// The column's `settings_str`, parsed, as monday returns it: status labels are an id → text
    /// map, dropdown labels a list (FACTS §1.4).
    pub fn settings(&self, column_type: &str) -> Value {
        match Kind::from_name(column_type) {
            Kind::Status => {
                let m: Map<String, Value> = self
                    .labels
                    .iter()
                    .map(|(i, l)| (i.to_string(), json!(l)))
                    .collect();
                json!({ "labels": m })
            }
            Kind::Dropdown => {
                let a: Vec<Value> = self
                    .labels
                    .iter()
                    .map(|(i, l)| json!({"id": i, "name": l}))
                    .collect();
                json!({ "labels": a, "deactivated_labels": [] })
            }
            _ => json!({}),
        }
    }

    /// What the caller passes to encode: the settings plus the keys encode reads beside them.
    pub fn encode_settings(&self, column_type: &str) -> Value {
        let mut s = self.settings(column_type);
        if self.create_labels {
            s["create_labels_if_missing"] = json!(true);
        }
        if self.weeks_start_sunday {
            s["first_day_of_the_week"] = json!("sunday");
        }
        for (k, v) in &self.extra {
            s[k] = v.clone();
        }
        s
    }

    fn label_id(&self, name: &str) -> Option<i64> {
        self.labels.iter().find(|(_, l)| l == name).map(|(i, _)| *i)
    }

    fn label(&self, id: i64) -> Option<&str> {
        self.labels
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, l)| l.as_str())
    }

    /// A label monday does not know yet: created when the mutation allows it, with a fresh id.
    fn create(&mut self, name: &str) -> Result<i64, String> {
        if !self.create_labels {
            return Err(format!("label {name:?} does not exist"));
        }
        let id = self.labels.iter().map(|(i, _)| *i).max().unwrap_or(0) + 1;
        self.labels.push((id, name.to_string()));
        Ok(id)
    }
}

/// A model of monday: takes the JSON `encode` produced for one column of
/// `change_multiple_column_values`, checks it the way FACTS §2.2 says monday does, and returns the
/// `column_values` element the API then gives back (double-encoded `value`, `text`, typed fields:
/// FACTS §1.1, §1.3). Clears produce the stubs FACTS §1.1 lists. `Err` = monday would refuse.
pub(super) fn store(
    column_type: &str,
    sent: &Value,
    column: &mut Column,
) -> Result<Map<String, Value>, String> {
    let id = format!("{}_col", column_type.replace('-', "_"));
    let api = |text: Option<&str>, value: Option<Value>| -> Map<String, Value> {
        let cell = json!({
            "id": id,
            "type": column_type,
            "text": text,
            "value": value.map(|v| v.to_string()),
        });
        cell.as_object().cloned().unwrap_or_default()
    };
    let with_changed_at = |mut v: Value| {
        v["changed_at"] = json!(CHANGED_AT);
        v
    };
    let str_of = |v: &Value, key: &str| -> Result<String, String> {
        v.get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("{column_type}: {key:?} must be a string in {sent}"))
    };
    let date_of = |v: &Value, key: &str| -> Result<Date, String> {
        let s = str_of(v, key)?;
        if s.len() != 10 {
            return Err(format!("{key} {s:?} is not YYYY-MM-DD"));
        }
        Date::parse(&s).ok_or_else(|| format!("{key} {s:?} is not a date"))
    };
    let kind = Kind::from_name(column_type);
    if sent.is_null() {
        return Ok(match kind {
            Kind::Name => return Err("the name cannot be cleared".into()),
            // FACTS §1.1: cleared text/numbers keep "", a cleared status keeps changed_at, a
            // cleared checkbox {"checked":false}.
            Kind::Text | Kind::Numbers => api(Some(""), Some(json!(""))),
            Kind::Status => api(None, Some(json!({ "changed_at": CHANGED_AT }))),
            Kind::Checkbox => api(Some(""), Some(json!({"checked": false}))),
            Kind::Relation => {
                let mut c = api(None, None);
                c.insert("linked_item_ids".into(), json!([]));
                c
            }
            _ => api(Some(""), None),
        });
    }
    Ok(match kind {
        Kind::Name => {
            let name = sent.as_str().ok_or("name must be a string")?;
            if name.is_empty() || name.chars().count() > 255 {
                return Err("ItemNameTooLongException".into());
            }
            json!({"id": "name", "name": name})
                .as_object()
                .cloned()
                .unwrap_or_default()
        }
        Kind::Text => {
            let s = sent.as_str().ok_or("text must be a JSON string")?;
            api(Some(s), Some(json!(s)))
        }
        Kind::LongText => {
            let s = str_of(sent, "text")?;
            if s.chars().count() > 2000 {
                return Err("long text over 2,000 characters".into());
            }
            api(Some(&s), Some(with_changed_at(json!({ "text": s }))))
        }
        Kind::Numbers => {
            // FACTS §2.2: a string holding an integer or a float.
            let s = sent.as_str().ok_or("numbers must be a JSON string")?;
            let body = s.strip_prefix('-').unwrap_or(s);
            let (int, frac) = body.split_once('.').unwrap_or((body, "0"));
            let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
            if !digits(int) || !digits(frac) {
                return Err(format!("{s:?} is not a number"));
            }
            api(Some(s), Some(json!(s)))
        }
        Kind::Status => {
            let id = match (sent.get("index"), sent.get("label")) {
                (Some(i), None) => {
                    let i = i.as_i64().ok_or("index must be an integer")?;
                    column
                        .label(i)
                        .ok_or_else(|| format!("status index {i} does not exist"))?;
                    i
                }
                (None, Some(Value::String(l))) => match column.label_id(l) {
                    Some(i) => i,
                    None => column.create(l)?,
                },
                _ => return Err(format!("status form {sent} is not index or label")),
            };
            let label = column.label(id).unwrap_or_default().to_string();
            let text = (!label.is_empty()).then_some(label.as_str());
            api(text, Some(with_changed_at(json!({ "index": id }))))
        }
        Kind::Dropdown => {
            let ids: Vec<i64> = match (sent.get("ids"), sent.get("labels")) {
                (Some(Value::Array(ids)), None) => ids
                    .iter()
                    .map(|i| {
                        let i = i.as_i64().ok_or("dropdown ids are integers")?;
                        column
                            .label(i)
                            .map(|_| i)
                            .ok_or_else(|| format!("dropdown id {i} does not exist"))
                    })
                    .collect::<Result<_, String>>()?,
                (None, Some(Value::Array(labels))) => labels
                    .iter()
                    .map(|l| {
                        let l = l.as_str().ok_or("dropdown labels are strings")?;
                        match column.label_id(l) {
                            Some(i) => Ok(i),
                            None => column.create(l),
                        }
                    })
                    .collect::<Result<_, String>>()?,
                _ => return Err(format!("dropdown form {sent} is not ids or labels")),
            };
            let text: Vec<&str> = ids.iter().filter_map(|i| column.label(*i)).collect();
            api(Some(&text.join(", ")), Some(json!({ "ids": ids })))
        }
        Kind::Date => {
            let d = date_of(sent, "date")?;
            let stored = with_changed_at(json!({"date": d.to_iso().as_str()}));
            api(Some(&d.to_iso()), Some(stored))
        }
        Kind::Timeline => {
            let (from, to) = (date_of(sent, "from")?, date_of(sent, "to")?);
            if from > to {
                return Err("timeline ends before it starts".into());
            }
            let text = format!("{} - {}", from.to_iso(), to.to_iso());
            let stored = with_changed_at(
                json!({"from": from.to_iso().as_str(), "to": to.to_iso().as_str()}),
            );
            api(Some(&text), Some(stored))
        }
        Kind::Week => {
            let w = sent.get("week").ok_or("week form is {\"week\":{…}}")?;
            let (start, end) = (date_of(w, "startDate")?, date_of(w, "endDate")?);
            let first_weekday = if column.weeks_start_sunday { 6 } else { 0 };
            if end.days_from_epoch() - start.days_from_epoch() != 6
                || start.weekday() != first_weekday
            {
                return Err("a week is 7 days from the account's first weekday".into());
            }
            let text = format!("{} - {}", start.to_iso(), end.to_iso());
            let stored = json!({"week": {"startDate": start.to_iso().as_str(), "endDate": end.to_iso().as_str()}});
            api(Some(&text), Some(stored))
        }
        Kind::Hour => {
            let h = sent.get("hour").and_then(Value::as_u64).ok_or("hour")?;
            let m = sent.get("minute").and_then(Value::as_u64).ok_or("minute")?;
            if h > 23 || m > 59 {
                return Err("hour out of range".into());
            }
            let text = format!(
                "{:02}:{m:02} {}",
                (h + 11) % 12 + 1,
                if h < 12 { "AM" } else { "PM" }
            );
            let stored = with_changed_at(json!({"hour": h, "minute": m}));
            api(Some(&text), Some(stored))
        }
        Kind::People => {
            let list = sent
                .get("personsAndTeams")
                .and_then(Value::as_array)
                .ok_or("people form is {\"personsAndTeams\":[…]}")?;
            for e in list {
                e.get("id")
                    .and_then(Value::as_i64)
                    .ok_or("people ids are integers")?;
                let kind = e.get("kind").and_then(Value::as_str);
                if !matches!(kind, Some("person" | "team")) {
                    return Err("people kind is person or team".into());
                }
            }
            let stored = json!({"changed_at": CHANGED_AT, "personsAndTeams": list});
            api(Some("Ann, Bob"), Some(stored))
        }
        Kind::Relation => {
            let ids = sent
                .get("item_ids")
                .and_then(Value::as_array)
                .ok_or("relation form is {\"item_ids\":[…]}")?;
            let ids: Vec<String> = ids
                .iter()
                .map(|i| match i {
                    Value::String(s) if s.parse::<i64>().is_ok() => Ok(s.clone()),
                    Value::Number(n) if n.is_i64() => Ok(n.to_string()),
                    _ => Err("item ids are integers or strings of one".to_string()),
                })
                .collect::<Result<_, _>>()?;
            // API ≥ 2025-04: value null; the ids come as the typed linked_item_ids, strings.
            let mut c = api(None, None);
            c.insert("linked_item_ids".into(), json!(ids));
            c.insert("display_value".into(), json!(""));
            c
        }
        Kind::Email => {
            let (email, text) = (str_of(sent, "email")?, str_of(sent, "text")?);
            let shown = format!("{text} - {email}");
            let stored = with_changed_at(json!({"email": email, "text": text}));
            api(Some(&shown), Some(stored))
        }
        Kind::Phone => {
            let (phone, country) = (str_of(sent, "phone")?, str_of(sent, "countryShortName")?);
            if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err("countryShortName must be a capitalised ISO-2 code".into());
            }
            let stored =
                json!({"phone": phone, "changed_at": CHANGED_AT, "countryShortName": country});
            api(Some(&phone), Some(stored))
        }
        Kind::Link => {
            let (url, text) = (str_of(sent, "url")?, str_of(sent, "text")?);
            let shown = format!("{text} - {url}");
            let stored = with_changed_at(json!({"url": url, "text": text}));
            api(Some(&shown), Some(stored))
        }
        Kind::Location => {
            let (lat, lng) = (str_of(sent, "lat")?, str_of(sent, "lng")?);
            let (la, ln): (f64, f64) = (
                lat.parse().map_err(|_| "lat is not a number")?,
                lng.parse().map_err(|_| "lng is not a number")?,
            );
            if !(la > -90.0 && la < 90.0 && (-180.0..=180.0).contains(&ln)) {
                return Err("coordinates out of range".into());
            }
            let mut stored = json!({"lat": lat, "lng": lng, "changed_at": CHANGED_AT});
            if let Some(a) = sent.get("address") {
                stored["address"] = a.clone();
            }
            let text = sent.get("address").and_then(Value::as_str).unwrap_or("");
            api(Some(text), Some(stored))
        }
        Kind::Checkbox => {
            if sent.get("checked") != Some(&json!("true")) {
                return Err("checkbox form is {\"checked\":\"true\"}".into());
            }
            api(Some("v"), Some(with_changed_at(json!({"checked": true}))))
        }
        Kind::Rating => {
            let r = sent.get("rating").and_then(Value::as_i64).ok_or("rating")?;
            if r < 1 {
                return Err("ratings start at 1".into());
            }
            let stored = with_changed_at(json!({ "rating": r }));
            api(Some(&r.to_string()), Some(stored))
        }
        Kind::Tags => {
            let ids = sent
                .get("tag_ids")
                .and_then(Value::as_array)
                .ok_or("tags form is {\"tag_ids\":[…]}")?;
            if !ids.iter().all(Value::is_i64) {
                return Err("tag ids are integers".into());
            }
            api(Some(""), Some(json!({ "tag_ids": ids })))
        }
        Kind::Country => {
            let (code, name) = (str_of(sent, "countryCode")?, str_of(sent, "countryName")?);
            let stored = with_changed_at(json!({"countryCode": code, "countryName": name}));
            api(Some(&name), Some(stored))
        }
        Kind::WorldClock => {
            let tz = str_of(sent, "timezone")?;
            let stored = with_changed_at(json!({ "timezone": tz }));
            api(Some(""), Some(stored))
        }
        Kind::Json if column_type == "team" => {
            let t = sent
                .get("team_id")
                .and_then(Value::as_i64)
                .ok_or("team_id")?;
            api(Some(""), Some(json!({ "team_id": t })))
        }
        _ => return Err(format!("{column_type} cannot be written")),
    })
}

/// `decode(encode(v))` through the monday model: the decoded `to_jsonb` text, or None for NULL.
pub(super) fn write_and_read(
    column_type: &str,
    v: &Value,
    column: &mut Column,
) -> Result<Option<Decoded>, String> {
    let settings = column.encode_settings(column_type);
    let sent = encode(column_type, v, Some(&settings)).map_err(|e| e.to_string())?;
    let cell = store(column_type, &sent, column)?;
    // Read back with the column's settings as monday now returns them (new labels included).
    let read_settings = column.settings(column_type);
    let got = decode(Some(column_type), &cell, Some(&read_settings)).map_err(|e| e.to_string())?;
    Ok((!got.is_null()).then_some(got))
}

/// The input `encode` gets for the `to_jsonb` text `v`, as the contract in encode.rs has the glue
/// build it: integers as JSON numbers, other numerics as their exact text.
pub(super) fn typed_input(v: &str) -> Value {
    let parsed: Value = serde_json::from_str(v).expect("test value is JSON");
    match &parsed {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => Value::String(v.trim().to_string()),
        _ => parsed,
    }
}

/// `decode(encode(v)) == v`: numbers compare as exact text, everything else as JSON.
pub(super) fn assert_round_trip(column_type: &str, v: &str, column: &mut Column) {
    let got = write_and_read(column_type, &typed_input(v), column)
        .unwrap_or_else(|e| panic!("{column_type} {v}: {e}"))
        .unwrap_or_else(|| panic!("{column_type} {v}: read back as NULL"));
    match &got {
        Decoded::Number(n) => assert_eq!(n.as_str(), v.trim(), "{column_type}"),
        other => {
            let got: Value = serde_json::from_str(&other.to_json()).expect("decode gives JSON");
            let want: Value = serde_json::from_str(v).expect("test value is JSON");
            assert_eq!(got, want, "{column_type}: {v}");
        }
    }
}

fn round_trip(column_type: &str, v: &str) {
    assert_round_trip(column_type, v, &mut Column::default());
}

fn enc(column_type: &str, v: Value, settings: Option<Value>) -> Result<Value, EncodeError> {
    encode(column_type, &v, settings.as_ref())
}

fn sent(column_type: &str, v: Value, settings: Option<Value>) -> Value {
    enc(column_type, v.clone(), settings).unwrap_or_else(|e| panic!("{column_type} {v}: {e}"))
}

/// The error for `v`, checked to carry a message, a DETAIL naming the type, and a HINT.
fn err(column_type: &str, v: Value, settings: Option<Value>) -> EncodeError {
    let e = enc(column_type, v.clone(), settings)
        .expect_err(&format!("{column_type} {v} should be refused"));
    assert!(!e.message.is_empty() && !e.hint.is_empty(), "{e:?}");
    assert!(e.detail.contains(column_type), "{e:?}");
    e
}

fn status_column() -> Column {
    Column::with_labels(&[(0, "Working on it"), (1, "Done"), (2, "Stuck"), (5, "")])
}

fn dropdown_column() -> Column {
    Column::with_labels(&[(1, "Cookie"), (2, "Cupcake"), (3, "Brownie")])
}

// ---- the JSON sent, per type (FACTS §2.2) ----

#[test]
fn sends_the_documented_forms() {
    let status = Some(status_column().settings("status"));
    let dropdown = Some(dropdown_column().settings("dropdown"));
    let cases: Vec<(&str, Value, Option<Value>, Value)> = vec![
        ("name", json!("Launch plan"), None, json!("Launch plan")),
        ("text", json!("57 lenox ave"), None, json!("57 lenox ave")),
        (
            "long_text",
            json!("Sample"),
            None,
            json!({"text": "Sample"}),
        ),
        ("numbers", json!("-12.50"), None, json!("-12.50")),
        ("numbers", json!(3), None, json!("3")),
        ("numbers", json!(1.5e2), None, json!("150.0")),
        ("numbers", json!("1.5e2"), None, json!("150")),
        ("numeric", json!(" +007.10 "), None, json!("7.10")),
        ("status", json!("Done"), status.clone(), json!({"index": 1})),
        ("color", json!("Done"), None, json!({"label": "Done"})),
        ("status", json!(2), status.clone(), json!({"index": 2})),
        ("status", json!(8), None, json!({"index": 8})),
        (
            "dropdown",
            json!(["Brownie", "Cookie"]),
            dropdown.clone(),
            json!({"ids": [3, 1]}),
        ),
        (
            "dropdown",
            json!(["A", "B"]),
            None,
            json!({"labels": ["A", "B"]}),
        ),
        (
            "date",
            json!("2026-06-15"),
            None,
            json!({"date": "2026-06-15"}),
        ),
        (
            "timeline",
            json!("[2019-06-03,2019-06-08)"),
            None,
            json!({"from": "2019-06-03", "to": "2019-06-07"}),
        ),
        (
            "timerange",
            json!("[2019-06-03,2019-06-03]"),
            None,
            json!({"from": "2019-06-03", "to": "2019-06-03"}),
        ),
        (
            "week",
            json!("[2019-06-10,2019-06-17)"),
            None,
            json!({"week": {"startDate": "2019-06-10", "endDate": "2019-06-16"}}),
        ),
        (
            "week",
            json!("[2019-06-09,2019-06-15]"),
            Some(json!({"first_day_of_the_week": "sunday"})),
            json!({"week": {"startDate": "2019-06-09", "endDate": "2019-06-15"}}),
        ),
        (
            "hour",
            json!("16:42:00"),
            None,
            json!({"hour": 16, "minute": 42}),
        ),
        (
            "hour",
            json!("09:05"),
            None,
            json!({"hour": 9, "minute": 5}),
        ),
        (
            "people",
            json!([44865791, 51166]),
            None,
            json!({"personsAndTeams": [{"id": 44865791, "kind": "person"}, {"id": 51166, "kind": "person"}]}),
        ),
        (
            "board_relation",
            json!([18265984789_i64]),
            None,
            json!({"item_ids": ["18265984789"]}),
        ),
        (
            "dependency",
            json!(["11223344"]),
            None,
            json!({"item_ids": ["11223344"]}),
        ),
        (
            "email",
            json!("test@example.com"),
            None,
            json!({"email": "test@example.com", "text": "test@example.com"}),
        ),
        (
            "phone",
            json!("+19175998722 US"),
            None,
            json!({"phone": "+19175998722", "countryShortName": "US"}),
        ),
        (
            "phone",
            json!("07975777666"),
            Some(json!({"countryShortName": "gb"})),
            json!({"phone": "07975777666", "countryShortName": "GB"}),
        ),
        (
            "link",
            json!("http://monday.com"),
            None,
            json!({"url": "http://monday.com", "text": "http://monday.com"}),
        ),
        (
            "location",
            json!({"lat": 29.9772962, "lng": 31.1324955, "address": "Giza Pyramid Complex"}),
            None,
            json!({"lat": "29.9772962", "lng": "31.1324955", "address": "Giza Pyramid Complex"}),
        ),
        (
            "location",
            json!({"lat": "-33.50", "lng": 180, "address": null}),
            None,
            json!({"lat": "-33.50", "lng": "180"}),
        ),
        ("checkbox", json!(true), None, json!({"checked": "true"})),
        ("boolean", json!(false), None, Value::Null),
        ("rating", json!(5), None, json!({"rating": 5})),
        (
            "rating",
            json!(3),
            Some(json!({"limit": 5})),
            json!({"rating": 3}),
        ),
        (
            "tags",
            json!([295026, 295064]),
            None,
            json!({"tag_ids": [295026, 295064]}),
        ),
        (
            "country",
            json!("US"),
            None,
            json!({"countryCode": "US", "countryName": "United States"}),
        ),
        (
            "country",
            json!("fr"),
            None,
            json!({"countryCode": "FR", "countryName": "France"}),
        ),
        (
            "world_clock",
            json!("Europe/London"),
            None,
            json!({"timezone": "Europe/London"}),
        ),
        (
            "team",
            json!({"team_id": 51166}),
            None,
            json!({"team_id": 51166}),
        ),
    ];
    for (ty, v, settings, want) in cases {
        assert_eq!(sent(ty, v.clone(), settings), want, "{ty} {v}");
    }
}

#[test]
fn labels_monday_does_not_know_are_sent_by_name_when_it_may_create_them() {
    let mut settings = status_column().settings("status");
    settings["create_labels_if_missing"] = json!(true);
    assert_eq!(
        sent("status", json!("Blocked"), Some(settings.clone())),
        json!({"label": "Blocked"})
    );
    // Known labels still go by index.
    assert_eq!(
        sent("status", json!("Stuck"), Some(settings)),
        json!({"index": 2})
    );
    let mut settings = dropdown_column().settings("dropdown");
    settings["create_labels_if_missing"] = json!(true);
    // Never mixed: one unknown label sends them all by name.
    assert_eq!(
        sent("dropdown", json!(["Cookie", "Scone"]), Some(settings)),
        json!({"labels": ["Cookie", "Scone"]})
    );
    // settings_str as the raw string works too, and settings without labels know nothing.
    let raw = Value::String(status_column().settings("status").to_string());
    assert_eq!(
        sent("status", json!("Done"), Some(raw)),
        json!({"index": 1})
    );
    assert_eq!(
        sent("status", json!("Anything"), Some(json!({}))),
        json!({"label": "Anything"})
    );
    // Two labels with one text: the lowest id.
    let dup = Column::with_labels(&[(7, "Same"), (3, "Same")]).settings("status");
    assert_eq!(
        sent("status", json!("Same"), Some(dup)),
        json!({"index": 3})
    );
}

#[test]
fn null_and_empty_values_clear() {
    for ty in [
        "text",
        "long_text",
        "numbers",
        "status",
        "dropdown",
        "date",
        "timeline",
        "week",
        "hour",
        "people",
        "board_relation",
        "dependency",
        "email",
        "phone",
        "link",
        "location",
        "checkbox",
        "rating",
        "country",
        "world_clock",
        "team",
    ] {
        assert_eq!(sent(ty, Value::Null, None), Value::Null, "{ty}");
    }
    assert_eq!(sent("tags", Value::Null, None), json!({"tag_ids": []}));
    for (ty, empty) in [
        ("text", json!("")),
        ("long_text", json!("")),
        ("status", json!("")),
        ("dropdown", json!([])),
        ("people", json!([])),
        ("board_relation", json!([])),
        ("timeline", json!("empty")),
        ("week", json!("empty")),
        ("email", json!("")),
        ("phone", json!("")),
        ("link", json!("")),
        ("location", json!({})),
        (
            "location",
            json!({"lat": null, "lng": null, "address": null}),
        ),
        ("country", json!("")),
        ("world_clock", json!("")),
        ("team", json!({})),
    ] {
        assert_eq!(sent(ty, empty.clone(), None), Value::Null, "{ty} {empty}");
    }
    assert_eq!(sent("tags", json!([]), None), json!({"tag_ids": []}));
}

// ---- decode(encode(v)) == v, by hand, for every writable type ----

#[test]
fn round_trips_every_writable_type() {
    round_trip("name", r#""Launch plan""#);
    round_trip("text", r#""57 lenox ave, nyc""#);
    round_trip("text", r#""a\"b\\c\nd é 🚀""#);
    round_trip("long_text", r#""line one\nline two""#);
    for n in [
        "1231",
        "-12.50",
        "0",
        "0.001",
        "123456789012345678901234567890.5",
    ] {
        round_trip("numbers", n);
    }
    round_trip("date", r#""2023-06-21""#);
    round_trip("date", r#""0001-01-01""#);
    round_trip("date", r#""9999-12-31""#);
    round_trip("timeline", r#""[2019-06-03,2019-06-08)""#);
    round_trip("timeline", r#""[2019-06-03,2019-06-04)""#); // a milestone
    round_trip("timeline", r#""[2024-12-30,2025-01-02)""#);
    // Ending on monday's last day, the canonical range shows the day after as 10000-01-01.
    round_trip("timeline", r#""[9999-12-25,10000-01-01)""#);
    round_trip("week", r#""[2019-06-10,2019-06-17)""#);
    round_trip("week", r#""[2025-12-29,2026-01-05)""#);
    let mut sunday = Column {
        weeks_start_sunday: true,
        ..Column::default()
    };
    assert_round_trip("week", r#""[2019-06-09,2019-06-16)""#, &mut sunday);
    round_trip("hour", r#""16:42:00""#);
    round_trip("hour", r#""00:00:00""#);
    round_trip("hour", r#""23:59:00""#);
    round_trip("people", "[44865791]");
    round_trip("multiple-person", "[1, 2, 3]");
    round_trip("board_relation", "[18265984789, 18265984790]");
    round_trip("dependency", "[1711043053]");
    round_trip("email", r#""test@example.com""#);
    round_trip("link", r#""http://monday.com/a?b=c#d""#);
    round_trip(
        "location",
        r#"{"lat": 29.9772962, "lng": 31.1324955, "address": "Giza Pyramid Complex"}"#,
    );
    round_trip(
        "location",
        r#"{"lat": -89.5, "lng": -180, "address": null}"#,
    );
    round_trip("checkbox", "true");
    round_trip("checkbox", "false");
    round_trip("rating", "1");
    round_trip("rating", "5");
    round_trip("tags", "[295026, 295064]");
    round_trip("country", r#""US""#);
    round_trip("country", r#""CI""#);
    round_trip("world_clock", r#""Europe/London""#);
    round_trip("world_clock", r#""America/Argentina/Buenos_Aires""#);
    round_trip("team", r#"{"team_id": 51166}"#);
}

#[test]
fn round_trips_labels_through_the_column_settings() {
    let mut status = status_column();
    for label in [r#""Working on it""#, r#""Done""#, r#""Stuck""#] {
        assert_round_trip("status", label, &mut status);
    }
    assert_round_trip("color", r#""Done""#, &mut status);
    let mut dropdown = dropdown_column();
    assert_round_trip("dropdown", r#"["Cookie"]"#, &mut dropdown);
    assert_round_trip(
        "dropdown",
        r#"["Brownie", "Cookie", "Cupcake"]"#,
        &mut dropdown,
    );

    // Labels monday creates come back too, with the settings it then returns.
    let mut status = Column {
        create_labels: true,
        ..status_column()
    };
    assert_round_trip("status", r#""Blocked""#, &mut status);
    assert_eq!(status.label_id("Blocked"), Some(6));
    assert_round_trip("status", r#""Blocked""#, &mut status); // now by index
    let mut dropdown = Column {
        create_labels: true,
        ..dropdown_column()
    };
    assert_round_trip("dropdown", r#"["Scone", "Cookie"]"#, &mut dropdown);
    // A label that looks like a number goes by index, as FACTS §2.2 asks.
    let mut numeric = Column::with_labels(&[(0, "1"), (1, "2")]);
    assert_round_trip("status", r#""2""#, &mut numeric);
}

#[test]
fn phone_round_trips_with_its_country_in_the_settings() {
    for number in [r#""+12025550169""#, r#""11231234567""#, r#""07975777666""#] {
        let settings = json!({"countryShortName": "US"});
        let v = typed_input(number);
        let sent = encode("phone", &v, Some(&settings)).unwrap();
        let cell = store("phone", &sent, &mut Column::default()).unwrap();
        let got = decode(Some("phone"), &cell, None).unwrap();
        assert_eq!(got.to_json(), number);
    }
}

#[test]
fn clears_read_back_as_null() {
    for ty in [
        "text",
        "long_text",
        "numbers",
        "status",
        "dropdown",
        "date",
        "timeline",
        "week",
        "hour",
        "people",
        "board_relation",
        "dependency",
        "email",
        "phone",
        "link",
        "location",
        "rating",
        "tags",
        "country",
        "world_clock",
        "team",
    ] {
        let got = write_and_read(ty, &Value::Null, &mut status_column()).unwrap();
        assert_eq!(got, None, "{ty}");
    }
    // An unchecked checkbox is false, never NULL, in both directions.
    let got = write_and_read("checkbox", &Value::Null, &mut Column::default()).unwrap();
    assert_eq!(got, Some(Decoded::Bool(false)));
}

/// The model refuses what monday refuses, so round trips are not vacuous.
#[test]
fn the_monday_model_refuses_bad_forms() {
    let mut c = status_column();
    assert!(store("status", &json!({"label": "Nope"}), &mut c).is_err());
    assert!(store("status", &json!({"index": 9}), &mut c).is_err());
    assert!(store("numbers", &json!(12), &mut c).is_err());
    assert!(store("numbers", &json!("1e3"), &mut c).is_err());
    assert!(store(
        "week",
        &json!({"week": {"startDate": "2019-06-11", "endDate": "2019-06-17"}}),
        &mut c
    )
    .is_err());
    assert!(store("checkbox", &json!({"checked": true}), &mut c).is_err());
    assert!(store("location", &json!({"lat": "90", "lng": "0"}), &mut c).is_err());
    assert!(store("name", &Value::Null, &mut c).is_err());
    assert!(store("mirror", &json!("x"), &mut c).is_err());
}

// ---- errors ----

#[test]
fn read_only_types_are_refused_with_0a000() {
    for ty in [
        "mirror",
        "lookup",
        "formula",
        "creation_log",
        "pulse-log",
        "last_updated",
        "item_id",
        "auto_number",
        "button",
        "time_tracking",
        "vote",
        "progress",
        "subtasks",
        "color_picker",
        "file",
        "doc",
        "direct_doc",
        "group",
        "integration",
        "item_assignees",
        "unsupported",
    ] {
        for v in [json!("x"), Value::Null] {
            let e = enc(ty, v, None).expect_err(ty);
            assert_eq!(e.code, EncodeErrorCode::ReadOnly, "{ty}");
            assert_eq!(e.code.sqlstate(), "0A000");
            assert!(e.message.contains("cannot be written"), "{e:?}");
            assert!(!e.detail.is_empty() && !e.hint.is_empty(), "{e:?}");
        }
        assert!(!writable(ty), "{ty}");
    }
    let e = enc("file", json!("x"), None).unwrap_err();
    assert!(e.hint.contains("add_file_to_column"), "{}", e.hint);
}

#[test]
fn unknown_types_are_42704() {
    for ty in ["quantum_flux", "", "statuss", &"x".repeat(500)] {
        let e = enc(ty, json!("x"), None).unwrap_err();
        assert_eq!(e.code, EncodeErrorCode::UnknownType, "{ty}");
        assert_eq!(e.code.sqlstate(), "42704");
        assert!(e.message.len() < 200 && e.hint.contains("Column.type"));
        assert!(!writable(ty));
    }
    for ty in ["status", "color", "Multiple-Person", "long-text", "team"] {
        assert!(writable(ty), "{ty}");
    }
}

#[test]
fn wrong_shapes_are_22023() {
    let cases: Vec<(&str, Value)> = vec![
        ("name", json!(5)),
        ("text", json!(5)),
        ("text", json!({"text": "x"})),
        ("long_text", json!(["x"])),
        ("numbers", json!(true)),
        ("status", json!(["Done"])),
        ("status", json!(-1)),
        ("status", json!(1.5)),
        ("dropdown", json!("Cookie")),
        ("dropdown", json!([1])),
        ("date", json!(20260615)),
        ("timeline", json!({"from": "2019-06-03"})),
        ("hour", json!(16)),
        ("people", json!(44865791)),
        ("people", json!([{"id": 1}])),
        ("people", json!([1.5])),
        ("people", json!([0])),
        ("tags", json!([-3])),
        ("board_relation", json!("1")),
        ("location", json!([29.9, 31.1])),
        ("location", json!({"lat": 1, "lng": 2, "city": "Giza"})),
        ("location", json!({"lat": true, "lng": 2})),
        ("location", json!({"lat": 1, "lng": 2, "address": 3})),
        ("checkbox", json!("true")),
        ("checkbox", json!(1)),
        ("rating", json!("five")),
        ("rating", json!([5])),
        ("rating", json!(2.5)),
        ("country", json!(840)),
        ("world_clock", json!(1)),
        ("team", json!("51166")),
        ("team", json!({"team_id": 1, "name": "x"})),
        ("team", json!({"team_id": -4})),
    ];
    for (ty, v) in cases {
        let e = err(ty, v.clone(), None);
        assert_eq!(e.code, EncodeErrorCode::InvalidValue, "{ty} {v}: {e:?}");
        assert_eq!(e.code.sqlstate(), "22023");
    }
}

#[test]
fn status_and_dropdown_labels_must_exist_unless_monday_may_create_them() {
    let settings = Some(status_column().settings("status"));
    let e = err("status", json!("Dne"), settings.clone());
    assert_eq!(e.code, EncodeErrorCode::InvalidValue);
    assert!(
        e.message.contains("\"Dne\" does not exist"),
        "{}",
        e.message
    );
    assert!(e.detail.contains("\"Done\" (1)"), "{}", e.detail);
    assert!(!e.detail.contains("\"\" (5)"), "{}", e.detail);
    assert!(e.hint.contains("create_labels_if_missing"), "{}", e.hint);
    let e = err("status", json!(9), settings);
    assert!(e.message.contains("index 9"), "{}", e.message);

    let e = err(
        "dropdown",
        json!(["Cookie", "Scone"]),
        Some(dropdown_column().settings("dropdown")),
    );
    assert!(e.message.contains("\"Scone\""), "{}", e.message);

    // A full status column cannot take one more label, even when creating is allowed.
    let labels: Vec<(i64, String)> = (0..40).map(|i| (i, format!("L{i}"))).collect();
    let full = Column {
        labels,
        create_labels: true,
        ..Column::default()
    };
    let e = err("status", json!("L40"), Some(full.encode_settings("status")));
    assert!(e.message.contains("40 labels"), "{}", e.message);

    // Settings of the wrong shape.
    let e = err("status", json!("Done"), Some(json!({"labels": "Done"})));
    assert_eq!(e.code, EncodeErrorCode::InvalidValue);
    let e = err("status", json!("Done"), Some(json!([1])));
    assert_eq!(e.code, EncodeErrorCode::InvalidValue);
    let e = err(
        "status",
        json!("Done"),
        Some(json!({"create_labels_if_missing": "yes"})),
    );
    assert_eq!(e.code, EncodeErrorCode::InvalidValue);
    let e = err("status", json!("Done"), Some(json!("{not json")));
    assert_eq!(e.code, EncodeErrorCode::InvalidText);
    assert_eq!(e.code.sqlstate(), "22P02");
}

#[test]
fn duplicates_and_nulls_in_arrays() {
    let e = err("dropdown", json!(["A", "A"]), None);
    assert!(e.message.contains("twice"), "{}", e.message);
    let e = err("dropdown", json!(["A", null]), None);
    assert_eq!(e.code, EncodeErrorCode::NullNotAllowed);
    assert_eq!(e.code.sqlstate(), "22004");
    let e = err("dropdown", json!(["A", ""]), None);
    assert_eq!(e.code, EncodeErrorCode::InvalidValue);
    for ty in ["people", "tags", "board_relation"] {
        let e = err(ty, json!([1, 2, 1]), None);
        assert!(e.message.contains("twice"), "{}", e.message);
        let e = err(ty, json!([1, null]), None);
        assert_eq!(e.code, EncodeErrorCode::NullNotAllowed);
    }
    let e = err("people", json!(["12x"]), None);
    assert_eq!(e.code, EncodeErrorCode::InvalidText);
}

#[test]
fn weeks_must_be_seven_days_from_the_first_weekday() {
    // Tuesday to Monday: 7 days, wrong start.
    let e = err("week", json!("[2019-06-11,2019-06-18)"), None);
    assert_eq!(e.code, EncodeErrorCode::InvalidValue);
    assert!(
        e.message
            .contains("start on a Monday; 2019-06-11 is a Tuesday"),
        "{}",
        e.message
    );
    assert!(e.hint.contains("first_day_of_the_week"), "{}", e.hint);
    // Monday to Saturday: 6 days.
    let e = err("week", json!("[2019-06-10,2019-06-16)"), None);
    assert!(e.message.contains("7 days long, not 6"), "{}", e.message);
    let e = err("week", json!("[2019-06-10,2019-06-24)"), None);
    assert!(e.message.contains("not 14"), "{}", e.message);
    // A Monday week on a Sunday account.
    let sunday = Some(json!({"first_day_of_the_week": "sunday"}));
    let e = err("week", json!("[2019-06-10,2019-06-17)"), sunday);
    assert!(e.message.contains("start on a Sunday"), "{}", e.message);
    let e = err(
        "week",
        json!("[2019-06-10,2019-06-17)"),
        Some(json!({"first_day_of_the_week": "friday"})),
    );
    assert!(e.message.contains("first_day_of_the_week"), "{}", e.message);
    // Unbounded.
    let e = err("week", json!("[2019-06-10,)"), None);
    assert!(e.message.contains("first and a last day"), "{}", e.message);
}

#[test]
fn dates_ranges_and_times() {
    for bad in [
        "2023-02-30",
        "2023-6-1",
        "yesterday",
        "2026-06-15T09:00:00",
        "",
    ] {
        let e = err("date", json!(bad), None);
        assert_eq!(e.code, EncodeErrorCode::DatetimeFormat, "{bad}");
        assert_eq!(e.code.sqlstate(), "22007");
    }
    for beyond in ["infinity", "-infinity", "0044-03-15 BC", "10000-01-01"] {
        let e = err("date", json!(beyond), None);
        assert_eq!(e.code, EncodeErrorCode::DatetimeOverflow, "{beyond}");
        assert_eq!(e.code.sqlstate(), "22008");
    }
    for bad in [
        "2019-06-03",
        "[2019-06-03;2019-06-08)",
        "[2019-06-03,2019-13-08)",
    ] {
        let e = err("timeline", json!(bad), None);
        assert_eq!(e.code, EncodeErrorCode::DatetimeFormat, "{bad}");
    }
    let e = err("timeline", json!("[2019-06-03,infinity)"), None);
    assert_eq!(e.code, EncodeErrorCode::DatetimeOverflow);
    let e = err("timeline", json!("[2019-06-08,2019-06-03)"), None);
    assert_eq!(e.code, EncodeErrorCode::InvalidValue);
    assert!(e.message.contains("lower bound"), "{}", e.message);
    for half in ["[2019-06-03,)", "(,2019-06-03)", "(,)"] {
        let e = err("timeline", json!(half), None);
        assert!(e.message.contains("first and a last day"), "{half}");
    }
    for bad in ["4pm", "16:42:00Z", "25:00:00", ""] {
        let e = err("hour", json!(bad), None);
        assert_eq!(e.code, EncodeErrorCode::DatetimeFormat, "{bad}");
    }
    let e = err("hour", json!("16:42:30"), None);
    assert!(e.message.contains("has seconds"), "{}", e.message);
    let e = err("hour", json!("16:42:00.5"), None);
    assert_eq!(e.code, EncodeErrorCode::InvalidValue);
    let e = err("hour", json!("24:00:00"), None);
    assert!(e.message.contains("24:00:00"), "{}", e.message);
}

#[test]
fn numbers_that_are_not_numbers() {
    for bad in ["abc", "", "1,5", "0x10"] {
        let e = err("numbers", json!(bad), None);
        assert_eq!(e.code, EncodeErrorCode::InvalidText, "{bad}");
    }
    let e = err("numbers", json!("NaN"), None);
    assert_eq!(e.code, EncodeErrorCode::InvalidValue);
    for inf in ["Infinity", "-Infinity"] {
        let e = err("numbers", json!(inf), None);
        assert_eq!(e.code, EncodeErrorCode::OutOfRange);
        assert_eq!(e.code.sqlstate(), "22003");
    }
}

#[test]
fn coordinates_and_ratings_out_of_range() {
    for (lat, lng) in [
        (json!(90), json!(0)),
        (json!(-90), json!(0)),
        (json!("90.0000001"), json!(0)),
        (json!(0), json!(180.5)),
        (json!(0), json!("-181")),
        (json!("1e3"), json!(0)),
    ] {
        let v = json!({"lat": lat, "lng": lng});
        let e = err("location", v.clone(), None);
        assert_eq!(e.code, EncodeErrorCode::OutOfRange, "{v}");
    }
    // The edges FACTS allows.
    for (lat, lng) in [
        ("89.9999999", "180"),
        ("-89.9999999", "-180"),
        ("0", "-180.000"),
    ] {
        assert!(enc("location", json!({"lat": lat, "lng": lng}), None).is_ok());
    }
    let e = err("location", json!({"lat": "north", "lng": 0}), None);
    assert_eq!(e.code, EncodeErrorCode::InvalidText);
    let e = err("location", json!({"address": "Giza"}), None);
    assert!(e.message.contains("both lat and lng"), "{}", e.message);
    let e = err("location", json!({"lat": 1}), None);
    assert!(e.message.contains("both lat and lng"), "{}", e.message);

    for r in [json!(0), json!(-1), json!(99999999999_i64), json!(1e300)] {
        let e = err("rating", r.clone(), None);
        assert_eq!(e.code, EncodeErrorCode::OutOfRange, "{r}");
    }
    let e = err("rating", json!(6), Some(json!({"limit": 5})));
    assert!(e.message.contains("from 1 to 5"), "{}", e.message);
    let e = err("rating", json!(3), Some(json!({"limit": "five"})));
    assert_eq!(e.code, EncodeErrorCode::InvalidValue);
}

#[test]
fn names_and_long_texts_have_limits() {
    assert!(enc("name", json!("é".repeat(255)), None).is_ok());
    let e = err("name", json!("é".repeat(256)), None);
    assert_eq!(e.code, EncodeErrorCode::TooLong);
    assert_eq!(e.code.sqlstate(), "22001");
    let e = err("name", json!(""), None);
    assert_eq!(e.code, EncodeErrorCode::InvalidValue);
    let e = err("name", Value::Null, None);
    assert_eq!(e.code, EncodeErrorCode::NullNotAllowed);
    assert!(e.message.contains("cannot be cleared"), "{}", e.message);
    assert!(enc("long_text", json!("x".repeat(2000)), None).is_ok());
    let e = err("long_text", json!("x".repeat(2001)), None);
    assert_eq!(e.code, EncodeErrorCode::TooLong);
    assert!(e.message.contains("2001 characters"), "{}", e.message);
}

#[test]
fn contacts_places_and_codes() {
    for bad in [
        "ann",
        "@example.com",
        "ann@",
        "ann smith@example.com",
        "ann@example.com.",
    ] {
        let e = err("email", json!(bad), None);
        assert!(e.message.contains("not an e-mail address"), "{bad}");
    }
    for bad in [
        "+1 (917) 599-8722 US",
        "12 US",
        "phone US",
        "+1234567890123456 US",
    ] {
        let e = err("phone", json!(bad), None);
        assert!(
            e.message.contains("not a phone number"),
            "{bad}: {}",
            e.message
        );
    }
    let e = err("phone", json!("+19175998722"), None);
    assert!(e.message.contains("needs its country"), "{}", e.message);
    assert!(e.hint.contains("countryShortName"), "{}", e.hint);
    let e = err("phone", json!("+19175998722 QQ"), None);
    assert!(e.message.contains("\"QQ\""), "{}", e.message);
    let e = err(
        "phone",
        json!("+19175998722"),
        Some(json!({"countryShortName": 1})),
    );
    assert_eq!(e.code, EncodeErrorCode::InvalidValue);
    let e = err("link", json!("http://monday.com go to monday!"), None);
    assert!(e.hint.contains("%20"), "{}", e.hint);
    for bad in ["USA", "U", "XX", "us "] {
        let e = err("country", json!(bad), None);
        assert!(e.message.contains("country code"), "{bad}");
    }
    for bad in ["Europe London", "Europe//London", "/UTC", "Europe/London\n"] {
        let e = err("world_clock", json!(bad), None);
        assert!(e.message.contains("time zone"), "{bad:?}");
    }
}

#[test]
fn details_are_bounded_and_never_cut_characters() {
    let long = "é".repeat(500);
    for ty in ["email", "numbers", "status", "country", "date", "week"] {
        let settings = Some(status_column().settings("status"));
        let e = enc(ty, json!(long), settings).expect_err(ty);
        assert!(e.detail.len() < 400, "{ty}: {}", e.detail.len());
        assert!(e.message.len() < 300, "{ty}: {}", e.message.len());
        assert!(e.detail.contains('…'), "{ty}: {}", e.detail);
    }
    // Many labels: the list in the DETAIL stops early.
    let many: Vec<(i64, String)> = (0..200).map(|i| (i, format!("label number {i}"))).collect();
    let column = Column {
        labels: many,
        ..Column::default()
    };
    let e = err("status", json!("nope"), Some(column.settings("status")));
    assert!(
        e.detail.len() < 400 && e.detail.ends_with(", …"),
        "{}",
        e.detail
    );
}
