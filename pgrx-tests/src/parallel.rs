//! End-to-end tests of the parallel pull: a board above `monday_sync.parallel_pull_threshold`
//! with several groups is walked group by group, several requests in flight at once. The table
//! it writes equals, row by row, what a one-cursor pull of the same board writes; the fake's
//! in-flight gauge proves the walks overlapped; an expired cursor restarts its group only;
//! monday's concurrency limit is waited out; an error in one walk ends the pull; cancel is prompt.

use crate::e2e::{check, eq, expect_err, expect_err_plain, pg, Env, T};
use crate::fake::world::{State, SAMPLE_BOARD, SAMPLE_SUBITEMS_BOARD};
use serde_json::json;
use std::time::{Duration, Instant};

/// Groups the big board is split into (3,000 items: 750 a group, two pages each).
const GROUPS: usize = 4;
pub const ITEMS: usize = 3000;

/// The board in `GROUPS` groups, tracked, and this session's threshold below it.
fn big_board(e: &mut Env) -> T {
    e.fake.with(|s| s.world.spread_groups(SAMPLE_BOARD, GROUPS));
    e.track()?;
    e.db.batch_execute("SET monday_sync.parallel_pull_threshold = 1000")
        .map_err(pg)
}

/// Every column of every row but `synced_at`, in item order: (rows, md5).
fn fingerprint(e: &mut Env, table: &str) -> Result<(i64, String), String> {
    let r = e
        .db
        .query_one(
            &format!(
                "SELECT count(*), md5(coalesce(string_agg((to_jsonb(t) - 'synced_at')::text, E'\\n' ORDER BY item_id), ''))
                   FROM public.{table} t"
            ),
            &[],
        )
        .map_err(pg)?;
    Ok((r.get(0), r.get(1)))
}

/// The groups of the big board's filtered first pages in the fake's log, sorted.
fn group_pages(e: &Env) -> Vec<String> {
    let mut g: Vec<String> = e
        .fake
        .log()
        .iter()
        .filter(|l| l.query.contains("query GroupPage") && l.status == 200)
        .filter_map(|l| l.variables["groups"][0].as_str().map(String::from))
        .collect();
    g.sort();
    g
}

fn all_groups() -> Vec<String> {
    let mut g: Vec<String> = ["topics", "new_group_mkxz", "group_2", "group_3"]
        .map(String::from)
        .to_vec();
    g.sort();
    g
}

pub fn parallel_pull_equals_sequential(e: &mut Env) -> T {
    big_board(e)?;
    // One cursor: the threshold above the board.
    e.db.batch_execute("SET monday_sync.parallel_pull_threshold = 1000000")
        .map_err(pg)?;
    let s = e.pull()?;
    check(
        s.get("parallel_walks").is_none(),
        &format!("a board under the threshold is walked by one cursor: {s}"),
    )?;
    let seq = fingerprint(e, "q3_launch_plan")?;
    let seq_sub = fingerprint(e, "q3_launch_plan_subitems")?;
    eq(&seq.0, &(ITEMS as i64), "rows of the sequential pull")?;
    // The same board in parallel, into empty tables.
    e.db.batch_execute(
        "TRUNCATE public.q3_launch_plan, public.q3_launch_plan_subitems;
         SET monday_sync.parallel_pull_threshold = 1000;",
    )
    .map_err(pg)?;
    e.fake.with(|s| {
        s.knobs.latency = Duration::from_millis(50);
        s.log.clear();
        s.flight.reset_peak();
    });
    let s = e.pull()?;
    eq(&s["parallel_walks"], &json!(GROUPS), "parallel walks")?;
    eq(&s["items_seen"], &json!(ITEMS), "items_seen")?;
    eq(&s["rows_written"], &json!(ITEMS), "rows_written")?;
    check(
        s["subitems"].get("parallel_walks").is_none(),
        &format!("the subitems board (one group) is walked by one cursor: {s}"),
    )?;
    eq(
        &fingerprint(e, "q3_launch_plan")?,
        &seq,
        "the parallel pull's table equals the sequential pull's, row by row",
    )?;
    eq(
        &fingerprint(e, "q3_launch_plan_subitems")?,
        &seq_sub,
        "subitems table",
    )?;
    e.check_table("q3_launch_plan", SAMPLE_BOARD)?;
    e.check_table("q3_launch_plan_subitems", SAMPLE_SUBITEMS_BOARD)?;
    // The walks: each group's filtered first page once, no unfiltered walk of the big board,
    // requests in flight at once.
    eq(&group_pages(e), &all_groups(), "filtered first pages")?;
    let log = e.fake.log();
    check(
        !log.iter().any(|l| {
            l.query.contains("query BoardPage")
                && l.variables["board"] == json!(SAMPLE_BOARD.to_string())
        }),
        "no unfiltered walk of the big board",
    )?;
    let peak = e.fake.with(|s| s.flight.peak());
    check(
        peak >= 2,
        &format!("the walks' requests overlapped: peak {peak} in flight"),
    )?;
    let stats = fake_stats(e)?;
    eq(
        &stats["peak_in_flight"],
        &json!(peak),
        "/_fake/stats peak_in_flight",
    )?;
    eq(
        &stats["group_pages"],
        &json!(GROUPS),
        "/_fake/stats group_pages",
    )?;
    // Calls: the metadata, two pages a group (750 items), the subitems board's 4 pages.
    eq(&log.len(), &(1 + 2 * GROUPS + 4), "API calls")?;
    eq(
        &s["api_calls"],
        &json!(log.len()),
        "api_calls in the summary",
    )?;
    // Every call accounted with its complexity.
    eq(
        &e.i64(&format!(
            "SELECT count(*) FROM monday_sync.api_calls WHERE complexity_cost > 0
              AND runid = {}",
            s["runid"]
        ))?,
        &(log.len() as i64),
        "api_calls rows with complexity",
    )?;
    // Changes on monday, then the parallel pull again: only they are written; an item archived
    // (not in any walk) is caught by the reconciliation.
    let ids: Vec<i64> = e.fake.with(|s| s.world.active_items(SAMPLE_BOARD));
    e.fake.with(|s| {
        s.world.move_to_group(ids[10], "group_3");
        s.world
            .rename(ids[2000], "Renamed before the parallel pull");
        s.world.set_state(ids[2999], State::Archived);
    });
    let s = e.pull()?;
    eq(
        &s["rows_written"],
        &json!(3),
        "rows written by the second parallel pull",
    )?;
    eq(&s["items_seen"], &json!(ITEMS - 1), "items seen")?;
    e.check_table("q3_launch_plan", SAMPLE_BOARD)
}

