-- Write-back: rows changed in PostgreSQL become monday changes.
\pset footer off
SELECT table_name AS target FROM monday_sync.board_status WHERE board_id = :board \gset
\echo '== enable_write_back: UPDATE, INSERT and DELETE on the typed table now go to monday'
SELECT monday_sync.enable_write_back(:board);
SELECT item_id AS first_item FROM :target WHERE state = 'active' ORDER BY item_id LIMIT 1 OFFSET 3 \gset
SELECT item_id AS second_item FROM :target WHERE state = 'active' ORDER BY item_id LIMIT 1 OFFSET 4 \gset
\echo '== three statements, three transactions'
UPDATE :target SET status = 'Done', notes = 'written in PostgreSQL' WHERE item_id = :first_item;
UPDATE :target SET name = 'Renamed in PostgreSQL' WHERE item_id = :second_item;
INSERT INTO :target (name, notes) VALUES ('Created in PostgreSQL', 'a new item') RETURNING item_id AS temporary_item_id, name;
\echo '== the outbox right after the COMMITs: waiting for the worker (monday_sync.write_delay)'
SELECT write_id, item_id, op, status, changes FROM monday_sync.pending_writes ORDER BY write_id;
CREATE FUNCTION pg_temp.wait_sent() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE k bigint;
BEGIN
  FOR i IN 1..200 LOOP
    SELECT count(*) INTO k FROM monday_sync.pending_writes;
    EXIT WHEN k = 0;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN k;
END $$;
SELECT pg_temp.wait_sent() AS still_pending;
\echo '== sent: one request for the three changes; the new row now has monday''s item id'
SELECT write_id, item_id, op, status, created_item_id, request_id,
       round(extract(epoch FROM sent_at - changed_at) * 1000) AS ms_commit_to_request
  FROM monday_sync.writes ORDER BY write_id;
SELECT item_id, name, status, notes FROM :target
 WHERE item_id IN (:first_item, :second_item) OR name = 'Created in PostgreSQL' ORDER BY item_id;
SELECT runid, kind, status, api_calls, message FROM monday_sync.sync_runs
 WHERE kind = 'write_items' ORDER BY runid;
SELECT board_id, write_back, pending_writes, last_write_error FROM monday_sync.board_status;
