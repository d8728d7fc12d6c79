//! Webhook bodies, changes, JWTs and authorization, over payloads shaped as FACTS.md §5.3/§5.4
//! records them (legacy type names, the value dialects, `parentItemId` a string in create/update
//! events and a number in archive/delete events, no `isRetry` before 2025, no
//! `originalTriggerUuid` in restore/move_subitem/create_column, no `boardId` in move_subitem).

use super::*;
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// Fixtures. Ids: parent board 18414630189, its subitems board 18414630240, items 182659847xx.

const BOARD: i64 = 18414630189;
const SUB_BOARD: i64 = 18414630240;

fn body(event: Value) -> Vec<u8> {
    json!({ "event": event }).to_string().into_bytes()
}

fn event(event: Value) -> Event {
    match parse_body(&body(event)) {
        Ok(Body::Event(e)) => e,
        other => panic!("not an event: {other:?}"),
    }
}

/// change_status_column_value (2025): a status column (`color`) set for the first time.
fn status_change() -> Value {
    json!({
        "app": "monday", "type": "update_column_value", "triggerTime": "2025-02-05T17:52:53.186Z",
        "subscriptionId": 466701570, "isRetry": false, "userId": 67214742,
        "originalTriggerUuid": null, "boardId": BOARD, "groupId": "topics",
        "pulseId": 18265984789_i64, "pulseName": "Developer", "columnId": "status_mkmwnxnk",
        "columnType": "color", "columnTitle": "Status",
        "value": {"label": {"index": 0, "text": "Working on it",
                            "style": {"color": "#fdab3d", "border": "#e99729", "var_name": "orange"},
                            "is_done": false},
                  "post_id": null},
        "previousValue": null, "changedAt": 1738777972.386279, "isTopGroup": true,
        "triggerUuid": "179d9f2b3f2bc19d141f4bc53764cf01"
    })
}

/// change_subitem_column_value: a subitem's date; parentItemId/parentItemBoardId are strings.
fn subitem_date_change() -> Value {
    json!({
        "app": "monday", "type": "update_column_value", "triggerTime": "2025-02-05T17:52:13.231Z",
        "subscriptionId": 466733063, "isRetry": false, "userId": 67214742,
        "originalTriggerUuid": null, "boardId": SUB_BOARD, "groupId": "topics",
        "pulseId": 18265984801_i64, "pulseName": "new", "columnId": "date0", "columnType": "date",
        "columnTitle": "Date",
        "value": {"date": "2025-02-05", "icon": null, "time": null,
                  "changed_at": "2025-02-05T17:52:12.147Z"},
        "previousValue": null, "changedAt": 1738777932.8182862, "isTopGroup": true,
        "triggerUuid": "47bf0728745aae379a3905db5bff2d67",
        "parentItemId": "18265984789", "parentItemBoardId": "18414630189"
    })
}

/// The parent's `subtasks` column, emitted when a subitem is created: non-ISO `changed_at`.
fn subtasks_change() -> Value {
    json!({
        "app": "monday", "type": "update_column_value", "triggerTime": "2025-02-04T19:20:55.314Z",
        "subscriptionId": 466701570, "isRetry": false, "userId": 67214742,
        "originalTriggerUuid": null, "boardId": BOARD, "groupId": "topics",
        "pulseId": 18265984789_i64, "pulseName": "Designer", "columnId": "subitems_mkmvfz5",
        "columnType": "subtasks", "columnTitle": "Subitems",
        "value": {"linkedPulseIds": [{"linkedPulseId": 18265984801_i64}],
                  "changed_at": "2025-02-04 19:20:54 +0000"},
        "previousValue": {}, "changedAt": 1738696854.8188913, "isTopGroup": true,
        "triggerUuid": "49f0a0d4ce4cb26243f8a677f62b8332"
    })
}

/// change_column_value (2025): people, empty previous value `{}`.
fn people_change() -> Value {
    json!({
        "app": "monday", "type": "update_column_value", "triggerTime": "2025-02-05T17:56:59.644Z",
        "subscriptionId": 467172818, "isRetry": false, "userId": 67214742,
        "originalTriggerUuid": null, "boardId": BOARD, "groupId": "topics",
        "pulseId": 18265984789_i64, "pulseName": "New Name 2", "columnId": "person",
        "columnType": "multiple-person", "columnTitle": "Person",
        "value": {"personsAndTeams": [{"id": 67214742, "kind": "person"}],
                  "changed_at": "2025-02-05T17:56:58.364Z"},
        "previousValue": {}, "changedAt": 1738778219.220086, "isTopGroup": true,
        "triggerUuid": "ce4142601c988c58afa9274fe3f363aa"
    })
}

/// A 2021 delivery: no `isRetry`, a status label without `is_done`.
fn old_status_change() -> Value {
    json!({
        "type": "update_column_value", "triggerTime": "2021-10-12T08:14:40.001Z",
        "subscriptionId": 12345, "userId": 9603417, "originalTriggerUuid": null,
        "boardId": 1771812698, "groupId": "topics", "pulseId": 1771812716,
        "pulseName": "Build", "columnId": "status", "columnType": "color",
        "columnTitle": "Status",
        "value": {"label": {"index": 1, "text": "Done",
                            "style": {"color": "#00c875", "border": "#00B461", "var_name": "green"}},
                  "post_id": null},
        "previousValue": null, "changedAt": 1634026480.0049233, "isTopGroup": true,
        "app": "monday", "triggerUuid": "5f0c8a2ad6ff31a1e1d8e1f6d64e5a3c"
    })
}

/// create_item from the UI: `columnValues` is `{}`.
fn create_item() -> Value {
    json!({
        "app": "monday", "type": "create_pulse", "triggerTime": "2025-02-05T16:28:02.630Z",
        "subscriptionId": 466701503, "isRetry": false, "userId": 67214742,
        "originalTriggerUuid": null, "boardId": BOARD, "pulseId": 18265984999_i64,
        "pulseName": "New item 1", "groupId": "topics", "groupName": "Assignments",
        "groupColor": "#579bfc", "isTopGroup": true, "columnValues": {},
        "triggerUuid": "c95b27e82a81cc6a81db4f5e97d80858"
    })
}

/// create_subitem: `itemId` beside `pulseId`, string `parentItemId` and `parentItemBoardId`.
fn create_subitem() -> Value {
    json!({
        "app": "monday", "type": "create_pulse", "triggerTime": "2025-02-04T19:20:55.528Z",
        "subscriptionId": 466733181, "isRetry": false, "userId": 67214742,
        "originalTriggerUuid": null, "boardId": SUB_BOARD, "pulseId": 18265984801_i64,
        "pulseName": "Test", "groupId": "topics", "groupName": "Subitems",
        "groupColor": "#579bfc", "isTopGroup": true, "columnValues": {},
        "triggerUuid": "22c02a9f4fb60361cbc505bb71e5b3ed",
        "parentItemId": "18265984789", "parentItemBoardId": "18414630189",
        "itemId": 18265984801_i64
    })
}

/// create_item from a form (2025-06): `userId` -6, a retry, populated `columnValues`.
fn create_item_by_form() -> Value {
    json!({
        "app": "monday", "type": "create_pulse", "triggerTime": "2025-06-05T17:26:40.305Z",
        "subscriptionId": 525551553, "isRetry": true, "userId": -6,
        "originalTriggerUuid": null, "boardId": 9302420826_i64, "pulseId": 9313228847_i64,
        "pulseName": "Jane Roe", "groupId": "topics", "groupName": "New Request",
        "groupColor": "#579bfc", "isTopGroup": true,
        "columnValues": {
            "email_mkrkkywc": {"email": "jane@example.org", "text": "jane@example.org",
                               "changed_at": "2025-06-05T17:25:39.224Z"},
            "phone_mkrkrbbw": {"phone": "15550100000"},
            "text_mkrkgaj6": {"value": "Jane Roe"},
            "status": {"label": {"index": 1, "text": "Normal",
                                 "style": {"color": "#66ccff", "border": "#5ab3e0", "var_name": "turquoise"},
                                 "is_done": true},
                       "post_id": null},
            "long_text_mkrkff7z": {"text": "Call back", "changed_at": "2025-06-05T17:25:39.227Z"},
            "date4": null,
            "person": {}
        },
        "triggerUuid": "70509a7f705801896e48c74ce75ea9fe"
    })
}

