-- After three changes were made on the fake monday board (a rename, a status, a text cell):
-- they arrive as webhooks and are in their typed rows without any pull.
\pset footer off
CREATE FUNCTION pg_temp.wait_applied(n int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE k bigint;
BEGIN
  FOR i IN 1..100 LOOP
    SELECT count(*) INTO k FROM monday_sync.webhook_events WHERE status = 'applied';
    EXIT WHEN k >= n;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN k;
END $$;
SELECT pg_temp.wait_applied(3) AS events_applied;
SELECT table_name AS target FROM monday_sync.board_status WHERE board_id = :board \gset
\echo '== the three changes, in their typed rows'
SELECT item_id, name, status, notes, synced_at::timestamp(0) AS synced_at
  FROM :target ORDER BY item_id LIMIT 3;
\echo '== the inbox: each event, and how long from the change on monday to the row'
SELECT event_id, event_type, item_id, column_id, status,
       round(extract(epoch FROM processed_at - trigger_time) * 1000) AS ms_change_to_row
  FROM monday_sync.webhook_events ORDER BY event_id;
SELECT board_id, subscriptions, events_last_hour, lag_p50, awaiting_fetch FROM monday_sync.webhook_status;
SELECT state, address, events_applied FROM monday_sync.webhook_listener;
\echo '-- a confirming items(ids:) fetch follows after monday_sync.webhook_settle, batched for the whole board'