/// The first item of `group_3` in board order moves to `topics` just before `group_3`'s walk
/// starts: `topics` was walked (or is being walked) from its snapshot, `group_3`'s snapshot no
/// longer has it. Neither walk sees it; the reconciliation must (as after one cursor, it asks
/// monday about the table's active rows that no walk saw: an item new to the table and moved
/// during the walk waits for the next refresh either way).
fn move_into_walked_group(w: &mut crate::fake::World) {
    let id = first_of_group_3(w);
    w.move_to_group(id, "topics");
}

fn first_of_group_3(w: &crate::fake::World) -> i64 {
    w.active_items(SAMPLE_BOARD)
        .into_iter()
        .find(|i| w.items[i].group_id == "group_3")
        .expect("group_3 has items")
}

pub fn item_moved_during_the_walk_is_reconciled(e: &mut Env) -> T {
    big_board(e)?;
    // The table holds the board (the reconciliation asks about rows it has that no walk saw).
    e.pull()?;
    // Two walks at once: group_3 starts after topics has its snapshot.
    e.db.batch_execute("SET monday_sync.parallel_pull_walks = 2")
        .map_err(pg)?;
    let moved = e.fake.with(|s| {
        s.knobs.before_group_page = Some(("group_3".into(), move_into_walked_group));
        s.log.clear();
        first_of_group_3(&s.world)
    });
    let s = e.pull()?;
    check(
        e.fake.with(|s| s.knobs.before_group_page.is_none()),
        "the move happened during the walk",
    )?;
    eq(&s["parallel_walks"], &json!(2), "walks")?;
    eq(
        &s["items_seen"],
        &json!(ITEMS - 1),
        "items the walks saw: not the moved one",
    )?;
    let asked: Vec<serde_json::Value> = e
        .fake
        .log()
        .iter()
        .filter(|l| l.query.contains("query ItemsByIds"))
        .map(|l| l.variables["ids"].clone())
        .collect();
    eq(
        &asked,
        &vec![json!([moved.to_string()])],
        "the reconciliation asked monday about the moved item, and only it",
    )?;
    eq(
        &e.i64(&format!(
            "SELECT count(*) FROM public.q3_launch_plan WHERE item_id = {moved} AND group_id = 'topics' AND state = 'active'"
        ))?,
        &1,
        "the moved item's row, in its new group",
    )?;
    e.check_table("q3_launch_plan", SAMPLE_BOARD)
}

