-- decode_item: a whole items_page item → {column_id: decoded}; with the board's columns, status
-- indexes and dropdown ids resolve through settings_str even when no label/text was requested.
SET datestyle = 'ISO, MDY';
SELECT jsonb_pretty(monday_sync.decode_item(
  '{"id":"18265984789","name":"Checkout redesign","group":{"id":"topics","title":"This sprint"},
    "column_values":[
      {"id":"status","type":"status","text":null,"value":"{\"index\":2,\"changed_at\":\"2026-05-31T13:49:12.379Z\"}"},
      {"id":"dropdown_mkx3","type":"dropdown","text":null,"value":"{\"ids\":[3,1]}"},
      {"id":"numeric_mkx1","type":"numbers","text":"12500.00","value":"\"12500.00\""},
      {"id":"timeline_mkx2","type":"timeline","text":"","value":"{\"to\":\"2026-06-12\",\"from\":\"2026-06-01\"}"},
      {"id":"board_relation_mkxg","type":"board_relation","text":null,"value":null,"linked_item_ids":["18414630201"],"display_value":"Acme"},
      {"id":"text0","type":"text","text":"","value":null}]}',
  '[{"id":"status","title":"Status","type":"status","settings_str":"{\"labels\":{\"0\":\"Working on it\",\"1\":\"Done\",\"2\":\"Stuck\"}}"},
    {"id":"dropdown_mkx3","title":"Area","type":"dropdown","settings_str":"{\"labels\":[{\"id\":1,\"name\":\"Backend\"},{\"id\":3,\"name\":\"Design\"}]}"}]'));

-- Into a typed row with jsonb_populate_record.
CREATE TYPE regress.task AS (name text, status text, dropdown_mkx3 text[], numeric_mkx1 numeric, timeline_mkx2 daterange, board_relation_mkxg bigint[]);
SELECT (jsonb_populate_record(NULL::regress.task, monday_sync.decode_item(
  '{"name":"Checkout redesign","column_values":[
      {"id":"status","type":"status","text":"Stuck","value":"{\"index\":2}"},
      {"id":"dropdown_mkx3","type":"dropdown","text":"Design, Backend","value":"{\"ids\":[3,1]}"},
      {"id":"numeric_mkx1","type":"numbers","text":"12500.00","value":"\"12500.00\""},
      {"id":"timeline_mkx2","type":"timeline","text":"","value":"{\"to\":\"2026-06-12\",\"from\":\"2026-06-01\"}"},
      {"id":"board_relation_mkxg","type":"board_relation","value":null,"linked_item_ids":["18414630201"]}]}'))).*;
