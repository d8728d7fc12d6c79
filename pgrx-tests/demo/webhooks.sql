-- The demo's real-time part, run by `pgrx-tests/run demo` against the fake monday server (which
-- delivers webhooks over HTTP on 127.0.0.1 as monday does). :board is the sample board.
\pset footer off
\echo
\echo '== real time: the webhook listener runs inside PostgreSQL (monday_sync.webhook_listen)'
CREATE FUNCTION pg_temp.wait_listening() RETURNS text LANGUAGE plpgsql AS $$
DECLARE s text;
BEGIN
  FOR i IN 1..100 LOOP
    SELECT state INTO s FROM monday_sync.webhook_listener;
    EXIT WHEN s = 'listening';
    PERFORM pg_sleep(0.1);
  END LOOP;
  RETURN s;
END $$;
SELECT pg_temp.wait_listening() AS state;
SELECT state, address, last_error FROM monday_sync.webhook_listener;

\echo '== subscribe_board: one webhook per event type, each URL with a long random secret path'
SELECT s ->> 'url' AS url, jsonb_array_length(s -> 'created') AS created, s -> 'existing' AS existing,
       s -> 'api_calls' AS api_calls
  FROM monday_sync.subscribe_board(:board) AS s;
SELECT subscriptions, events FROM monday_sync.webhook_status WHERE board_id = :board;
SELECT board_id, table_name, sync_mode FROM monday_sync.board_status WHERE board_id = :board;
