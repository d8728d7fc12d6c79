//! Hardening (issue 9), end to end: no database role can borrow the extension's superuser, the
//! token stays out of logs and channels, nothing monday answers makes the extension spin, stall or
//! lose track, one bad item, column or label never stops a board, and the documented grants work.
//! Each test here failed on 0.1.0.

use crate::e2e::{
    check, connect_str, eq, expect_err, expect_err_plain, num, pg, refresh, Env, T, TOKEN,
};
use crate::fake::world::{FIRST_ITEM, SAMPLE_BOARD};
use crate::fake::Fault;
use postgres::Client;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// What a role with CREATE in `public` plants (run as that role): functions that out-match
/// pg_catalog's for the argument types the extension's SQL uses (unnest(anyarray) →
/// unnest(bigint[]), format(text, VARIADIC "any") → format(text, text, text)), which on 0.1.0 the
/// next pull called as superuser; `now()`, reached only if the search_path a trigger sets outlived
/// its write; a trigger function that tries the same from inside a write and leaves that
/// search_path behind; and `public.pwned`, where each attempt records who ran it.
pub(crate) fn traps(role: &str) -> String {
    format!(
        r#"
        CREATE TABLE public.pwned (who text, su boolean);
        GRANT INSERT ON public.pwned TO PUBLIC;
        CREATE FUNCTION public.escalate() RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO public.pwned VALUES (current_user::text,
            (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user));
          BEGIN
            EXECUTE 'ALTER ROLE {role} SUPERUSER';
          EXCEPTION WHEN OTHERS THEN NULL;
          END;
        END $$;
        CREATE FUNCTION public.unnest(bigint[]) RETURNS SETOF bigint LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM public.escalate();
          RETURN QUERY SELECT x FROM pg_catalog.unnest($1) AS x;
        END $$;
        CREATE FUNCTION public.format(text, text, text) RETURNS text LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM public.escalate();
          RETURN pg_catalog.format($1, $2, $3);
        END $$;
        -- Reached only through a search_path with public before pg_catalog: the one the trigger
        -- below sets, should it outlive the trigger's write.
        CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM public.escalate();
          RETURN pg_catalog.now();
        END $$;
        CREATE FUNCTION public.trap() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM public.escalate();
          PERFORM pg_catalog.set_config('search_path', 'public, pg_catalog', false);
          RETURN NEW;
        END $$;
        "#
    )
}

/// A role with CREATE in `public` (in PostgreSQL 15, every database owner) and its connection.
fn attacker(e: &mut Env, role: &str) -> Result<Client, String> {
    e.db.batch_execute(&format!(
        "CREATE ROLE {role} LOGIN; GRANT CREATE, USAGE ON SCHEMA public TO {role};"
    ))
    .map_err(pg)?;
    let mut m = connect_str(&format!("{} user={role}", e.cluster_conn))?;
    m.batch_execute(&traps(role)).map_err(pg)?;
    Ok(m)
}

fn is_superuser(e: &mut Env, role: &str) -> Result<bool, String> {
    Ok(e.db
        .query_one("SELECT rolsuper FROM pg_roles WHERE rolname = $1", &[&role])
        .map_err(pg)?
        .get(0))
}

/// What the traps saw: (runs as superuser, runs as someone else).
fn pwned(e: &mut Env) -> Result<(i64, Vec<String>), String> {
    let su = e.i64("SELECT count(*) FROM public.pwned WHERE su")?;
    let who: Vec<String> =
        e.db.query("SELECT DISTINCT who FROM public.pwned ORDER BY 1", &[])
            .map_err(pg)?
            .iter()
            .map(|r| r.get(0))
            .collect();
    Ok((su, who))
}

