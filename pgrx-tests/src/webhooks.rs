//! Webhooks end to end: a real cluster with monday_sync preloaded and its webhook listener on
//! 127.0.0.1, the fake monday server delivering webhooks over real HTTP. Subscriptions, every
//! event type into the typed tables, who may post, the listener's limits, duplicates and
//! reordering, `receive_webhook`, events lost while nothing listened, and `kill -9` plus a
//! PostgreSQL restart under a steady stream of changes.

use crate::cluster::Cluster;
use crate::e2e::{check, check_table, eq};
use crate::fake::webhooks::{jwt, post, Answer};
use crate::fake::world::{
    State, World, FIRST_ITEM, FIRST_SUBITEM, SAMPLE_BOARD, SAMPLE_SUBITEMS_BOARD,
};
use crate::fake::Fake;
use postgres::{Client, NoTls};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

type T = Result<(), String>;

const TOKEN: &str = "fake-token-hooks-5d1e";
const DB: &str = "mshooks";
const PORT: u16 = 28830;
pub const LISTEN: u16 = 28831;
const SIGNING: &str = "app-signing-secret-0123456789abcdef";
const TABLE: &str = "q3_launch_plan";
const SUBTABLE: &str = "q3_launch_plan_subitems";

pub struct H {
    pub c: Cluster,
    pub fake: Fake,
    pub db: Client,
}

fn pg(e: postgres::Error) -> String {
    crate::util::pg_err(e)
}

