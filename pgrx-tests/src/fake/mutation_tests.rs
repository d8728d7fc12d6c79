//! The fake's item mutations over real HTTP on 127.0.0.1: every writable type written and read
//! back, clears, each error class, aliases, creation/archive/delete/move with their activity log
//! and webhooks, Idempotency-Key, the validation-rules knob, lost answers and complexity.

use super::mutations::MUTATION_COST;
use super::webhooks::tests::{fast, idle, Challenge, Receiver};
use super::world::{Weekday, FIRST_ITEM, SAMPLE_BOARD, SAMPLE_SUBITEMS_BOARD};
use super::{Fake, Fault, World, MAX_QUERY_COMPLEXITY};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The extension's own `ItemFields` fragment: what it selects on every mutation.
const ITEM_FIELDS: &str = include_str!("../../../src/api/graphql/item_fields.graphql");

const READ: &str = "query ($ids: [ID!]) { items(ids: $ids) { id name state group { id title }
  parent_item { id } board { id }
  column_values { id type text value
    ... on StatusValue { label index is_done }
    ... on DropdownValue { values { id label } }
    ... on BoardRelationValue { linked_item_ids display_value }
    ... on DependencyValue { linked_item_ids display_value }
    ... on NumbersValue { number }
    ... on DateValue { date time }
    ... on TimelineValue { from to }
    ... on HourValue { hour minute }
    ... on WeekValue { start_date end_date }
    ... on PeopleValue { persons_and_teams { id kind } }
    ... on EmailValue { email label }
    ... on PhoneValue { phone country_short_name }
    ... on LinkValue { url url_text }
    ... on LocationValue { lat lng address }
    ... on CheckboxValue { checked }
    ... on RatingValue { rating }
    ... on TagsValue { tag_ids }
    ... on CountryValue { country { code name } }
    ... on WorldClockValue { timezone }
  } } }";

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// POSTs a GraphQL request with extra headers; Err when the connection closed unanswered.
fn send(fake: &Fake, query: &str, vars: Value, extra: &[(&str, &str)]) -> Result<Reply, String> {
    let body = json!({"query": query, "variables": vars}).to_string();
    let mut head = format!(
        "POST /v2 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: fake-token\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut c = TcpStream::connect(("127.0.0.1", fake.port)).map_err(|e| e.to_string())?;
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    c.write_all(head.as_bytes()).unwrap();
    c.write_all(body.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = c.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (h, b) = text.split_once("\r\n\r\n").ok_or("no answer")?;
    let mut lines = h.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or("no status")?;
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: serde_json::from_str(b).unwrap_or(Value::Null),
    })
}