/// Functions a role put in `public` are never called by the extension (pinned search_path).
pub fn search_path_cannot_be_borrowed(e: &mut Env) -> T {
    let _m = attacker(e, "mallory_sp")?;
    e.track()?;
    e.pull()?;
    e.json(&format!("SELECT monday_sync.pull_item({FIRST_ITEM})"))?;
    refresh(e)?;
    e.fake.with(|s| s.world.rename(FIRST_ITEM + 1, "Renamed"));
    refresh(e)?;
    e.check_table("q3_launch_plan", SAMPLE_BOARD)?;
    eq(
        &is_superuser(e, "mallory_sp")?,
        &false,
        "mallory is superuser",
    )?;
    let (su, who) = pwned(e)?;
    eq(&su, &0, "trap calls as superuser")?;
    eq(&who, &Vec::<String>::new(), "trap calls at all")?;
    // Every function of the extension that runs SQL pins its search path.
    let unpinned = e.json(
        "SELECT coalesce(jsonb_agg(p.proname ORDER BY p.proname), '[]') FROM pg_proc p
          WHERE p.pronamespace = 'monday_sync'::regnamespace
            AND p.proname NOT IN ('decode', 'decode_item', 'column_sql_type', 'track_board')
            AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)",
    )?;
    eq(
        &unpinned,
        &json!([]),
        "functions without a pinned search_path",
    )
}

/// A table re-created under a dropped typed table's name is not adopted; a table whose owner is
/// not a superuser is written with the owner's rights only.
pub fn tables_are_known_by_oid_and_written_as_their_owner(e: &mut Env) -> T {
    let mut m = attacker(e, "mallory_tb")?;
    e.track()?;
    e.pull()?;
    // Dropped, then re-created by the attacker with a trigger.
    e.db.batch_execute("DROP TABLE public.q3_launch_plan")
        .map_err(pg)?;
    m.batch_execute(
        "CREATE TABLE public.q3_launch_plan (item_id bigint PRIMARY KEY, name text, group_id text, group_title text,
             state text, parent_item_id bigint, created_at timestamptz, updated_at timestamptz, raw jsonb, synced_at timestamptz);
         CREATE TRIGGER trap BEFORE INSERT OR UPDATE ON public.q3_launch_plan FOR EACH ROW EXECUTE FUNCTION public.trap();",
    )
    .map_err(pg)?;
    let msg = expect_err(
        &mut e.db,
        &format!("SELECT monday_sync.pull_board({SAMPLE_BOARD})"),
        "42P01",
    )?;
    check(msg.contains("dropped"), &msg)?;
    expect_err(
        &mut e.db,
        &format!("SELECT monday_sync.refresh_board({SAMPLE_BOARD})"),
        "42P01",
    )?;
    let msg = expect_err(
        &mut e.db,
        &format!("SELECT monday_sync.track_board({SAMPLE_BOARD})"),
        "42P07",
    )?;
    check(
        msg.contains("mallory_tb") && msg.contains("adopt => true"),
        &msg,
    )?;
    eq(&pwned(e)?, &(0, vec![]), "the trap table was written")?;

    // Adopted on purpose: its trigger runs as its owner, who gains nothing.
    e.json(&format!(
        "SELECT to_jsonb(monday_sync.track_board({SAMPLE_BOARD}, adopt => true)::text)"
    ))?;
    e.pull()?;
    e.check_table("q3_launch_plan", SAMPLE_BOARD)?;
    let (su, who) = pwned(e)?;
    eq(&su, &0, "trigger runs as superuser")?;
    eq(&who, &vec!["mallory_tb".to_string()], "the trigger's user")?;
    eq(
        &is_superuser(e, "mallory_tb")?,
        &false,
        "mallory is superuser",
    )?;
    // The search_path the trigger set did not outlive its write: no trap call after it.
    e.fake
        .with(|s| s.world.rename(FIRST_ITEM + 2, "Renamed again"));
    refresh(e)?;
    eq(&pwned(e)?.0, &0, "trap calls as superuser after a refresh")?;

    // A column of the owner's type with the owner's cast to json: pull_item's to_jsonb of the
    // row reads it as the owner.
    m.batch_execute(
        "CREATE TYPE public.mood AS ENUM ('calm');
         CREATE FUNCTION public.mood_json(public.mood) RETURNS json LANGUAGE plpgsql AS $$
         BEGIN PERFORM public.escalate(); RETURN '\"via the cast\"'::json; END $$;
         CREATE CAST (public.mood AS json) WITH FUNCTION public.mood_json(public.mood);
         ALTER TABLE public.q3_launch_plan ADD COLUMN mood public.mood DEFAULT 'calm';",
    )
    .map_err(pg)?;
    e.db.batch_execute("TRUNCATE public.pwned").map_err(pg)?;
    let row = e.json(&format!("SELECT monday_sync.pull_item({FIRST_ITEM})"))?;
    eq(
        &row["mood"],
        &json!("via the cast"),
        "the owner's column, through its cast",
    )?;
    let (su, who) = pwned(e)?;
    eq(&su, &0, "the owner's cast as superuser")?;
    eq(&who, &vec!["mallory_tb".to_string()], "the cast's user")?;

    // A legitimate owner change: writes follow the table (by OID) through a rename too.
    e.db.batch_execute("ALTER TABLE public.q3_launch_plan RENAME TO launch_plan_renamed")
        .map_err(pg)?;
    e.fake
        .with(|s| s.world.rename(FIRST_ITEM + 3, "After the rename"));
    refresh(e)?;
    e.check_table("launch_plan_renamed", SAMPLE_BOARD)?;

    // While a statement of the extension holds the table, its schema cannot be renamed (a schema
    // swapped in under the same name would make the table's name point elsewhere).
    e.db.batch_execute(&format!(
        "BEGIN; SELECT monday_sync.pull_item({FIRST_ITEM})"
    ))
    .map_err(pg)?;
    let mut other = e.second_session()?;
    let swap = other
        .batch_execute("SET lock_timeout = '500ms'; ALTER SCHEMA public RENAME TO public_swapped");
    e.db.batch_execute("COMMIT").map_err(pg)?;
    if swap.is_ok() {
        let _ = other.batch_execute("ALTER SCHEMA public_swapped RENAME TO public");
    }
    eq(
        &swap
            .err()
            .and_then(|x| x.code().map(|c| c.code().to_string())),
        &Some("55P03".to_string()),
        "renaming the schema under a running statement",
    )
}

