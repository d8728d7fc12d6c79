use super::names::{slug, subitems_table_name, table_name, unique_column_name, with_suffix};
use super::rows::{build_rows, MappedColumn, PageRows};
use super::{board_meta, id_of, scrub_json_text, scrub_value};
use serde_json::{json, Value};

#[test]
fn slugs() {
    assert_eq!(slug("Due date (UTC)"), "due_date_utc");
    assert_eq!(slug("  Größe / Überprüft? "), "grosse_uberpruft");
    assert_eq!(slug("2026 plan"), "c_2026_plan");
    assert_eq!(slug("👍"), "");
    assert_eq!(slug(&"x".repeat(100)).len(), 63);
    assert_eq!(table_name("Q3 Launch plan", 1), "q3_launch_plan");
    assert_eq!(table_name("🚀", 18414630189), "board_18414630189");
}

#[test]
fn unique_names_avoid_fixed_and_taken() {
    let taken = vec!["status".to_string(), "status_2".to_string()];
    assert_eq!(unique_column_name("Status", "status", &taken), "status_3");
    assert_eq!(unique_column_name("Name", "text0", &[]), "name_2");
    assert_eq!(
        unique_column_name("Created at", "date", &[]),
        "created_at_2"
    );
    assert_eq!(unique_column_name("🔥", "text_mkx1", &[]), "text_mkx1");
    let long = "y".repeat(70);
    let first = unique_column_name(&long, "c", &[]);
    let second = unique_column_name(&long, "c", std::slice::from_ref(&first));
    assert_eq!(second.len(), 63);
    assert!(second.ends_with("_2") && second != first);
}

#[test]
fn meta_and_subitems_board() {
    let b = json!({"id":"18414630189","name":"Q3","type":"board","items_count":5,
        "columns":[{"id":"subitems","title":"Subitems","type":"subtasks","settings_str":"{\"boardIds\":[18414630191]}"},
                   {"id":"status","title":"Status","type":"status","settings_str":"not json"}],
        "groups":[{"id":"topics","title":"This sprint","position":"65536"}]});
    let m = board_meta(&b).unwrap();
    assert_eq!(m.id, 18414630189);
    assert_eq!(m.subitems_board(), Some(18414630191));
    assert_eq!(m.columns[1].settings, json!({}));
    assert_eq!(id_of(&json!("18265984789")), Some(18265984789));
}

#[test]
fn rows_decode_and_keep_raw() {
    let cols = vec![
        MappedColumn {
            column_id: "numeric".into(),
            sql_name: "budget".into(),
            typ: "numbers".into(),
            settings: None,
            sql_type: String::new(),
        },
        MappedColumn {
            column_id: "date4".into(),
            sql_name: "due".into(),
            typ: "date".into(),
            settings: None,
            sql_type: String::new(),
        },
    ];
    let items = [
        json!({"id":"18265984789","name":"A \"quoted\" name","state":"active",
        "group":{"id":"topics","title":"This sprint"},"parent_item":null,
        "created_at":"2026-05-02T09:12:44Z","updated_at":"2026-06-01T08:00:03Z",
        "column_values":[
            {"id":"numeric","type":"numbers","text":"12.5","value":"\"12.5\""},
            {"id":"date4","type":"date","text":"","value":"{\"date\":\"not a date\"}"},
            {"id":"new_col","type":"text","text":"x","value":"\"x\""}]}),
    ];
    let items: Vec<serde_json_borrow::Value> = items.iter().map(Into::into).collect();
    let page = build_rows(&items, &cols);
    let json = page.json(&cols);
    let rows: Value = serde_json::from_str(&json).expect(&json);
    let r = &rows[0];
    assert_eq!(r["item_id"], json!(18265984789i64));
    assert_eq!(r["name"], json!("A \"quoted\" name"));
    assert_eq!(r["budget"], json!(12.5));
    assert!(r.get("due").is_none(), "undecodable cell → NULL");
    assert_eq!(
        r["raw"]["date4"]["value"],
        json!("{\"date\":\"not a date\"}")
    );
    assert_eq!(page.warning_count, 1);
    assert!(page.warnings[0].contains("date4"), "{:?}", page.warnings);
    assert_eq!(page.unmapped, vec!["new_col".to_string()]);
    assert_eq!(page.ids, vec![18265984789]);
}

fn col(id: &str, sql_name: &str, typ: &str, settings: Option<Value>) -> MappedColumn {
    MappedColumn {
        column_id: id.into(),
        sql_name: sql_name.into(),
        typ: typ.into(),
        settings,
        sql_type: String::new(),
    }
}

