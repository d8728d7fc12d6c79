//! The fake's items pages over real HTTP on 127.0.0.1: `items_page(query_params:)` filtered by
//! group and continued by `next_items_page`, `Group.items_page`, what is not implemented, the
//! in-flight gauge and the concurrency limit.

use super::world::{World, SAMPLE_BOARD};
use super::Fake;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// POSTs a GraphQL request; (HTTP status, body).
fn send(port: u16, query: &str, vars: Value) -> (u16, Value) {
    let body = json!({"query": query, "variables": vars}).to_string();
    let head = format!(
        "POST /v2 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: fake-token\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    c.write_all(head.as_bytes()).unwrap();
    c.write_all(body.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = c.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (h, b) = text.split_once("\r\n\r\n").expect("an answer");
    let status = h
        .lines()
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, serde_json::from_str(b).unwrap_or(Value::Null))
}

const FIRST: &str = "query ($board: ID!, $limit: Int!, $groups: CompareValue!) {
  boards(ids: [$board]) { items_page(limit: $limit, query_params: {rules: [{column_id: \"group\", compare_value: $groups, operator: any_of}]}) {
    cursor items { id group { id } } } } }";
const NEXT: &str = "query ($cursor: String!, $limit: Int!) {
  next_items_page(cursor: $cursor, limit: $limit) { cursor items { id group { id } } } }";

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

/// A board of 100 items in 4 groups of 25.
fn fake() -> Fake {
    let mut w = World::sample(100, false);
    w.spread_groups(SAMPLE_BOARD, 4);
    Fake::start(w).unwrap()
}

/// The group's items in board order, by the fake's own world.
fn group_items(f: &Fake, group: &str) -> Vec<i64> {
    f.with(|s| {
        s.world.boards[&SAMPLE_BOARD]
            .item_ids
            .iter()
            .copied()
            .filter(|i| s.world.items[i].group_id == group)
            .collect()
    })
}

#[test]
fn items_page_filtered_by_group_walks_that_group_in_board_order() {
    let f = fake();
    let groups: Vec<String> = f.with(|s| {
        s.world.boards[&SAMPLE_BOARD]
            .groups
            .iter()
            .map(|g| g.id.clone())
            .collect()
    });
    assert_eq!(groups, ["topics", "new_group_mkxz", "group_2", "group_3"]);
    let mut all = Vec::new();
    for g in &groups {
        let (st, b) = send(
            f.port,
            FIRST,
            json!({"board": SAMPLE_BOARD.to_string(), "limit": 10, "groups": [g]}),
        );
        assert_eq!(st, 200, "{b}");
        let mut page = b["data"]["boards"][0]["items_page"].clone();
        assert!(page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["group"]["id"] == json!(g)));
        let mut got = ids(&page);
        // The cursor keeps the filter: next_items_page goes on in this group only.
        while let Some(c) = page["cursor"].as_str().map(String::from) {
            let (st, b) = send(f.port, NEXT, json!({"cursor": c, "limit": 10}));
            assert_eq!(st, 200, "{b}");
            page = b["data"]["next_items_page"].clone();
            assert!(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|i| i["group"]["id"] == json!(g)),
                "{page}"
            );
            got.extend(ids(&page));
        }
        assert_eq!(got, group_items(&f, g), "group {g}");
        assert_eq!(got.len(), 25);
        all.extend(got);
    }
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 100, "the groups cover the board");
    // Two groups at once: their items, in board order.
    let (_, b) = send(
        f.port,
        FIRST,
        json!({"board": SAMPLE_BOARD.to_string(), "limit": 500, "groups": ["group_3", "topics"]}),
    );
    let mut want = group_items(&f, "topics");
    want.extend(group_items(&f, "group_3"));
    assert_eq!(ids(&b["data"]["boards"][0]["items_page"]), want);
    // A group that does not exist: no items, no cursor.
    let (_, b) = send(
        f.port,
        FIRST,
        json!({"board": SAMPLE_BOARD.to_string(), "limit": 500, "groups": ["nope"]}),
    );
    assert_eq!(
        b["data"]["boards"][0]["items_page"],
        json!({"cursor": null, "items": []})
    );
    // Complexity: like the unfiltered page (its selection times the limit).
    let cost = |q: &str| {
        f.with(|s| {
            s.log
                .iter()
                .rev()
                .find(|l| l.query == q)
                .map(|l| l.complexity)
        })
        .unwrap()
    };
    let filtered = cost(FIRST);
    send(f.port, "query { boards(ids: [18414630189]) { items_page(limit: 500) { cursor items { id group { id } } } } }", json!({}));
    assert_eq!(cost("query { boards(ids: [18414630189]) { items_page(limit: 500) { cursor items { id group { id } } } } }"), filtered);
}