/// `/_fake/stats` over HTTP, as the benchmark reads it.
fn fake_stats(e: &Env) -> Result<serde_json::Value, String> {
    use std::io::{Read, Write};
    let mut c =
        std::net::TcpStream::connect(("127.0.0.1", e.fake.port)).map_err(|x| x.to_string())?;
    c.write_all(b"GET /_fake/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .map_err(|x| x.to_string())?;
    let mut out = String::new();
    c.read_to_string(&mut out).map_err(|x| x.to_string())?;
    let body = out.split("\r\n\r\n").nth(1).ok_or("no body")?;
    serde_json::from_str(body).map_err(|x| x.to_string())
}

pub fn parallel_walk_restarts_one_group(e: &mut Env) -> T {
    big_board(e)?;
    // The third cursor page served (of the four walks' four) expires: that group's walk starts
    // again, the others go on.
    e.fake.with(|s| {
        s.knobs.expire_cursor_after_pages = Some(2);
        s.log.clear();
    });
    let s = e.pull()?;
    eq(&s["parallel_walks"], &json!(GROUPS), "parallel walks")?;
    eq(&s["cursor_restarts"], &json!(1), "restarts")?;
    eq(&s["items_seen"], &json!(ITEMS), "items seen once each")?;
    let log = e.fake.log();
    let expired = log
        .iter()
        .filter(|l| l.error_code.as_deref() == Some("CursorExpiredError"))
        .count();
    eq(&expired, &1, "expired cursor answers")?;
    let pages = group_pages(e);
    eq(
        &pages.len(),
        &(GROUPS + 1),
        "first pages: one a group, one more for the restart",
    )?;
    let mut once = pages.clone();
    once.dedup();
    eq(&once, &all_groups(), "every group walked")?;
    e.check_table("q3_launch_plan", SAMPLE_BOARD)?;
    eq(
        &e.i64("SELECT count(*) FROM public.q3_launch_plan WHERE state <> 'active'")?,
        &0,
        "nothing marked deleted",
    )
}

pub fn parallel_pull_limits_errors_and_cancel(e: &mut Env) -> T {
    big_board(e)?;
    // monday's concurrency limit under the walks: refused requests wait retry_in_seconds and go on.
    e.fake.with(|s| {
        s.knobs.max_concurrency = Some(2);
        s.knobs.latency = Duration::from_millis(100);
        s.flight.reset_peak();
    });
    let s = e.pull()?;
    eq(
        &s["items_seen"],
        &json!(ITEMS),
        "items seen under the concurrency limit",
    )?;
    e.check_table("q3_launch_plan", SAMPLE_BOARD)?;
    let (peak, refused) = e.fake.with(|s| {
        (
            s.flight.peak(),
            s.flight.refused.load(std::sync::atomic::Ordering::SeqCst),
        )
    });
    check(
        peak == 2 && refused > 0,
        &format!("peak {peak} (limit 2), {refused} refused and waited out"),
    )?;
    // parallel_pull_walks bounds the requests in flight.
    e.db.batch_execute("SET monday_sync.parallel_pull_walks = 2")
        .map_err(pg)?;
    e.fake.with(|s| {
        s.knobs.max_concurrency = None;
        s.flight.reset_peak();
    });
    let s = e.pull()?;
    eq(&s["parallel_walks"], &json!(2), "walks at once")?;
    eq(
        &e.fake.with(|s| s.flight.peak()),
        &2,
        "peak in flight with 2 walks",
    )?;
    e.db.batch_execute("RESET monday_sync.parallel_pull_walks")
        .map_err(pg)?;
    // An error in one walk ends the pull with the usual error (the daily limit after 3 calls:
    // the metadata and two first pages).
    e.fake
        .with(|s| s.knobs.daily_limit = Some(s.calls_today + 3));
    let msg = expect_err(
        &mut e.db,
        &format!("SELECT monday_sync.pull_board({SAMPLE_BOARD})"),
        "53400",
    )?;
    check(msg.contains("DAILY_LIMIT_EXCEEDED"), &msg)?;
    e.fake.with(|s| s.knobs.daily_limit = None);
    // statement_timeout while the walks' requests are in flight: prompt.
    e.fake.with(|s| {
        s.knobs.latency = Duration::from_secs(2);
        s.flight.reset_peak();
    });
    e.db.batch_execute("SET statement_timeout = '3s'")
        .map_err(pg)?;
    let t = Instant::now();
    expect_err_plain(
        &mut e.db,
        &format!("SELECT monday_sync.pull_board({SAMPLE_BOARD})"),
        "57014",
    )?;
    let took = t.elapsed();
    e.db.batch_execute("SET statement_timeout = 0")
        .map_err(pg)?;
    check(
        took < Duration::from_millis(3600),
        &format!("statement_timeout 3s took {took:?}"),
    )?;
    let peak = e.fake.with(|s| s.flight.peak());
    check(
        peak >= GROUPS,
        &format!("the walks were in flight when the timeout struck: peak {peak}"),
    )?;
    e.fake.with(|s| s.knobs.latency = Duration::ZERO);
    std::thread::sleep(Duration::from_millis(2100));
    e.check_table("q3_launch_plan", SAMPLE_BOARD)
}
