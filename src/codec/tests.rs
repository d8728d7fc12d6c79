//! Table-driven tests of the pure codec over the value shapes in shared/monday-api/FACTS.md
//! (§1.3 API read shapes, old and new, every empty form; §5 webhook shapes).
//!
//! Each case is (column type, column_value JSON as monday sends it, expected `to_jsonb` text or
//! None for SQL NULL). The expected texts are what PostgreSQL prints for `to_jsonb(<v>::<type>)`;
//! the pg_regress suite checks the same equalities inside Postgres.

use super::*;
use serde_json::json;

fn run(ty: Option<&str>, cell: Value, settings: Option<Value>) -> Result<Decoded, DecodeError> {
    let map = cell.as_object().expect("test cell is an object").clone();
    decode(ty, &map, settings.as_ref())
}

fn check(ty: &str, cell: Value, want: Option<&str>) {
    let got = run(Some(ty), cell.clone(), None).unwrap_or_else(|e| panic!("{ty} {cell}: {e}"));
    let got = if got.is_null() {
        None
    } else {
        Some(got.to_json())
    };
    assert_eq!(got.as_deref(), want, "type {ty}, cell {cell}");
}

/// The API's double encoding: `value` is a JSON-encoded string.
fn api(id: &str, text: Option<&str>, value: Option<Value>) -> Value {
    json!({"id": id, "text": text, "value": value.map(|v| v.to_string())})
}