fn update_name(subitem: bool) -> Value {
    let mut e = json!({
        "app": "monday", "type": "update_name", "triggerTime": "2025-02-05T16:10:40.628Z",
        "subscriptionId": 466701496, "isRetry": false, "userId": 67214742,
        "originalTriggerUuid": null, "boardId": BOARD, "groupId": "topics",
        "pulseId": 18265984789_i64, "value": {"name": "New Name 2"},
        "previousValue": {"name": "New Name"}, "triggerUuid": "4aff9597f96cc3d3bafa206540e308ff"
    });
    if subitem {
        e["boardId"] = json!(SUB_BOARD);
        e["pulseId"] = json!(18265984801_i64);
        e["parentItemId"] = json!("18265984789");
        e["parentItemBoardId"] = json!("18414630189");
    }
    e
}

/// archive_pulse / delete_pulse: `itemId`; a subitem's adds numeric `parentItemId`,
/// `parentBoardId` and `pulseId`.
fn archive_or_delete(kind: &str, subitem: bool) -> Value {
    let mut e = json!({
        "app": "monday", "type": kind, "triggerTime": "2025-02-05T16:41:14.158Z",
        "subscriptionId": 466701506, "isRetry": false, "userId": 67214742,
        "originalTriggerUuid": null, "boardId": BOARD, "itemId": 18265984999_i64,
        "itemName": "New item 1", "triggerUuid": "b5881b62b4fa43528487dfd01d306be2"
    });
    if subitem {
        e["boardId"] = json!(SUB_BOARD);
        e["itemId"] = json!(18265984801_i64);
        e["parentBoardId"] = json!(BOARD);
        e["parentItemId"] = json!(18265984789_i64);
        e["pulseId"] = json!(18265984801_i64);
    }
    e
}

/// item_restored: no `originalTriggerUuid`.
fn restore() -> Value {
    json!({
        "app": "monday", "type": "restore_pulse", "triggerTime": "2025-02-05T16:41:16.656Z",
        "subscriptionId": 466701545, "isRetry": false, "userId": 67214742,
        "value": {"state": 1, "is_undo": true}, "previousValue": {"state": 2},
        "boardId": BOARD, "itemId": 18265984999_i64, "itemName": "New item 1",
        "triggerUuid": "63052f61aa5827ae278ec3986795bd45"
    })
}

fn move_into_group() -> Value {
    json!({
        "app": "monday", "type": "move_pulse_into_group", "triggerTime": "2025-02-05T17:34:21.803Z",
        "subscriptionId": 466701509, "isRetry": false, "userId": 67214742,
        "originalTriggerUuid": null, "boardId": BOARD, "pulseId": 18265985190_i64,
        "sourceGroupId": "topics", "destGroupId": "new_group_mkmwnd8t",
        "destGroup": {"id": "new_group_mkmwnd8t", "title": "New Group", "color": "#cab641",
                      "is_top_group": false},
        "triggerUuid": "936f1a3c4bf8bd2a1c2353481c49b9e4"
    })
}

/// move_subitem: no `boardId`, no `originalTriggerUuid`; `subitem` is the subitem's id, the
/// board ids are the parent items' board.
fn move_subitem() -> Value {
    json!({
        "app": "monday", "type": "move_subitem", "triggerTime": "2025-02-05T17:32:36.884Z",
        "subscriptionId": 466701546, "isRetry": false, "userId": 67214742,
        "sourcePulseId": 18265984789_i64, "destPulseId": 18265984790_i64,
        "sourceBoardId": BOARD, "destBoardId": BOARD, "subitem": 18265984801_i64,
        "triggerUuid": "c88ea0f27724e1102fe91a8f6c409a6a"
    })
}

fn update_event(kind: &str, subitem: bool) -> Value {
    let mut e = json!({
        "app": "monday", "type": kind, "triggerTime": "2025-02-05T17:47:46.197Z",
        "subscriptionId": 466651336, "isRetry": false, "userId": 67214742,
        "originalTriggerUuid": null, "boardId": BOARD, "pulseId": 18265985156_i64,
        "body": "<p>1st update</p>", "textBody": "1st update", "updateId": 3836364238_i64,
        "replyId": null, "triggerUuid": "139a7dfd8d6dae97912243b223881316"
    });
    if subitem {
        e["boardId"] = json!(SUB_BOARD);
        e["parentItemId"] = json!("18265985156");
        e["parentItemBoardId"] = json!("18414630189");
    }
    e
}

/// create_column: no `originalTriggerUuid`; `accountId`, `createdAt`, `retryCount`.
fn create_column() -> Value {
    json!({
        "app": "monday", "type": "create_column", "triggerTime": "2025-02-05T17:33:44.905Z",
        "subscriptionId": 466701562, "isRetry": false, "userId": 67214742,
        "accountId": 25917229, "entity": "board", "boardId": BOARD, "columnId": "text_mkmw91z2",
        "columnTitle": "Text", "columnType": "text", "createdAt": 1738776824.3904877,
        "retryCount": 0, "triggerUuid": "ac00a2fb58493282b2de059b4dc637a1"
    })
}

fn all_fixtures() -> Vec<Value> {
    let mut v = vec![
        status_change(),
        subitem_date_change(),
        subtasks_change(),
        people_change(),
        old_status_change(),
        create_item(),
        create_subitem(),
        create_item_by_form(),
        update_name(false),
        update_name(true),
        restore(),
        move_into_group(),
        move_subitem(),
        create_column(),
    ];
    for kind in ["archive_pulse", "delete_pulse"] {
        v.push(archive_or_delete(kind, false));
        v.push(archive_or_delete(kind, true));
    }
    for kind in ["create_update", "edit_update", "delete_update"] {
        v.push(update_event(kind, false));
        v.push(update_event(kind, true));
    }
    v
}

// ---------------------------------------------------------------------------------------------
// Bodies

#[test]
fn challenge() {
    let b = br#"{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#;
    assert_eq!(
        parse_body(b).unwrap(),
        Body::Challenge("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P".into())
    );
    // Other members of the body are ignored.
    assert_eq!(
        parse_body(br#"{"challenge":"x","extra":1}"#).unwrap(),
        Body::Challenge("x".into())
    );
}

#[test]
fn malformed_bodies_are_body_errors() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "not JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{\"event\": {\"type\": \"x\xff\"}}", "not UTF-8"),
        (b"not json", "not JSON"),
        (b"{\"event\": {\"type\": \"create_pulse\"", "not JSON"),
        (b"[]", "not a JSON object"),
        (b"\"event\"", "not a JSON object"),
        (b"null", "not a JSON object"),
        (b"42", "not a JSON object"),
        (b"{}", "neither"),
        (b"{\"events\": {}}", "neither"),
        (b"{\"challenge\": 42}", "challenge\" is not a string"),
        (b"{\"challenge\": null}", "challenge\" is not a string"),
        (
            b"{\"challenge\": \"x\", \"event\": {\"type\": \"create_pulse\"}}",
            "both",
        ),
        (b"{\"event\": null}", "\"event\" is not an object"),
        (
            b"{\"event\": \"create_pulse\"}",
            "\"event\" is not an object",
        ),
        (b"{\"event\": []}", "\"event\" is not an object"),
        (b"{\"event\": {}}", "no \"type\""),
        (b"{\"event\": {\"type\": null}}", "no \"type\""),
        (b"{\"event\": {\"type\": 5}}", "\"type\" is not a string"),
        (
            b"{\"event\": {\"type\": {\"a\": 1}}}",
            "\"type\" is not a string",
        ),
    ];
    for (input, want) in cases {
        let err = parse_body(input).expect_err(&String::from_utf8_lossy(input));
        assert!(
            err.message.contains(want),
            "{:?}: {:?}",
            String::from_utf8_lossy(input),
            err.message
        );
    }
    // Deep nesting is refused by the parser, not by a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(parse_body(deep.as_bytes()).is_err());
    let deep_event = format!(
        "{{\"event\":{{\"type\":\"x\",\"v\":{}1{}}}}}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    assert!(parse_body(deep_event.as_bytes()).is_err());
}

