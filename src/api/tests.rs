//! The client's rules on monday's answer shapes (FACTS.md §4.2).

use super::client::{backoff, classify, classify_mutation, scrub, ApiErrorKind, Raw, Verdict};
use std::time::Duration;

fn http(status: u16, body: &str) -> Raw {
    Raw::Http {
        status,
        retry_after: None,
        body: body.as_bytes().to_vec(),
    }
}

#[test]
fn data_with_complexity() {
    let v = classify(&http(
        200,
        r#"{"data":{"complexity":{"before":10000000,"after":9984000,"query":16000,"reset_in_x_seconds":41},"boards":[]},"extensions":{"request_id":"x"}}"#,
    ));
    match v {
        Verdict::Data(d, Some(c)) => {
            assert!(d["boards"].is_array());
            assert_eq!(
                (c.before, c.after, c.query, c.reset_in_seconds),
                (10000000, 9984000, 16000, 41)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn complexity_exhausted_in_both_forms_waits() {
    let body = r#"{"errors":[{"message":"Complexity budget exhausted","extensions":{"code":"COMPLEXITY_BUDGET_EXHAUSTED","complexity":6182,"complexity_budget_left":100,"complexity_budget_limit":5000000,"retry_in_seconds":17,"status_code":429}}]}"#;
    for status in [200, 429] {
        match classify(&http(status, body)) {
            Verdict::Wait { seconds, why } => {
                assert_eq!(seconds, 17.0);
                assert!(why.contains("COMPLEXITY_BUDGET_EXHAUSTED"), "{why}");
            }
            other => panic!("{status}: {other:?}"),
        }
    }
}

#[test]
fn retry_after_header_waits() {
    let raw = Raw::Http {
        status: 429,
        retry_after: Some("3".into()),
        body: br#"{"errors":[{"message":"Minute limit rate exceeded"}]}"#.to_vec(),
    };
    assert!(matches!(classify(&raw), Verdict::Wait { seconds, .. } if seconds == 3.0));
    let bare = Raw::Http {
        status: 429,
        retry_after: Some("2".into()),
        body: b"Too Many Requests".to_vec(),
    };
    assert!(matches!(classify(&bare), Verdict::Wait { seconds, .. } if seconds == 2.0));
}

#[test]
fn outages_retry() {
    assert!(matches!(
        classify(&http(
            500,
            r#"{"errors":[{"message":"Internal server error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}"#
        )),
        Verdict::Retry { .. }
    ));
    match classify(&http(
        502,
        "<html><head><title>502 Bad Gateway</title></head></html>",
    )) {
        Verdict::Retry { why } => assert!(why.contains("HTML"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        classify(&http(200, "<html>maintenance</html>")),
        Verdict::Retry { .. }
    ));
    assert!(matches!(
        classify(&Raw::Failed {
            timeout: true,
            message: "timeout: global".into()
        }),
        Verdict::Retry { .. }
    ));
    assert!(matches!(
        classify(&Raw::Failed {
            timeout: false,
            message: "connection reset".into()
        }),
        Verdict::Retry { .. }
    ));
}

#[test]
fn rejections_fail_clearly() {
    let kind = |v: Verdict| match v {
        Verdict::Fail(e) => e.kind,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        kind(classify(&http(
            401,
            r#"{"errors":[{"message":"Not authenticated","extensions":{"code":"NOT_AUTHENTICATED"}}]}"#
        ))),
        ApiErrorKind::TokenRejected
    );
    assert_eq!(
        kind(classify(&http(401, r#"{"errors":["Not Authenticated"]}"#))),
        ApiErrorKind::TokenRejected
    );
    assert_eq!(
        kind(classify(&http(
            200,
            r#"{"data":{"boards":null},"errors":[{"message":"User unauthorized to perform action","extensions":{"code":"USER_UNAUTHORIZED","status_code":403}}]}"#
        ))),
        ApiErrorKind::Unauthorized
    );
    assert_eq!(
        kind(classify(&http(
            429,
            r#"{"errors":[{"message":"Daily limit exceeded","extensions":{"code":"DAILY_LIMIT_EXCEEDED","retry_in_seconds":3600}}]}"#
        ))),
        ApiErrorKind::DailyLimit
    );
    assert_eq!(
        kind(classify(&http(
            200,
            r#"{"data":null,"errors":[{"message":"The cursor has expired","extensions":{"code":"CursorExpiredError"}}]}"#
        ))),
        ApiErrorKind::CursorExpired
    );
    assert_eq!(
        kind(classify(&http(
            200,
            r#"{"error_message":"Board not found","error_code":"InvalidBoardIdException","status_code":200}"#
        ))),
        ApiErrorKind::NotFound
    );
    match classify(&http(
        200,
        r#"{"errors":[{"message":"Cannot query field \"idx\" on type \"Board\".","locations":[{"line":1,"column":12}],"extensions":{"code":"undefinedField"}}]}"#,
    )) {
        Verdict::Fail(e) => {
            assert_eq!(e.kind, ApiErrorKind::Api);
            assert!(
                e.message.contains("idx") && e.detail.contains("undefinedField"),
                "{e:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn backoff_grows_and_caps() {
    assert_eq!(backoff(1), Duration::from_millis(250));
    assert_eq!(backoff(2), Duration::from_millis(500));
    assert_eq!(backoff(4), Duration::from_secs(2));
    assert_eq!(backoff(30), Duration::from_secs(8));
}

#[test]
fn token_scrubbed() {
    assert_eq!(
        scrub("http://x/?t=secret-token-1", "secret-token-1"),
        "http://x/?t=<token>"
    );
}

fn cfg(max_wait_s: u64, max_retries: u32) -> super::client::Config {
    super::client::Config {
        url: "http://127.0.0.1:1".into(),
        version: "2026-07".into(),
        token: "t".into(),
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(1),
        max_retries,
        max_wait: Duration::from_secs(max_wait_s),
        max_response_bytes: 1 << 20,
    }
}

fn wait(seconds: f64) -> Verdict {
    Verdict::Wait {
        seconds,
        why: "HTTP 200, COMPLEXITY_BUDGET_EXHAUSTED".into(),
    }
}

/// Waits monday asks for are bounded to [1 s, 60 s], noted when impossible, and limited in number
/// and total time: a hostile or broken endpoint cannot make a call spin or stall.
#[test]
fn impossible_waits_are_clamped_and_bounded() {
    use super::client::{next_step, CallRecord, Next, MAX_RATE_WAITS};
    let c = cfg(3600, 5);
    for (asked, want) in [
        (0.0, 1.0),
        (-5.0, 1.0),
        (1e9, 60.0),
        (f64::NAN, 60.0),
        (2.5, 2.5),
    ] {
        let mut rec = CallRecord::new_for_tests("Q");
        let (mut r, mut w) = (0, 0);
        match next_step(&wait(asked), &mut rec, &mut r, &mut w, &c) {
            Next::Sleep(d) => assert_eq!(d.as_secs_f64(), want, "asked {asked}"),
            Next::GiveUp(e) => panic!("asked {asked}: gave up: {e}"),
        }
        assert_eq!(
            rec.notes.len(),
            usize::from(asked != want),
            "note for {asked}"
        );
    }
    // At most MAX_RATE_WAITS waits in one call, however short.
    let mut rec = CallRecord::new_for_tests("Q");
    let (mut r, mut w) = (0, 0);
    let mut sleeps = 0;
    loop {
        match next_step(&wait(0.0), &mut rec, &mut r, &mut w, &c) {
            Next::Sleep(d) => {
                rec.waited += d;
                sleeps += 1;
            }
            Next::GiveUp(e) => {
                assert_eq!(e.kind, ApiErrorKind::WaitTooLong);
                break;
            }
        }
        assert!(sleeps <= MAX_RATE_WAITS, "too many waits");
    }
    assert_eq!(sleeps, MAX_RATE_WAITS);
    // And never past max_wait in total.
    let short = cfg(3, 5);
    let mut rec = CallRecord::new_for_tests("Q");
    let (mut r, mut w) = (0, 0);
    let mut total = Duration::ZERO;
    while let Next::Sleep(d) = next_step(&wait(0.0), &mut rec, &mut r, &mut w, &short) {
        rec.waited += d;
        total += d;
    }
    assert_eq!(total, Duration::from_secs(3));
    // Transient failures: max_retries retries with backoff, then unavailable.
    let mut rec = CallRecord::new_for_tests("Q");
    let (mut r, mut w) = (0, 0);
    let retry = Verdict::Retry {
        why: "HTTP 502".into(),
    };
    let mut n = 0;
    while let Next::Sleep(_) = next_step(&retry, &mut rec, &mut r, &mut w, &c) {
        n += 1;
        assert!(n <= 5);
    }
    assert_eq!(n, 5);
}

#[test]
fn an_endless_body_is_an_error_not_a_retry() {
    match classify(&Raw::TooLarge { limit: 1 << 20 }) {
        Verdict::Fail(e) => assert!(e.message.contains("max_response_size")),
        _ => panic!("a body past the limit must fail the call"),
    }
}

#[test]
fn mutations_read_errors_per_alias() {
    // One alias refused, one answered: data, for the caller to read alias by alias.
    let body = r#"{"data":{"c1":null,"c2":{"id":"2"}},"errors":[{"message":"bad","path":["c1"],"extensions":{"code":"ColumnValueException","status_code":200}}]}"#;
    match classify_mutation(&http(200, body)) {
        Verdict::Data(v, _) => {
            assert_eq!(v["data"]["c2"]["id"], "2");
            assert_eq!(v["errors"][0]["path"][0], "c1");
        }
        other => panic!("{other:?}"),
    }
    // An alias's internal error is that alias's: the request is not sent again (its key would
    // only get the same answer back).
    let body = r#"{"data":{"c1":null},"errors":[{"message":"oops","path":["c1"],"extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}"#;
    assert!(matches!(
        classify_mutation(&http(200, body)),
        Verdict::Data(..)
    ));
    // No errors: the same shape, {"data": …}.
    match classify_mutation(&http(200, r#"{"data":{"c1":{"id":"1"}}}"#)) {
        Verdict::Data(v, _) => assert_eq!(v["data"]["c1"]["id"], "1"),
        other => panic!("{other:?}"),
    }
    // 409: the same request still being executed: wait Retry-After, then the same key again.
    let r = Raw::Http {
        status: 409,
        retry_after: Some("2".into()),
        body:
            br#"{"errors":[{"message":"in flight","extensions":{"code":"IDEMPOTENCY_CONFLICT"}}]}"#
                .to_vec(),
    };
    match classify_mutation(&r) {
        Verdict::Wait { seconds, .. } => assert_eq!(seconds, 2.0),
        other => panic!("{other:?}"),
    }
    // Errors of the whole request keep their meaning: a rate limit waits, a 500 retries, a
    // rejected token fails.
    let body = r#"{"errors":[{"message":"Complexity budget exhausted","extensions":{"code":"COMPLEXITY_BUDGET_EXHAUSTED","retry_in_seconds":7}}]}"#;
    assert!(matches!(
        classify_mutation(&http(200, body)),
        Verdict::Wait { .. }
    ));
    assert!(matches!(
        classify_mutation(&http(500, "oops")),
        Verdict::Retry { .. }
    ));
    match classify_mutation(&http(
        401,
        r#"{"errors":[{"message":"Not authenticated"}]}"#,
    )) {
        Verdict::Fail(e) => assert_eq!(e.kind, ApiErrorKind::TokenRejected),
        other => panic!("{other:?}"),
    }
}

/// `probe_data` recognises only what `classify` calls data, with the same complexity; anything
/// else is left to `classify`.
#[test]
fn probe_agrees_with_classify() {
    use super::client::{data_of, probe_data};
    let data = r#"{"data":{"complexity":{"before":10,"after":9,"query":1,"reset_in_x_seconds":41},"boards":[{"id":"1","name":"a\u0041"}]},"extensions":{"request_id":"x"}}"#;
    let complexity = match classify(&http(200, data)) {
        Verdict::Data(_, c) => c,
        other => panic!("{other:?}"),
    };
    assert_eq!(probe_data(&http(200, data)), Some(complexity));
    assert_eq!(
        probe_data(&http(200, r#"{"data":{"boards":[]}}"#)),
        Some(None)
    );
    for left in [
        r#"{"errors":[{"message":"x","extensions":{"code":"X"}}],"data":{}}"#,
        r#"{"errors":null,"data":{}}"#,
        r#"{"errors":[],"data":{}}"#,
        r#"{"error_code":null,"data":{}}"#,
        r#"{"data":[{"complexity":1}]}"#,
        r#"{"data":null}"#,
        r#"{"data":{},"data":{}}"#,
        r#"{"data":{}} x"#,
        r#"[{"data":{}}]"#,
        "<html>",
        "",
    ] {
        assert_eq!(probe_data(&http(200, left)), None, "{left}");
    }
    assert_eq!(probe_data(&http(500, data)), None);
    // `data_of`: the last `data`, strings borrowed where they have no escape.
    let body = br#"{"data":{"x":1},"data":{"boards":[{"id":"7","name":"b\"c"}]}}"#;
    let arena = super::client::Arena::default();
    let d = data_of(body, &arena).unwrap();
    let b = &d.get("boards").as_array().unwrap()[0];
    assert_eq!(b.get("id").as_str(), Some("7"));
    assert_eq!(b.get("name").as_str(), Some("b\"c"));
    assert!(data_of(b"{}", &arena).unwrap().is_null());
}

/// `data_of` builds the tree `serde_json_borrow` builds: escapes in keys and values, repeated
/// keys, numbers of every kind, nesting, U+0000, a page of the fixture, and bodies it refuses.
#[test]
fn data_of_equals_serde_json_borrow() {
    use super::client::{data_of, Arena};
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/pgrx-tests/fixtures/items_page.json"
    ))
    .unwrap();
    let long = format!(
        r#"{{"data":{{"s":"{}\n","t":"{}"}}}}"#,
        "x".repeat(100_000),
        "y\\\\".repeat(50_000)
    );
    for body in [
        r#"{"data":{"a":1,"a":2,"b\"k":"v\u0000w","c":[1,-2,3.5,1.5e300,18446744073709551615,-9223372036854775808,true,false,null,"",{},[]],"d":{"e":[[{"f":"\ud83d\ude00"}]]}}}"#,
        r#"{"data":null}"#,
        r#"{"data":[1,{"x":"y"}],"data":{"z":"\""}}"#,
        r#"{"x":1}"#,
        r#"[1,2]"#,
        long.as_str(),
        fixture.as_str(),
    ] {
        let arena = Arena::default();
        let ours = data_of(body.as_bytes(), &arena).unwrap();
        let theirs: serde_json_borrow::Value = serde_json::from_str(body).unwrap();
        let theirs = match theirs {
            serde_json_borrow::Value::Object(o) => o
                .into_vec()
                .into_iter()
                .rev()
                .find(|(k, _)| k == "data")
                .map(|(_, v)| v)
                .unwrap_or(serde_json_borrow::Value::Null),
            _ => serde_json_borrow::Value::Null,
        };
        assert_eq!(ours, theirs, "{}", &body[..body.len().min(200)]);
        assert_eq!(
            serde_json::to_string(&ours).unwrap(),
            serde_json::to_string(&theirs).unwrap()
        );
    }
    for bad in ["", "{", r#"{"data":1} x"#, r#"{"data":"\x"}"#, "<html>"] {
        assert!(data_of(bad.as_bytes(), &Arena::default()).is_err(), "{bad}");
    }
    assert!(data_of(b"{\"data\":\"\xff\"}", &Arena::default()).is_err());
}

/// `read_page` (the parse that judges a page's answer) accepts what `probe_data` accepts, with
/// the same complexity; what it hands back goes to `classify` as before, with the error `data_of`
/// gives for a body `probe_data` lets pass but that cannot be read.
#[test]
fn read_page_agrees_with_probe() {
    use super::client::{probe_data, read_page};
    for (status, body) in [
        (
            200,
            r#"{"data":{"complexity":{"before":10,"after":9,"query":1,"reset_in_x_seconds":41},"boards":[{"id":"1","name":"a\u0041"}]},"extensions":{"request_id":"x"}}"#,
        ),
        (
            200,
            r#"{"data":{"complexity":{"before":1,"before":2,"after":9,"query":1,"reset_in_x_seconds":4},"complexity":{"before":3,"after":9,"query":1,"reset_in_x_seconds":4}}}"#,
        ),
        (
            200,
            r#"{"data":{"complexity":{"before":1.5,"after":9,"query":1,"reset_in_x_seconds":4}}}"#,
        ),
        (200, r#"{"data":{"complexity":[1]}}"#),
        (200, r#"{"data":{"boards":[]}}"#),
        (
            200,
            r#"{"errors":[{"message":"x","extensions":{"code":"X"}}],"data":{}}"#,
        ),
        (200, r#"{"errors":null,"data":{}}"#),
        (200, r#"{"errors":[],"data":{}}"#),
        (200, r#"{"error_code":null,"data":{}}"#),
        (200, r#"{"data":[{"complexity":1}]}"#),
        (200, r#"{"data":null}"#),
        (200, r#"{"data":{},"data":{}}"#),
        (200, r#"{"data":{}} x"#),
        (200, r#"[{"data":{}}]"#),
        (200, r#"{"x":1}"#),
        (200, "<html>"),
        (200, ""),
        (200, r#"{"data":{"n":1e999}}"#),
        (500, r#"{"data":{}}"#),
        (429, r#"{"data":{}}"#),
    ] {
        let probed = probe_data(&http(status, body));
        match read_page(http(status, body)) {
            Ok((page, complexity)) => {
                assert_eq!(probed, Some(complexity), "{body}");
                assert!(page.data().is_object(), "{body}");
            }
            Err((raw, unreadable)) => {
                assert!(matches!(&raw, Raw::Http { status: s, .. } if *s == status));
                // Handed back where probe_data accepts only when unreadable (data_of's error
                // then, as before); the client uses the error only there.
                if probed.is_some() {
                    assert!(unreadable.is_some(), "{body}");
                }
            }
        }
    }
    let mut bad = br#"{"data":{"name":"x"}}"#.to_vec();
    bad[17] = 0xff;
    let raw = Raw::Http {
        status: 200,
        retry_after: None,
        body: bad,
    };
    assert!(probe_data(&raw).is_some());
    let Err((_, Some(e))) = read_page(raw) else {
        panic!("invalid UTF-8 is not readable")
    };
    assert_eq!(e.message, "monday's answer could not be read");
}