/// No U+0000 anywhere in `v`, keys included.
fn assert_no_nul(v: &Value) {
    match v {
        Value::String(s) => assert!(!s.contains('\0'), "{s:?}"),
        Value::Array(a) => a.iter().for_each(assert_no_nul),
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            assert!(!k.contains('\0'), "{k:?}");
            assert_no_nul(x);
        }),
        _ => {}
    }
}

/// The page's JSON parses, holds no U+0000 and no `\u0000` escape (which json and jsonb reject).
fn parsed(page: &PageRows, cols: &[MappedColumn]) -> Vec<Value> {
    let json = page.json(cols);
    assert!(!json.contains('\0'));
    let mut chars = json.chars();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.next() == Some('u') {
            let hex: String = chars.by_ref().take(4).collect();
            assert_ne!(hex, "0000", "{json}");
        }
    }
    let rows: Value = serde_json::from_str(&json).expect(&json);
    assert_no_nul(&rows);
    page.warnings
        .iter()
        .for_each(|w| assert!(!w.contains('\0')));
    rows.as_array().expect("an array").clone()
}

fn warned(page: &PageRows, parts: &[&str]) {
    assert!(
        page.warnings
            .iter()
            .any(|w| parts.iter().all(|p| w.contains(p))),
        "no warning with {parts:?} in {:#?}",
        page.warnings
    );
}