/// The token never reaches the server log through a failing set_token, and can come from a file.
pub fn token_stays_out_of_logs(e: &mut Env) -> T {
    e.db.batch_execute("BEGIN READ ONLY").map_err(pg)?;
    let r =
        e.db.batch_execute("SELECT monday_sync.set_token('tok-LEAK-5512-readonly')");
    e.db.batch_execute("ROLLBACK").map_err(pg)?;
    eq(
        &r.err().and_then(|x| x.code().map(|c| c.code().to_string())),
        &Some("25006".to_string()),
        "set_token in a read-only transaction",
    )?;
    // From a file only the server reads: no SQL text carries it.
    let dir = std::env::temp_dir().join(format!("ms_token_{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|x| x.to_string())?;
    let file = dir.join("monday_token");
    std::fs::write(&file, format!("{TOKEN}\n")).map_err(|x| x.to_string())?;
    let _ = std::process::Command::new("chown")
        .args(["-R", "postgres", &dir.display().to_string()])
        .status();
    let result = (|| -> T {
        e.db.batch_execute(&format!(
            "ALTER SYSTEM SET monday_sync.token_file = '{}'",
            file.display()
        ))
        .map_err(pg)?;
        e.db.batch_execute("SELECT pg_reload_conf()").map_err(pg)?;
        std::thread::sleep(Duration::from_millis(300));
        e.db.batch_execute("SELECT monday_sync.set_token(NULL)")
            .map_err(pg)?;
        e.track()?;
        e.json(&format!("SELECT monday_sync.pull_item({FIRST_ITEM})"))?;
        // A wrong path is a clear error, and the setting is hidden from other roles.
        std::fs::remove_file(&file).map_err(|x| x.to_string())?;
        let msg = expect_err(
            &mut e.db,
            &format!("SELECT monday_sync.pull_item({FIRST_ITEM})"),
            "58P01",
        )?;
        check(msg.contains("token_file"), &msg)?;
        e.db.batch_execute("CREATE ROLE viewer_tf LOGIN")
            .map_err(pg)?;
        let mut v = connect_str(&format!("{} user=viewer_tf", e.cluster_conn))?;
        expect_err_plain(&mut v, "SHOW monday_sync.token_file", "42501")
    })();
    e.db.batch_execute("ALTER SYSTEM RESET monday_sync.token_file")
        .map_err(pg)?;
    e.db.batch_execute("SELECT pg_reload_conf()").map_err(pg)?;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The documented grants, as a plain role: the codec for everyone, request_refresh by grant (from
/// a trigger too), nothing else.
pub fn documented_grants_work(e: &mut Env) -> T {
    e.track()?;
    e.db.batch_execute(
        "CREATE ROLE app_writer LOGIN; GRANT CREATE ON SCHEMA public TO app_writer;",
    )
    .map_err(pg)?;
    let mut a = connect_str(&format!("{} user=app_writer", e.cluster_conn))?;
    let v: Value = a
        .query_one(
            r#"SELECT monday_sync.decode('numbers', '{"id":"n","value":"\"-12.50\""}')"#,
            &[],
        )
        .map_err(pg)?
        .get(0);
    eq(&v, &json!(-12.5), "decode as a plain role")?;
    a.batch_execute(
        "SELECT monday_sync.column_sql_type('status'), monday_sync.decode_item('{\"id\":\"1\",\"name\":\"x\",\"column_values\":[]}')",
    )
    .map_err(pg)?;
    let request = format!("SELECT monday_sync.request_refresh({SAMPLE_BOARD})");
    expect_err_plain(&mut a, &request, "42501")?;
    expect_err_plain(&mut a, "SELECT * FROM monday_sync.boards", "42501")?;
    expect_err_plain(&mut a, "SELECT * FROM monday_sync.jobs", "42501")?;
    expect_err_plain(
        &mut a,
        &format!("SELECT monday_sync.pull_board({SAMPLE_BOARD})"),
        "42501",
    )?;
    e.db.batch_execute(
        "GRANT EXECUTE ON FUNCTION monday_sync.request_refresh(bigint) TO app_writer",
    )
    .map_err(pg)?;
    let job: i64 = a.query_one(&request, &[]).map_err(pg)?.get(0);
    eq(
        &e.json(&format!(
            "SELECT to_jsonb(requested_by::text) FROM monday_sync.jobs WHERE jobid = {job}"
        ))?,
        &json!("app_writer"),
        "requested_by",
    )?;
    // From a trigger on the role's own table.
    a.batch_execute(&format!(
        "CREATE TABLE public.orders (id int);
         CREATE FUNCTION public.orders_changed() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN PERFORM monday_sync.request_refresh({SAMPLE_BOARD}); RETURN NULL; END $$;
         CREATE TRIGGER orders_changed AFTER INSERT ON public.orders FOR EACH STATEMENT EXECUTE FUNCTION public.orders_changed();
         INSERT INTO public.orders VALUES (1);"
    ))
    .map_err(pg)?;
    eq(
        &e.i64(&format!(
            "SELECT count(*) FROM monday_sync.jobs WHERE board_id = {SAMPLE_BOARD} AND status = 'queued'"
        ))?,
        &1,
        "queued jobs (requests coalesce)",
    )
}

/// Impossible waits are clamped and counted, resets bounded, endless bodies cut.
pub fn monday_cannot_make_it_spin_or_stall(e: &mut Env) -> T {
    e.track()?;
    let calls_today = |e: &mut Env| e.i64("SELECT calls_today FROM monday_sync.api_budget");
    // retry_in_seconds of 0 (and below) forever: every attempt waits at least a second and is
    // counted; max_wait ends it.
    e.db.batch_execute("SET monday_sync.max_wait = '3s'")
        .map_err(pg)?;
    for _ in 0..50 {
        e.fake.fault(Fault::RetryIn(0));
    }
    e.fake.clear_log();
    let before = calls_today(e)?;
    let t = Instant::now();
    let msg = expect_err(
        &mut e.db,
        &format!("SELECT monday_sync.pull_item({FIRST_ITEM})"),
        "53400",
    )?;
    let took = t.elapsed();
    e.fake.with(|s| s.knobs.faults.clear());
    check(msg.contains("max_wait"), &msg)?;
    eq(
        &e.calls(),
        &4,
        "requests before giving up (waits of 1 s within 3 s)",
    )?;
    check(
        took >= Duration::from_secs(3) && took < Duration::from_secs(6),
        &format!("took {took:?}"),
    )?;
    eq(
        &(calls_today(e)? - before),
        &4,
        "attempts counted against the daily budget",
    )?;
    // Negative: waited as one second, said in the run history.
    e.db.batch_execute("SET monday_sync.max_wait = '30s'")
        .map_err(pg)?;
    e.fake.fault(Fault::RetryIn(-5));
    let t = Instant::now();
    e.json(&format!("SELECT monday_sync.pull_item({FIRST_ITEM})"))?;
    check(
        t.elapsed() >= Duration::from_secs(1),
        "a negative wait waited 1 s",
    )?;
    let run =
        e.json("SELECT to_jsonb(r) FROM monday_sync.sync_runs r ORDER BY runid DESC LIMIT 1")?;
    check(
        run["message"]
            .as_str()
            .is_some_and(|m| m.contains("asked to wait -5 s")),
        &format!("run: {run}"),
    )?;
    // Absurd: clamped to a minute, which max_wait (30 s) refuses at once.
    e.fake.fault(Fault::RetryIn(100_000));
    e.fake.clear_log();
    let t = Instant::now();
    expect_err(
        &mut e.db,
        &format!("SELECT monday_sync.pull_item({FIRST_ITEM})"),
        "53400",
    )?;
    check(
        t.elapsed() < Duration::from_secs(3),
        "an absurd wait is refused at once",
    )?;
    eq(&e.calls(), &1, "requests for an absurd wait")?;

    // reset_in_x_seconds beyond the one-minute window.
    e.fake.with(|s| s.knobs.reset_override = Some(100_000));
    e.json(&format!("SELECT monday_sync.pull_item({FIRST_ITEM})"))?;
    e.fake.with(|s| s.knobs.reset_override = None);
    let resets_in = e.i64(
        "SELECT extract(epoch FROM window_resets_at - now())::bigint FROM monday_sync.api_budget",
    )?;
    check(resets_in <= 61, &format!("window resets in {resets_in} s"))?;
    let run =
        e.json("SELECT to_jsonb(r) FROM monday_sync.sync_runs r ORDER BY runid DESC LIMIT 1")?;
    check(
        run["warnings"].as_i64() == Some(1)
            && run["message"]
                .as_str()
                .is_some_and(|m| m.contains("reset_in_x_seconds = 100000")),
        &format!("run: {run}"),
    )?;

    // A body that never ends is cut at monday_sync.max_response_size.
    e.db.batch_execute("SET monday_sync.max_response_size = '2MB'")
        .map_err(pg)?;
    e.fake.fault(Fault::Endless);
    let t = Instant::now();
    let msg = expect_err(
        &mut e.db,
        &format!("SELECT monday_sync.pull_item({FIRST_ITEM})"),
        "HV000",
    )?;
    check(msg.contains("max_response_size"), &msg)?;
    check(
        t.elapsed() < Duration::from_secs(5),
        &format!("cut after {:?}", t.elapsed()),
    )?;
    e.db.batch_execute("RESET monday_sync.max_response_size")
        .map_err(pg)?;

    // An activity-log entry dated in 2100 names its item but never becomes the watermark.
    e.pull()?;
    e.fake.with(|s| {
        s.world.rename(FIRST_ITEM + 4, "Logged in the future");
        let log = s.world.logs.get_mut(&SAMPLE_BOARD).expect("a log");
        let last = log.last_mut().expect("an entry");
        last.ticks = 41_000_000_000_000_000; // 2099-12-02
        last.fields
            .insert("created_at".into(), json!(last.ticks.to_string()));
    });
    let r = refresh(e)?;
    eq(&r["mode"].as_str(), &Some("incremental"), "mode")?;
    check(num(&r, "warnings") >= 1, &format!("refresh: {r}"))?;
    let future = e.i64(&format!(
        "SELECT count(*) FROM monday_sync.boards WHERE board_id = {SAMPLE_BOARD} AND activity_watermark > now() + interval '5 minutes'"
    ))?;
    eq(&future, &0, "watermarks in the future")?;
    e.fake.with(|s| {
        s.world
            .rename(FIRST_ITEM + 5, "Changed after the bad entry")
    });
    refresh(e)?;
    e.check_table("q3_launch_plan", SAMPLE_BOARD)?;
    // A watermark already in the future (left by 0.1.0) heals with a full reconcile.
    e.db.batch_execute(&format!(
        "UPDATE monday_sync.boards SET activity_watermark = '2100-01-01' WHERE board_id = {SAMPLE_BOARD}"
    ))
    .map_err(pg)?;
    let r = refresh(e)?;
    check(
        r["full_reason"]
            .as_str()
            .is_some_and(|x| x.contains("in the future")),
        &format!("refresh: {r}"),
    )
}

/// A broken monday: NUL characters everywhere, malformed items, a duplicate column id.
/// A field monday does not send, in a cell: every JSON shape `raw` must keep as it came (floats
/// with their `.0`, exponents, integers past i64, nesting, escapes, U+0000 in a key and a string).
fn raw_extra() -> Value {
    json!({"f": 1.0, "g": 2.5e300, "big": 18446744073709551615u64, "neg": -7, "zero": 0,
           "nested": [{"a\u{0}": "x\u{0}", "k": [[], {}]}, 0.1, null, true, -0.5],
           "s": "é\"\\\n\t\u{1}", "": ""})
}

fn mangle(v: &mut Value) {
    fn items(v: &mut Value, f: &mut dyn FnMut(&mut Vec<Value>)) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if k == "items" {
                        if let Value::Array(a) = x {
                            f(a);
                        }
                    } else {
                        items(x, f);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| items(x, f)),
            _ => {}
        }
    }
    if let Some(cols) = v
        .pointer_mut("/data/boards/0/columns")
        .and_then(Value::as_array_mut)
    {
        if let Some(c) = cols.iter().find(|c| c["id"] == "date4").cloned() {
            cols.push(c);
        }
    }
    items(v, &mut |a: &mut Vec<Value>| {
        for it in a.iter_mut() {
            let id = it["id"].as_str().unwrap_or("").to_string();
            match id.parse::<i64>().unwrap_or(0) - FIRST_ITEM {
                10 => it["state"] = json!("frozen"),
                11 => it["created_at"] = json!("yesterday"),
                12 => {
                    if let Some(cv) = it["column_values"].as_array_mut() {
                        if let Some(Value::Object(c)) = cv.first_mut() {
                            c.remove("id");
                        }
                    }
                }
                13 => it["updated_at"] = json!("2026-13-45T99:00:00Z"),
                15 => {
                    if let Some(Value::Object(c)) = it["column_values"]
                        .as_array_mut()
                        .and_then(|cv| cv.first_mut())
                    {
                        c.insert("extra".into(), raw_extra());
                    }
                }
                _ => {}
            }
        }
        if let Some(dup) = a
            .iter()
            .find(|it| it["id"] == json!((FIRST_ITEM + 14).to_string()))
            .cloned()
        {
            let mut last = dup;
            last["name"] = json!("the second copy");
            a.push(last);
        }
    });
}

pub fn bad_values_never_stop_a_board(e: &mut Env) -> T {
    // NUL in the board's name, a column's title, a status label, a group's title and id, an
    // item's name and a text cell.
    e.fake.with(|s| {
        let b = s.world.boards.get_mut(&SAMPLE_BOARD).expect("board");
        b.name.push('\0');
        for c in b.columns.iter_mut() {
            if c.id == "long_text_mkx4" {
                c.title = "Descr\0iption".into();
            }
            if c.id == "status" {
                c.settings_str = c.settings_str.replace("\"Done\"", "\"Do\\u0000ne\"");
            }
        }
        b.groups[0].title.push('\0');
        let it = s.world.items.get_mut(&(FIRST_ITEM + 1)).expect("item");
        it.name = "bad\0name".into();
        s.world.set_cell(
            FIRST_ITEM + 2,
            "text0",
            Some(json!("a\u{0}b")),
            Some("a\u{0}b"),
        );
        s.knobs.mangle = Some(mangle);
    });
    e.track()?;
    let r = e.pull()?;
    check(num(&r, "warnings") >= 5, &format!("pull: {r}"))?;
    let row = e.json(&format!(
        "SELECT jsonb_build_object('n1', (SELECT name FROM q3_launch_plan WHERE item_id = {a}),
                                   'notes', (SELECT notes FROM q3_launch_plan WHERE item_id = {b}),
                                   'state', (SELECT state FROM q3_launch_plan WHERE item_id = {c}),
                                   'created', (SELECT created_at FROM q3_launch_plan WHERE item_id = {d}),
                                   'no_id', (SELECT count(*) FROM q3_launch_plan WHERE item_id = {f}),
                                   'updated', (SELECT updated_at FROM q3_launch_plan WHERE item_id = {g}),
                                   'dup', (SELECT name FROM q3_launch_plan WHERE item_id = {h}),
                                   'rows', (SELECT count(*) FROM q3_launch_plan),
                                   'board', (SELECT board_name FROM monday_sync.boards WHERE board_id = {SAMPLE_BOARD}),
                                   'col', (SELECT count(*) FROM monday_sync.columns WHERE board_id = {SAMPLE_BOARD} AND column_id = 'date4'))",
        a = FIRST_ITEM + 1,
        b = FIRST_ITEM + 2,
        c = FIRST_ITEM + 10,
        d = FIRST_ITEM + 11,
        f = FIRST_ITEM + 12,
        g = FIRST_ITEM + 13,
        h = FIRST_ITEM + 14,
    ))?;
    eq(&row["n1"], &json!("bad\u{FFFD}name"), "a NUL in a name")?;
    eq(&row["notes"], &json!("a\u{FFFD}b"), "a NUL in a text cell")?;
    eq(&row["state"], &json!("active"), "an unknown state")?;
    eq(&row["created"], &Value::Null, "an unparsable date")?;
    eq(&row["updated"], &Value::Null, "an impossible date")?;
    eq(&row["no_id"], &json!(1), "an item with a cell without id")?;
    eq(
        &row["dup"],
        &json!("the second copy"),
        "an item twice in a page",
    )?;
    eq(&row["rows"], &json!(60), "rows")?;
    check(
        row["board"]
            .as_str()
            .is_some_and(|b| b.ends_with('\u{FFFD}')),
        &format!("board name: {row}"),
    )?;
    eq(&row["col"], &json!(1), "a duplicate column id")?;
    // `raw` keeps every JSON shape of a cell as jsonb reads its text (numbers with their scale).
    let expected = raw_extra().to_string().replace("\\u0000", "\\ufffd");
    let extra = e.json(&format!(
        "SELECT to_jsonb((SELECT v->'extra' FROM jsonb_each(raw) j(k, v) WHERE v ? 'extra')::text
                         = ('{}'::jsonb)::text)
           FROM q3_launch_plan WHERE item_id = {}",
        expected.replace('\'', "''"),
        FIRST_ITEM + 15
    ))?;
    eq(&extra, &json!(true), "raw keeps a cell's JSON as it came")?;
    // The run history names the item and the field.
    e.json(&format!("SELECT monday_sync.pull_item({})", FIRST_ITEM + 1))?;
    let msg = e.json(
        "SELECT to_jsonb(message) FROM monday_sync.sync_runs WHERE kind = 'pull_item' ORDER BY runid DESC LIMIT 1",
    )?;
    check(
        msg.as_str()
            .is_some_and(|m| m.contains(&format!("item {}, name", FIRST_ITEM + 1))),
        &format!("the run names the item: {msg}"),
    )?;
    let label = e.json(&format!(
        "SELECT settings->'labels'->'1' FROM monday_sync.columns WHERE board_id = {SAMPLE_BOARD} AND column_id = 'status'"
    ))?;
    eq(&label, &json!("Do\u{FFFD}ne"), "a NUL in a status label")?;
    Ok(())
}