#[test]
fn text_and_long_text() {
    check(
        "text",
        api(
            "text0",
            Some("57 lenox ave, nyc"),
            Some(json!("57 lenox ave, nyc")),
        ),
        Some(r#""57 lenox ave, nyc""#),
    );
    check("text", api("text0", Some(""), Some(json!(""))), None); // cleared: "\"\""
    check("text", api("text0", None, None), None); // never set
    check(
        "text",
        api("t", Some("a\"b\\c\nd"), Some(json!("a\"b\\c\nd"))),
        Some(r#""a\"b\\c\nd""#),
    );
    let lt = json!({"text": "Sample text", "changed_at": "2024-11-19T13:43:36.060Z"});
    check(
        "long_text",
        api("long_text", Some("Sample text"), Some(lt)),
        Some(r#""Sample text""#),
    );
    check(
        "long_text",
        api(
            "long_text",
            Some(""),
            Some(json!({"text": "", "changed_at": "2024-11-19T13:43:36.060Z"})),
        ),
        None,
    );
    check("long-text", api("lt", None, None), None);
}

#[test]
fn numbers_are_numeric_with_their_scale() {
    check(
        "numbers",
        api("numeric_1", Some("1231"), Some(json!("1231"))),
        Some("1231"),
    );
    check(
        "numbers",
        api("n", Some("-12.50"), Some(json!("-12.50"))),
        Some("-12.50"),
    );
    check("numbers", api("n", Some(""), Some(json!(""))), None);
    check("numbers", api("n", None, None), None);
    check("numeric", api("n", None, Some(json!(7))), Some("7"));
    // Typed field only (value not requested).
    check("numbers", json!({"id": "n", "number": 3.5}), Some("3.5"));
    let err = run(
        Some("numbers"),
        api("numbers_7", Some("abc"), Some(json!("abc"))),
        None,
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::WrongShape);
    assert!(
        err.detail.contains("numbers_7") && err.detail.contains("numbers"),
        "{}",
        err.detail
    );
}

#[test]
fn status_label_text_or_settings() {
    let old = json!({"index": 1, "post_id": null, "changed_at": "2025-05-24T14:07:26.376Z"});
    let new = json!({"index": 2, "changed_at": "2026-05-31T13:49:12.379Z"});
    check(
        "status",
        api("status", Some("Done"), Some(old.clone())),
        Some(r#""Done""#),
    );
    check(
        "color",
        api("status", Some("Stuck"), Some(new.clone())),
        Some(r#""Stuck""#),
    );
    // Typed label wins over text.
    let mut typed = api("status", Some("ignored"), Some(new.clone()));
    typed["label"] = json!("Working on it");
    check("status", typed, Some(r#""Working on it""#));
    // Empty forms: null, changed_at only, index 5 with null text, doc form {"index":1} w/o label → needs settings.
    check("status", api("status", None, None), None);
    check(
        "status",
        api(
            "status",
            None,
            Some(json!({"changed_at": "2025-05-24T14:07:26.376Z"})),
        ),
        None,
    );
    check(
        "status",
        api("status", None, Some(json!({"index": 5, "post_id": null}))),
        None,
    );
    // Index via settings, with the settings_str as an object or as the raw string.
    let settings = json!({"labels": {"0": "Working on it", "1": "Done", "2": "Stuck"}});
    let got = run(
        Some("status"),
        api("s", None, Some(json!({"index": 1}))),
        Some(settings.clone()),
    )
    .unwrap();
    assert_eq!(got, Decoded::Text("Done".into()));
    let got = run(
        Some("status"),
        api("s", None, Some(json!({"index": 2}))),
        Some(Value::String(settings.to_string())),
    )
    .unwrap();
    assert_eq!(got, Decoded::Text("Stuck".into()));
    let err = run(
        Some("status"),
        api("s", None, Some(json!({"index": 1}))),
        None,
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::WrongShape);
    assert!(err.hint.contains("settings_str"));
}

#[test]
fn dropdown_labels_in_order() {
    let mut typed = api(
        "dropdown",
        Some("Cookie, Cupcake"),
        Some(json!({"ids": [1, 3]})),
    );
    typed["values"] = json!([{"id": "1", "label": "Cookie"}, {"id": "3", "label": "Cupcake"}]);
    check("dropdown", typed, Some(r#"["Cookie", "Cupcake"]"#));
    let settings = json!({"labels": [{"id": 1, "name": "Cookie"}, {"id": 3, "name": "Cupcake"}]});
    let got = run(
        Some("dropdown"),
        api("d", None, Some(json!({"ids": [3, 1]}))),
        Some(settings),
    )
    .unwrap();
    assert_eq!(got.to_json(), r#"["Cupcake", "Cookie"]"#);
    // Without settings, the text fills in when it has one label per id.
    check(
        "dropdown",
        api("d", Some("Cookie"), Some(json!({"ids": [1]}))),
        Some(r#"["Cookie"]"#),
    );
    check("dropdown", api("d", None, Some(json!({"ids": []}))), None);
    check(
        "dropdown",
        api("d", None, Some(json!({"labels": []}))),
        None,
    );
    check("dropdown", api("d", None, None), None);
    let mut empty_typed = api("d", None, None);
    empty_typed["values"] = json!([]);
    check("dropdown", empty_typed, None);
}

#[test]
fn dates_timelines_weeks_hours() {
    check(
        "date",
        api(
            "date4",
            Some("2023-06-21"),
            Some(
                json!({"date": "2023-06-21", "icon": null, "changed_at": "2023-06-20T10:00:00.000Z"}),
            ),
        ),
        Some(r#""2023-06-21""#),
    );
    check(
        "date",
        api(
            "date",
            Some("2025-05-30"),
            Some(json!({"date": "2025-05-30", "changed_at": "2025-05-29T10:00:00.000Z"})),
        ),
        Some(r#""2025-05-30""#),
    );
    check(
        "date",
        api(
            "date",
            None,
            Some(json!({"date": "2026-06-15", "time": "09:00:00", "changed_at": "x"})),
        ),
        Some(r#""2026-06-15""#),
    );
    check("date", api("date", None, None), None);
    check(
        "date",
        api(
            "date",
            None,
            Some(json!({"changed_at": "2025-05-29T10:00:00.000Z"})),
        ),
        None,
    );
    assert!(run(
        Some("date"),
        api("date", None, Some(json!({"date": "2023-02-30"}))),
        None
    )
    .is_err());

    let tl =
        json!({"to": "2019-06-07", "from": "2019-06-03", "changed_at": "2019-06-01T00:00:00.000Z"});
    check(
        "timeline",
        api("timeline", Some("2019-06-03 - 2019-06-07"), Some(tl)),
        Some(r#""[2019-06-03,2019-06-08)""#),
    );
    let ms = json!({"to": "2019-06-03", "from": "2019-06-03", "visualization_type": "milestone"});
    check(
        "timeline",
        api("timeline", None, Some(ms)),
        Some(r#""[2019-06-03,2019-06-04)""#),
    );
    check("timeline", api("timeline", None, None), None);
    check(
        "timeline",
        json!({"id": "t", "value": null, "from": "2024-01-01", "to": "2024-01-31"}),
        Some(r#""[2024-01-01,2024-02-01)""#),
    );
    assert!(run(
        Some("timeline"),
        api(
            "t",
            None,
            Some(json!({"from": "2019-06-07", "to": "2019-06-03"}))
        ),
        None
    )
    .is_err());

    let wk = json!({"week": {"endDate": "2019-06-16", "startDate": "2019-06-10"}});
    check(
        "week",
        api("week", Some(""), Some(wk)),
        Some(r#""[2019-06-10,2019-06-17)""#),
    );
    check("week", api("week", None, None), None);

    check(
        "hour",
        api(
            "hour",
            Some("04:42 PM"),
            Some(json!({"hour": 16, "minute": 42, "changed_at": "x"})),
        ),
        Some(r#""16:42:00""#),
    );
    check(
        "hour",
        api("hour", None, Some(json!({"hour": 9, "minute": 5}))),
        Some(r#""09:05:00""#),
    );
    check("hour", api("hour", None, None), None);
    assert!(run(
        Some("hour"),
        api("hour", None, Some(json!({"hour": 25, "minute": 0}))),
        None
    )
    .is_err());
}

#[test]
fn people_relations_subitems_tags() {
    let ppl = json!({"changed_at": "2022-10-26T12:39:58.664Z", "personsAndTeams": [{"id": 44865791, "kind": "person"}, {"id": 51166, "kind": "team"}]});
    check(
        "people",
        api("person", Some("Ann"), Some(ppl)),
        Some("[44865791]"),
    );
    check(
        "multiple-person",
        api(
            "p",
            None,
            Some(
                json!({"personsAndTeams": [{"id": 1, "kind": "person"}, {"id": 2, "kind": "person"}]}),
            ),
        ),
        Some("[1, 2]"),
    );
    check(
        "people",
        api("p", None, Some(json!({"personsAndTeams": []}))),
        None,
    );
    check("people", api("p", None, None), None);
    let mut typed = api("p", None, None);
    typed["persons_and_teams"] =
        json!([{"id": "44865791", "kind": "person"}, {"id": "9", "kind": "agent"}]);
    check("people", typed, Some("[44865791]"));

    // API ≥ 2025-04: value null, typed linked_item_ids (strings, above 2^31).
    let mut rel = api("board_relation_mkx", None, None);
    rel["linked_item_ids"] = json!(["18265984789", "18265984790"]);
    rel["display_value"] = json!("A, B");
    check("board_relation", rel, Some("[18265984789, 18265984790]"));
    let mut none = api("board_relation_mkx", None, None);
    none["linked_item_ids"] = json!([]);
    check("board_relation", none, None);
    // Before 2025-04: value with linkedPulseIds.
    let old = json!({"linkedPulseIds": [{"linkedPulseId": 1711043053}], "changed_at": "2023-01-01T00:00:00.000Z"});
    check(
        "board_relation",
        api("connect", None, Some(old.clone())),
        Some("[1711043053]"),
    );
    check(
        "dependency",
        api("dep", None, Some(old)),
        Some("[1711043053]"),
    );
    check("dependency", api("dep", None, None), None);

    let mut sub = api("subitems", None, None);
    sub["subitems_ids"] = json!(["18265981953", "18265981954"]);
    check("subtasks", sub, Some("[18265981953, 18265981954]"));
    check("subtasks", api("subitems", None, None), None);

    check(
        "tags",
        api(
            "tags",
            Some("a, b"),
            Some(json!({"tag_ids": [295026, 295064]})),
        ),
        Some("[295026, 295064]"),
    );
    check("tag", api("tags", None, Some(json!({"tag_ids": []}))), None);
}

#[test]
fn display_values_contacts_places() {
    let mut mirror = api("lookup_1", None, None);
    mirror["display_value"] = json!("Acme, Globex");
    check("mirror", mirror, Some(r#""Acme, Globex""#));
    let mut empty = api("lookup_1", None, None);
    empty["display_value"] = json!("");
    check("mirror", empty, None);
    let mut formula = api("formula", None, None);
    formula["display_value"] = json!("42.5");
    check("formula", formula, Some(r#""42.5""#));

    let email = json!({"email": "test@example.com", "text": "Test Contact", "changed_at": "x"});
    check(
        "email",
        api(
            "email",
            Some("Test Contact - test@example.com"),
            Some(email),
        ),
        Some(r#""test@example.com""#),
    );
    check("email", api("email", Some(""), Some(json!(""))), None);
    let phone = json!({"phone": "11231234567", "changed_at": "x", "countryShortName": "US"});
    check(
        "phone",
        api("phone", Some("11231234567"), Some(phone)),
        Some(r#""11231234567""#),
    );
    let link = json!({"url": "http://monday.com", "text": "go to monday!", "changed_at": "x"});
    check(
        "link",
        api(
            "link",
            Some("go to monday! - http://monday.com"),
            Some(link),
        ),
        Some(r#""http://monday.com""#),
    );
    check("link", api("link", None, None), None);

    let loc = json!({"lat": "29.9772962", "lng": "31.1324955", "address": "Giza Pyramid Complex", "changed_at": "x"});
    check(
        "location",
        api("location", Some("Giza Pyramid Complex"), Some(loc)),
        Some(r#"{"lat": 29.9772962, "lng": 31.1324955, "address": "Giza Pyramid Complex"}"#),
    );
    check("location", api("location", None, None), None);
    check(
        "location",
        api(
            "location",
            None,
            Some(json!({"lat": -33.5, "lng": "151.0"})),
        ),
        Some(r#"{"lat": -33.5, "lng": 151.0, "address": null}"#),
    );

    check(
        "country",
        api(
            "country",
            Some("United States"),
            Some(json!({"countryCode": "US", "countryName": "United States"})),
        ),
        Some(r#""US""#),
    );
    check(
        "country",
        json!({"id": "c", "value": null, "country": {"code": "FR", "name": "France"}}),
        Some(r#""FR""#),
    );
    check(
        "world_clock",
        api(
            "world_clock",
            None,
            Some(json!({"timezone": "Europe/London", "changed_at": "x"})),
        ),
        Some(r#""Europe/London""#),
    );
    check(
        "color_picker",
        api(
            "cp",
            None,
            Some(json!({"color": {"hex": "#FF5733"}, "changed_at": "x"})),
        ),
        Some(r##""#FF5733""##),
    );
    check(
        "color_picker",
        api(
            "cp",
            None,
            Some(json!({"color": {"rgb": {"r": 255, "g": 87, "b": 51}}})),
        ),
        Some(r##""#FF5733""##),
    );
    check("color_picker", api("cp", None, None), None);
}

#[test]
fn checkbox_rating_vote() {
    check(
        "checkbox",
        api(
            "check",
            Some("v"),
            Some(json!({"checked": true, "changed_at": "x"})),
        ),
        Some("true"),
    );
    check(
        "checkbox",
        api("check", Some(""), Some(json!({"checked": false}))),
        Some("false"),
    );
    check("checkbox", api("check", Some(""), None), Some("false")); // never set
    check(
        "boolean",
        api("check", None, Some(json!({"checked": "true"}))),
        Some("true"),
    );

    check(
        "rating",
        api(
            "rating",
            Some("5"),
            Some(json!({"rating": 5, "changed_at": "x"})),
        ),
        Some("5"),
    );
    check("rating", api("rating", None, None), None);

    check(
        "vote",
        api(
            "vote",
            Some("3"),
            Some(json!({"voter_ids": [12345, 67890, 11111], "changed_at": "x"})),
        ),
        Some("3"),
    );
    let mut typed = api("vote", Some("0"), None);
    typed["vote_count"] = json!(0);
    check("vote", typed, Some("0"));
    check("vote", api("vote", Some("0"), None), Some("0"));
}

#[test]
fn logs_ids_durations() {
    let mut created = api("pulse_log", Some("2026-01-05 10:00:00 UTC"), None);
    created["created_at"] = json!("2026-01-05T10:00:00Z");
    check(
        "creation_log",
        created,
        Some(r#""2026-01-05T10:00:00+00:00""#),
    );
    let lu = json!({"updated_at": "2026-03-21T08:47:10Z", "updater_id": "123456"});
    check(
        "last_updated",
        api("last_updated", Some("2026-03-21 08:47:10 UTC"), Some(lu)),
        Some(r#""2026-03-21T08:47:10+00:00""#),
    );
    check(
        "pulse-updated",
        api("lu", Some("2026-03-21 08:47:10 UTC"), None),
        Some(r#""2026-03-21T08:47:10+00:00""#),
    );
    check(
        "item_id",
        api(
            "item_id",
            Some("1711043053"),
            Some(json!({"item_id": "1711043053"})),
        ),
        Some("1711043053"),
    );
    check(
        "item_id",
        api("item_id", None, Some(json!({"item_id": 18265984789_i64}))),
        Some("18265984789"),
    );
    let mut tt = api("time_tracking", None, None);
    tt["duration"] = json!(90061);
    check("time_tracking", tt, Some(r#""25:01:01""#));
    check("time_tracking", api("time_tracking", None, None), None);
}

#[test]
fn json_types_pass_through() {
    let files = json!({"files": [{"name": "x.jpg", "assetId": 125951865, "isImage": "true", "fileType": "ASSET", "createdAt": 1749369004275_i64, "createdBy": "76184316"}]});
    let cell = api("files", Some("https://x"), Some(files.clone()));
    let got = run(Some("file"), cell, None).unwrap();
    let Decoded::Json(text) = got else {
        panic!("file should be jsonb")
    };
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), files);
    check(
        "file",
        api("files", Some(""), Some(json!({"files": []}))),
        None,
    );
    check(
        "doc",
        api(
            "doc",
            None,
            Some(json!({"files": [{"fileType": "MONDAY_DOC", "fileId": "1", "objectId": 2}]})),
        ),
        Some(
            &json!({"files": [{"fileType": "MONDAY_DOC", "fileId": "1", "objectId": 2}]})
                .to_string(),
        ),
    );
    check("button", api("button", None, None), None);
    // A type monday adds tomorrow decodes as jsonb, not an error.
    check(
        "quantum_flux",
        api("qf", None, Some(json!({"spin": "up"}))),
        Some(r#"{"spin":"up"}"#),
    );
}

#[test]
fn name_column() {
    check(
        "name",
        json!({"id": "name", "name": "Launch plan"}),
        Some(r#""Launch plan""#),
    );
    check(
        "name",
        json!({"id": "name", "text": "Launch plan"}),
        Some(r#""Launch plan""#),
    );
}

#[test]
fn type_comes_from_the_cell_when_not_given() {
    let cell = json!({"id": "numbers", "type": "numbers", "text": "5", "value": "\"5\""});
    assert_eq!(run(None, cell, None).unwrap(), Decoded::Number("5".into()));
    let err = run(None, json!({"id": "x", "value": "\"5\""}), None).unwrap_err();
    assert_eq!(err.code, ErrorCode::WrongShape);
}

/// FACTS.md §5.3: webhook `event` objects, with real JSON values and legacy type names.
#[test]
fn webhook_dialect() {
    let status = json!({
        "type": "update_column_value", "pulseId": 1234567890, "columnId": "status", "columnType": "color",
        "columnTitle": "Status",
        "value": {"label": {"index": 0, "text": "Working on it", "style": {"color": "#fdab3d", "border": "#e99729", "var_name": "orange"}, "is_done": false}, "post_id": null},
        "previousValue": null, "changedAt": 1738696854.123
    });
    assert_eq!(
        run(None, status, None).unwrap(),
        Decoded::Text("Working on it".into())
    );

    let date = json!({"columnId": "date4", "columnType": "date", "value": {"date": "2025-02-05", "icon": null, "time": null, "changed_at": "2025-02-04T19:20:54.000Z"}});
    assert_eq!(
        run(None, date, None).unwrap(),
        Decoded::Text("2025-02-05".into())
    );

    let people = json!({"columnId": "person", "columnType": "multiple-person", "value": {"personsAndTeams": [{"id": 44865791, "kind": "person"}], "changed_at": "2025-02-04T19:20:54.000Z"}, "previousValue": {}});
    assert_eq!(
        run(None, people, None).unwrap(),
        Decoded::BigIntArray(vec![44865791])
    );

    let subtasks = json!({"columnId": "subitems", "columnType": "subtasks", "value": {"linkedPulseIds": [{"linkedPulseId": 18265981953_i64}], "changed_at": "2025-02-04 19:20:54 +0000"}});
    assert_eq!(
        run(None, subtasks, None).unwrap(),
        Decoded::BigIntArray(vec![18265981953])
    );

    let dropdown = json!({"columnId": "dropdown", "columnType": "dropdown", "value": {"chosenValues": [{"id": 1, "name": "Cookie"}]}});
    assert_eq!(
        run(None, dropdown, None).unwrap(),
        Decoded::TextArray(vec!["Cookie".into()])
    );

    let text = json!({"columnId": "text0", "columnType": "text", "value": {"value": "hello"}});
    assert_eq!(
        run(None, text, None).unwrap(),
        Decoded::Text("hello".into())
    );

    let numbers = json!({"columnId": "numbers", "columnType": "numeric", "value": {"value": 12.5, "unit": null}});
    assert_eq!(
        run(None, numbers, None).unwrap(),
        Decoded::Number("12.5".into())
    );

    let tags = json!({"columnId": "tags", "columnType": "tag", "value": {"tag_ids": [1, 2]}});
    assert_eq!(
        run(None, tags, None).unwrap(),
        Decoded::BigIntArray(vec![1, 2])
    );

    let cleared = json!({"columnId": "status", "columnType": "color", "value": null, "previousValue": {"label": {"index": 1, "text": "Done"}}});
    assert_eq!(run(None, cleared, None).unwrap(), Decoded::Null);
}

#[test]
fn errors_carry_code_column_and_a_bounded_snippet() {
    let long = format!("{{\"index\":{}", "9".repeat(500));
    let err = run(
        Some("status"),
        json!({"id": "status_1__1", "value": long}),
        None,
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::Malformed);
    assert!(err.detail.contains("\"status_1__1\"") && err.detail.contains("type status"));
    // At most 100 bytes of the value are echoed.
    let shown = err
        .detail
        .split("value: ")
        .nth(1)
        .unwrap()
        .trim_end_matches('…');
    assert!(shown.len() <= DETAIL_BYTES, "{}", shown.len());
    // Multi-byte characters are never cut in half.
    let err = run(
        Some("text"),
        json!({"id": "t", "value": format!("\"{}", "é".repeat(80))}),
        None,
    )
    .unwrap_err();
    assert!(err.detail.is_char_boundary(err.detail.len()));
}

#[test]
fn decode_item_with_columns() {
    let item = json!({
        "id": "18265984789", "name": "Launch",
        "group": {"id": "topics", "title": "Group Title"},
        "column_values": [
            {"id": "status", "type": "status", "text": null, "value": "{\"index\":1}"},
            {"id": "numbers", "type": "numbers", "text": "5", "value": "\"5\""},
            {"id": "text0", "type": "text", "text": "", "value": null}
        ]
    });
    let columns = json!([
        {"id": "status", "type": "status", "settings_str": "{\"labels\":{\"1\":\"Done\"}}"},
        {"id": "numbers", "type": "numbers", "settings_str": "{}"}
    ]);
    let cols = item::Columns::from_json(&columns).unwrap();
    let out: Value = serde_json::from_str(&item::decode_item(&item, Some(&cols)).unwrap()).unwrap();
    assert_eq!(
        out,
        json!({"name": "Launch", "status": "Done", "numbers": 5, "text0": null})
    );
    assert!(item::decode_item(&json!([1]), None).is_err());
}

/// A cell parsed borrowed (`ObjectAsVec`, as a pulled page's) decodes as its `serde_json` map does,
/// typed id lists and people included, bad shapes with the same errors.
#[test]
fn borrowed_cells_decode_as_maps() {
    let cells = [
        r#"{"id":"r","type":"board_relation","value":null,"linked_item_ids":["1","2"]}"#,
        r#"{"id":"r","type":"board_relation","value":null,"linked_item_ids":[1, 2.0, " 3 "]}"#,
        r#"{"id":"r","type":"board_relation","value":null,"linked_item_ids":[]}"#,
        r#"{"id":"r","type":"board_relation","value":null,"linked_item_ids":["x"]}"#,
        r#"{"id":"r","type":"board_relation","value":null,"linked_item_ids":{"a":1}}"#,
        r#"{"id":"r","type":"board_relation","value":"{\"linkedPulseIds\":[{\"linkedPulseId\":5}]}","linked_item_ids":null}"#,
        r#"{"id":"s","type":"subtasks","value":null,"subitems_ids":["9"],"subitems_ids":["10"]}"#,
        r#"{"id":"s","type":"subtasks","value":null,"subitems_ids":[1.5]}"#,
        r#"{"id":"p","type":"people","value":"{\"personsAndTeams\":[{\"id\":1,\"kind\":\"person\"},{\"id\":2,\"kind\":\"team\"},{\"id\":\"3\"}]}"}"#,
        r#"{"id":"p","type":"people","value":"{\"personsAndTeams\":[{\"id\":1,\"kind\":\"person\",\"kind\":\"team\"}]}"}"#,
        r#"{"id":"p","type":"people","value":"{\"personsAndTeams\":[{\"kind\":\"person\"}]}"}"#,
        r#"{"id":"p","type":"people","value":"{\"personsAndTeams\":[7]}"}"#,
        r#"{"id":"p","type":"people","value":"{\"personsAndTeams\":{}}"}"#,
        r#"{"id":"p","type":"people","value":"{\"personsAndTeams\":null}","persons_and_teams":[{"id":"4","kind":"person"}]}"#,
        r#"{"id":"p","type":"people","value":"{\"personsAndTeams\":[]}"}"#,
        r#"{"id":"d","type":"date","value":"{\"date\":\"2026-06-15\"}"}"#,
        r#"{"id":"d","type":"date","value":null,"date":"2026-06-15"}"#,
        r#"{"id":"d","type":"date","value":null,"date":""}"#,
        r#"{"id":"d","type":"date","value":null,"date":20260615}"#,
        r#"{"id":"d","type":"date","value":"{\"date\":\"2026-02-30\"}"}"#,
        r#"{"id":"d","type":"date","value":"{\"date\":7}","date":"2026-06-15"}"#,
        r#"{"id":"t","type":"timeline","value":"{\"from\":\"2026-06-01\",\"to\":\"2026-06-12\"}"}"#,
        r#"{"id":"t","type":"timeline","value":null,"from":"2026-06-01","to":null}"#,
        r#"{"id":"t","type":"timeline","value":null,"from":"2026-06-12","to":"2026-06-01"}"#,
        r#"{"id":"t","type":"timeline","value":"{\"from\":1}"}"#,
        r#"{"id":"w","type":"week","value":"{\"week\":{\"startDate\":\"2019-06-10\",\"endDate\":\"2019-06-16\"}}"}"#,
        r#"{"id":"w","type":"week","value":null,"start_date":"2019-06-10","end_date":"2019-06-16"}"#,
        r#"{"id":"w","type":"week","value":null,"start_date":[],"end_date":"x"}"#,
        r#"{"id":"c","type":"creation_log","value":null,"created_at":"2026-03-21T08:47:10Z"}"#,
        r#"{"id":"c","type":"creation_log","value":null,"created_at":"yesterday"}"#,
        r#"{"id":"c","type":"creation_log","value":null,"created_at":5}"#,
        r#"{"id":"c","type":"creation_log","value":null,"created_at":""}"#,
        r#"{"id":"c","type":"creation_log","value":"{\"created_at\":\"2026-03-21T08:47:10.5+02:00\"}"}"#,
        r#"{"id":"u","type":"last_updated","value":null,"updated_at":"2026-03-21T08:47:10Z"}"#,
        r#"{"id":"u","type":"last_updated","value":"{\"updated_at\":1}"}"#,
        r#"{"id":"u","type":"last_updated","value":"{}","text":"2026-03-21 08:47:10 UTC"}"#,
        r#"{"id":"u","type":"last_updated","value":"{}","text":""}"#,
        r#"{"id":"g","type":"tags","value":"{\"tag_ids\":[295026,\"295064\"]}"}"#,
        r#"{"id":"g","type":"tags","value":"{\"tag_ids\":[1.5]}"}"#,
        r#"{"id":"g","type":"tags","value":"{\"tag_ids\":7}"}"#,
        r#"{"id":"g","type":"tags","value":null,"tag_ids":["3"]}"#,
        r#"{"id":"g","type":"tags","value":"{\"tag_ids\":null}"}"#,
    ];
    for text in cells {
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).unwrap();
        let borrowed: serde_json_borrow::Value = serde_json::from_str(text).unwrap();
        let obj = borrowed.as_object().unwrap();
        assert_eq!(
            crate::codec::decode(None, obj, None),
            crate::codec::decode(None, &map, None),
            "{text}"
        );
    }
}