#[test]
fn json_text_escapes() {
    let t = r#"{"a\u0000":"x\u0000y","b":"\\u0000","c":"\\\u0000","d":"\u00001"}"#;
    assert_eq!(
        scrub_json_text(t),
        r#"{"a\ufffd":"x\ufffdy","b":"\\u0000","c":"\\\ufffd","d":"\ufffd1"}"#
    );
    assert!(matches!(
        scrub_json_text(r#"{"b":"\\u0000"}"#),
        std::borrow::Cow::Borrowed(_)
    ));
    assert_eq!(scrub_json_text("\"a\0\""), "\"a\u{FFFD}\"");
    // A cut escape at the end is left as it is.
    assert_eq!(scrub_json_text(r#""\u000"#), r#""\u000"#);
    let mut v = json!({"k\u{0}": ["a\u{0}", {"x": "\u{0}"}], "n": 1});
    assert!(scrub_value(&mut v));
    assert_eq!(
        v,
        json!({"k\u{FFFD}": ["a\u{FFFD}", {"x": "\u{FFFD}"}], "n": 1})
    );
    assert!(!scrub_value(&mut v));
}

#[test]
fn nul_in_item_fields() {
    let items = [json!({"id":"7","name":"a\u{0}b","state":"active",
        "group":{"id":"g\u{0}","title":"This\u{0}sprint"},
        "created_at":"2026-01-05T10:12:00Z","updated_at":"2026-01-05T10:12:00Z",
        "column_values":[]})];
    let items: Vec<serde_json_borrow::Value> = items.iter().map(Into::into).collect();
    let page = build_rows(&items, &[]);
    let rows = parsed(&page, &[]);
    assert_eq!(rows[0]["name"], json!("a\u{FFFD}b"));
    assert_eq!(rows[0]["group_id"], json!("g\u{FFFD}"));
    assert_eq!(rows[0]["group_title"], json!("This\u{FFFD}sprint"));
    warned(&page, &["item 7", "name", "U+FFFD"]);
    warned(&page, &["item 7", "group id", "U+FFFD"]);
    warned(&page, &["item 7", "group title", "U+FFFD"]);
    assert_eq!(page.warning_count, 3);
}

#[test]
fn nul_in_cells_and_raw() {
    let cols = vec![
        col("text0", "notes", "text", None),
        col("blob", "blob", "some_future_type", None),
        col("c\u{FFFD}", "odd", "text", None),
        col(
            "status",
            "status",
            "status",
            Some(json!({"labels": {"1": "Do\u{0}ne"}})),
        ),
        col(
            "dd",
            "tags",
            "dropdown",
            Some(json!({"labels": [{"id": 1, "name": "Coo\u{0}kie"}]})),
        ),
    ];
    let items = [json!({"id":"8","name":"n","column_values":[
        // The `value` is JSON text: its NUL is the escape, decoded to a real U+0000.
        {"id":"text0","type":"text","text":"a\u{0}b","value":"\"a\\u0000b\""},
        {"id":"blob","type":"x","text":null,"value":"{\"k\\u0000\":\"v\\u0000\",\"t\":\"\\\\u0000\"}"},
        {"id":"c\u{0}","type":"text","text":"ok","value":"\"ok\""},
        {"id":"status","type":"status","text":null,"value":"{\"index\":1}"},
        {"id":"dd","type":"dropdown","text":null,"value":"{\"ids\":[1]}"},
        {"id":"new\u{0}","type":"text","text":"x","value":"\"x\""}]})];
    let items: Vec<serde_json_borrow::Value> = items.iter().map(Into::into).collect();
    let page = build_rows(&items, &cols);
    let rows = parsed(&page, &cols);
    let r = &rows[0];
    assert_eq!(r["notes"], json!("a\u{FFFD}b"));
    assert_eq!(r["blob"], json!({"k\u{FFFD}": "v\u{FFFD}", "t": "\\u0000"}));
    assert_eq!(r["odd"], json!("ok"), "cell id scrubbed like the column id");
    assert_eq!(r["status"], json!("Do\u{FFFD}ne"));
    assert_eq!(r["tags"], json!(["Coo\u{FFFD}kie"]));
    // raw: the cells as fetched but for U+0000; the escape inside `value` is text and stays.
    assert_eq!(r["raw"]["text0"]["text"], json!("a\u{FFFD}b"));
    assert_eq!(r["raw"]["text0"]["value"], json!("\"a\\u0000b\""));
    assert_eq!(r["raw"]["c\u{FFFD}"]["id"], json!("c\u{FFFD}"));
    assert_eq!(page.unmapped, vec!["new\u{FFFD}".to_string()]);
    for c in ["text0", "blob", "c\u{FFFD}", "status", "dd", "new\u{FFFD}"] {
        warned(&page, &["item 8", &format!("column \"{c}\""), "U+FFFD"]);
    }
    assert_eq!(page.warning_count, 6, "{:#?}", page.warnings);
}

#[test]
fn malformed_items_are_stored_with_warnings() {
    let cols = vec![col("text0", "notes", "text", None)];
    let items = [
        json!({"id":"1","name":"first copy","column_values":[]}),
        json!({"id":"2","name":42,"state":"paused","group":"not an object",
            "created_at":"yesterday","updated_at":"2026-13-45T99:00:00Z",
            "column_values":[
                {"type":"text","text":"no id","value":"\"no id\""},
                "not an object",
                {"id":7,"text":"numeric id"},
                {"id":"text0","type":"text","text":"kept","value":"\"kept\""}]}),
        json!({"id":"3","state":7,"group":{"id":5,"title":null},"created_at":1767607920,
            "updated_at":"2026-01-05 10:12:00.5-05:30","column_values":{"a":1}}),
        json!({"id":"4","state":"archived","created_at":"2026-01-05T10:12:00Z",
            "updated_at":"2026-01-05T10:12:00+0200"}),
        json!({"id":"not a number"}),
        json!("not an object"),
        json!({"id":"1","name":"last copy","column_values":[]}),
    ];
    let items: Vec<serde_json_borrow::Value> = items.iter().map(Into::into).collect();
    let page = build_rows(&items, &cols);
    let rows = parsed(&page, &cols);
    assert_eq!(page.ids, vec![2, 3, 4, 1]);
    let ids: Vec<i64> = rows.iter().filter_map(|r| r["item_id"].as_i64()).collect();
    assert_eq!(ids, page.ids);

    let r2 = &rows[0];
    assert_eq!(r2["name"], Value::Null);
    assert_eq!(r2["group_id"], Value::Null);
    assert_eq!(r2["state"], json!("active"));
    assert_eq!(r2["created_at"], Value::Null);
    assert_eq!(r2["updated_at"], Value::Null);
    assert_eq!(r2["notes"], json!("kept"));
    assert_eq!(r2["raw"].as_object().map(|m| m.len()), Some(1));
    warned(&page, &["item 2", "state", "\"paused\"", "'active'"]);
    warned(&page, &["item 2", "created_at", "yesterday", "NULL"]);
    warned(
        &page,
        &["item 2", "updated_at", "2026-13-45T99:00:00Z", "NULL"],
    );
    warned(&page, &["item 2", "name", "42"]);
    warned(&page, &["item 2", "without an id", "no id"]);
    warned(&page, &["item 2", "without an id", "not an object"]);
    warned(&page, &["item 2", "without an id", "numeric id"]);

    let r3 = &rows[1];
    assert_eq!(r3["state"], json!("active"));
    assert_eq!(r3["group_id"], Value::Null);
    assert_eq!(r3["group_title"], Value::Null);
    assert_eq!(r3["created_at"], Value::Null);
    assert_eq!(r3["updated_at"], json!("2026-01-05T15:42:00.5+00:00"));
    assert_eq!(r3["raw"], json!({}));
    warned(&page, &["item 3", "state", "7"]);
    warned(&page, &["item 3", "group id", "5"]);
    warned(&page, &["item 3", "created_at", "1767607920"]);
    warned(&page, &["item 3", "column_values"]);

    let r4 = &rows[2];
    assert_eq!(r4["state"], json!("archived"));
    assert_eq!(r4["created_at"], json!("2026-01-05T10:12:00+00:00"));
    assert_eq!(r4["updated_at"], json!("2026-01-05T08:12:00+00:00"));

    assert_eq!(rows[3]["name"], json!("last copy"));
    warned(
        &page,
        &["item 1 appeared twice in one page; the last copy was kept"],
    );
    warned(&page, &["without a usable id", "not a number"]);
    warned(&page, &["without a usable id", "\"not an object\""]);
    assert!(page.warnings.iter().all(|w| !w.contains("item 4")));
}

#[test]
fn repeated_ids_and_cells_keep_the_last() {
    let cols = vec![col("text0", "notes", "text", None)];
    let items: Vec<Value> = (0..3)
        .map(|k| {
            json!({"id":"9","name":format!("copy {k}"),"column_values":[
            {"id":"text0","type":"text","text":"a","value":"\"a\""},
            {"id":"text0","type":"text","text":"b","value":"\"b\""}]})
        })
        .collect();
    let items: Vec<serde_json_borrow::Value> = items.iter().map(Into::into).collect();
    let page = build_rows(&items, &cols);
    let rows = parsed(&page, &cols);
    assert_eq!(page.ids, vec![9]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["name"], json!("copy 2"));
    assert_eq!(rows[0]["notes"], json!("b"));
    assert_eq!(rows[0]["raw"]["text0"]["text"], json!("b"));
    assert_eq!(page.json(&cols).matches("\"notes\"").count(), 1);
    warned(&page, &["item 9 appeared 3 times in one page"]);
    warned(&page, &["item 9", "\"text0\" appeared twice"]);
}

#[test]
fn warnings_stay_bounded() {
    let items: Vec<Value> = (0..100)
        .map(|k| json!({"id": k, "state": "bogus"}))
        .collect();
    let items: Vec<serde_json_borrow::Value> = items.iter().map(Into::into).collect();
    let page = build_rows(&items, &[]);
    assert_eq!(parsed(&page, &[]).len(), 100);
    assert_eq!(page.warning_count, 100);
    assert_eq!(page.warnings.len(), super::rows::MAX_WARNINGS);
}

#[test]
fn meta_scrubs_nul_and_skips_bad_columns() {
    let b = json!({"id":"123","name":"Q\u{0}3","type":"board",
        "columns":[
            {"id":"x","title":"Ti\u{0}tle","type":"text"},
            {"id":"c\u{0}","title":"C","type":"text"},
            {"id":"status","title":"Status","type":"status",
             "settings_str":"{\"labels\":{\"1\":\"Do\\u0000ne\",\"k\\u0000\":\"v\"}}"},
            {"id":"x","title":"Second x","type":"numbers"},
            {"title":"No id","type":"text"},
            {"id":"t","title":"No type"},
            {"id":"ty","title":"T","type":"te\u{0}xt"}],
        "groups":[{"id":"g\u{0}","title":"G\u{0}","position":"1\u{0}"},{"title":"no id"}]});
    let m = board_meta(&b).expect("board parses");
    assert_eq!(m.name, "Q\u{FFFD}3");
    let ids: Vec<&str> = m.columns.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["x", "c\u{FFFD}", "status", "ty"]);
    assert_eq!(m.columns[0].title, "Ti\u{FFFD}tle", "the first x is kept");
    assert_eq!(m.columns[3].typ, "te\u{FFFD}xt");
    assert_eq!(
        m.columns[2].settings,
        json!({"labels": {"1": "Do\u{FFFD}ne", "k\u{FFFD}": "v"}})
    );
    assert_eq!(m.groups.len(), 1);
    assert_eq!(m.groups[0].id, "g\u{FFFD}");
    assert_eq!(m.groups[0].title, "G\u{FFFD}");
    assert_eq!(m.groups[0].position, "1\u{FFFD}");
    let has = |parts: &[&str]| {
        assert!(
            m.warnings
                .iter()
                .any(|w| parts.iter().all(|p| w.contains(p))),
            "no warning with {parts:?} in {:#?}",
            m.warnings
        )
    };
    has(&["board 123", "name", "U+FFFD"]);
    has(&["board 123", "column \"x\" title", "U+FFFD"]);
    has(&["board 123", "column \"c\u{FFFD}\" id", "U+FFFD"]);
    has(&["board 123", "column \"status\" settings", "U+FFFD"]);
    has(&["board 123", "column \"ty\" type", "U+FFFD"]);
    has(&[
        "board 123",
        "column \"x\" appears twice; the first was kept",
    ]);
    has(&["board 123", "column #4", "skipped"]);
    has(&["board 123", "column \"t\"", "skipped"]);
    has(&["board 123", "group \"g\u{FFFD}\" id"]);
    has(&["board 123", "group \"g\u{FFFD}\" title"]);
    has(&["board 123", "group \"g\u{FFFD}\" position"]);
    has(&["board 123", "group #1", "skipped"]);
    assert!(m.warnings.iter().all(|w| !w.contains('\0')));
    assert_eq!(m.warnings.len(), 12, "{:#?}", m.warnings);

    // The meta's settings and cell ids match in build_rows.
    let cols: Vec<MappedColumn> = m
        .columns
        .iter()
        .map(|c| col(&c.id, &slug(&c.title), &c.typ, Some(c.settings.clone())))
        .collect();
    let items = [json!({"id":"1","column_values":[
        {"id":"c\u{0}","type":"text","text":"v","value":"\"v\""},
        {"id":"status","type":"status","text":null,"value":"{\"index\":1}"}]})];
    let items: Vec<serde_json_borrow::Value> = items.iter().map(Into::into).collect();
    let page = build_rows(&items, &cols);
    let r = &parsed(&page, &cols)[0];
    assert_eq!(r["c"], json!("v"));
    assert_eq!(r["status"], json!("Do\u{FFFD}ne"));
    assert!(page.unmapped.is_empty());
}

#[test]
fn long_names() {
    let parent = "p".repeat(63);
    assert_eq!(table_name(&parent, 1), parent);
    let sub = subitems_table_name(&parent);
    assert!(
        sub.len() <= 63 && sub != parent && sub.ends_with("_subitems"),
        "{sub}"
    );
    assert_eq!(subitems_table_name("tasks"), "tasks_subitems");
    // A parent whose own name ends in `_subitems` at 63 bytes.
    let tricky = format!("{}_subitems", "q".repeat(54));
    let sub = subitems_table_name(&tricky);
    assert!(sub.len() <= 63 && sub != tricky, "{sub}");
    // Cut on a character boundary.
    let wide = "é".repeat(40);
    let sub = subitems_table_name(&wide);
    assert!(sub.len() <= 63 && sub.ends_with("_subitems"));
    assert_eq!(with_suffix("tasks", 2), "tasks_2");
    let w = with_suffix(&parent, 100);
    assert_eq!(w.len(), 63);
    assert!(w.ends_with("_100"));
    assert!(with_suffix(&wide, 7).len() <= 63);
    assert!(table_name(&"Größe ".repeat(30), 1).len() <= 63);
    assert!(table_name("🚀", i64::MIN).len() <= 63);
}

/// `raw` as the borrowed parse writes it is the JSON text serde_json wrote (up to key order, which
/// jsonb normalises): numbers keep their form (a float its `.0`), a repeated key is written twice
/// and jsonb keeps the last, as a serde_json map kept the last.
#[test]
fn raw_numbers_and_repeated_keys() {
    let text = r#"[{"id":"1","column_values":[{"id":"n","type":"numbers","text":"1","value":null,"f":1.0,"g":2.5e300,"h":-3,"i":18446744073709551615,"j":[0.1,true,null]}]}]"#;
    let items: Vec<serde_json_borrow::Value> = serde_json::from_str(text).unwrap();
    let page = build_rows(&items, &[]);
    assert_eq!(
        super::rows::raw_text(&page.rows[0].raw),
        r#"{"n":{"id":"n","type":"numbers","text":"1","value":null,"f":1.0,"g":2.5e+300,"h":-3,"i":18446744073709551615,"j":[0.1,true,null]}}"#
    );
    // … as serde_json writes them.
    let v: serde_json::Value = serde_json::from_str("[1.0,2.5e300]").unwrap();
    assert_eq!(v.to_string(), "[1.0,2.5e+300]");
    let text =
        r#"[{"id":"1","name":"a","name":"b","column_values":[{"id":"x","text":"1","text":"2"}]}]"#;
    let items: Vec<serde_json_borrow::Value> = serde_json::from_str(text).unwrap();
    let page = build_rows(&items, &[]);
    assert_eq!(page.rows[0].name.as_deref(), Some("b"));
    assert_eq!(
        super::rows::raw_text(&page.rows[0].raw),
        r#"{"x":{"id":"x","text":"1","text":"2"}}"#
    );
}