/// A column whose type changes on monday: retyped when its values convert, else a new column.
pub fn column_type_changes_follow(e: &mut Env) -> T {
    e.track()?;
    e.pull()?;
    e.fake.with(|s| {
        let b = s.world.boards.get_mut(&SAMPLE_BOARD).expect("board");
        for c in b.columns.iter_mut() {
            if c.id == "numeric_mkx1" {
                c.typ = "text".into();
                c.settings_str = "{}".into();
            }
            if c.id == "text0" {
                c.typ = "numbers".into();
            }
        }
        s.world.set_cell(
            FIRST_ITEM,
            "numeric_mkx1",
            Some(json!("about 12")),
            Some("about 12"),
        );
        s.world
            .set_cell(FIRST_ITEM, "text0", Some(json!("7")), Some("7"));
    });
    let r = e.pull()?;
    check(num(&r, "warnings") >= 2, &format!("pull: {r}"))?;
    let row = e.json(&format!(
        "SELECT jsonb_build_object(
            'budget_type', (SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'q3_launch_plan'::regclass AND attname = 'budget'),
            'budget', (SELECT budget FROM q3_launch_plan WHERE item_id = {FIRST_ITEM}),
            'notes_2', (SELECT notes_2 FROM q3_launch_plan WHERE item_id = {FIRST_ITEM}),
            'notes_2_type', (SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'q3_launch_plan'::regclass AND attname = 'notes_2'),
            'old_notes', (SELECT count(notes) FROM q3_launch_plan),
            'removed', (SELECT removed_at IS NOT NULL FROM monday_sync.columns WHERE board_id = {SAMPLE_BOARD} AND column_id = 'text0~text'))"
    ))?;
    eq(&row["budget_type"], &json!("text"), "budget retyped")?;
    eq(&row["budget"], &json!("about 12"), "budget value")?;
    eq(
        &row["notes_2_type"],
        &json!("numeric"),
        "the new column's type",
    )?;
    eq(&row["notes_2"], &json!(7), "the new column's value")?;
    check(
        row["old_notes"].as_i64().unwrap_or(0) > 0,
        &format!("old notes kept: {row}"),
    )?;
    eq(
        &row["removed"],
        &json!(true),
        "the old column marked removed",
    )
}

