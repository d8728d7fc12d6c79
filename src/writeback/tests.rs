use super::*;
use serde_json::json;

fn entry(write_id: i64, item_id: i64, changes: Value) -> Entry {
    Entry {
        write_id,
        board_id: 18414630189,
        item_id,
        create: item_id < 0,
        parent_item_id: None,
        changes: changes.as_object().unwrap().clone(),
    }
}

const FIELDS: &str = "fragment ItemFields on Item { id name }";

#[test]
fn one_request_several_items_each_alias_in_order() {
    let req = build(
        &[
            entry(
                1,
                11,
                json!({"status": {"label": "Done"}, "name": "A", "#group": "topics", "#state": "archived"}),
            ),
            entry(2, -5, json!({"name": "New", "text0": "x", "#group": "g2"})),
            entry(3, 12, json!({"#state": "deleted"})),
        ],
        false,
        FIELDS,
    );
    let kinds: Vec<(&str, i64, AliasKind)> = req
        .aliases
        .iter()
        .map(|(a, w, k)| (a.as_str(), *w, *k))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("c1", 1, AliasKind::Columns),
            ("g1", 1, AliasKind::Group),
            ("a1", 1, AliasKind::Archive),
            ("n2", 2, AliasKind::Create),
            ("d3", 3, AliasKind::Delete),
        ]
    );
    assert!(req
        .document
        .starts_with("mutation write_items($i1: ID, $b1: ID!, $v1: JSON!, $g1: String!"));
    assert!(req.document.contains("create_item(board_id: $b2, item_name: $n2, group_id: $g2, column_values: $v2, create_labels_if_missing: false)"));
    assert!(req.document.ends_with(FIELDS));
    // column_values travel as a JSON string; a create's name is item_name, not a column value.
    let v1: Value = serde_json::from_str(req.variables["v1"].as_str().unwrap()).unwrap();
    assert_eq!(v1, json!({"status": {"label": "Done"}, "name": "A"}));
    let v2: Value = serde_json::from_str(req.variables["v2"].as_str().unwrap()).unwrap();
    assert_eq!(v2, json!({"text0": "x"}));
    assert_eq!(req.variables["n2"], "New");
    assert_eq!(req.variables["i1"], "11");
    assert_eq!(
        alias_count(&entry(
            1,
            11,
            json!({"a": 1, "#group": "g", "#state": "archived"})
        )),
        3
    );
    assert_eq!(
        alias_count(&entry(1, -1, json!({"name": "n", "#group": "g"}))),
        1
    );
}

#[test]
fn subitem_create_names_its_parent() {
    let mut e = entry(7, -2, json!({"name": "sub"}));
    e.parent_item_id = Some(99);
    let req = build(&[e], true, FIELDS);
    assert_eq!(req.aliases[0].2, AliasKind::CreateSubitem);
    assert!(req.document.contains("create_subitem(parent_item_id: $p7, item_name: $n7, column_values: $v7, create_labels_if_missing: true)"));
    assert_eq!(req.variables["p7"], "99");
}

#[test]
fn answers_per_entry_with_refusals() {
    let req = build(
        &[
            entry(1, 11, json!({"status": {"label": "Nope"}})),
            entry(2, 12, json!({"text0": "ok", "#group": "gone"})),
            entry(3, 13, json!({"text0": "ok"})),
        ],
        false,
        FIELDS,
    );
    let body = json!({
        "data": {"c1": null, "c2": {"id": "12", "name": "B"}, "g2": null, "c3": null},
        "errors": [
            {"message": "This status label doesn't exist", "path": ["c1"],
             "extensions": {"code": "ColumnValueException", "status_code": 200,
                            "error_data": {"column_id": "status", "column_type": "status"}}},
            {"message": "Group not found", "path": ["g2"],
             "extensions": {"code": "ResourceNotFoundException", "status_code": 404}},
        ]
    });
    let out = read(&body, &req);
    assert_eq!(out.len(), 3);
    let r1 = out[0].refusal.as_ref().unwrap();
    assert_eq!(
        (r1.code.as_str(), r1.column.as_deref(), r1.transient),
        ("ColumnValueException", Some("status"), false)
    );
    assert_eq!(out[1].done, vec![AliasKind::Columns]);
    assert_eq!(out[1].item.as_ref().unwrap()["name"], "B");
    assert_eq!(
        out[1].refusal.as_ref().unwrap().code,
        "ResourceNotFoundException"
    );
    // A null with no error: not refused for good, sent again.
    assert!(out[2].refusal.as_ref().unwrap().transient);
}

#[test]
fn validation_rule_refusals_name_the_column() {
    let req = build(&[entry(1, 11, json!({"numbers": "5"}))], false, FIELDS);
    let body = json!({"data": {"c1": null}, "errors": [{"message": "Validation failed", "path": ["c1"],
        "extensions": {"code": "DATA_VALIDATIONS_ERROR", "status_code": 422,
                       "error_data": [{"itemId": 11, "columnIds": ["numbers"], "message": "must be below 3"}]}}]});
    let r = read(&body, &req)[0].refusal.clone().unwrap();
    assert_eq!(r.column.as_deref(), Some("numbers"));
    assert!(!r.transient);
    assert_eq!(r.message, "Validation failed: must be below 3");
}

#[test]
fn conflicts_compare_what_monday_showed() {
    let changes = json!({"status": {"label": "Done"}, "name": "N", "text0": "x"});
    let base = json!({
        "status": {"id": "status", "text": "Working", "value": "{\"index\":0,\"changed_at\":\"t1\"}"},
        "name": "Old", "text0": null
    });
    let current = json!({"name": "Old", "column_values": [
        {"id": "status", "text": "Working", "value": "{\"index\":0,\"changed_at\":\"t2\"}"},
        {"id": "text0", "text": "", "value": null}
    ]});
    let c = conflicting(
        changes.as_object().unwrap(),
        base.as_object().unwrap(),
        &current,
    );
    // status was re-set on monday (changed_at moved); the name is as it was; text0 had no cell
    // in the row (no base): nothing to compare.
    assert_eq!(c, vec!["status".to_string()]);
}

#[test]
fn batch_size_from_complexity() {
    assert!(max_aliases(600) >= 100);
    assert_eq!(max_aliases(4_000_000), 1);
}