fn gql(fake: &Fake, query: &str, vars: Value) -> Value {
    let r = send(fake, query, vars, &[]).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

fn read(fake: &Fake, id: i64) -> Value {
    let a = gql(fake, READ, json!({"ids": [id.to_string()]}));
    a["data"]["items"][0].clone()
}

fn cell(item: &Value, column: &str) -> Value {
    item["column_values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == column)
        .cloned()
        .unwrap_or_else(|| panic!("no column {column} in {item}"))
}

/// The cell's `value`, decoded once (it is a JSON string holding JSON), without `changed_at`.
fn value_of(c: &Value) -> Value {
    match &c["value"] {
        Value::String(s) => {
            let mut v: Value = serde_json::from_str(s).unwrap();
            if let Some(m) = v.as_object_mut() {
                let at = m.remove("changed_at");
                if let Some(at) = at {
                    let t = at.as_str().unwrap();
                    assert!(
                        t.len() == 24
                            && t.ends_with('Z')
                            && super::world::ticks_of_iso(t).is_some(),
                        "changed_at {t}"
                    );
                }
            }
            v
        }
        other => {
            assert!(other.is_null(), "value must be a string or null: {other}");
            Value::Null
        }
    }
}

const CMCV: &str = "mutation ($b: ID!, $i: ID, $v: JSON!, $l: Boolean) {
  change_multiple_column_values(board_id: $b, item_id: $i, column_values: $v, create_labels_if_missing: $l) { ...ItemFields } }";

fn with_fields(q: &str) -> String {
    format!("{q}\n{ITEM_FIELDS}")
}

/// change_multiple_column_values with `values` sent as a JSON string (what clients send).
fn cmcv(fake: &Fake, item: i64, values: Value, labels: bool) -> Value {
    gql(
        fake,
        &with_fields(CMCV),
        json!({"b": SAMPLE_BOARD.to_string(), "i": item.to_string(), "v": values.to_string(), "l": labels}),
    )
}

fn code(answer: &Value) -> String {
    answer["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[test]
fn fake_mutations_write_every_type_in_its_read_shape() {
    let fake = Fake::start(World::sample(6, true)).unwrap();
    let item = FIRST_ITEM + 2;
    // (column, value sent, text, value read back without changed_at, typed fields)
    let cases: Vec<(&str, Value, Value, Value, Value)> = vec![
        (
            "text0",
            json!("Hello"),
            json!("Hello"),
            json!("Hello"),
            json!({}),
        ),
        (
            "long_text_mkx4",
            json!({"text": "Two\nlines"}),
            json!("Two\nlines"),
            json!({"text": "Two\nlines"}),
            json!({}),
        ),
        (
            "numeric_mkx1",
            json!("-12.50"),
            json!("-12.50"),
            json!("-12.50"),
            json!({"number": -12.5}),
        ),
        (
            "numeric_mkx1",
            json!(7),
            json!("7"),
            json!("7"),
            json!({"number": 7.0}),
        ),
        (
            "status",
            json!({"label": "Stuck"}),
            json!("Stuck"),
            json!({"index": 2}),
            json!({"label": "Stuck", "index": 2, "is_done": false}),
        ),
        (
            "status",
            json!({"index": "1"}),
            json!("Done"),
            json!({"index": 1}),
            json!({"label": "Done", "index": 1, "is_done": true}),
        ),
        (
            "status",
            json!("Working on it"),
            json!("Working on it"),
            json!({"index": 0}),
            json!({"index": 0}),
        ),
        (
            "status",
            json!({"index": 5}),
            Value::Null,
            json!({"index": 5}),
            json!({"index": 5}),
        ),
        (
            "dropdown_mkx3",
            json!({"labels": ["Design", "Backend"]}),
            json!("Design, Backend"),
            json!({"ids": [3, 1]}),
            json!({"values": [{"id": "3", "label": "Design"}, {"id": "1", "label": "Backend"}]}),
        ),
        (
            "dropdown_mkx3",
            json!({"ids": ["2"]}),
            json!("Frontend"),
            json!({"ids": [2]}),
            json!({"values": [{"id": "2", "label": "Frontend"}]}),
        ),
        (
            "date4",
            json!({"date": "2026-08-27"}),
            json!("2026-08-27"),
            json!({"date": "2026-08-27"}),
            json!({"date": "2026-08-27", "time": null}),
        ),
        (
            "date4",
            json!({"date": "1993-08-27", "time": "18:00:00"}),
            json!("1993-08-27 18:00"),
            json!({"date": "1993-08-27", "time": "18:00:00"}),
            json!({"date": "1993-08-27", "time": "18:00:00"}),
        ),
        (
            "timeline_mkx2",
            json!({"from": "2019-06-03", "to": "2019-06-07"}),
            json!("2019-06-03 - 2019-06-07"),
            json!({"from": "2019-06-03", "to": "2019-06-07"}),
            json!({"from": "2019-06-03", "to": "2019-06-07"}),
        ),
        (
            "hour_mkxe",
            json!({"hour": 9, "minute": 5}),
            json!("09:05"),
            json!({"hour": 9, "minute": 5}),
            json!({"hour": 9, "minute": 5}),
        ),
        // 2026-06-07 is a Sunday, the default first weekday.
        (
            "week_mkxf",
            json!({"week": {"startDate": "2026-06-07", "endDate": "2026-06-13"}}),
            json!("Jun 07 - 13"),
            json!({"week": {"startDate": "2026-06-07", "endDate": "2026-06-13"}}),
            json!({"start_date": "2026-06-07", "end_date": "2026-06-13"}),
        ),
        (
            "person",
            json!({"personsAndTeams": [{"id": "44865792", "kind": "person"}, {"id": 51166, "kind": "team"}]}),
            json!("Noa Cohen, Payments team"),
            json!({"personsAndTeams": [{"id": 44865792, "kind": "person"}, {"id": 51166, "kind": "team"}]}),
            json!({"persons_and_teams": [{"id": "44865792", "kind": "person"}, {"id": "51166", "kind": "team"}]}),
        ),
        (
            "email_mkx5",
            json!({"email": "a@b.com", "text": "Display"}),
            json!("Display - a@b.com"),
            json!({"email": "a@b.com", "text": "Display"}),
            json!({"email": "a@b.com", "label": "Display"}),
        ),
        (
            "phone_mkx6",
            json!({"phone": "+12025550169", "countryShortName": "US"}),
            json!("+12025550169"),
            json!({"phone": "+12025550169", "countryShortName": "US"}),
            json!({"phone": "+12025550169", "country_short_name": "US"}),
        ),
        (
            "link_mkx7",
            json!({"url": "http://monday.com", "text": "go to monday!"}),
            json!("go to monday! - http://monday.com"),
            json!({"url": "http://monday.com", "text": "go to monday!"}),
            json!({"url": "http://monday.com", "url_text": "go to monday!"}),
        ),
        (
            "location_mkx8",
            json!({"lat": "29.9772962", "lng": 31.1324955, "address": "Giza Pyramid Complex"}),
            json!("Giza Pyramid Complex"),
            json!({"lat": "29.9772962", "lng": "31.1324955", "address": "Giza Pyramid Complex"}),
            json!({"lat": 29.9772962, "lng": 31.1324955, "address": "Giza Pyramid Complex"}),
        ),
        (
            "boolean_mkx9",
            json!({"checked": "true"}),
            json!("v"),
            json!({"checked": true}),
            json!({"checked": true}),
        ),
        (
            "rating_mkxa",
            json!({"rating": 5}),
            json!("5"),
            json!({"rating": 5}),
            json!({"rating": 5}),
        ),
        (
            "tags_mkxb",
            json!({"tag_ids": [295064]}),
            json!("q3"),
            json!({"tag_ids": [295064]}),
            json!({"tag_ids": [295064]}),
        ),
        (
            "country_mkxc",
            json!({"countryCode": "US", "countryName": "United States"}),
            json!("United States"),
            json!({"countryCode": "US", "countryName": "United States"}),
            json!({"country": {"code": "US", "name": "United States"}}),
        ),
        (
            "world_clock_mkxd",
            json!({"timezone": "Europe/London"}),
            json!("Europe/London"),
            json!({"timezone": "Europe/London"}),
            json!({"timezone": "Europe/London"}),
        ),
        (
            "board_relation_mkxg",
            json!({"item_ids": ["18414630201", 18414630202_i64]}),
            Value::Null,
            Value::Null,
            json!({"linked_item_ids": ["18414630201", "18414630202"]}),
        ),
        (
            "dependency_mkxq",
            json!({"item_ids": [FIRST_ITEM.to_string()]}),
            Value::Null,
            Value::Null,
            json!({"linked_item_ids": [FIRST_ITEM.to_string()], "display_value": "Checkout redesign"}),
        ),
    ];
    for (column, sent, text, value, typed) in &cases {
        let a = cmcv(&fake, item, json!({ *column: sent }), false);
        assert!(a.get("errors").is_none(), "{column} {sent}: {a}");
        // The mutation answers the item after the change, through the client's ItemFields.
        let answered = cell(&a["data"]["change_multiple_column_values"], column);
        let got = read(&fake, item);
        let c = cell(&got, column);
        assert_eq!(
            answered,
            {
                let mut x = c.clone();
                // ItemFields selects fewer typed fields than READ: compare what both have.
                for k in [
                    "label",
                    "index",
                    "is_done",
                    "values",
                    "number",
                    "date",
                    "time",
                    "from",
                    "to",
                    "hour",
                    "minute",
                    "start_date",
                    "end_date",
                    "persons_and_teams",
                    "email",
                    "phone",
                    "country_short_name",
                    "url",
                    "url_text",
                    "lat",
                    "lng",
                    "address",
                    "checked",
                    "rating",
                    "tag_ids",
                    "country",
                    "timezone",
                ] {
                    x.as_object_mut().unwrap().remove(k);
                }
                x
            },
            "{column}"
        );
        assert_eq!(&c["text"], text, "{column} {sent} text: {c}");
        assert_eq!(&value_of(&c), value, "{column} {sent} value: {c}");
        for (k, v) in typed.as_object().unwrap() {
            assert_eq!(&c[k], v, "{column} {sent} typed {k}: {c}");
        }
    }
}

#[test]
fn fake_mutations_clear_every_type_to_its_cleared_shape() {
    let fake = Fake::start(World::sample(6, true)).unwrap();
    let item = FIRST_ITEM; // every column set
                           // (column, clear form, text, value read back without changed_at)
    let cases: Vec<(&str, Value, Value, Value)> = vec![
        ("text0", json!(""), json!(""), json!("")),
        ("text0", Value::Null, json!(""), json!("")),
        ("long_text_mkx4", json!({}), json!(""), json!({"text": ""})),
        ("numeric_mkx1", Value::Null, json!(""), json!("")),
        ("status", json!({}), Value::Null, json!({})),
        ("status", json!(""), Value::Null, json!({})),
        (
            "dropdown_mkx3",
            json!({"labels": []}),
            Value::Null,
            Value::Null,
        ),
        ("date4", json!({}), json!(""), Value::Null),
        ("timeline_mkx2", Value::Null, json!(""), Value::Null),
        ("hour_mkxe", json!({}), json!(""), Value::Null),
        ("week_mkxf", Value::Null, json!(""), Value::Null),
        ("person", json!({"clear_all": true}), json!(""), Value::Null),
        ("email_mkx5", json!(""), json!(""), Value::Null),
        ("phone_mkx6", Value::Null, json!(""), Value::Null),
        ("link_mkx7", json!({}), json!(""), Value::Null),
        ("location_mkx8", json!({}), json!(""), Value::Null),
        (
            "boolean_mkx9",
            Value::Null,
            json!(""),
            json!({"checked": false}),
        ),
        ("rating_mkxa", json!({}), json!(""), Value::Null),
        ("tags_mkxb", Value::Null, json!(""), json!({"tag_ids": []})),
        ("country_mkxc", json!({}), json!(""), Value::Null),
        ("world_clock_mkxd", Value::Null, json!(""), Value::Null),
        ("dependency_mkxq", json!({}), Value::Null, Value::Null),
    ];
    for (column, sent, text, value) in &cases {
        let a = cmcv(&fake, item, json!({ *column: sent }), false);
        assert!(a.get("errors").is_none(), "{column} {sent}: {a}");
        let c = cell(&read(&fake, item), column);
        assert_eq!(&c["text"], text, "{column} {sent}: {c}");
        assert_eq!(&value_of(&c), value, "{column} {sent}: {c}");
    }
    let c = cell(&read(&fake, item), "status");
    assert!(c["label"].is_null() && c["index"].is_null(), "{c}");
    let c = cell(&read(&fake, item), "dependency_mkxq");
    assert_eq!(c["linked_item_ids"], json!([]));
    // A file column: only {"clear_all": true} through change_column_value.
    let a = gql(
        &fake,
        "mutation { change_column_value(board_id: 18414630189, item_id: 18265984789, column_id: \"file_mkxm\", value: \"{\\\"clear_all\\\": true}\") { id } }",
        json!({}),
    );
    assert!(a.get("errors").is_none(), "{a}");
    let c = cell(&read(&fake, item), "file_mkxm");
    assert_eq!(
        (c["text"].clone(), value_of(&c)),
        (json!(""), json!({"files": []}))
    );
}

#[test]
fn fake_mutations_refuse_invalid_values_with_monday_codes() {
    let fake = Fake::start(World::sample(6, true)).unwrap();
    let item = FIRST_ITEM + 2;
    let cve = "ColumnValueException";
    let cases: Vec<(Value, &str)> = vec![
        (json!({"numeric_mkx1": "12abc"}), cve),
        (json!({"numeric_mkx1": "NaN"}), cve),
        (json!({"status": {"label": "Nope"}}), cve),
        (json!({"status": {"index": 17}}), cve),
        (json!({"status": {"label": "Done", "index": 1}}), cve),
        (json!({"dropdown_mkx3": {"labels": ["Nope"]}}), cve),
        (
            json!({"dropdown_mkx3": {"ids": [1], "labels": ["Backend"]}}),
            cve,
        ),
        (json!({"dropdown_mkx3": {"ids": [99]}}), cve),
        (json!({"date4": {"date": "2026-02-30"}}), cve),
        (
            json!({"date4": {"date": "2026-02-03", "time": "25:00:00"}}),
            cve,
        ),
        (
            json!({"timeline_mkx2": {"from": "2019-06-07", "to": "2019-06-03"}}),
            cve,
        ),
        (json!({"hour_mkxe": {"hour": 24, "minute": 0}}), cve),
        (json!({"hour_mkxe": {"hour": 9, "minute": 60}}), cve),
        // Monday-to-Sunday on a Sunday-first account; and 8 days.
        (
            json!({"week_mkxf": {"week": {"startDate": "2026-06-08", "endDate": "2026-06-14"}}}),
            cve,
        ),
        (
            json!({"week_mkxf": {"week": {"startDate": "2026-06-07", "endDate": "2026-06-14"}}}),
            cve,
        ),
        (json!({"location_mkx8": {"lat": "90", "lng": "0"}}), cve),
        (json!({"location_mkx8": {"lat": "0", "lng": "180.5"}}), cve),
        (json!({"rating_mkxa": {"rating": 6}}), cve),
        (json!({"rating_mkxa": {"rating": 0}}), cve),
        (json!({"email_mkx5": {"email": "a@b.com"}}), cve),
        (
            json!({"email_mkx5": {"email": "not-an-email", "text": "x"}}),
            cve,
        ),
        (
            json!({"phone_mkx6": {"phone": "call me", "countryShortName": "US"}}),
            cve,
        ),
        (
            json!({"person": {"personsAndTeams": [{"id": 1, "kind": "person"}]}}),
            cve,
        ),
        (json!({"tags_mkxb": {"tag_ids": [1]}}), cve),
        (json!({"country_mkxc": {"countryCode": "US"}}), cve),
        (json!({"world_clock_mkxd": {"timezone": "nowhere"}}), cve),
        (json!({"boolean_mkx9": {"checked": "yes"}}), cve),
        (json!({"dependency_mkxq": {"item_ids": ["1"]}}), cve),
        (json!({"timeline_mkx2": "2019-06-03"}), cve),
        // Read-only types.
        (json!({"lookup_mkxh": "x"}), cve),
        (json!({"formula_mkxi": "x"}), cve),
        (json!({"pulse_log_mkxj": "x"}), cve),
        (json!({"pulse_updated_mkxk": "x"}), cve),
        (json!({"item_id_mkxl": "x"}), cve),
        (json!({"vote_mkxn": "x"}), cve),
        (json!({"time_tracking_mkxp": "x"}), cve),
        (
            json!({"color_picker_mkxo": {"color": {"hex": "#000000"}}}),
            cve,
        ),
        (json!({"subitems": "x"}), cve),
        (json!({"file_mkxm": {"clear_all": true}}), cve),
        (json!({"no_such_column": "x"}), "InvalidColumnIdException"),
        (json!({"name": ""}), "ItemNameTooLongException"),
        (json!({"name": "x".repeat(256)}), "ItemNameTooLongException"),
    ];
    let before = read(&fake, item);
    for (values, want) in &cases {
        // Atomic per field: a valid value beside the bad one is not applied either.
        let mut v = values.clone();
        v["text0"] = json!("must not be written");
        let a = cmcv(&fake, item, v, false);
        assert_eq!(code(&a), *want, "{values}: {a}");
        assert!(a["data"]["change_multiple_column_values"].is_null(), "{a}");
        let e = &a["errors"][0];
        assert_eq!(e["path"], json!(["change_multiple_column_values"]), "{a}");
        assert_eq!(e["extensions"]["status_code"], 200, "{a}");
        if *want == cve {
            let (col, sent) = values.as_object().unwrap().iter().next().unwrap();
            let d = &e["extensions"]["error_data"];
            assert_eq!(d["column_id"], json!(col), "{a}");
            let typ = before["column_values"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == json!(col))
                .map(|c| c["type"].clone())
                .unwrap();
            assert_eq!(d["column_type"], typ, "{a}");
            let shown = match sent {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            assert_eq!(d["column_value"], json!(shown), "{a}");
        }
        if *want == "InvalidColumnIdException" {
            assert_eq!(e["extensions"]["error_data"]["column_id"], "no_such_column");
        }
    }
    assert_eq!(read(&fake, item), before, "nothing changed");

    // Wrong board, item, group.
    let a = gql(
        &fake,
        &with_fields(CMCV),
        json!({"b": "1", "i": item.to_string(), "v": "{}"}),
    );
    assert_eq!(code(&a), "InvalidBoardIdException", "{a}");
    assert_eq!(a["errors"][0]["extensions"]["error_data"]["board_id"], "1");
    let a = gql(
        &fake,
        &with_fields(CMCV),
        json!({"b": SAMPLE_BOARD.to_string(), "i": "42", "v": "{}"}),
    );
    assert_eq!(code(&a), "InvalidItemIdException", "{a}");
    let a = gql(
        &fake,
        &with_fields(CMCV),
        json!({"b": SAMPLE_BOARD.to_string(), "i": item.to_string(), "v": "{not json"}),
    );
    assert_eq!(code(&a), "JsonParseException", "{a}");
    let a = gql(
        &fake,
        "mutation { move_item_to_group(item_id: 18265984791, group_id: \"nope\") { id } }",
        json!({}),
    );
    assert_eq!(code(&a), "ResourceNotFoundException", "{a}");
    assert_eq!(a["errors"][0]["extensions"]["status_code"], 404);
    let a = gql(
        &fake,
        "mutation { create_item(board_id: 18414630189, item_name: \"\") { id } }",
        json!({}),
    );
    assert_eq!(code(&a), "ItemNameTooLongException", "{a}");
}

#[test]
fn fake_mutations_simple_values_labels_and_names() {
    let fake = Fake::start(World::sample(6, true)).unwrap();
    let item = FIRST_ITEM + 2;
    let simple = |column: &str, value: Value| {
        gql(
            &fake,
            "mutation ($c: String!, $v: String) { change_simple_column_value(board_id: \"18414630189\", item_id: \"18265984791\", column_id: $c, value: $v) { id } }",
            json!({"c": column, "v": value}),
        )
    };
    for (column, sent, text) in [
        ("status", "Done", json!("Done")),
        ("status", "2", json!("Stuck")),
        ("dropdown_mkx3", "Backend, Design", json!("Backend, Design")),
        ("dropdown_mkx3", "2,3", json!("Frontend, Design")),
        ("date4", "2019-06-03 13:25:00", json!("2019-06-03 13:25")),
        ("person", "44865791, 31855020", json!("Dana Levi, Omer")),
        (
            "email_mkx5",
            "a@b.com Display text",
            json!("Display text - a@b.com"),
        ),
        ("phone_mkx6", "+19175998722 US", json!("+19175998722")),
        (
            "link_mkx7",
            "http://monday.com go to monday!",
            json!("go to monday! - http://monday.com"),
        ),
        (
            "location_mkx8",
            "29.9772962 31.1324955 Giza Pyramid Complex",
            json!("Giza Pyramid Complex"),
        ),
        ("long_text_mkx4", "raw text", json!("raw text")),
        ("numeric_mkx1", "3", json!("3")),
        ("text0", "Sample text", json!("Sample text")),
    ] {
        let a = simple(column, json!(sent));
        assert!(a.get("errors").is_none(), "{column} {sent}: {a}");
        assert_eq!(
            cell(&read(&fake, item), column)["text"],
            text,
            "{column} {sent}"
        );
    }
    let a = simple("status", Value::Null);
    assert!(a.get("errors").is_none(), "{a}");
    assert_eq!(value_of(&cell(&read(&fake, item), "status")), json!({}));
    for (column, sent) in [
        ("timeline_mkx2", "2019-06-03"),
        ("boolean_mkx9", "true"),
        ("rating_mkxa", "5"),
    ] {
        assert_eq!(
            code(&simple(column, json!(sent))),
            "ColumnValueException",
            "{column}"
        );
    }

    // change_column_value: a JSON string holding the per-type JSON, and the name.
    let a = gql(
        &fake,
        "mutation ($v: JSON!) { change_column_value(board_id: 18414630189, item_id: 18265984791, column_id: \"status\", value: $v) { id } }",
        json!({"v": "{\"label\":\"Working on it\"}"}),
    );
    assert!(a.get("errors").is_none(), "{a}");
    assert_eq!(cell(&read(&fake, item), "status")["index"], 0);
    let a = cmcv(
        &fake,
        item,
        json!({"name": "Renamed", "text0": "both"}),
        false,
    );
    assert_eq!(
        a["data"]["change_multiple_column_values"]["name"], "Renamed",
        "{a}"
    );

    // create_labels_if_missing: status and dropdown labels are added to the column's settings.
    let a = cmcv(&fake, item, json!({"status": {"label": "Blocked"}}), false);
    assert_eq!(code(&a), "ColumnValueException");
    let a = cmcv(
        &fake,
        item,
        json!({"status": {"label": "Blocked"}, "dropdown_mkx3": {"labels": ["Backend", "Ops"]}}),
        true,
    );
    assert!(a.get("errors").is_none(), "{a}");
    let got = read(&fake, item);
    let s = cell(&got, "status");
    assert_eq!(
        (s["text"].clone(), s["label"].clone(), s["index"].clone()),
        (json!("Blocked"), json!("Blocked"), json!(3))
    );
    let d = cell(&got, "dropdown_mkx3");
    assert_eq!(
        d["values"],
        json!([{"id": "1", "label": "Backend"}, {"id": "4", "label": "Ops"}])
    );
    assert_eq!(value_of(&d), json!({"ids": [1, 4]}));
    let settings = gql(
        &fake,
        "{ boards(ids: [18414630189]) { columns(ids: [\"status\", \"dropdown_mkx3\"]) { id settings_str } } }",
        json!({}),
    );
    let cols = settings["data"]["boards"][0]["columns"]
        .as_array()
        .unwrap()
        .clone();
    let st: Value = serde_json::from_str(cols[0]["settings_str"].as_str().unwrap()).unwrap();
    assert_eq!(st["labels"]["3"], "Blocked", "{st}");
    let dd: Value = serde_json::from_str(cols[1]["settings_str"].as_str().unwrap()).unwrap();
    assert!(
        dd["labels"]
            .as_array()
            .unwrap()
            .contains(&json!({"id": 4, "name": "Ops"})),
        "{dd}"
    );
    // The new label is now known: no flag needed.
    let a = cmcv(
        &fake,
        FIRST_ITEM,
        json!({"status": {"label": "Blocked"}}),
        false,
    );
    assert!(a.get("errors").is_none(), "{a}");

    // Weeks follow the account's first weekday.
    fake.with(|s| s.world.first_weekday = Weekday::Monday);
    let monday =
        json!({"week_mkxf": {"week": {"startDate": "2026-06-08", "endDate": "2026-06-14"}}});
    assert!(cmcv(&fake, item, monday, false).get("errors").is_none());
    assert_eq!(cell(&read(&fake, item), "week_mkxf")["text"], "Jun 08 - 14");
    let sunday =
        json!({"week_mkxf": {"week": {"startDate": "2026-06-07", "endDate": "2026-06-13"}}});
    assert_eq!(
        code(&cmcv(&fake, item, sunday, false)),
        "ColumnValueException"
    );

    // An already-parsed JSON object is accepted as well as a string.
    let a = gql(
        &fake,
        &with_fields(CMCV),
        json!({"b": SAMPLE_BOARD.to_string(), "i": item.to_string(), "v": {"text0": "parsed"}}),
    );
    assert!(a.get("errors").is_none(), "{a}");
    assert_eq!(cell(&read(&fake, item), "text0")["value"], "\"parsed\"");
}

#[test]
fn fake_mutations_aliases_are_independent() {
    let fake = Fake::start(World::sample(6, true)).unwrap();
    let q = with_fields(
        "mutation ($a: JSON!, $b: JSON!, $c: JSON!) {
          a: change_multiple_column_values(board_id: 18414630189, item_id: 18265984789, column_values: $a) { ...ItemFields }
          b: change_multiple_column_values(board_id: 18414630189, item_id: 18265984790, column_values: $b) { ...ItemFields }
          c: change_multiple_column_values(board_id: 18414630189, item_id: 18265984791, column_values: $c) { ...ItemFields }
          complexity { query }
        }",
    );
    let a = gql(
        &fake,
        &q,
        json!({
            "a": json!({"text0": "first"}).to_string(),
            "b": json!({"text0": "second", "rating_mkxa": {"rating": 9}}).to_string(),
            "c": json!({"text0": "third"}).to_string(),
        }),
    );
    assert!(a["data"]["b"].is_null(), "{a}");
    assert_eq!(a["errors"].as_array().unwrap().len(), 1, "{a}");
    assert_eq!(a["errors"][0]["path"], json!(["b"]));
    assert_eq!(code(&a), "ColumnValueException");
    assert_eq!(a["data"]["a"]["id"], FIRST_ITEM.to_string());
    assert_eq!(cell(&a["data"]["c"], "text0")["text"], "third");
    assert_eq!(
        cell(&read(&fake, FIRST_ITEM + 1), "text0")["text"],
        "note 1",
        "b untouched"
    );
    // Each alias costs MUTATION_COST plus its selection.
    let q_cost = a["data"]["complexity"]["query"].as_i64().unwrap();
    assert!(
        q_cost > 3 * MUTATION_COST && q_cost < 3 * (MUTATION_COST + 100),
        "{q_cost}"
    );
    let roots = fake.log()[0].roots.clone();
    assert_eq!(
        roots
            .iter()
            .filter(|r| *r == "change_multiple_column_values")
            .count(),
        3
    );
}

#[test]
fn fake_mutations_create_archive_delete_move_log_and_notify() {
    let fake = Fake::start(World::sample(6, true)).unwrap();
    fast(&fake);
    let rx = Receiver::start(Challenge::Echo);
    fake.with(|s| {
        for ev in [
            "create_item",
            "create_subitem",
            "item_archived",
            "item_deleted",
            "item_moved_to_any_group",
            "change_column_value",
            "change_name",
        ] {
            s.world.add_webhook(SAMPLE_BOARD, &rx.url(ev), ev, None);
        }
    });
    let a = gql(
        &fake,
        &with_fields(
            "mutation ($v: JSON) { create_item(board_id: 18414630189, item_name: \"Fresh\", group_id: \"new_group_mkxz\", column_values: $v) { ...ItemFields } }",
        ),
        json!({"v": json!({"status": {"label": "Done"}, "text0": "hi"}).to_string()}),
    );
    assert!(a.get("errors").is_none(), "{a}");
    let it = &a["data"]["create_item"];
    let id: i64 = it["id"].as_str().unwrap().parse().unwrap();
    assert!(
        id > FIRST_ITEM + 5,
        "{id}: fresh, above every id (and 2^31)"
    );
    assert_eq!(
        (
            it["name"].clone(),
            it["state"].clone(),
            it["group"]["id"].clone()
        ),
        (json!("Fresh"), json!("active"), json!("new_group_mkxz"))
    );
    assert_eq!(cell(it, "status")["text"], "Done");
    assert_eq!(cell(it, "text0")["text"], "hi");
    // Every other cell is empty.
    assert!(cell(it, "numeric_mkx1")["value"].is_null() && cell(it, "date4")["value"].is_null());
    // …but for the ones monday fills itself.
    assert_eq!(cell(it, "item_id_mkxl")["text"], json!(id.to_string()));
    let log = cell(it, "pulse_log_mkxj");
    assert!(
        log["text"].as_str().unwrap().ends_with(" UTC") && log["creator_id"] == "44865791",
        "{log}"
    );
    // Default group and placement next to another item.
    let a = gql(
        &fake,
        "mutation { create_item(board_id: 18414630189, item_name: \"Second\", relative_to: 18265984790, position_relative_method: after_at) { id group { id } } }",
        json!({}),
    );
    let second: i64 = a["data"]["create_item"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        a["data"]["create_item"]["group"]["id"], "topics",
        "relative_to's group"
    );
    let order = fake.with(|s| s.world.boards[&SAMPLE_BOARD].item_ids.clone());
    assert_eq!(order[2], second, "{order:?}");
    let a = gql(
        &fake,
        "mutation { create_item(board_id: 18414630189, item_name: \"Third\") { group { id } } }",
        json!({}),
    );
    assert_eq!(
        a["data"]["create_item"]["group"]["id"], "topics",
        "the first group"
    );

    let a = gql(
        &fake,
        &with_fields("mutation { create_subitem(parent_item_id: 18265984790, item_name: \"Sub\", column_values: \"{\\\"numbers5\\\": \\\"4\\\"}\") { ...ItemFields board { id } } }"),
        json!({}),
    );
    assert!(a.get("errors").is_none(), "{a}");
    let sub = &a["data"]["create_subitem"];
    let sub_id: i64 = sub["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(sub["parent_item"]["id"], (FIRST_ITEM + 1).to_string());
    assert_eq!(sub["board"]["id"], SAMPLE_SUBITEMS_BOARD.to_string());
    assert_eq!(cell(sub, "numbers5")["text"], "4");

    let a = gql(&fake, "mutation { move_item_to_group(item_id: 18265984791, group_id: \"topics\") { group { id } } }", json!({}));
    assert_eq!(
        a["data"]["move_item_to_group"]["group"]["id"], "topics",
        "{a}"
    );
    let a = gql(
        &fake,
        &format!("mutation {{ archive_item(item_id: {id}) {{ id state }} }}"),
        json!({}),
    );
    assert_eq!(a["data"]["archive_item"]["state"], "archived", "{a}");
    let a = gql(
        &fake,
        "mutation { delete_item(item_id: \"18265984792\") { id state } }",
        json!({}),
    );
    assert_eq!(a["data"]["delete_item"]["state"], "deleted", "{a}");
    let a = gql(
        &fake,
        "mutation { delete_item(item_id: \"18265984792\") { id } }",
        json!({}),
    );
    assert_eq!(
        code(&a),
        "InvalidItemIdException",
        "a deleted item is gone: {a}"
    );
    let a = cmcv(
        &fake,
        FIRST_ITEM + 4,
        json!({"name": "Renamed", "text0": "x", "rating_mkxa": {"rating": 3}}),
        false,
    );
    assert!(a.get("errors").is_none(), "{a}");

    // Activity log: one entry per change.
    let events: Vec<(String, i64)> = fake.with(|s| {
        s.world.logs[&SAMPLE_BOARD]
            .iter()
            .map(|e| {
                let d: Value = serde_json::from_str(e.fields["data"].as_str().unwrap()).unwrap();
                (
                    e.fields["event"].as_str().unwrap().to_string(),
                    d["pulse_id"].as_i64().unwrap_or(0),
                )
            })
            .collect()
    });
    let count = |ev: &str, item: i64| events.iter().filter(|(e, i)| e == ev && *i == item).count();
    assert_eq!(count("create_pulse", id), 1, "{events:?}");
    assert_eq!(
        count("update_column_value", id),
        0,
        "initial values are part of the creation"
    );
    assert_eq!(count("create_pulse", second), 1);
    assert_eq!(count("move_pulse_into_group", FIRST_ITEM + 2), 1);
    assert_eq!(count("archive_pulse", id), 1);
    assert_eq!(count("delete_pulse", FIRST_ITEM + 3), 1);
    assert_eq!(count("update_name", FIRST_ITEM + 4), 1);
    assert_eq!(count("update_column_value", FIRST_ITEM + 4), 2);
    let sub_log = fake.with(|s| s.world.logs[&SAMPLE_SUBITEMS_BOARD].len());
    assert_eq!(sub_log, 1, "the subitem's create_pulse");

    // Webhooks: monday's event types for each.
    idle(&fake);
    let bodies = rx.bodies();
    let types = |item: i64| -> Vec<String> {
        bodies
            .iter()
            .filter(|b| b["event"]["pulseId"] == json!(item) || b["event"]["itemId"] == json!(item))
            .map(|b| b["event"]["type"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(types(id), ["create_pulse", "archive_pulse"], "{bodies:?}");
    assert_eq!(types(sub_id), ["create_pulse"]);
    assert_eq!(types(FIRST_ITEM + 2), ["move_pulse_into_group"]);
    assert_eq!(types(FIRST_ITEM + 3), ["delete_pulse"]);
    let mut t = types(FIRST_ITEM + 4);
    t.sort();
    assert_eq!(
        t,
        ["update_column_value", "update_column_value", "update_name"]
    );
}

const CREATE: &str = "mutation { create_item(board_id: 18414630189, item_name: \"Once\") { id } }";

fn created(fake: &Fake) -> usize {
    fake.with(|s| s.world.items.values().filter(|i| i.name == "Once").count())
}

#[test]
fn fake_mutations_idempotency_key_replays_and_conflicts() {
    let fake = Fake::start(World::sample(6, true)).unwrap();
    let first = send(&fake, CREATE, json!({}), &[("Idempotency-Key", "k-1")]).unwrap();
    assert_eq!(first.status, 200);
    assert!(first.header("Idempotency-Replayed").is_none());
    let again = send(&fake, CREATE, json!({}), &[("Idempotency-Key", "k-1")]).unwrap();
    assert_eq!(
        (again.status, again.header("Idempotency-Replayed")),
        (200, Some("true"))
    );
    assert_eq!(again.body["data"], first.body["data"]);
    assert_eq!(created(&fake), 1);
    let log = fake.log();
    assert_eq!(
        log.iter().map(|l| l.replayed).collect::<Vec<_>>(),
        [false, true]
    );
    assert_eq!(log[1].roots, ["create_item"]);
    assert_eq!(log[1].idempotency_key.as_deref(), Some("k-1"));
    // Another key executes; queries ignore the header.
    send(&fake, CREATE, json!({}), &[("Idempotency-Key", "k-2")]).unwrap();
    assert_eq!(created(&fake), 2);
    let q = send(
        &fake,
        "{ boards(ids: [18414630189]) { id } }",
        json!({}),
        &[("Idempotency-Key", "k-2")],
    )
    .unwrap();
    assert!(
        q.header("Idempotency-Replayed").is_none()
            && q.body["data"]["boards"][0]["id"] == "18414630189"
    );
    // The record expires.
    fake.with(|s| s.knobs.idempotency_ttl = Duration::ZERO);
    send(&fake, CREATE, json!({}), &[("Idempotency-Key", "k-1")]).unwrap();
    assert_eq!(created(&fake), 3);
    fake.with(|s| s.knobs.idempotency_ttl = Duration::from_secs(1800));

    // A duplicate while the first is in flight (the latency knob holds it): 409, Retry-After.
    fake.with(|s| s.knobs.latency = Duration::from_millis(1500));
    let port = fake.port;
    let slow = std::thread::spawn(move || {
        let body = json!({"query": CREATE}).to_string();
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(c, "POST /v2 HTTP/1.1\r\nHost: x\r\nAuthorization: fake-token\r\nIdempotency-Key: k-3\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
        let mut raw = String::new();
        let _ = c.read_to_string(&mut raw);
        raw
    });
    std::thread::sleep(Duration::from_millis(400));
    let dup = send(&fake, CREATE, json!({}), &[("Idempotency-Key", "k-3")]).unwrap();
    assert_eq!(dup.status, 409, "{}", dup.body);
    assert_eq!(dup.header("Retry-After"), Some("1"));
    assert_eq!(
        dup.body["errors"][0]["extensions"]["code"],
        "IDEMPOTENCY_CONFLICT"
    );
    assert_eq!(dup.body["errors"][0]["extensions"]["status_code"], 409);
    assert!(dup.body["extensions"]["request_id"].is_string());
    let raw = slow.join().unwrap();
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    fake.with(|s| s.knobs.latency = Duration::ZERO);
    assert_eq!(created(&fake), 4, "the duplicate executed nothing");
    let replay = send(&fake, CREATE, json!({}), &[("Idempotency-Key", "k-3")]).unwrap();
    assert_eq!(replay.header("Idempotency-Replayed"), Some("true"));
    assert_eq!(created(&fake), 4);
}

#[test]
fn fake_mutations_lost_answer_then_retry_changes_once() {
    let fake = Fake::start(World::sample(6, true)).unwrap();
    fake.fault(Fault::ExecuteThenDrop);
    assert!(
        send(&fake, CREATE, json!({}), &[("Idempotency-Key", "lost-1")]).is_err(),
        "no answer"
    );
    assert_eq!(created(&fake), 1, "executed");
    let retry = send(&fake, CREATE, json!({}), &[("Idempotency-Key", "lost-1")]).unwrap();
    assert_eq!(
        (retry.status, retry.header("Idempotency-Replayed")),
        (200, Some("true"))
    );
    let id = retry.body["data"]["create_item"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(created(&fake), 1, "the change exists once");
    assert!(fake.with(|s| s.world.items.contains_key(&id.parse::<i64>().unwrap())));
    let log = fake.log();
    assert_eq!(log[0].fault.as_deref(), Some("ExecuteThenDrop"));
    assert_eq!(log[0].status, 0);
    assert!(log[1].replayed);
    // Without a key, the retry runs again: two items.
    fake.fault(Fault::ExecuteThenDrop);
    assert!(send(&fake, CREATE, json!({}), &[]).is_err());
    send(&fake, CREATE, json!({}), &[]).unwrap();
    assert_eq!(created(&fake), 3);
}

#[test]
fn fake_mutations_validation_rules_knob() {
    let fake = Fake::start(World::sample(6, true)).unwrap();
    fake.with(|s| {
        s.knobs
            .validation_rules
            .push(("text0".into(), "forbidden".into()))
    });
    let a = cmcv(
        &fake,
        FIRST_ITEM,
        json!({"text0": "a forbidden word", "rating_mkxa": {"rating": 1}}),
        false,
    );
    assert!(a["data"]["change_multiple_column_values"].is_null());
    let e = &a["errors"][0];
    assert_eq!(e["extensions"]["code"], "DATA_VALIDATIONS_ERROR", "{a}");
    assert_eq!(e["extensions"]["status_code"], 422);
    assert_eq!(
        e["extensions"]["error_data"],
        json!([{"itemId": FIRST_ITEM.to_string(), "columnIds": ["text0"], "message": "Validation failed for column(s) text0"}])
    );
    assert_eq!(
        cell(&read(&fake, FIRST_ITEM), "rating_mkxa")["text"],
        "4",
        "nothing applied"
    );
    assert!(cmcv(&fake, FIRST_ITEM, json!({"text0": "fine"}), false)
        .get("errors")
        .is_none());
}

#[test]
fn fake_mutations_complexity_per_alias_and_single_query_limit() {
    let fake = Fake::start(World::sample(6, true)).unwrap();
    let alias = |n: usize| -> String {
        let mut q = String::from("mutation {");
        for k in 0..n {
            q.push_str(&format!(" a{k}: change_multiple_column_values(board_id: 18414630189, item_id: 18265984789, column_values: \"{{}}\") {{ ...ItemFields }}"));
        }
        q.push_str(" }\n");
        q.push_str(ITEM_FIELDS);
        q
    };
    // How many fit: the cost of one, then the largest N under the limit.
    send(&fake, &alias(1), json!({}), &[]).unwrap();
    let one = fake.log().last().unwrap().complexity;
    assert!(one > MUTATION_COST && one < MUTATION_COST + 100, "{one}");
    let fit = (MAX_QUERY_COMPLEXITY / one) as usize;
    assert!((150..=170).contains(&fit), "{fit}");
    let a = send(&fake, &alias(fit + 1), json!({}), &[]).unwrap();
    assert_eq!(
        a.body["errors"][0]["extensions"]["code"], "ComplexityException",
        "{}",
        a.body
    );
    assert!(a.body.get("data").is_none());
    let calls = fake.with(|s| s.world.logs.get(&SAMPLE_BOARD).map_or(0, |l| l.len()));
    assert_eq!(
        calls, 0,
        "nothing executed (empty column_values log nothing)"
    );
    let a = send(&fake, &alias(fit), json!({}), &[]).unwrap();
    assert!(a.body.get("errors").is_none(), "{}", a.body);
    // The per-minute budget counts mutations too.
    fake.with(|s| s.set_budget(3 * one, Duration::from_secs(60)));
    send(&fake, &alias(3), json!({}), &[]).unwrap();
    let a = send(&fake, &alias(1), json!({}), &[]).unwrap();
    assert_eq!(
        a.body["errors"][0]["extensions"]["code"], "COMPLEXITY_BUDGET_EXHAUSTED",
        "{}",
        a.body
    );
}