/// Long names stay unique; concurrent and conflicting track_board calls give proper errors; a
/// dropped typed column comes back.
pub fn names_races_and_leftovers(e: &mut Env) -> T {
    // A board name of 84 characters: the table and the subitems table differ, within 63 bytes.
    let long = "Very long board name ".repeat(4);
    e.fake.with(|s| {
        s.world.boards.get_mut(&SAMPLE_BOARD).expect("board").name = long.clone();
        s.knobs.latency = Duration::from_millis(300);
    });
    // Two sessions track the same board at once.
    let mut other = e.second_session()?;
    let h = std::thread::spawn(move || {
        other
            .query_one("SELECT monday_sync.track_board($1)::text", &[&SAMPLE_BOARD])
            .map(|r| r.get::<_, String>(0))
            .map_err(|x| format!("{:?}: {x}", x.code()))
    });
    let mine: String =
        e.db.query_one("SELECT monday_sync.track_board($1)::text", &[&SAMPLE_BOARD])
            .map_err(pg)?
            .get(0);
    let theirs = h.join().map_err(|_| "thread panicked")?;
    e.fake.with(|s| s.knobs.latency = Duration::ZERO);
    eq(&theirs, &Ok(mine.clone()), "the concurrent track_board")?;
    check(
        mine.len() <= 63 && mine.starts_with("very_long_board_name"),
        &mine,
    )?;
    let names = e.json(&format!(
        "SELECT jsonb_agg(target_table ORDER BY parent_board_id NULLS FIRST) FROM monday_sync.boards WHERE board_id = {SAMPLE_BOARD} OR parent_board_id = {SAMPLE_BOARD}"
    ))?;
    let n: Vec<&str> = names
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    check(
        n.len() == 2
            && n[0] == mine
            && n[1] != mine
            && n[1].ends_with("_subitems")
            && n[1].len() <= 63,
        &format!("table names: {names}"),
    )?;

    // Another board of the same name while the first one's table is dropped.
    const SAME_NAME: i64 = 18414639999;
    e.db.batch_execute(&format!("DROP TABLE {mine}"))
        .map_err(pg)?;
    e.fake.with(|s| {
        s.world.add_board(SAME_NAME, &long);
        let b = s.world.boards.get_mut(&SAME_NAME).expect("board");
        b.columns.retain(|c| c.typ != "subtasks");
    });
    let t: String =
        e.db.query_one("SELECT monday_sync.track_board($1)::text", &[&SAME_NAME])
            .map_err(pg)?
            .get(0);
    check(
        t != mine && t.ends_with("_2") && t.len() <= 63,
        &format!("a reserved default name: {t}"),
    )?;
    const THIRD: i64 = 18414639998;
    e.fake.with(|s| {
        s.world.add_board(THIRD, "Third");
        let b = s.world.boards.get_mut(&THIRD).expect("board");
        b.columns.retain(|c| c.typ != "subtasks");
    });
    let msg = expect_err(
        &mut e.db,
        &format!("SELECT monday_sync.track_board({THIRD}, '{mine}')"),
        "42P07",
    )?;
    check(msg.contains("reserved"), &msg)?;
    // The first board gets its table back, then a dropped column.
    let again = format!("SELECT monday_sync.track_board({SAMPLE_BOARD})");
    e.db.batch_execute(&again).map_err(pg)?;
    e.pull()?;
    e.db.batch_execute(&format!("ALTER TABLE {mine} DROP COLUMN budget"))
        .map_err(pg)?;
    e.db.batch_execute(&again).map_err(pg)?;
    e.pull()?;
    e.check_table(&mine, SAMPLE_BOARD)
}