#[test]
fn group_items_page_and_the_expiry_knob() {
    let f = fake();
    let q = "query ($c: String) { boards(ids: [18414630189]) { groups(ids: [\"group_2\"]) { items_page(limit: 10, cursor: $c) { cursor items { id } } } } }";
    let (st, b) = send(f.port, q, json!({}));
    assert_eq!(st, 200, "{b}");
    let page = &b["data"]["boards"][0]["groups"][0]["items_page"];
    let mut got = ids(page);
    let c = page["cursor"].as_str().unwrap().to_string();
    let (_, b) = send(f.port, q, json!({"c": c}));
    got.extend(ids(&b["data"]["boards"][0]["groups"][0]["items_page"]));
    let (_, b) = send(
        f.port,
        NEXT,
        json!({"cursor": b["data"]["boards"][0]["groups"][0]["items_page"]["cursor"], "limit": 10}),
    );
    got.extend(ids(&b["data"]["next_items_page"]));
    assert_eq!(got, group_items(&f, "group_2"));
    // The expiry knob expires the cursor it fires on, not the other walks' cursors.
    let first = |g: &str| {
        let (_, b) = send(
            f.port,
            FIRST,
            json!({"board": SAMPLE_BOARD.to_string(), "limit": 10, "groups": [g]}),
        );
        b["data"]["boards"][0]["items_page"]["cursor"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (a, z) = (first("topics"), first("group_3"));
    f.with(|s| s.knobs.expire_cursor_after_pages = Some(0));
    let (_, b) = send(f.port, NEXT, json!({"cursor": a, "limit": 10}));
    assert_eq!(
        b["errors"][0]["extensions"]["code"],
        json!("CursorExpiredError")
    );
    let (_, b) = send(f.port, NEXT, json!({"cursor": z, "limit": 10}));
    assert_eq!(ids(&b["data"]["next_items_page"]).len(), 10, "{b}");
}

#[test]
fn what_is_not_implemented_says_so() {
    let f = fake();
    for (qp, what) in [
        ("{rules: [{column_id: \"status\", compare_value: [1]}]}", "column \"status\""),
        ("{rules: [{column_id: \"group\", compare_value: [\"topics\"], operator: not_any_of}]}", "operator"),
        ("{rules: [{column_id: \"group\", compare_value: [\"topics\"]}], operator: or}", "`operator`"),
        ("{ids: [1]}", "`ids`"),
        ("{rules: [{column_id: \"group\", compare_value: [\"topics\"]}], order_by: [{column_id: \"name\"}]}", "`order_by`"),
        ("{rules: [{column_id: \"group\", compare_value: [\"topics\"]}, {column_id: \"group\", compare_value: [\"x\"]}]}", "2 rules"),
    ] {
        let q = format!("query {{ boards(ids: [18414630189]) {{ items_page(limit: 5, query_params: {qp}) {{ cursor items {{ id }} }} }} }}");
        let (_, b) = send(f.port, &q, json!({}));
        let e = &b["errors"][0];
        assert_eq!(e["extensions"]["code"], json!("FAKE_NOT_IMPLEMENTED"), "{qp}: {b}");
        let m = e["message"].as_str().unwrap();
        assert!(m.contains("not implemented") && m.contains(what), "{qp}: {m}");
    }
    // query_params and cursor together stay an error.
    let (_, b) = send(
        f.port,
        "query { boards(ids: [18414630189]) { items_page(limit: 5) { cursor } } }",
        json!({}),
    );
    let c = b["data"]["boards"][0]["items_page"]["cursor"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, b) = send(f.port, "query ($c: String) { boards(ids: [18414630189]) { items_page(limit: 5, cursor: $c, query_params: {rules: [{column_id: \"group\", compare_value: [\"topics\"]}]}) { cursor } } }", json!({"c": c}));
    assert_eq!(
        b["errors"][0]["extensions"]["code"],
        json!("InvalidArgumentException"),
        "{b}"
    );
}

#[test]
fn requests_in_flight_are_counted_and_limited() {
    let f = fake();
    f.with(|s| s.knobs.latency = Duration::from_millis(300));
    let q = "query { complexity { query } }";
    let go = |n: usize| {
        let port = f.port;
        let hs: Vec<_> = (0..n)
            .map(|_| std::thread::spawn(move || send(port, q, json!({}))))
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    };
    let all = go(4);
    assert!(all.iter().all(|(st, _)| *st == 200));
    assert_eq!(f.with(|s| s.flight.peak()), 4, "four requests overlapped");
    f.with(|s| {
        s.flight.reset_peak();
        s.knobs.max_concurrency = Some(2);
    });
    let all = go(5);
    let refused: Vec<&Value> = all
        .iter()
        .filter(|(st, _)| *st == 429)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(refused.len(), 3, "{all:?}");
    for b in refused {
        assert_eq!(
            b["errors"][0]["extensions"]["code"],
            json!("maxConcurrencyExceeded")
        );
        assert_eq!(b["errors"][0]["extensions"]["retry_in_seconds"], json!(1));
    }
    assert_eq!(f.with(|s| s.flight.peak()), 2);
    assert_eq!(
        f.with(|s| s.flight.now.load(std::sync::atomic::Ordering::SeqCst)),
        0
    );
}
