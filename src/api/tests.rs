//! The client's rules on monday's answer shapes (FACTS.md §4.2).

use super::client::{backoff, classify, scrub, ApiErrorKind, Raw, Verdict};
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