pub fn base() -> String {
    format!("http://127.0.0.1:{LISTEN}")
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl H {
    pub fn reconnect(&mut self) -> T {
        let t = Instant::now();
        loop {
            match Client::connect(&self.c.conn_string(DB), NoTls) {
                Ok(c) => {
                    self.db = c;
                    return Ok(());
                }
                Err(e) if t.elapsed() > Duration::from_secs(60) => return Err(pg(e)),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    pub fn sql(&mut self, sql: &str) -> T {
        self.db.batch_execute(sql).map_err(pg)
    }

    pub fn i64(&mut self, sql: &str) -> Result<i64, String> {
        Ok(self.db.query_one(sql, &[]).map_err(pg)?.get::<_, i64>(0))
    }

    pub fn text(&mut self, sql: &str) -> Result<Option<String>, String> {
        Ok(self
            .db
            .query_one(sql, &[])
            .map_err(pg)?
            .get::<_, Option<String>>(0))
    }

    pub fn json(&mut self, sql: &str) -> Result<Value, String> {
        Ok(self.db.query_one(sql, &[]).map_err(pg)?.get::<_, Value>(0))
    }

    /// ALTER SYSTEM + reload; "" resets. Waits until the webhook worker saw it.
    pub fn reload(&mut self, settings: &[(&str, &str)]) -> T {
        for (k, v) in settings {
            if v.is_empty() {
                self.sql(&format!("ALTER SYSTEM RESET {k}"))?;
            } else {
                self.sql(&format!("ALTER SYSTEM SET {k} = '{v}'"))?;
            }
        }
        self.sql("SELECT pg_reload_conf()")?;
        std::thread::sleep(Duration::from_millis(1500));
        Ok(())
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.c.dir.join("server.log")).unwrap_or_default()
    }

    /// Waits for the listener's state (`listening` or anything else).
    pub fn wait_listener(&mut self, listening: bool) -> T {
        let t = Instant::now();
        loop {
            let st = self
                .text("SELECT state FROM monday_sync.webhook_listener")
                .unwrap_or_default()
                .unwrap_or_default();
            if (st == "listening") == listening {
                return Ok(());
            }
            if t.elapsed() > Duration::from_secs(30) {
                let e = self
                    .text("SELECT last_error FROM monday_sync.webhook_listener")
                    .ok()
                    .flatten();
                return Err(format!("the webhook listener is {st:?} (last error {e:?})"));
            }
            std::thread::sleep(Duration::from_millis(200));
            let _ = self.reconnect_if_dead();
        }
    }

    fn reconnect_if_dead(&mut self) -> T {
        if self.db.is_closed() || self.db.simple_query("SELECT 1").is_err() {
            self.reconnect()?;
        }
        Ok(())
    }

    /// Waits until every delivery was answered or given up, every stored event processed, every
    /// confirming fetch done and no job of the board queued or running.
    pub fn settle(&mut self, secs: u64) -> T {
        let t = Instant::now();
        if !self.fake.wait_deliveries_idle(Duration::from_secs(secs)) {
            return Err(format!(
                "deliveries still pending: {:?}",
                self.fake.delivery_stats()
            ));
        }
        loop {
            let _ = self.reconnect_if_dead();
            let left = self.i64(
                "SELECT (SELECT count(*) FROM monday_sync.webhook_events WHERE status = 'received')
                      + (SELECT count(*) FROM monday_sync._webhook_confirm)
                      + (SELECT count(*) FROM monday_sync.jobs WHERE status IN ('queued', 'running'))",
            );
            if left == Ok(0) {
                return Ok(());
            }
            if t.elapsed() > Duration::from_secs(secs) {
                let jobs = self.text(
                    "SELECT string_agg(format('%s %s %s %s', jobid, command, status, not_before), '; ') FROM monday_sync.jobs WHERE status IN ('queued','running')",
                )?;
                let runs = self.text("SELECT string_agg(format('%s %s %s', kind, status, message), E'\\n' ORDER BY runid DESC) FROM (SELECT * FROM monday_sync.sync_runs ORDER BY runid DESC LIMIT 5) r")?;
                return Err(format!(
                    "not settled after {secs} s: {left:?} left; jobs {jobs:?}; runs {runs:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Both typed tables hold what the fake's boards hold, and exactly what a full pull writes
    /// (every column, `raw` included).
    pub fn tables_match(&mut self) -> T {
        check_table(&mut self.db, &self.fake, TABLE, SAMPLE_BOARD)?;
        check_table(&mut self.db, &self.fake, SUBTABLE, SAMPLE_SUBITEMS_BOARD)?;
        let snap = "SELECT coalesce(md5(string_agg((to_jsonb(t) - 'synced_at')::text, ',' ORDER BY item_id)), '') FROM public.";
        let before = (
            self.text(&format!("{snap}{TABLE} t"))?,
            self.text(&format!("{snap}{SUBTABLE} t"))?,
        );
        self.sql(
            "CREATE TEMP TABLE IF NOT EXISTS snap_a (item_id bigint, j jsonb); TRUNCATE snap_a",
        )?;
        self.sql(&format!(
            "INSERT INTO snap_a SELECT item_id, to_jsonb(t) - 'synced_at' FROM public.{TABLE} t
             UNION ALL SELECT item_id, to_jsonb(t) - 'synced_at' FROM public.{SUBTABLE} t"
        ))?;
        self.db
            .query_one("SELECT monday_sync.pull_board($1)", &[&SAMPLE_BOARD])
            .map_err(pg)?;
        let after = (
            self.text(&format!("{snap}{TABLE} t"))?,
            self.text(&format!("{snap}{SUBTABLE} t"))?,
        );
        if before != after {
            let diff = self.text(&format!(
                "SELECT string_agg(CASE WHEN jsonb_typeof(e.value) = 'object' AND jsonb_typeof(b.j -> e.key) = 'object'
                     THEN format('item %s %s: %s -> %s', a.item_id, e.key,
                       (SELECT string_agg(format('%s=%s', x.key, left(x.value::text, 120)), ' ') FROM jsonb_each(e.value) x WHERE (b.j -> e.key -> x.key) IS DISTINCT FROM x.value),
                       (SELECT string_agg(format('%s=%s', x.key, left(x.value::text, 120)), ' ') FROM jsonb_each(b.j -> e.key) x WHERE (e.value -> x.key) IS DISTINCT FROM x.value))
                     ELSE format('item %s %s: %s -> %s', a.item_id, e.key, left(e.value::text, 80), left((b.j -> e.key)::text, 80)) END, E'\\n')
                   FROM snap_a a
                   JOIN (SELECT item_id, to_jsonb(t) - 'synced_at' j FROM public.{TABLE} t
                         UNION ALL SELECT item_id, to_jsonb(t) - 'synced_at' FROM public.{SUBTABLE} t) b USING (item_id),
                        jsonb_each(a.j) e
                  WHERE b.j -> e.key IS DISTINCT FROM e.value"
            ))?;
            return Err(format!(
                "the tables differ from what a pull writes:\n{}",
                diff.unwrap_or_default()
            ));
        }
        Ok(())
    }

    fn secret_path(&mut self) -> Result<String, String> {
        self.text(&format!(
            "SELECT secret FROM monday_sync._webhook_secrets WHERE board_id = {SAMPLE_BOARD}"
        ))?
        .map(|s| format!("/webhook/{s}"))
        .ok_or_else(|| "no secret path recorded".to_string())
    }

    fn failed_events(&mut self) -> Result<Option<String>, String> {
        self.text("SELECT string_agg(format('%s %s: %s', event_id, event_type, error), E'\\n') FROM monday_sync.webhook_events WHERE status = 'failed'")
    }
}

/// One raw HTTP exchange with the listener; the status (0 when the connection closed without
/// an answer) and the body.
pub fn raw(bytes: &[u8], timeout: Duration) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(("127.0.0.1", LISTEN)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.write_all(bytes).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    Ok((status, body))
}

pub fn send(path: &str, auth: Option<&str>, body: &Value) -> Result<Answer, String> {
    let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
    if let Some(a) = auth {
        headers.push(("Authorization".into(), a.into()));
    }
    post(
        &format!("{}{path}", base()),
        &headers,
        body.to_string().as_bytes(),
        Duration::from_secs(10),
    )
}

/// An `update_name` event like monday's (FACTS.md §5.3) for an item of the sample board.
pub fn name_event(item: i64, name: &str, uuid: &str) -> Value {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    json!({"event": {
        "app": "monday", "type": "update_name",
        "triggerTime": "2026-11-30T12:00:00.000Z",
        "subscriptionId": 1, "isRetry": false, "userId": 44865791,
        "originalTriggerUuid": null, "boardId": SAMPLE_BOARD, "groupId": "topics",
        "pulseId": item, "pulseName": name,
        "value": {"name": name}, "previousValue": {"name": "before"},
        "changedAt": t.as_secs_f64(), "isTopGroup": true,
        "triggerUuid": uuid
    }})
}

fn item_name(h: &mut H, item: i64) -> Result<Option<String>, String> {
    h.text(&format!(
        "SELECT name FROM public.{TABLE} WHERE item_id = {item}"
    ))
}

fn wait_for(
    h: &mut H,
    what: &str,
    secs: f64,
    mut f: impl FnMut(&mut H) -> Result<bool, String>,
) -> Result<Duration, String> {
    let t = Instant::now();
    loop {
        if f(h)? {
            return Ok(t.elapsed());
        }
        if t.elapsed().as_secs_f64() > secs {
            return Err(format!("{what}: not within {secs} s"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------- tests

/// The listener comes up with the worker, answers /health, and subscribe_board creates every
/// webhook once (a second call creates nothing).
fn subscribe_is_idempotent(h: &mut H) -> T {
    h.wait_listener(true)?;
    let (status, body) = raw(
        b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )?;
    eq(&status, &200, &format!("GET /health ({body})"))?;
    let r = h.json(&format!(
        "SELECT monday_sync.subscribe_board({SAMPLE_BOARD})"
    ))?;
    eq(
        &r["created"].as_array().map(Vec::len),
        &Some(14),
        &format!("first subscribe_board: {r}"),
    )?;
    check(
        !r.to_string().contains(&h.secret_path()?[9..]),
        "subscribe_board shows the secret path",
    )?;
    let on_fake = h.fake.with(|s| {
        s.world
            .webhooks
            .values()
            .filter(|w| w.board_id == SAMPLE_BOARD)
            .map(|w| w.url.clone())
            .collect::<Vec<_>>()
    });
    eq(&on_fake.len(), &14, "webhooks on the fake")?;
    let path = h.secret_path()?;
    check(
        on_fake.iter().all(|u| *u == format!("{}{path}", base())),
        &format!("webhook URLs {on_fake:?}"),
    )?;
    check(path.len() >= 9 + 64, "a 256-bit secret path")?;
    let r = h.json(&format!(
        "SELECT monday_sync.subscribe_board({SAMPLE_BOARD})"
    ))?;
    eq(
        &r["created"].as_array().map(Vec::len),
        &Some(0),
        &format!("second subscribe_board: {r}"),
    )?;
    eq(&r["existing"].as_i64(), &Some(14), "existing subscriptions")?;
    // One deleted on monday: the next call creates exactly that one again.
    let gone = h.fake.with(|s| {
        let id = *s.world.webhooks.keys().next().unwrap();
        s.world.remove_webhook(id).unwrap().event
    });
    let r = h.json(&format!(
        "SELECT monday_sync.subscribe_board({SAMPLE_BOARD})"
    ))?;
    eq(
        &r["created"][0]["event"].as_str(),
        &Some(gone.as_str()),
        &format!("re-created: {r}"),
    )?;
    eq(
        &h.i64("SELECT count(*) FROM monday_sync.webhooks")?,
        &14,
        "monday_sync.webhooks rows",
    )?;
    eq(
        &h.text(&format!(
            "SELECT sync_mode FROM monday_sync.board_status WHERE board_id = {SAMPLE_BOARD}"
        ))?,
        &Some("live".into()),
        "board_status.sync_mode",
    )?;
    // A subitems board is subscribed through its parent.
    let e =
        h.db.query_one(
            "SELECT monday_sync.subscribe_board($1)",
            &[&SAMPLE_SUBITEMS_BOARD],
        )
        .err()
        .map(pg)
        .unwrap_or_default();
    check(
        e.contains("subitems board") && e.contains("HINT"),
        &format!("subscribe a subitems board: {e}"),
    )?;
    h.settle(60)?;
    Ok(())
}

/// Every event type of FACTS.md §5.3 on items and subitems reaches the right row; a change is in
/// the row well before its confirming fetch; the final tables are what a pull writes.
fn every_event_type_lands(h: &mut H) -> T {
    // A long settle window first: what is in the rows then came from the payloads alone.
    h.reload(&[("monday_sync.webhook_settle", "60s")])?;
    h.fake.clear_log();
    let item = FIRST_ITEM + 3; // k = 3: has two subitems
    let other = FIRST_ITEM + 4;
    h.fake.with(|s| {
        let w = &mut s.world;
        w.set_cell(item, "numeric_mkx1", Some(json!("4321.5")), Some("4321.5"));
        w.set_cell(item, "text0", Some(json!("changed by a webhook")), Some("changed by a webhook"));
        w.set_cell(item, "status", Some(json!({"index": 1, "post_id": null, "changed_at": "2026-11-30T10:00:00.000Z"})), Some("Done"));
        w.set_cell(item, "date4", Some(json!({"date": "2026-12-24", "changed_at": "2026-11-30T10:00:00.000Z"})), Some("2026-12-24"));
        w.set_cell(item, "timeline_mkx2", Some(json!({"from": "2026-12-01", "to": "2026-12-09", "changed_at": "2026-11-30T10:00:00.000Z"})), Some("2026-12-01 - 2026-12-09"));
        w.set_cell(item, "person", Some(json!({"personsAndTeams": [{"id": 44865792, "kind": "person"}], "changed_at": "2026-11-30T10:00:00.000Z"})), Some("Noa"));
        w.set_cell(item, "dropdown_mkx3", Some(json!({"ids": [2]})), Some("Frontend"));
        w.set_cell(item, "long_text_mkx4", Some(json!({"text": "line one\nline two", "changed_at": "2026-11-30T10:00:00.000Z"})), Some("line one\nline two"));
        w.set_cell(item, "email_mkx5", Some(json!({"email": "noa@example.com", "text": "Noa", "changed_at": "2026-11-30T10:00:00.000Z"})), Some("Noa - noa@example.com"));
        w.set_cell(item, "phone_mkx6", Some(json!({"phone": "442071838750", "countryShortName": "GB", "changed_at": "2026-11-30T10:00:00.000Z"})), Some("442071838750"));
        w.set_cell(item, "link_mkx7", Some(json!({"url": "https://example.com/x", "text": "X", "changed_at": "2026-11-30T10:00:00.000Z"})), Some("X - https://example.com/x"));
        w.set_cell(item, "boolean_mkx9", Some(json!({"checked": false, "changed_at": "2026-11-30T10:00:00.000Z"})), Some(""));
        w.set_cell(item, "rating_mkxa", Some(json!({"rating": 2, "changed_at": "2026-11-30T10:00:00.000Z"})), Some("2"));
        w.set_cell(item, "tags_mkxb", Some(json!({"tag_ids": [295064]})), Some("q3"));
        w.set_cell(item, "country_mkxc", Some(json!({"countryCode": "FR", "countryName": "France"})), Some("France"));
        w.set_cell(item, "hour_mkxe", Some(json!({"hour": 17, "minute": 5, "changed_at": "2026-11-30T10:00:00.000Z"})), Some("17:05"));
        w.set_cell(item, "week_mkxf", Some(json!({"week": {"startDate": "2026-12-07", "endDate": "2026-12-13"}})), Some("Dec 07 - 13"));
        w.set_cell(item, "location_mkx8", Some(json!({"lat": "48.8566", "lng": "2.3522", "address": "Paris, France", "changed_at": "2026-11-30T10:00:00.000Z"})), Some("Paris, France"));
        w.set_cell(other, "text0", None, None);
        w.rename(item, "Renamed by a webhook");
        w.move_to_group(item, "new_group_mkxz");
        w.set_state(FIRST_ITEM + 5, State::Archived);
        w.set_state(FIRST_ITEM + 7, State::Deleted);
        w.set_state(FIRST_ITEM + 8, State::Archived);
        w.add_item(SAMPLE_BOARD, FIRST_ITEM, 9_100_000_001, "Created on monday");
    });
    // Restored a moment after its archive (events of one millisecond have no order).
    std::thread::sleep(Duration::from_millis(20));
    h.fake
        .with(|s| s.world.set_state(FIRST_ITEM + 8, State::Active));
    // Subitems: those of item k=3 are FIRST_SUBITEM+2, +3.
    let (s1, s2) = (FIRST_SUBITEM + 2, FIRST_SUBITEM + 3);
    h.fake.with(|s| {
        let w = &mut s.world;
        w.rename(s1, "Subitem renamed");
        w.set_cell(s1, "numbers5", Some(json!("7.5")), Some("7.5"));
        w.set_cell(
            s1,
            "status",
            Some(json!({"index": 1, "changed_at": "2026-11-30T10:00:00.000Z"})),
            Some("Done"),
        );
        w.set_state(s2, State::Archived);
        w.add_subitem(item, 9_200_000_001, "A new subitem");
        w.move_subitem(s1, FIRST_ITEM);
    });
    // What the payloads state is in the rows within a second, without a fetch.
    let lag = wait_for(h, "the rename in the row", 5.0, |h| {
        Ok(item_name(h, item)?.as_deref() == Some("Renamed by a webhook"))
    })?;
    check(
        lag < Duration::from_secs(2),
        &format!("a rename took {lag:?}"),
    )?;
    wait_for(h, "every delivery answered", 30.0, |h| {
        Ok(h.fake.wait_deliveries_idle(Duration::from_millis(10)))
    })?;
    wait_for(h, "every event processed", 30.0, |h| {
        Ok(
            h.i64("SELECT count(*) FROM monday_sync.webhook_events WHERE status = 'received'")?
                == 0,
        )
    })?;
    if let Some(f) = h.failed_events()? {
        return Err(format!("failed events:\n{f}"));
    }
    let items_calls = h
        .fake
        .log()
        .iter()
        .filter(|l| l.query.contains("items("))
        .count();
    eq(
        &items_calls,
        &0,
        "items fetched before the settle window passed",
    )?;
    // The payload-applied rows equal a pull's, apart from what only a fetch knows (the cells of
    // an item created in monday's UI: its create_pulse carries `columnValues: {}`).
    h.sql(&format!(
        "CREATE TEMP TABLE snap_p AS SELECT item_id, to_jsonb(t) - ARRAY['synced_at','raw','updated_at','last_updated','subitems'] j FROM public.{TABLE} t
          WHERE item_id <> 9100000001
         UNION ALL SELECT item_id, to_jsonb(t) - ARRAY['synced_at','raw','updated_at'] FROM public.{SUBTABLE} t
          WHERE item_id <> 9200000001"
    ))?;
    let provisional = h.text(&format!(
        "SELECT name FROM public.{TABLE} WHERE item_id = 9100000001"
    ))?;
    eq(
        &provisional,
        &Some("Created on monday".to_string()),
        "the created item's provisional row",
    )?;
    let types = h.text(
        "SELECT string_agg(DISTINCT event_type, ',' ORDER BY event_type) FROM monday_sync.webhook_events",
    )?;
    let types = types.unwrap_or_default();
    for t in [
        "update_column_value",
        "update_name",
        "create_pulse",
        "move_subitem",
    ] {
        check(
            types.contains(t),
            &format!("no {t} event in the inbox: {types}"),
        )?;
    }
    // Now the confirming fetches: one batched items(ids:) per board's queue.
    h.reload(&[("monday_sync.webhook_settle", "200ms")])?;
    h.sql("UPDATE monday_sync._webhook_confirm SET due = now()")?;
    h.sql(&format!(
        "INSERT INTO monday_sync.jobs (board_id, command, requested_by) VALUES ({SAMPLE_BOARD}, 'confirm', 'test')
         ON CONFLICT (board_id, command) WHERE status = 'queued' DO UPDATE SET not_before = now()"
    ))?;
    h.settle(60)?;
    let fetches: Vec<String> = h
        .fake
        .log()
        .iter()
        .filter(|l| l.query.contains("items("))
        .map(|l| l.query.clone())
        .collect();
    check(
        !fetches.is_empty() && fetches.len() <= 3,
        &format!("{} items(ids:) fetches for the confirm", fetches.len()),
    )?;
    let diff = h.text(&format!(
        "SELECT string_agg(format('item %s %s: %s (pull: %s)', a.item_id, e.key, left(e.value::text, 60), left((b.j -> e.key)::text, 60)), E'\\n')
           FROM snap_p a
           JOIN (SELECT item_id, to_jsonb(t) j FROM public.{TABLE} t UNION ALL SELECT item_id, to_jsonb(t) FROM public.{SUBTABLE} t) b USING (item_id),
                jsonb_each(a.j) e
          WHERE b.j -> e.key IS DISTINCT FROM e.value"
    ))?;
    if let Some(d) = diff {
        return Err(format!(
            "payload-applied values differ from the fetched ones:\n{d}"
        ));
    }
    eq(
        &h.i64(&format!(
            "SELECT parent_item_id FROM public.{SUBTABLE} WHERE item_id = {s1}"
        ))?,
        &FIRST_ITEM,
        "the moved subitem's parent",
    )?;
    h.sql("DROP TABLE snap_p")?;
    h.tables_match()
}

/// A new column on monday: its event refreshes the board, which adds the column to the table.
fn a_new_column_is_added(h: &mut H) -> T {
    h.fake.with(|s| {
        s.world
            .add_column(SAMPLE_BOARD, "text_new1", "Owner note", "text")
    });
    wait_for(h, "the new column in the table", 30.0, |h| {
        Ok(h.i64(&format!(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.{TABLE}'::regclass AND attname = 'owner_note' AND NOT attisdropped"
        ))? == 1)
    })?;
    h.fake.with(|s| {
        s.world
            .set_cell(FIRST_ITEM, "text_new1", Some(json!("mine")), Some("mine"))
    });
    wait_for(h, "the new column's value", 10.0, |h| {
        Ok(h.text(&format!(
            "SELECT owner_note FROM public.{TABLE} WHERE item_id = {FIRST_ITEM}"
        ))?
        .as_deref()
            == Some("mine"))
    })?;
    h.settle(60)?;
    h.tables_match()
}

/// The challenge is echoed; the secret path, a JWT (valid, bad signature, expired, wrong
/// audience) decide who may post; refused events are not stored.
fn who_may_post(h: &mut H) -> T {
    let path = h.secret_path()?;
    let a = send("/webhook", None, &json!({"challenge": "abc-123"}))?;
    eq(&a.status, &200, "challenge")?;
    let v: Value = serde_json::from_slice(&a.body).map_err(|e| e.to_string())?;
    eq(&v, &json!({"challenge": "abc-123"}), "the challenge answer")?;
    let before = h.i64("SELECT count(*) FROM monday_sync.webhook_events")?;
    let item = FIRST_ITEM + 10;
    // Secret path: right, wrong, none.
    let a = send(
        &path,
        None,
        &name_event(item, "via the secret path", "u-secret-ok"),
    )?;
    eq(
        &a.status,
        &200,
        &format!("secret path: {}", String::from_utf8_lossy(&a.body)),
    )?;
    let wrong = format!("/webhook/{}", "0".repeat(64));
    eq(
        &send(&wrong, None, &name_event(item, "x", "u-wrong"))?.status,
        &401,
        "a wrong secret path",
    )?;
    eq(
        &send("/webhook", None, &name_event(item, "x", "u-none"))?.status,
        &401,
        "no secret, no JWT",
    )?;
    // JWT: no signing secret yet → refused; then set.
    let aud = format!("{}/webhook", base());
    let good = jwt(SIGNING, &aud, now_s());
    eq(
        &send(
            "/webhook",
            Some(&good),
            &name_event(item, "x", "u-nosecret"),
        )?
        .status,
        &401,
        "a JWT before set_signing_secret",
    )?;
    h.db.execute("SELECT monday_sync.set_signing_secret($1)", &[&SIGNING])
        .map_err(pg)?;
    std::thread::sleep(Duration::from_millis(500));
    let a = send(
        "/webhook",
        Some(&good),
        &name_event(item, "via a JWT", "u-jwt-ok"),
    )?;
    eq(
        &a.status,
        &200,
        &format!("a valid JWT: {}", String::from_utf8_lossy(&a.body)),
    )?;
    let bad_sig = jwt("another-secret-0123456789abcdef", &aud, now_s());
    eq(
        &send(
            "/webhook",
            Some(&bad_sig),
            &name_event(item, "x", "u-badsig"),
        )?
        .status,
        &401,
        "a JWT with a bad signature",
    )?;
    let expired = jwt(SIGNING, &aud, now_s() - 3600);
    eq(
        &send(
            "/webhook",
            Some(&expired),
            &name_event(item, "x", "u-expired"),
        )?
        .status,
        &401,
        "an expired JWT",
    )?;
    let other_aud = jwt(SIGNING, "https://evil.example.com/webhook", now_s());
    eq(
        &send(
            "/webhook",
            Some(&other_aud),
            &name_event(item, "x", "u-aud"),
        )?
        .status,
        &401,
        "a JWT for another URL",
    )?;
    eq(
        &send(
            "/webhook",
            Some("Bearer garbage"),
            &name_event(item, "x", "u-garbage"),
        )?
        .status,
        &401,
        "a malformed JWT",
    )?;
    // The secret path of this board does not let events of another board in.
    let mut foreign = name_event(item, "x", "u-foreign");
    foreign["event"]["boardId"] = json!(777);
    eq(
        &send(&path, None, &foreign)?.status,
        &401,
        "another board's event on this board's path",
    )?;
    // Nor one without boardId whose parent board is another (move_subitem names no boardId).
    let mut foreign = name_event(item, "x", "u-foreign-parent");
    foreign["event"]
        .as_object_mut()
        .map(|o| o.remove("boardId"));
    foreign["event"]["parentItemBoardId"] = json!("777");
    eq(
        &send(&path, None, &foreign)?.status,
        &401,
        "an event without boardId whose parent board is another",
    )?;
    let after = h.i64("SELECT count(*) FROM monday_sync.webhook_events")?;
    eq(
        &(after - before),
        &2,
        "events stored (only the two authorized)",
    )?;
    // Applied (not the name: the confirming fetch then writes the fake's name back, since the
    // fake never saw this synthetic event).
    wait_for(h, "the JWT-signed rename applied", 5.0, |h| {
        Ok(h.i64("SELECT count(*) FROM monday_sync.webhook_events WHERE trigger_uuid = 'u-jwt-ok' AND status = 'applied'")? == 1)
    })?;
    // The view shows the listener's counters as the worker last published them (twice a second).
    let mut c = Value::Null;
    let counted = wait_for(h, "the refusals counted", 5.0, |h| {
        c = h.json("SELECT counters FROM monday_sync.webhook_listener")?;
        Ok(c["unauthorized"].as_i64().unwrap_or(0) >= 7)
    });
    counted.map_err(|e| format!("{e}: listener counters {c}"))?;
    let log = h.server_log();
    check(
        !log.contains(SIGNING),
        "the signing secret is in the server log",
    )?;
    check(
        !log.contains(&path[9..]),
        "a secret path is in the server log",
    )?;
    // Put the name back as monday has it.
    h.fake.with(|s| s.world.rename(item, "restored name"));
    h.settle(60)?;
    h.tables_match()
}

/// Every limit answers its status and stores nothing: 413, 400, 404, 405, a slow header, a
/// slow body, the connection cap.
fn limits_answer_clearly(h: &mut H) -> T {
    h.reload(&[
        ("monday_sync.webhook_max_body", "64kB"),
        ("monday_sync.webhook_header_timeout", "1s"),
        ("monday_sync.webhook_body_timeout", "1s"),
        ("monday_sync.webhook_max_connections", "4"),
    ])?;
    let r = limits_at_their_tightest(h);
    // The next tests need the defaults back, whatever happened here.
    h.reload(&[
        ("monday_sync.webhook_max_body", ""),
        ("monday_sync.webhook_header_timeout", ""),
        ("monday_sync.webhook_body_timeout", ""),
        ("monday_sync.webhook_max_connections", ""),
    ])?;
    h.wait_listener(true)?;
    r
}

fn limits_at_their_tightest(h: &mut H) -> T {
    let path = h.secret_path()?;
    h.wait_listener(true)?;
    let before = h.i64("SELECT count(*) FROM monday_sync.webhook_events")?;
    let mut big = name_event(FIRST_ITEM, "big", "u-big");
    big["event"]["pad"] = json!("x".repeat(70 * 1024));
    eq(
        &send(&path, None, &big)?.status,
        &413,
        "a body over webhook_max_body",
    )?;
    let chunk = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{}\r\n0\r\n\r\n",
        70 * 1024,
        "y".repeat(70 * 1024)
    );
    eq(
        &raw(chunk.as_bytes(), Duration::from_secs(5))?.0,
        &413,
        "a chunked body over the limit",
    )?;
    let a = post(
        &format!("{}{path}", base()),
        &[],
        b"{\"event\": {",
        Duration::from_secs(5),
    )?;
    eq(&a.status, &400, "malformed JSON")?;
    eq(
        &send("/nowhere", None, &name_event(FIRST_ITEM, "x", "u-404"))?.status,
        &404,
        "an unknown path",
    )?;
    let (st, _) = raw(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        Duration::from_secs(5),
    )?;
    eq(&st, &405, "GET on a webhook path")?;
    // A client that sends half a header is cut off after the header timeout.
    let t = Instant::now();
    let (st, _) = raw(
        b"POST /webhook HTTP/1.1\r\nHost: x\r\n",
        Duration::from_secs(10),
    )?;
    check(
        st == 408 || st == 0,
        &format!("a slow header answered {st}"),
    )?;
    check(
        t.elapsed() < Duration::from_secs(5),
        &format!("a slow header held the connection {:?}", t.elapsed()),
    )?;
    // A body that never comes: 408 after the body timeout.
    let t = Instant::now();
    let (st, _) = raw(
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{"
        )
        .as_bytes(),
        Duration::from_secs(10),
    )?;
    eq(&st, &408, "a slow body")?;
    check(
        t.elapsed() < Duration::from_secs(5),
        &format!("a slow body held the connection {:?}", t.elapsed()),
    )?;
    // The connection cap: 4 idle connections held, the fifth is refused with 503.
    let held: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(("127.0.0.1", LISTEN)).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    std::thread::sleep(Duration::from_millis(200));
    let (st, _) = raw(
        b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )?;
    eq(&st, &503, "a connection over webhook_max_connections")?;
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    let (st, _) = raw(
        b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )?;
    eq(&st, &200, "after the held connections closed")?;
    eq(
        &h.i64("SELECT count(*) FROM monday_sync.webhook_events")?,
        &before,
        "events stored by refused requests",
    )?;
    // Published by the worker twice a second.
    let keys = [
        "too_large",
        "malformed",
        "not_found",
        "slow",
        "refused_connections",
    ];
    let mut c = Value::Null;
    let counted = wait_for(h, "every refusal counted", 5.0, |h| {
        c = h.json("SELECT counters FROM monday_sync.webhook_listener")?;
        Ok(keys.iter().all(|k| c[k].as_i64().unwrap_or(0) >= 1))
    });
    counted
        .map(|_| ())
        .map_err(|e| format!("{e}: counters {c}"))
}

/// Random changes delivered late, twice, out of order and with new ids on retries: each change
/// is stored once, an older event never overwrites a newer one, and the tables converge.
fn duplicates_and_reordering(h: &mut H) -> T {
    h.fake.with(|s| {
        let k = &mut s.knobs.webhooks;
        k.jitter = Duration::from_millis(400);
        k.duplicate = 0.3;
        k.new_uuid_on_retry = true;
        k.seed = 7;
    });
    let r = duplicated_and_reordered(h);
    // The next tests need plain deliveries, whatever happened here.
    h.fake.with(|s| {
        let k = &mut s.knobs.webhooks;
        k.jitter = Duration::ZERO;
        k.duplicate = 0.0;
        k.new_uuid_on_retry = false;
    });
    r?;
    h.settle(60)?;
    h.tables_match()
}

fn duplicated_and_reordered(h: &mut H) -> T {
    let before = h.i64("SELECT count(*) FROM monday_sync.webhook_events")?;
    let mut rng = 12345u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut changes = 0;
    for round in 0..40 {
        let items: Vec<i64> = (0..5).map(|_| FIRST_ITEM + (next() % 60) as i64).collect();
        h.fake.with(|s| {
            for (j, it) in items.iter().enumerate() {
                let v = format!("{}.{:02}", round * 10 + j, round % 100);
                match j % 3 {
                    0 => s
                        .world
                        .set_cell(*it, "numeric_mkx1", Some(json!(v)), Some(&v)),
                    1 => s.world.set_cell(
                        *it,
                        "text0",
                        Some(json!(format!("r{round}"))),
                        Some(&format!("r{round}")),
                    ),
                    _ => s.world.rename(*it, &format!("item {it} round {round}")),
                }
            }
        });
        changes += items.len() as i64;
        std::thread::sleep(Duration::from_millis(25));
    }
    h.settle(90)?;
    let d = h.fake.deliveries();
    let dups = d.iter().filter(|x| x.duplicate_of.is_some()).count();
    check(dups > 10, &format!("only {dups} duplicate deliveries"))?;
    let stored = h.i64("SELECT count(*) FROM monday_sync.webhook_events")? - before;
    eq(
        &stored,
        &changes,
        "events stored once each (duplicates counted, not stored)",
    )?;
    let counted =
        h.i64("SELECT coalesce(sum(deliveries - 1), 0)::bigint FROM monday_sync.webhook_events")?;
    check(
        counted >= dups as i64,
        &format!("deliveries counted {counted}, duplicates sent {dups}"),
    )?;
    if let Some(f) = h.failed_events()? {
        return Err(format!("failed events:\n{f}"));
    }
    Ok(())
}

/// A session holds the typed table locked: the listener still answers at once, the event waits
/// (not failed) and is applied when the lock goes.
fn a_locked_table_defers(h: &mut H) -> T {
    let path = h.secret_path()?;
    let item = FIRST_ITEM + 12;
    let mut locker = Client::connect(&h.c.conn_string(DB), NoTls).map_err(pg)?;
    let mut tx = locker.transaction().map_err(pg)?;
    tx.batch_execute(&format!("LOCK TABLE public.{TABLE} IN EXCLUSIVE MODE"))
        .map_err(pg)?;
    let t = Instant::now();
    let a = send(&path, None, &name_event(item, "while locked", "u-locked-1"))?;
    eq(&a.status, &200, "an event for a locked table")?;
    let answered = t.elapsed();
    // The worker has tried to apply it by now; the next event is still answered at once (its
    // commit is not stuck behind an apply waiting for the lock).
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    let a = send(
        &path,
        None,
        &name_event(item + 1, "also while locked", "u-locked-2"),
    )?;
    eq(&a.status, &200, "a second event for the locked table")?;
    let health = t.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let st =
        h.text("SELECT status FROM monday_sync.webhook_events WHERE trigger_uuid = 'u-locked-1'")?;
    eq(
        &st.as_deref(),
        &Some("received"),
        "the event while the table is locked",
    )?;
    tx.rollback().map_err(pg)?;
    // Applied once the lock went (not failed). Their names are not checked: the fake's items
    // were never renamed, so the confirming fetch that follows writes monday's names back.
    let applied = wait_for(h, "the events applied after the lock went", 15.0, |h| {
        Ok(h.i64(
            "SELECT count(*) FROM monday_sync.webhook_events
              WHERE trigger_uuid LIKE 'u-locked-%' AND status = 'applied' AND error IS NULL",
        )? == 2)
    });
    if let Err(e) = applied {
        let why = h.text(
            "SELECT concat_ws(E'\n',
                (SELECT string_agg(format('event %s %s %s', trigger_uuid, status, error), '; ') FROM monday_sync.webhook_events WHERE trigger_uuid LIKE 'u-locked-%'),
                (SELECT string_agg(format('job %s %s %s', jobid, command, status), '; ') FROM monday_sync.jobs WHERE status IN ('queued', 'running')),
                (SELECT string_agg(format('lock %s %s pid %s granted %s', locktype, mode, pid, granted), '; ') FROM pg_locks WHERE locktype = 'advisory' OR NOT granted),
                (SELECT string_agg(format('%s %s %s', backend_type, wait_event_type, wait_event), '; ') FROM pg_stat_activity WHERE backend_type LIKE 'monday_sync%'))",
        )?;
        return Err(format!("{e}\n{}", why.unwrap_or_default()));
    }
    check(
        answered < Duration::from_millis(1000) && health < Duration::from_millis(1000),
        &format!("answers took {answered:?} and {health:?} while the table was locked"),
    )?;
    h.fake.with(|s| {
        s.world.rename(item, "after the lock");
        s.world.rename(item + 1, "after the lock too");
    });
    h.settle(60)?;
    h.tables_match()
}

/// receive_webhook: the same checks and inbox from SQL, for a front door of one's own.
fn receive_webhook_from_sql(h: &mut H) -> T {
    let path = h.secret_path()?;
    let item = FIRST_ITEM + 11;
    let body = name_event(item, "through receive_webhook", "u-sql-1").to_string();
    let r: Value =
        h.db.query_one(
            "SELECT monday_sync.receive_webhook($1, NULL, $2)",
            &[&body, &path],
        )
        .map_err(pg)?
        .get(0);
    eq(&r["stored"], &json!(true), &format!("receive_webhook: {r}"))?;
    let again: Value =
        h.db.query_one(
            "SELECT monday_sync.receive_webhook($1, NULL, $2)",
            &[&body, &path],
        )
        .map_err(pg)?
        .get(0);
    eq(
        &again["stored"],
        &json!(false),
        &format!("the same event again: {again}"),
    )?;
    wait_for(h, "the SQL-received rename applied", 5.0, |h| {
        Ok(h.i64("SELECT count(*) FROM monday_sync.webhook_events WHERE trigger_uuid = 'u-sql-1' AND status = 'applied'")? == 1)
    })?;
    let c: Value =
        h.db.query_one(
            "SELECT monday_sync.receive_webhook($1)",
            &[&r#"{"challenge":"zz"}"#],
        )
        .map_err(pg)?
        .get(0);
    eq(&c, &json!({"challenge": "zz"}), "a challenge through SQL")?;
    for (b, p, state) in [
        (
            body.clone(),
            format!("/webhook/{}", "0".repeat(64)),
            "28000",
        ),
        (body.clone(), "/webhook/nope".to_string(), "22023"),
        (body.clone(), "/elsewhere".to_string(), "22023"),
        ("{not json".to_string(), path.clone(), "22P02"),
    ] {
        let e =
            h.db.query_one(
                "SELECT monday_sync.receive_webhook($1, NULL, $2)",
                &[&b, &p],
            )
            .err()
            .ok_or_else(|| format!("receive_webhook accepted {p}"))?;
        let code = e.code().map(|c| c.code().to_string()).unwrap_or_default();
        eq(
            &code.as_str(),
            &state,
            &format!("receive_webhook SQLSTATE: {}", pg(e)),
        )?;
    }
    // A role that may only call receive_webhook: no access to the inbox itself.
    h.sql("DROP ROLE IF EXISTS front_door; CREATE ROLE front_door; GRANT USAGE ON SCHEMA monday_sync TO front_door; GRANT EXECUTE ON FUNCTION monday_sync.receive_webhook(text, text, text) TO front_door")?;
    h.sql("SET ROLE front_door")?;
    let denied =
        h.db.query_one("SELECT count(*) FROM monday_sync.webhook_events", &[])
            .is_err();
    let body2 = name_event(item, "front door", "u-sql-2").to_string();
    let ok =
        h.db.query_one(
            "SELECT monday_sync.receive_webhook($1, NULL, $2)",
            &[&body2, &path],
        )
        .map_err(pg);
    h.sql("RESET ROLE")?;
    check(denied, "the front door's role reads the inbox")?;
    ok?;
    h.fake
        .with(|s| s.world.rename(item, "back to monday's name"));
    h.settle(60)?;
    h.tables_match()
}

/// Nothing listens for a while (webhook_listen unset): monday's retries give up, and when the
/// listener is back the boards catch up from their activity logs.
fn events_lost_while_down_are_recovered(h: &mut H) -> T {
    h.fake.with(|s| {
        s.knobs.webhooks.retry_interval = Duration::from_millis(300);
        s.knobs.webhooks.retry_for = Duration::from_secs(2);
    });
    // The address comes from postgresql.conf: ALTER SYSTEM sets it empty (RESET would not).
    h.sql("ALTER SYSTEM SET monday_sync.webhook_listen = ''")?;
    h.reload(&[])?;
    h.wait_listener(false)?;
    h.fake.with(|s| {
        for k in 20..30 {
            s.world
                .rename(FIRST_ITEM + k, &format!("renamed while down {k}"));
        }
        s.world.set_cell(
            FIRST_ITEM + 20,
            "text0",
            Some(json!("while down")),
            Some("while down"),
        );
    });
    std::thread::sleep(Duration::from_secs(3));
    check(
        h.fake.wait_deliveries_idle(Duration::from_secs(10)),
        "deliveries still pending",
    )?;
    let given_up = h.fake.delivery_stats().given_up;
    check(given_up >= 10, &format!("{given_up} deliveries given up"))?;
    check(
        item_name(h, FIRST_ITEM + 20)?.as_deref() != Some("renamed while down 20"),
        "a change arrived while nothing listened",
    )?;
    h.reload(&[("monday_sync.webhook_listen", &format!("127.0.0.1:{LISTEN}"))])?;
    h.wait_listener(true)?;
    wait_for(h, "recovery through a refresh", 30.0, |h| {
        Ok(item_name(h, FIRST_ITEM + 29)?.as_deref() == Some("renamed while down 29"))
    })?;
    h.settle(60)?;
    h.fake.with(|s| {
        s.knobs.webhooks.retry_for = Duration::from_secs(120);
        s.knobs.webhooks.retry_interval = Duration::from_millis(300);
    });
    h.tables_match()
}

/// A steady stream of changes; the webhook worker is killed with SIGKILL (PostgreSQL restarts
/// every process), then the server is stopped hard and started again. Every event answered 200
/// is in the inbox and applied, and the tables end equal to the fake's boards.
fn kill_and_restart_under_a_stream(h: &mut H) -> T {
    h.fake.clear_deliveries();
    let given_up_before = h.fake.delivery_stats().given_up;
    h.fake.with(|s| {
        s.knobs.webhooks.retry_interval = Duration::from_millis(300);
        s.knobs.webhooks.retry_for = Duration::from_secs(120);
    });
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let fake = h.fake.handle();
    let stop2 = stop.clone();
    let streamer = std::thread::spawn(move || {
        let mut n = 0i64;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let it = FIRST_ITEM + 40 + n % 50;
            fake.with(|s| {
                s.world.set_cell(
                    it,
                    "text0",
                    Some(json!(format!("stream {n}"))),
                    Some(&format!("stream {n}")),
                );
                if n % 7 == 0 {
                    s.world.rename(it, &format!("stream name {n}"));
                }
            });
            n += 1;
            std::thread::sleep(Duration::from_millis(20));
        }
        n
    });
    std::thread::sleep(Duration::from_secs(2));
    let pid: i32 =
        h.db.query_one(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'monday_sync webhooks'",
            &[],
        )
        .map_err(pg)?
        .get(0);
    crate::util::run("kill", &["-9", &pid.to_string()], &[])?;
    std::thread::sleep(Duration::from_secs(2));
    h.reconnect()?;
    h.wait_listener(true)?;
    std::thread::sleep(Duration::from_secs(1));
    h.c.restart("immediate")?;
    h.reconnect()?;
    h.wait_listener(true)?;
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let n = streamer.join().map_err(|_| "the streamer panicked")?;
    check(n > 100, &format!("only {n} changes streamed"))?;
    h.settle(120)?;
    let ok: Vec<String> = h
        .fake
        .deliveries()
        .into_iter()
        .filter(|d| d.status == Some(200))
        .map(|d| d.trigger_uuid)
        .collect();
    let refused = h
        .fake
        .deliveries()
        .iter()
        .filter(|d| d.status != Some(200))
        .count();
    let missing = h.i64_param(
        "SELECT count(*) FROM unnest($1::text[]) u WHERE NOT EXISTS (SELECT 1 FROM monday_sync.webhook_events e WHERE e.trigger_uuid = u AND e.status = 'applied')",
        &ok,
    )?;
    eq(
        &missing,
        &0,
        &format!(
            "events answered 200 but not applied (of {}; {refused} attempts not answered 200)",
            ok.len()
        ),
    )?;
    let given_up = h.fake.delivery_stats().given_up - given_up_before;
    eq(&given_up, &0, "deliveries given up")?;
    h.tables_match()
}

/// unsubscribe_board deletes the webhooks on monday.
fn unsubscribe(h: &mut H) -> T {
    let n = h.i64(&format!(
        "SELECT monday_sync.unsubscribe_board({SAMPLE_BOARD})"
    ))?;
    eq(&n, &14, "webhooks deleted")?;
    let left = h.fake.with(|s| s.world.webhooks.len());
    eq(&left, &0, "webhooks left on the fake")?;
    eq(
        &h.text(&format!(
            "SELECT sync_mode FROM monday_sync.board_status WHERE board_id = {SAMPLE_BOARD}"
        ))?,
        &Some("polled".into()),
        "board_status.sync_mode after unsubscribe",
    )
}

/// untrack_board deletes the board's webhooks on monday and keeps its table; a board deleted on
/// monday is marked and its schedule stops instead of failing every interval.
fn untrack_and_deleted_boards(h: &mut H) -> T {
    h.sql(&format!(
        "SELECT monday_sync.subscribe_board({SAMPLE_BOARD})"
    ))?;
    eq(&h.fake.with(|s| s.world.webhooks.len()), &14, "subscribed")?;
    let rows = h.i64(&format!("SELECT count(*) FROM {TABLE}"))?;
    let r = h.json(&format!("SELECT monday_sync.untrack_board({SAMPLE_BOARD})"))?;
    eq(&r["webhooks_deleted"], &json!(14), &format!("{r}"))?;
    eq(&r["table_dropped"], &json!(false), &format!("{r}"))?;
    eq(
        &h.fake.with(|s| s.world.webhooks.len()),
        &0,
        "webhooks left on the fake",
    )?;
    eq(
        &h.i64("SELECT count(*) FROM monday_sync.boards")?,
        &0,
        "boards (the subitems board too)",
    )?;
    eq(
        &h.i64("SELECT count(*) FROM monday_sync.columns")?,
        &0,
        "column mapping",
    )?;
    eq(&h.i64("SELECT count(*) FROM monday_sync.jobs")?, &0, "jobs")?;
    eq(
        &h.i64(&format!("SELECT count(*) FROM {TABLE}"))?,
        &rows,
        "the table and its rows stay",
    )?;
    check(
        h.i64("SELECT count(*) FROM monday_sync.sync_runs")? > 0,
        "run history kept",
    )?;
    let e = h
        .sql(&format!(
            "SELECT monday_sync.request_refresh({SAMPLE_BOARD})"
        ))
        .err()
        .unwrap_or_default();
    check(
        e.contains("not tracked"),
        &format!("request_refresh after untrack: {e}"),
    )?;

    // Tracked again (into a new table), on a one-second schedule; then deleted on monday.
    h.sql(&format!(
        "SELECT monday_sync.track_board({SAMPLE_BOARD}, 'public.tracked_again', history => true)"
    ))?;
    h.sql(&format!("SELECT monday_sync.pull_board({SAMPLE_BOARD})"))?;
    // history => true: the pull's rows are the first versions, from the pull.
    eq(
        &h.i64("SELECT count(*) FROM public.tracked_again_history WHERE source = 'pull'")?,
        &h.i64("SELECT count(*) FROM public.tracked_again")?,
        "history of the pulled rows",
    )?;
    h.sql(&format!(
        "SELECT monday_sync.set_schedule({SAMPLE_BOARD}, '1 second', NULL)"
    ))?;
    h.fake.with(|s| {
        s.world.boards.remove(&SAMPLE_BOARD);
    });
    let t = Instant::now();
    while h
        .text(&format!(
            "SELECT sync_mode FROM monday_sync.board_status WHERE board_id = {SAMPLE_BOARD}"
        ))?
        .as_deref()
        != Some("deleted on monday")
    {
        check(
            t.elapsed() < Duration::from_secs(30),
            "not marked deleted in 30 s",
        )?;
        std::thread::sleep(Duration::from_millis(200));
    }
    let err = h
        .text(&format!(
            "SELECT last_error FROM monday_sync.board_status WHERE board_id = {SAMPLE_BOARD}"
        ))?
        .unwrap_or_default();
    check(
        err.contains("deleted on monday") && err.contains("untrack_board"),
        &err,
    )?;
    std::thread::sleep(Duration::from_millis(500));
    let jobs = h.i64(&format!(
        "SELECT count(*) FROM monday_sync.jobs WHERE board_id = {SAMPLE_BOARD}"
    ))?;
    std::thread::sleep(Duration::from_secs(3));
    eq(
        &h.i64(&format!(
            "SELECT count(*) FROM monday_sync.jobs WHERE board_id = {SAMPLE_BOARD}"
        ))?,
        &jobs,
        "no job queued by the schedule once the board is gone",
    )?;
    // Untracked with its tables: no call to monday for a board that is not there.
    h.fake.clear_log();
    let r = h.json(&format!(
        "SELECT monday_sync.untrack_board({SAMPLE_BOARD}, drop_table => true)"
    ))?;
    eq(&r["table_dropped"], &json!(true), &format!("{r}"))?;
    eq(&h.fake.log().len(), &0, "API calls")?;
    eq(
        &h.text("SELECT to_regclass('public.tracked_again')::text")?,
        &None,
        "table dropped",
    )?;
    eq(
        &h.text("SELECT to_regclass('public.tracked_again_history')::text")?,
        &None,
        "its history dropped",
    )?;
    let sub = r["subitems_table"].as_str().unwrap_or_default().to_string();
    check(
        sub.contains("tracked_again"),
        &format!("subitems table: {r}"),
    )?;
    eq(
        &h.text(&format!(
            "SELECT to_regclass('{}')::text",
            sub.replace('\'', "''")
        ))?,
        &None,
        "subitems table dropped",
    )?;
    check(
        h.text(&format!("SELECT to_regclass('public.{TABLE}')::text"))?
            .is_some(),
        "the first table is still there",
    )?;
    Ok(())
}

impl H {
    fn i64_param(&mut self, sql: &str, p: &[String]) -> Result<i64, String> {
        Ok(self.db.query_one(sql, &[&p]).map_err(pg)?.get::<_, i64>(0))
    }
}

type Test = (&'static str, fn(&mut H) -> T);

/// With `enable_updates`, a subscribed board gets the update events too: updates, replies, edits
/// and deletions reach `<table>_updates` by webhook alone, without a call; a subitem's reach the
/// subitems table's.
fn updates_arrive_by_webhook(h: &mut H) -> T {
    use crate::fake::world::USER_ID;
    let item = FIRST_ITEM + 5;
    h.fake.with(|s| {
        s.world.add_update(
            item,
            990_500,
            USER_ID,
            "Before enabling",
            "2026-11-02T10:00:00Z",
            None,
        )
    });
    let t = h.text(&format!(
        "SELECT monday_sync.enable_updates({SAMPLE_BOARD})::text"
    ))?;
    eq(&t.as_deref(), &Some("q3_launch_plan_updates"), "the table")?;
    let events: Vec<String> = h.fake.with(|s| {
        s.world
            .webhooks
            .values()
            .filter(|w| w.board_id == SAMPLE_BOARD)
            .map(|w| w.event.clone())
            .collect()
    });
    eq(
        &events.len(),
        &18,
        &format!("14 + 4 update events: {events:?}"),
    )?;
    eq(
        &h.i64("SELECT count(*) FROM public.q3_launch_plan_updates WHERE update_id = 990500")?,
        &1,
        "the first pull",
    )?;
    h.fake.clear_log();
    let now = |h: &mut H| -> Result<String, String> {
        Ok(h
            .text("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")?
            .unwrap_or_default())
    };
    let at = now(h)?;
    h.fake.with(|s| {
        s.world
            .add_update(item, 990_501, USER_ID, "Live comment", &at, None);
        s.world.add_reply(990_501, 990_502, 7, "Live reply", &at);
    });
    wait_for(h, "an update and its reply", 15.0, |h| {
        Ok(h.i64("SELECT count(*) FROM public.q3_launch_plan_updates WHERE update_id IN (990501, 990502)")? == 2)
    })?;
    eq(
        &h.json("SELECT jsonb_build_object('reply_to', reply_to, 'item', item_id, 'text', body_text, 'creator', creator_id) FROM public.q3_launch_plan_updates WHERE update_id = 990502")?,
        &json!({"reply_to": 990501, "item": item, "text": "Live reply", "creator": USER_ID}),
        "the reply, by webhook",
    )?;
    std::thread::sleep(Duration::from_millis(20));
    let later = now(h)?;
    h.fake
        .with(|s| s.world.edit_update(990_501, "Live comment, edited", &later));
    wait_for(h, "the edit", 15.0, |h| {
        Ok(
            h.text("SELECT body_text FROM public.q3_launch_plan_updates WHERE update_id = 990501")?
                .as_deref()
                == Some("Live comment, edited"),
        )
    })?;
    h.fake.with(|s| s.world.delete_update(990_500));
    wait_for(h, "the deletion", 15.0, |h| {
        Ok(h.i64("SELECT count(*) FROM public.q3_launch_plan_updates WHERE update_id = 990500 AND deleted_at IS NOT NULL")? == 1)
    })?;
    let sub = h.fake.with(|s| {
        s.world
            .items
            .values()
            .filter(|i| i.parent_item_id == Some(FIRST_ITEM + 3))
            .map(|i| i.id)
            .min()
            .unwrap()
    });
    h.fake.with(|s| {
        s.world
            .add_update(sub, 990_510, USER_ID, "On a subitem", &later, None)
    });
    wait_for(h, "a subitem's update", 15.0, |h| {
        Ok(h.i64(
            "SELECT count(*) FROM public.q3_launch_plan_subitems_updates WHERE update_id = 990510",
        )? == 1)
    })?;
    eq(
        &h.fake
            .log()
            .iter()
            .filter(|l| l.query.contains("BoardUpdates"))
            .count(),
        &0,
        "no call: every change came by webhook",
    )?;
    h.settle(60)?;
    // Off again: its four webhooks are deleted on monday, the others stay.
    h.sql(&format!(
        "SELECT monday_sync.disable_updates({SAMPLE_BOARD})"
    ))?;
    eq(
        &h.fake.with(|s| s.world.webhooks.len()),
        &14,
        "the update webhooks are gone",
    )?;
    eq(
        &h.i64("SELECT count(*) FROM monday_sync.webhooks")?,
        &14,
        "and forgotten",
    )
}

/// The cluster for the webhook tests (and the webhook benchmark): the listener on LISTEN.
pub fn start(world: World, conf: &[&str]) -> Result<H, String> {
    let fake = Fake::start(world).map_err(|e| e.to_string())?;
    fake.with(|s| {
        s.knobs.token = TOKEN.into();
        s.knobs.webhooks.retry_interval = Duration::from_millis(300);
    });
    let api_url = format!("monday_sync.api_url = '{}'", fake.url());
    let listen = format!("monday_sync.webhook_listen = '127.0.0.1:{LISTEN}'");
    let public = format!("monday_sync.webhook_public_url = '{}'", base());
    let mut lines = vec![
        "log_min_messages = info",
        "shared_preload_libraries = 'monday_sync'",
        "monday_sync.database = 'mshooks'",
        "monday_sync.naptime = '200ms'",
        "monday_sync.request_timeout = '5s'",
        "monday_sync.max_wait = '60s'",
        "monday_sync.webhook_settle = '300ms'",
        "max_worker_processes = 16",
        api_url.as_str(),
        listen.as_str(),
        public.as_str(),
    ];
    lines.extend_from_slice(conf);
    let c = Cluster::start("hooks", PORT, &lines)?;
    let mut admin = Client::connect(&c.conn_string("postgres"), NoTls).map_err(pg)?;
    admin
        .batch_execute(&format!("CREATE DATABASE {DB}"))
        .map_err(pg)?;
    let db = Client::connect(&c.conn_string(DB), NoTls).map_err(pg)?;
    let mut h = H { c, fake, db };
    h.sql("CREATE EXTENSION monday_sync")?;
    h.db.execute("SELECT monday_sync.set_token($1)", &[&TOKEN])
        .map_err(pg)?;
    h.db.query_one("SELECT monday_sync.track_board($1)", &[&SAMPLE_BOARD])
        .map_err(pg)?;
    h.db.query_one("SELECT monday_sync.pull_board($1)", &[&SAMPLE_BOARD])
        .map_err(pg)?;
    Ok(h)
}

pub fn run() -> Result<String, String> {
    let mut h = start(World::sample(120, true), &[])?;
    let tests: Vec<Test> = vec![
        (
            "subscribe_board creates every webhook once",
            subscribe_is_idempotent,
        ),
        (
            "every event type lands in the typed tables",
            every_event_type_lands,
        ),
        ("a new column on monday is added", a_new_column_is_added),
        (
            "updates, replies, edits and deletions arrive by webhook",
            updates_arrive_by_webhook,
        ),
        ("who may post: challenge, secret path, JWT", who_may_post),
        (
            "the listener's limits answer clearly",
            limits_answer_clearly,
        ),
        (
            "duplicates and reordering under jitter",
            duplicates_and_reordering,
        ),
        ("receive_webhook from SQL", receive_webhook_from_sql),
        (
            "a table locked elsewhere defers its events, never stalls the listener",
            a_locked_table_defers,
        ),
        (
            "events lost while nothing listened are recovered",
            events_lost_while_down_are_recovered,
        ),
        (
            "kill -9 and a restart under a stream of changes",
            kill_and_restart_under_a_stream,
        ),
        ("unsubscribe_board", unsubscribe),
        (
            "untrack_board; a board deleted on monday stops its schedule",
            untrack_and_deleted_boards,
        ),
    ];
    let filter = std::env::var("WEBHOOKS_FILTER").unwrap_or_default();
    let (mut passed, mut failed) = (0, Vec::new());
    for (i, (name, f)) in tests.into_iter().enumerate() {
        // The first test subscribes the board the others use.
        if i > 0 && !filter.is_empty() && !name.contains(&filter) {
            continue;
        }
        let t = Instant::now();
        match f(&mut h) {
            Ok(()) => {
                passed += 1;
                println!(
                    "webhooks: ok     {name} ({:.1} s)",
                    t.elapsed().as_secs_f64()
                );
            }
            Err(e) => {
                println!("webhooks: FAILED {name}: {e}");
                let log = h.server_log();
                let tail: Vec<&str> = log.lines().rev().take(25).collect();
                println!("  server log, last lines:");
                for l in tail.into_iter().rev() {
                    println!("  | {l}");
                }
                failed.push(name);
                if i == 0 {
                    break;
                }
                let _ = h.reconnect();
            }
        }
    }
    let log = h.server_log();
    if log.contains(TOKEN) {
        failed.push("token in the server log");
    }
    if log.contains("PANIC") || log.contains("terminated by signal 11") {
        println!("webhooks: FAILED the server log shows a crash:\n{log}");
        failed.push("a crash in the server log");
    }
    if failed.is_empty() {
        Ok(format!("{passed} passed, 0 failed"))
    } else {
        Err(format!(
            "webhooks: {} failed: {}",
            failed.len(),
            failed.join("; ")
        ))
    }
}
