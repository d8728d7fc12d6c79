use super::names::{slug, table_name, unique_column_name};
use super::rows::{build_rows, MappedColumn};
use super::{board_meta, id_of};
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
    let items = vec![
        json!({"id":"18265984789","name":"A \"quoted\" name","state":"active",
        "group":{"id":"topics","title":"This sprint"},"parent_item":null,
        "created_at":"2026-05-02T09:12:44Z","updated_at":"2026-06-01T08:00:03Z",
        "column_values":[
            {"id":"numeric","type":"numbers","text":"12.5","value":"\"12.5\""},
            {"id":"date4","type":"date","text":"","value":"{\"date\":\"not a date\"}"},
            {"id":"new_col","type":"text","text":"x","value":"\"x\""}]}),
    ];
    let page = build_rows(&items, &cols);
    let rows: Value = serde_json::from_str(&page.json).expect(&page.json);
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