#[test]
fn body_errors_quote_little_of_the_input() {
    let long = format!("nonsense{}", "A".repeat(10_000));
    let err = parse_body(long.as_bytes()).unwrap_err();
    assert!(err.message.len() < 200, "{}", err.message);
    assert!(!err.message.contains(&"A".repeat(50)));
    let err = parse_body(format!("{{\"challenge\": [\"{}\"]}}", "B".repeat(10_000)).as_bytes())
        .unwrap_err();
    assert!(!err.message.contains("BBBB"), "{}", err.message);
}

#[test]
fn event_fields_of_a_column_change() {
    let e = event(status_change());
    assert_eq!(e.event_type, "update_column_value");
    assert_eq!(e.board_id, Some(BOARD));
    assert_eq!(e.item_id, Some(18265984789));
    assert_eq!(e.parent_item_id, None);
    assert_eq!(e.parent_board_id, None);
    assert_eq!(
        e.trigger_uuid.as_deref(),
        Some("179d9f2b3f2bc19d141f4bc53764cf01")
    );
    assert_eq!(e.original_trigger_uuid, None);
    assert!(!e.is_retry);
    assert_eq!(e.trigger_time.as_deref(), Some("2025-02-05T17:52:53.186Z"));
    assert_eq!(e.trigger_ms, Some(1738777973186));
    assert_eq!(e.changed_ms, Some(1738777972386)); // changedAt, not triggerTime
    assert_eq!(e.subscription_id, Some(466701570));
    assert_eq!(e.user_id, Some(67214742));
    assert_eq!(e.column_id.as_deref(), Some("status_mkmwnxnk"));
    assert_eq!(e.content_key.len(), 64);
    assert!(e
        .content_key
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert_eq!(e.json, status_change());
    assert!(!is_subitem_event(&e));
}

#[test]
fn event_fields_of_subitem_events() {
    // create/update events: parentItemId and parentItemBoardId are strings.
    let e = event(subitem_date_change());
    assert_eq!(e.board_id, Some(SUB_BOARD));
    assert_eq!(e.item_id, Some(18265984801));
    assert_eq!(e.parent_item_id, Some(18265984789));
    assert_eq!(e.parent_board_id, Some(BOARD));
    assert_eq!(e.changed_ms, Some(1738777932818));
    assert!(is_subitem_event(&e));

    let e = event(create_subitem());
    assert_eq!(e.item_id, Some(18265984801));
    assert_eq!(e.parent_item_id, Some(18265984789));
    assert_eq!(e.parent_board_id, Some(BOARD));
    assert!(is_subitem_event(&e));

    // archive/delete events: numbers, parentBoardId instead of parentItemBoardId.
    for kind in ["archive_pulse", "delete_pulse"] {
        let e = event(archive_or_delete(kind, true));
        assert_eq!(e.board_id, Some(SUB_BOARD));
        assert_eq!(e.item_id, Some(18265984801));
        assert_eq!(e.parent_item_id, Some(18265984789));
        assert_eq!(e.parent_board_id, Some(BOARD));
        assert!(is_subitem_event(&e));
        let e = event(archive_or_delete(kind, false));
        assert_eq!(e.item_id, Some(18265984999));
        assert_eq!(e.parent_item_id, None);
        assert!(!is_subitem_event(&e));
    }

    // move_subitem: no boardId; the subitem is `subitem`, its new parent destPulseId.
    let e = event(move_subitem());
    assert_eq!(e.board_id, None);
    assert_eq!(e.item_id, Some(18265984801));
    assert_eq!(e.parent_item_id, Some(18265984790));
    assert_eq!(e.parent_board_id, Some(BOARD));
    assert_eq!(e.original_trigger_uuid, None);
    assert!(is_subitem_event(&e));
    // Other shapes of `subitem` are accepted.
    for subitem in [
        json!("18265984801"),
        json!({"id": 18265984801_i64}),
        json!({"pulseId": "18265984801"}),
    ] {
        let mut m = move_subitem();
        m["subitem"] = subitem.clone();
        assert_eq!(event(m).item_id, Some(18265984801), "{subitem}");
    }
    let mut m = move_subitem();
    m.as_object_mut().unwrap().remove("subitem");
    m["pulseId"] = json!(18265984801_i64);
    assert_eq!(event(m).item_id, Some(18265984801));

    // The parent's subtasks column and updates on items are not subitem events.
    assert!(!is_subitem_event(&event(subtasks_change())));
    assert!(!is_subitem_event(&event(update_event(
        "create_update",
        false
    ))));
    assert!(is_subitem_event(&event(update_event(
        "create_update",
        true
    ))));
    assert!(is_subitem_event(&event(update_name(true))));
    assert!(!is_subitem_event(&event(update_name(false))));
}

#[test]
fn optional_common_keys() {
    // 2021: no isRetry.
    let e = event(old_status_change());
    assert!(!e.is_retry);
    assert_eq!(e.changed_ms, Some(1634026480005));
    // A form: userId -6, isRetry true.
    let e = event(create_item_by_form());
    assert!(e.is_retry);
    assert_eq!(e.user_id, Some(-6));
    assert_eq!(e.item_id, Some(9313228847));
    // restore_pulse has no originalTriggerUuid; its change time is the trigger time.
    let e = event(restore());
    assert_eq!(e.original_trigger_uuid, None);
    assert_eq!(e.item_id, Some(18265984999));
    assert_eq!(e.changed_ms, e.trigger_ms);
    assert_eq!(e.changed_ms, Some(1738773676656));
    // create_column: createdAt is the change time.
    let e = event(create_column());
    assert_eq!(e.changed_ms, Some(1738776824390));
    assert_eq!(e.item_id, None);
    assert_eq!(e.column_id.as_deref(), Some("text_mkmw91z2"));
    // A non-null originalTriggerUuid is kept.
    let mut v = status_change();
    v["originalTriggerUuid"] = json!("aaaa");
    assert_eq!(event(v).original_trigger_uuid.as_deref(), Some("aaaa"));
}

#[test]
fn changed_ms_falls_back_to_value_changed_at_then_trigger_time() {
    // Without changedAt: value.changed_at in monday's non-ISO form (subtasks).
    let mut v = subtasks_change();
    v.as_object_mut().unwrap().remove("changedAt");
    let e = event(v);
    assert_eq!(e.changed_ms, Some(1738696854000));
    assert_eq!(e.trigger_ms, Some(1738696855314));
    // … or ISO.
    let mut v = people_change();
    v.as_object_mut().unwrap().remove("changedAt");
    assert_eq!(event(v).changed_ms, Some(1738778218364));
    // Neither: the trigger time.
    let mut v = status_change();
    v.as_object_mut().unwrap().remove("changedAt");
    assert_eq!(event(v).changed_ms, Some(1738777973186));
    // Garbage everywhere: None, no panic.
    let mut v = status_change();
    v["changedAt"] = json!("soon");
    v["triggerTime"] = json!("yesterday");
    v["value"] = json!({"changed_at": 5});
    let e = event(v);
    assert_eq!((e.changed_ms, e.trigger_ms), (None, None));
    for bad in [json!(-1.0), json!(1e300), json!(true), json!([1])] {
        let mut v = status_change();
        v["changedAt"] = bad.clone();
        v.as_object_mut().unwrap().remove("triggerTime");
        assert_eq!(event(v).changed_ms, None, "{bad}");
    }
    let mut v = status_change();
    v["changedAt"] = json!("1738777972.386279");
    assert_eq!(event(v).changed_ms, Some(1738777972386));
}

#[test]
fn ids_that_are_not_positive_integers_are_none() {
    for bad in [
        json!(1.5),
        json!(18265984789.0),
        json!(-5),
        json!(0),
        json!("-5"),
        json!("12abc"),
        json!(""),
        json!(" 12"),
        json!("99999999999999999999999"),
        json!(18446744073709551615_u64),
        json!(1e30),
        json!(true),
        json!({"id": 1}),
        json!([1]),
        json!(null),
    ] {
        let mut v = status_change();
        v["pulseId"] = bad.clone();
        v["boardId"] = bad.clone();
        v["subscriptionId"] = bad.clone();
        v["userId"] = bad.clone();
        let e = event(v);
        assert_eq!(
            (e.item_id, e.board_id, e.subscription_id),
            (None, None, None),
            "{bad}"
        );
        // A user id may be negative or zero (-6 = a form); the rest is None all the same.
        assert_eq!(e.user_id, crate::sync::id_of(&bad), "{bad}");
    }
    let mut v = archive_or_delete("archive_pulse", true);
    v["parentItemId"] = json!("not a number");
    v["parentBoardId"] = json!(-1);
    let e = event(v);
    assert_eq!((e.parent_item_id, e.parent_board_id), (None, None));
    // Still a subitem event: the keys are there.
    assert!(is_subitem_event(&e));
    // Strings of digits are ids.
    let mut v = status_change();
    v["pulseId"] = json!("18265984789");
    v["boardId"] = json!("18414630189");
    let e = event(v);
    assert_eq!((e.item_id, e.board_id), (Some(18265984789), Some(BOARD)));
}

#[test]
fn nul_characters_are_scrubbed() {
    let mut v = status_change();
    v["pulseName"] = json!("a\u{0}b");
    v["columnId"] = json!("status\u{0}");
    v["value"]["label"]["text"] = json!("Work\u{0}ing");
    v["value"]["k\u{0}ey"] = json!(1);
    let e = event(v);
    let text = e.json.to_string();
    assert!(!text.contains("\\u0000"), "{text}");
    assert_eq!(e.json["pulseName"], json!("a\u{FFFD}b"));
    assert_eq!(e.column_id.as_deref(), Some("status\u{FFFD}"));
    assert!(e.json["value"].get("k\u{FFFD}ey").is_some());
    match change_of(&e) {
        Change::Cell {
            column_id, value, ..
        } => {
            assert_eq!(column_id, "status\u{FFFD}");
            assert_eq!(value.unwrap()["label"]["text"], json!("Work\u{FFFD}ing"));
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Content keys

fn key_of(v: Value) -> String {
    event(v).content_key
}

#[test]
fn content_key_is_the_same_for_redeliveries_of_one_change() {
    let base = key_of(status_change());
    // A retry with a new triggerUuid and isRetry true.
    let mut retry = status_change();
    retry["triggerUuid"] = json!("0123456789abcdef0123456789abcdef");
    retry["isRetry"] = json!(true);
    retry["originalTriggerUuid"] = json!("179d9f2b3f2bc19d141f4bc53764cf01");
    assert_eq!(key_of(retry.clone()), base);
    // Sent a minute later: triggerTime differs, the change time (changedAt) does not.
    retry["triggerTime"] = json!("2025-02-05T17:53:54.001Z");
    assert_eq!(key_of(retry), base);
    // Through another subscription.
    let mut other_sub = status_change();
    other_sub["subscriptionId"] = json!(467172818);
    other_sub["triggerUuid"] = json!("ffffffffffffffffffffffffffffffff");
    assert_eq!(key_of(other_sub), base);
    // An old payload without isRetry / originalTriggerUuid.
    let mut old = status_change();
    old.as_object_mut().unwrap().remove("isRetry");
    old.as_object_mut().unwrap().remove("originalTriggerUuid");
    assert_eq!(key_of(old), base);
    // Key order in the text does not matter, at any depth.
    let text = body(status_change());
    let reordered = br##"{"event":{"triggerUuid":"x","changedAt":1738777972.386279,"isTopGroup":true,"previousValue":null,"value":{"post_id":null,"label":{"is_done":false,"style":{"var_name":"orange","border":"#e99729","color":"#fdab3d"},"text":"Working on it","index":0}},"columnTitle":"Status","columnType":"color","columnId":"status_mkmwnxnk","pulseName":"Developer","pulseId":18265984789,"groupId":"topics","boardId":18414630189,"originalTriggerUuid":null,"userId":67214742,"isRetry":false,"subscriptionId":1,"triggerTime":"2025-02-05T17:52:53.186Z","type":"update_column_value","app":"monday"}}"##;
    let a = match parse_body(&text).unwrap() {
        Body::Event(e) => e.content_key,
        _ => unreachable!(),
    };
    let b = match parse_body(reordered).unwrap() {
        Body::Event(e) => e.content_key,
        _ => unreachable!(),
    };
    assert_eq!(a, b);
    // create_column's retryCount is a delivery detail.
    let mut col = create_column();
    col["retryCount"] = json!(3);
    assert_eq!(key_of(col), key_of(create_column()));
}

#[test]
fn content_key_differs_between_changes() {
    let base = key_of(status_change());
    let mut later = status_change();
    later["changedAt"] = json!(1738777999.5);
    assert_ne!(key_of(later), base);
    let mut other_value = status_change();
    other_value["value"]["label"]["index"] = json!(1);
    assert_ne!(key_of(other_value), base);
    let mut other_item = status_change();
    other_item["pulseId"] = json!(18265984790_i64);
    assert_ne!(key_of(other_item), base);
    // Events without their own change time: triggerTime tells two changes apart (archive,
    // restore, archive again must not collapse into one).
    let a = key_of(archive_or_delete("archive_pulse", false));
    let mut again = archive_or_delete("archive_pulse", false);
    again["triggerTime"] = json!("2025-02-05T16:45:00.000Z");
    assert_ne!(key_of(again), a);
    // Distinct fixtures have distinct keys.
    let mut keys: Vec<String> = all_fixtures().into_iter().map(key_of).collect();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n);
}

// ---------------------------------------------------------------------------------------------
// Changes

#[test]
fn column_changes() {
    match change_of(&event(status_change())) {
        Change::Cell {
            column_id,
            column_type,
            value,
        } => {
            assert_eq!(column_id, "status_mkmwnxnk");
            assert_eq!(column_type, "color");
            assert_eq!(value, Some(status_change()["value"].clone()));
        }
        other => panic!("{other:?}"),
    }
    let people = change_of(&event(people_change()));
    assert!(
        matches!(&people, Change::Cell { column_type, value: Some(v), .. }
            if column_type == "multiple-person" && v["personsAndTeams"][0]["id"] == json!(67214742)),
        "{people:?}"
    );
    let subtasks = change_of(&event(subtasks_change()));
    assert!(
        matches!(&subtasks, Change::Cell { column_type, value: Some(v), .. }
            if column_type == "subtasks" && v["changed_at"] == json!("2025-02-04 19:20:54 +0000")),
        "{subtasks:?}"
    );
    assert!(matches!(
        change_of(&event(subitem_date_change())),
        Change::Cell { ref column_type, value: Some(_), .. } if column_type == "date"
    ));
    assert!(matches!(
        change_of(&event(old_status_change())),
        Change::Cell { ref column_id, .. } if column_id == "status"
    ));
    // Cleared: value null, {} or absent.
    for cleared in [json!(null), json!({})] {
        let mut v = people_change();
        v["value"] = cleared.clone();
        v["previousValue"] = people_change()["value"].clone();
        assert_eq!(
            change_of(&event(v)),
            Change::Cell {
                column_id: "person".into(),
                column_type: "multiple-person".into(),
                value: None
            },
            "{cleared}"
        );
    }
    let mut v = people_change();
    v.as_object_mut().unwrap().remove("value");
    assert!(matches!(
        change_of(&event(v)),
        Change::Cell { value: None, .. }
    ));
    // Without a columnId there is nothing to apply; without a columnType the type is empty.
    let mut v = people_change();
    v.as_object_mut().unwrap().remove("columnId");
    assert!(matches!(change_of(&event(v)), Change::Ignore(_)));
    let mut v = people_change();
    v.as_object_mut().unwrap().remove("columnType");
    assert!(
        matches!(change_of(&event(v)), Change::Cell { ref column_type, .. } if column_type.is_empty())
    );
}

#[test]
fn name_changes() {
    assert_eq!(
        change_of(&event(update_name(false))),
        Change::Name("New Name 2".into())
    );
    assert_eq!(
        change_of(&event(update_name(true))),
        Change::Name("New Name 2".into())
    );
    let mut v = update_name(false);
    v["value"] = json!({});
    assert!(matches!(change_of(&event(v)), Change::Ignore(_)));
    // update_column_value on the `name` column is a name change.
    for value in [
        json!({"name": "Renamed"}),
        json!({"value": "Renamed"}),
        json!("Renamed"),
    ] {
        let mut v = status_change();
        v["columnId"] = json!("name");
        v["columnType"] = json!("name");
        v["value"] = value.clone();
        assert_eq!(
            change_of(&event(v)),
            Change::Name("Renamed".into()),
            "{value}"
        );
    }
    let mut v = status_change();
    v["columnId"] = json!("name");
    v["value"] = json!(null);
    assert_eq!(change_of(&event(v)), Change::Name("Developer".into()));
}

#[test]
fn creations() {
    assert_eq!(
        change_of(&event(create_item())),
        Change::Created {
            name: Some("New item 1".into()),
            group_id: Some("topics".into()),
            cells: vec![]
        }
    );
    assert_eq!(
        change_of(&event(create_subitem())),
        Change::Created {
            name: Some("Test".into()),
            group_id: Some("topics".into()),
            cells: vec![]
        }
    );
    let Change::Created { name, cells, .. } = change_of(&event(create_item_by_form())) else {
        panic!()
    };
    assert_eq!(name.as_deref(), Some("Jane Roe"));
    let ids: Vec<&str> = cells.iter().map(|(k, _)| k.as_str()).collect();
    // null and {} members are left out.
    let mut want = vec![
        "email_mkrkkywc",
        "long_text_mkrkff7z",
        "phone_mkrkrbbw",
        "status",
        "text_mkrkgaj6",
    ];
    let mut got = ids.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let status = &cells.iter().find(|(k, _)| k == "status").unwrap().1;
    assert_eq!(status["label"]["text"], json!("Normal"));
    // columnValues that is not an object: no cells.
    let mut v = create_item();
    v["columnValues"] = json!("{}");
    assert!(matches!(change_of(&event(v)), Change::Created { ref cells, .. } if cells.is_empty()));
}

#[test]
fn states_groups_moves_columns_and_updates() {
    for (kind, state) in [("archive_pulse", "archived"), ("delete_pulse", "deleted")] {
        for sub in [false, true] {
            assert_eq!(
                change_of(&event(archive_or_delete(kind, sub))),
                Change::State(state)
            );
        }
    }
    assert_eq!(change_of(&event(restore())), Change::State("active"));
    assert_eq!(
        change_of(&event(move_into_group())),
        Change::Group("new_group_mkmwnd8t".into())
    );
    let mut v = move_into_group();
    v.as_object_mut().unwrap().remove("destGroupId");
    assert_eq!(
        change_of(&event(v)),
        Change::Group("new_group_mkmwnd8t".into())
    );
    let mut v = move_into_group();
    v.as_object_mut().unwrap().remove("destGroupId");
    v.as_object_mut().unwrap().remove("destGroup");
    assert!(matches!(change_of(&event(v)), Change::Ignore(_)));
    assert_eq!(
        change_of(&event(move_subitem())),
        Change::SubitemMoved {
            from_parent: Some(18265984789),
            to_parent: Some(18265984790)
        }
    );
    assert_eq!(
        change_of(&event(create_column())),
        Change::NewColumn {
            column_id: "text_mkmw91z2".into(),
            title: Some("Text".into()),
            column_type: Some("text".into())
        }
    );
    for (kind, k) in [
        ("create_update", change::UpdateKind::Created),
        ("edit_update", change::UpdateKind::Edited),
        ("delete_update", change::UpdateKind::Deleted),
    ] {
        for sub in [false, true] {
            assert_eq!(
                change_of(&event(update_event(kind, sub))),
                Change::Update {
                    kind: k,
                    update_id: 3836364238,
                    reply_id: None,
                    body: Some("<p>1st update</p>".into()),
                    text: Some("1st update".into()),
                }
            );
        }
        // A reply names its update and itself; no updateId is nothing to apply.
        let mut reply = update_event(kind, false);
        reply["replyId"] = json!("3836364999");
        assert!(matches!(
            change_of(&event(reply)),
            Change::Update {
                update_id: 3836364238,
                reply_id: Some(3836364999),
                ..
            }
        ));
        let mut bare = update_event(kind, false);
        bare.as_object_mut().unwrap().remove("updateId");
        assert_eq!(
            change_of(&event(bare)),
            Change::Ignore(change::IGNORE_UPDATES)
        );
    }
    for unknown in [
        "create_subitem_update",
        "update_column_values",
        "",
        "CREATE_PULSE",
    ] {
        let mut v = create_item();
        v["type"] = json!(unknown);
        assert_eq!(
            change_of(&event(v)),
            Change::Ignore(change::IGNORE_UNKNOWN),
            "{unknown}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Robustness: no input panics

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn exercise(input: &[u8]) {
    match parse_body(input) {
        Ok(Body::Event(e)) => {
            let _ = change_of(&e);
            let _ = is_subitem_event(&e);
            assert_eq!(e.content_key.len(), 64);
        }
        Ok(Body::Challenge(_)) => {}
        Err(e) => assert!(e.message.len() < 400, "{}", e.message),
    }
}

#[test]
fn no_body_panics() {
    let fixtures: Vec<Vec<u8>> = all_fixtures().into_iter().map(body).collect();
    // Every truncation of every fixture.
    for f in &fixtures {
        for end in 0..=f.len() {
            exercise(&f[..end]);
        }
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // Mutations: bytes replaced by JSON punctuation, digits, quotes, high bytes, NULs.
    let alphabet = b"{}[]\":,0123456789-.eE+ntfaluse\\\x00\xff\xc3 ";
    for _ in 0..20_000 {
        let mut f = fixtures[rng.below(fixtures.len())].clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(f.len());
            f[i] = alphabet[rng.below(alphabet.len())];
        }
        exercise(&f);
    }
    // Values replaced by other JSON kinds, key by key.
    let kinds = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1.5),
        json!(1e308),
        json!(u64::MAX),
        json!(""),
        json!("2025-13-45T99:99:99Z"),
        json!("\u{0}"),
        json!([]),
        json!({}),
        json!({"id": "x", "name": 1, "changed_at": []}),
    ];
    for f in all_fixtures() {
        let keys: Vec<String> = f.as_object().unwrap().keys().cloned().collect();
        for k in keys {
            for kind in &kinds {
                let mut g = f.clone();
                g[k.as_str()] = kind.clone();
                exercise(&body(g));
            }
        }
    }
    // Random bytes, random JSON-ish text.
    for _ in 0..5_000 {
        let len = rng.below(300);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        exercise(&bytes);
        let text: Vec<u8> = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        exercise(&text);
        let mut wrapped = b"{\"event\":{\"type\":\"update_column_value\",\"value\":".to_vec();
        wrapped.extend_from_slice(&text);
        wrapped.extend_from_slice(b"}}");
        exercise(&wrapped);
    }
}

// ---------------------------------------------------------------------------------------------
// JWT

const SECRET: &[u8] = b"a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";
const NOW: i64 = 1_738_777_972;
const AUD: &str = "https://sync.example.com/webhook";

fn claims(exp: i64) -> Value {
    json!({
        "accountId": 25917229, "userId": 67214742, "aud": AUD, "exp": exp, "iat": exp - 60,
        "shortLivedToken": "eyJhbGciOiJIUzI1NiJ9.c2hvcnQ.c2ln"
    })
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with any header, signed with HMAC-SHA256 whatever the header says.
fn token_with_header(header: &str, claims: &Value, secret: &[u8]) -> String {
    use hmac::Mac as _;
    let input = format!(
        "{}.{}",
        b64(header.as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(&mac.finalize().into_bytes()))
}

#[test]
fn jwt_valid() {
    let t = sign_hs256(&claims(NOW + 300), SECRET);
    assert_eq!(t.split('.').count(), 3);
    assert!(!t.contains('='));
    let c = verify_hs256(&t, SECRET, AUD, NOW).unwrap();
    assert_eq!(
        c,
        Claims {
            account_id: Some(25917229),
            user_id: Some(67214742),
            aud: vec![AUD.into()],
            exp: NOW + 300,
            iat: Some(NOW + 240),
        }
    );
    // The short-lived API token is never kept.
    assert!(!format!("{c:?}").contains("c2hvcnQ"));
    // A header monday might send without typ.
    let t = token_with_header(r#"{"alg":"HS256"}"#, &claims(NOW + 300), SECRET);
    assert!(verify_hs256(&t, SECRET, AUD, NOW).is_ok());
    // Padding is accepted too (the signature covers the parts as sent, padding included).
    let pad = |p: String| format!("{p}{}", "=".repeat((4 - p.len() % 4) % 4));
    let input = format!(
        "{}.{}",
        pad(b64(br#"{"alg":"HS256"}"#)),
        pad(b64(claims(NOW + 301).to_string().as_bytes()))
    );
    assert!(input.contains('='));
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(SECRET).unwrap();
    hmac::Mac::update(&mut mac, input.as_bytes());
    let sig = pad(b64(&hmac::Mac::finalize(mac).into_bytes()));
    assert!(verify_hs256(&format!("{input}.{sig}"), SECRET, AUD, NOW).is_ok());
}

#[test]
fn jwt_bearer_prefix_and_whitespace() {
    let t = sign_hs256(&claims(NOW + 300), SECRET);
    for h in [
        format!("Bearer {t}"),
        format!("bearer {t}"),
        format!("BEARER  {t}"),
        format!(" {t} "),
    ] {
        assert!(verify_hs256(&h, SECRET, AUD, NOW).is_ok(), "{h}");
    }
    assert!(matches!(
        verify_hs256(&format!("Basic {t}"), SECRET, AUD, NOW),
        Err(JwtError::Malformed(_))
    ));
}

#[test]
fn jwt_bad_signature() {
    let t = sign_hs256(&claims(NOW + 300), b"another secret");
    assert_eq!(verify_hs256(&t, SECRET, AUD, NOW), Err(JwtError::Signature));
    // A payload swapped under a valid header and signature.
    let good = sign_hs256(&claims(NOW + 300), SECRET);
    let parts: Vec<&str> = good.split('.').collect();
    let mut evil = claims(NOW + 300);
    evil["accountId"] = json!(1);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(evil.to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(
        verify_hs256(&forged, SECRET, AUD, NOW),
        Err(JwtError::Signature)
    );
    // A truncated signature, an empty one.
    let cut = &good[..good.len() - 2];
    assert!(verify_hs256(cut, SECRET, AUD, NOW).is_err());
    let empty = format!("{}.{}.", parts[0], parts[1]);
    assert_eq!(
        verify_hs256(&empty, SECRET, AUD, NOW),
        Err(JwtError::Signature)
    );
    // An expired token with a bad signature is a signature error: nothing is read first.
    let t = sign_hs256(&claims(NOW - 3600), b"another secret");
    assert_eq!(verify_hs256(&t, SECRET, AUD, NOW), Err(JwtError::Signature));
}

#[test]
fn jwt_algorithms_other_than_hs256_are_refused() {
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims(NOW + 300).to_string().as_bytes())
    );
    assert_eq!(
        verify_hs256(&none, SECRET, AUD, NOW),
        Err(JwtError::Algorithm("none".into()))
    );
    for alg in ["HS512", "HS384", "RS256", "hs256", "HS256 ", "ES256"] {
        let t = token_with_header(
            &format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#),
            &claims(NOW + 300),
            SECRET,
        );
        assert_eq!(
            verify_hs256(&t, SECRET, AUD, NOW),
            Err(JwtError::Algorithm(alg.into())),
            "{alg}"
        );
    }
    for header in [r#"{"typ":"JWT"}"#, r#"{"alg":null}"#, r#"{"alg":256}"#] {
        let t = token_with_header(header, &claims(NOW + 300), SECRET);
        assert!(
            matches!(
                verify_hs256(&t, SECRET, AUD, NOW),
                Err(JwtError::Malformed(_))
            ),
            "{header}"
        );
    }
    let t = token_with_header(
        r#"{"alg":"HS256","crit":["exp"]}"#,
        &claims(NOW + 300),
        SECRET,
    );
    assert!(matches!(
        verify_hs256(&t, SECRET, AUD, NOW),
        Err(JwtError::Malformed(_))
    ));
    // A long alg is cut in the error.
    let long = "X".repeat(500);
    let t = token_with_header(
        &format!(r#"{{"alg":"{long}"}}"#),
        &claims(NOW + 300),
        SECRET,
    );
    let err = verify_hs256(&t, SECRET, AUD, NOW).unwrap_err();
    assert!(err.to_string().len() < 120, "{err}");
}

#[test]
fn jwt_times() {
    // Expired, with 60 s of leeway.
    let t = sign_hs256(&claims(NOW - 61), SECRET);
    assert_eq!(verify_hs256(&t, SECRET, AUD, NOW), Err(JwtError::Expired));
    let t = sign_hs256(&claims(NOW - 60), SECRET);
    assert!(verify_hs256(&t, SECRET, AUD, NOW).is_ok());
    // exp is required.
    let mut c = claims(NOW + 300);
    c.as_object_mut().unwrap().remove("exp");
    let t = sign_hs256(&c, SECRET);
    assert_eq!(
        verify_hs256(&t, SECRET, AUD, NOW),
        Err(JwtError::MissingExp)
    );
    let mut c = claims(NOW + 300);
    c["exp"] = json!("tomorrow");
    assert!(matches!(
        verify_hs256(&sign_hs256(&c, SECRET), SECRET, AUD, NOW),
        Err(JwtError::Malformed(_))
    ));
    // A fractional exp is fine; a huge one does not overflow.
    let mut c = claims(NOW + 300);
    c["exp"] = json!((NOW + 300) as f64 + 0.5);
    assert_eq!(
        verify_hs256(&sign_hs256(&c, SECRET), SECRET, AUD, NOW).map(|c| c.exp),
        Ok(NOW + 300)
    );
    c["exp"] = json!(i64::MAX);
    assert!(verify_hs256(&sign_hs256(&c, SECRET), SECRET, AUD, NOW).is_ok());
    c["exp"] = json!(1e300);
    assert!(matches!(
        verify_hs256(&sign_hs256(&c, SECRET), SECRET, AUD, NOW),
        Err(JwtError::Malformed(_))
    ));
    // nbf: not yet valid beyond the leeway.
    let mut c = claims(NOW + 300);
    c["nbf"] = json!(NOW + 61);
    assert_eq!(
        verify_hs256(&sign_hs256(&c, SECRET), SECRET, AUD, NOW),
        Err(JwtError::NotYetValid)
    );
    c["nbf"] = json!(NOW + 60);
    assert!(verify_hs256(&sign_hs256(&c, SECRET), SECRET, AUD, NOW).is_ok());
    c["nbf"] = json!(i64::MIN);
    assert!(verify_hs256(&sign_hs256(&c, SECRET), SECRET, AUD, NOW).is_ok());
}

#[test]
fn jwt_audience() {
    let t = sign_hs256(&claims(NOW + 300), SECRET);
    assert_eq!(
        verify_hs256(&t, SECRET, "https://sync.example.com/webhook/other", NOW),
        Err(JwtError::Audience)
    );
    assert_eq!(
        verify_hs256(&t, SECRET, "https://evil.example.com/webhook", NOW),
        Err(JwtError::Audience)
    );
    assert_eq!(
        verify_hs256(&t, SECRET, "https://sync.example.com/webhoo", NOW),
        Err(JwtError::Audience)
    );
    assert_eq!(verify_hs256(&t, SECRET, "", NOW), Err(JwtError::Audience));
    // Trailing slashes are ignored on either side.
    assert!(verify_hs256(&t, SECRET, "https://sync.example.com/webhook/", NOW).is_ok());
    let mut c = claims(NOW + 300);
    c["aud"] = json!(format!("{AUD}/"));
    assert!(verify_hs256(&sign_hs256(&c, SECRET), SECRET, AUD, NOW).is_ok());
    // An array must contain it.
    c["aud"] = json!(["https://other.example.com", AUD]);
    let claims_out = verify_hs256(&sign_hs256(&c, SECRET), SECRET, AUD, NOW).unwrap();
    assert_eq!(claims_out.aud.len(), 2);
    c["aud"] = json!(["https://other.example.com", 5]);
    assert_eq!(
        verify_hs256(&sign_hs256(&c, SECRET), SECRET, AUD, NOW),
        Err(JwtError::Audience)
    );
    // Missing or not a string.
    for aud in [json!(null), json!(5), json!({})] {
        c["aud"] = aud;
        assert_eq!(
            verify_hs256(&sign_hs256(&c, SECRET), SECRET, AUD, NOW),
            Err(JwtError::Audience)
        );
    }
    c.as_object_mut().unwrap().remove("aud");
    assert_eq!(
        verify_hs256(&sign_hs256(&c, SECRET), SECRET, AUD, NOW),
        Err(JwtError::Audience)
    );
}

#[test]
fn jwt_garbage() {
    let good = sign_hs256(&claims(NOW + 300), SECRET);
    let long = "a".repeat(9000);
    let cases: Vec<String> = vec![
        "".into(),
        "   ".into(),
        "Bearer ".into(),
        "abc".into(),
        "a.b".into(),
        "a.b.c.d".into(),
        "...".into(),
        "!!!.???.***".into(),
        format!("{good}."),
        format!(".{good}"),
        good.replacen('.', "..", 1),
        long,
        format!("{}.{}.{}", b64(b"not json"), b64(b"{}"), b64(b"sig")),
        format!("{}.{}.{}", b64(b"[]"), b64(b"{}"), b64(b"sig")),
        "é.é.é".into(),
    ];
    for t in &cases {
        let r = verify_hs256(t, SECRET, AUD, NOW);
        assert!(
            matches!(r, Err(JwtError::Malformed(_)) | Err(JwtError::Signature)),
            "{t:.40}: {r:?}"
        );
    }
    // A payload that is not an object, validly signed.
    let t = token_with_header(r#"{"alg":"HS256"}"#, &json!([1]), SECRET);
    assert!(matches!(
        verify_hs256(&t, SECRET, AUD, NOW),
        Err(JwtError::Malformed(_))
    ));
    // Truncations and mutations of a valid token never panic and never verify.
    let mut rng = Rng(42);
    for end in 0..good.len() {
        assert!(verify_hs256(&good[..end], SECRET, AUD, NOW).is_err());
    }
    let alphabet = b"A-_.=+/0\x00 ";
    for _ in 0..5000 {
        let mut t = good.clone().into_bytes();
        let i = rng.below(t.len());
        let c = alphabet[rng.below(alphabet.len())];
        if t[i] == c {
            continue;
        }
        t[i] = c;
        let t = String::from_utf8(t).unwrap();
        // A change in the last character of a part may only touch base64 padding bits, which
        // the decoder rejects; either way the token must not verify as something else.
        if let Ok(c) = verify_hs256(&t, SECRET, AUD, NOW) {
            panic!("mutated token verified: {t} {c:?}");
        }
    }
    // Messages are one line and say what is wrong.
    for e in [
        JwtError::Malformed("x"),
        JwtError::Algorithm("none".into()),
        JwtError::Signature,
        JwtError::Expired,
        JwtError::NotYetValid,
        JwtError::Audience,
        JwtError::MissingExp,
    ] {
        let s = e.to_string();
        assert!(!s.is_empty() && !s.contains('\n'), "{s}");
    }
}

// ---------------------------------------------------------------------------------------------
// Routes and authorization

const PATH_SECRET: &str = "Zk3_q9-LmP2xR7tY";

fn config() -> AuthConfig {
    AuthConfig {
        signing_secret: Some(SECRET.to_vec()),
        public_url: Some("https://sync.example.com/".into()),
        path_secrets: vec![
            PathSecret {
                digest: path_secret_digest("another-board-secret-0001"),
                board_id: 1,
            },
            PathSecret {
                digest: path_secret_digest(PATH_SECRET),
                board_id: BOARD,
            },
        ],
        allow_unauthenticated: false,
    }
}

fn jwt_for(path: &str) -> String {
    let mut c = claims(NOW + 300);
    c["aud"] = json!(format!("https://sync.example.com{path}"));
    sign_hs256(&c, SECRET)
}

#[test]
fn routes() {
    let s128 = "a".repeat(128);
    let s129 = "a".repeat(129);
    let cases: Vec<(String, Route)> = vec![
        ("/webhook".into(), Route::Webhook { secret: None }),
        ("/webhook/".into(), Route::Webhook { secret: None }),
        ("/webhook?x=1".into(), Route::Webhook { secret: None }),
        (
            format!("/webhook/{PATH_SECRET}"),
            Route::Webhook {
                secret: Some(PATH_SECRET),
            },
        ),
        (
            format!("/webhook/{PATH_SECRET}/"),
            Route::Webhook {
                secret: Some(PATH_SECRET),
            },
        ),
        (
            format!("/webhook/{PATH_SECRET}?a=b/c"),
            Route::Webhook {
                secret: Some(PATH_SECRET),
            },
        ),
        (
            format!("/webhook/{s128}"),
            Route::Webhook {
                secret: Some(s128.as_str()),
            },
        ),
        ("/health".into(), Route::Health),
        ("/health?verbose".into(), Route::Health),
        ("/health/".into(), Route::Health),
        ("/".into(), Route::NotFound),
        ("".into(), Route::NotFound),
        ("?".into(), Route::NotFound),
        ("/webhooks".into(), Route::NotFound),
        ("/Webhook".into(), Route::NotFound),
        ("webhook".into(), Route::NotFound),
        ("//webhook".into(), Route::NotFound),
        ("/webhook//".into(), Route::NotFound),
        ("/webhook/short".into(), Route::NotFound),
        ("/webhook/123456789012345".into(), Route::NotFound),
        (format!("/webhook/{s129}"), Route::NotFound),
        (format!("/webhook/{PATH_SECRET}/extra"), Route::NotFound),
        ("/webhook/abcdefghijklmnop.q".into(), Route::NotFound),
        ("/webhook/abcdefghijklmnop%2F".into(), Route::NotFound),
        ("/webhook/../../etc/passwd/aaaa".into(), Route::NotFound),
        ("/webhook/abcdéfghijklmnopq".into(), Route::NotFound),
        ("/health/x".into(), Route::NotFound),
        ("/healthz".into(), Route::NotFound),
    ];
    for (path, want) in &cases {
        assert_eq!(route(path), *want, "{path:?}");
    }
    assert_eq!(
        route("/webhook/1234567890123456"),
        Route::Webhook {
            secret: Some("1234567890123456")
        }
    );
}

#[test]
fn authorize_with_a_jwt() {
    let cfg = config();
    let t = jwt_for("/webhook");
    let got = authorize(&cfg, "/webhook", Some(&t), NOW).unwrap();
    assert!(matches!(got, Authorized::Jwt(ref c) if c.account_id == Some(25917229)));
    // The query is not part of the audience; Bearer is accepted.
    assert!(authorize(&cfg, "/webhook?board=1", Some(&format!("Bearer {t}")), NOW).is_ok());
    // The audience is the full URL, path secret included.
    let p = format!("/webhook/{PATH_SECRET}");
    let t2 = jwt_for(&p);
    assert!(matches!(
        authorize(&cfg, &p, Some(&t2), NOW),
        Ok(Authorized::Jwt(_))
    ));
    // A token for another path is refused.
    assert!(authorize(&cfg, &p, Some(&t), NOW).is_err());
    // A bad JWT is refused even with the right path secret.
    let bad = sign_hs256(&claims(NOW + 300), b"wrong secret");
    let err = authorize(&cfg, &p, Some(&bad), NOW).unwrap_err();
    assert!(err.reason.contains("signature"), "{}", err.reason);
    let expired = {
        let mut c = claims(NOW - 3600);
        c["aud"] = json!(format!("https://sync.example.com{p}"));
        sign_hs256(&c, SECRET)
    };
    assert!(authorize(&cfg, &p, Some(&expired), NOW).is_err());
    let mut open = config();
    open.allow_unauthenticated = true;
    assert!(authorize(&open, "/webhook", Some("garbage"), NOW).is_err());
    // Without webhook_public_url a JWT cannot be checked.
    let mut no_url = config();
    no_url.public_url = None;
    assert_eq!(
        authorize(&no_url, "/webhook", Some(&t), NOW)
            .unwrap_err()
            .reason,
        "webhook_public_url is not set"
    );
    no_url.public_url = Some("  ".into());
    assert!(authorize(&no_url, "/webhook", Some(&t), NOW).is_err());
    // The reason never carries the token or the secrets.
    for (path, auth) in [("/webhook", bad.as_str()), (p.as_str(), "garbage")] {
        let reason = authorize(&cfg, path, Some(auth), NOW).unwrap_err().reason;
        assert!(
            !reason.contains(&bad) && !reason.contains(PATH_SECRET),
            "{reason}"
        );
        assert!(!reason.contains(std::str::from_utf8(SECRET).unwrap()));
    }
}

#[test]
fn authorize_with_a_path_secret() {
    let cfg = config();
    let p = format!("/webhook/{PATH_SECRET}");
    assert_eq!(
        authorize(&cfg, &p, None, NOW),
        Ok(Authorized::SecretPath { board_id: BOARD })
    );
    assert_eq!(
        authorize(&cfg, &format!("{p}?x=1"), Some("  "), NOW),
        Ok(Authorized::SecretPath { board_id: BOARD })
    );
    assert_eq!(
        authorize(&cfg, "/webhook/another-board-secret-0001", None, NOW),
        Ok(Authorized::SecretPath { board_id: 1 })
    );
    // A wrong secret is refused, even when unauthenticated posts are allowed.
    let mut open = config();
    open.allow_unauthenticated = true;
    for cfg in [&cfg, &open] {
        let err = authorize(cfg, "/webhook/Zk3_q9-LmP2xR7tZ", None, NOW).unwrap_err();
        assert!(!err.reason.contains("Zk3_q9"), "{}", err.reason);
    }
    // With no signing secret an Authorization header is ignored: the path decides.
    let mut no_jwt = config();
    no_jwt.signing_secret = None;
    assert_eq!(
        authorize(&no_jwt, &p, Some("whatever"), NOW),
        Ok(Authorized::SecretPath { board_id: BOARD })
    );
    no_jwt.signing_secret = Some(Vec::new());
    assert_eq!(
        authorize(&no_jwt, &p, Some("whatever"), NOW),
        Ok(Authorized::SecretPath { board_id: BOARD })
    );
    // No path secrets configured at all.
    let mut none = config();
    none.path_secrets.clear();
    assert!(authorize(&none, &p, None, NOW).is_err());
}

#[test]
fn authorize_unauthenticated_and_refusals() {
    let cfg = config();
    // Neither a JWT nor a path secret.
    let err = authorize(&cfg, "/webhook", None, NOW).unwrap_err();
    assert!(!err.reason.is_empty());
    let mut open = config();
    open.allow_unauthenticated = true;
    assert_eq!(
        authorize(&open, "/webhook", None, NOW),
        Ok(Authorized::Unauthenticated)
    );
    assert_eq!(
        authorize(&open, "/webhook", Some(""), NOW),
        Ok(Authorized::Unauthenticated)
    );
    open.signing_secret = None;
    assert_eq!(
        authorize(&open, "/webhook", Some("a header"), NOW),
        Ok(Authorized::Unauthenticated)
    );
    // Not a webhook path.
    for path in ["/health", "/", "/webhook/short", "/other"] {
        assert!(authorize(&open, path, None, NOW).is_err(), "{path}");
    }
    // Debug output hides the secrets.
    let dbg = format!("{:?}", config());
    assert!(!dbg.contains(std::str::from_utf8(SECRET).unwrap()), "{dbg}");
    assert!(!dbg.contains("digest"), "{dbg}");
}

#[test]
fn no_route_or_authorization_panics() {
    let mut rng = Rng(7);
    let alphabet = b"/webhook?health_-.%aZ09\x00 ";
    let cfg = config();
    let good = jwt_for("/webhook");
    for _ in 0..20_000 {
        let len = rng.below(160);
        let path: String = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())] as char)
            .collect();
        let _ = route(&path);
        let auth = match rng.below(3) {
            0 => None,
            1 => Some(good.as_str()),
            _ => Some(path.as_str()),
        };
        let _ = authorize(&cfg, &path, auth, NOW);
    }
    // Multi-byte characters at every position.
    for path in [
        "/webhook/ééééééééééééééééé",
        "/hé",
        "é",
        "/webhook/\u{1F600}",
    ] {
        let _ = route(path);
        let _ = authorize(&cfg, path, Some(path), NOW);
    }
}
