-- The webhook dialect (FACTS.md §5.3): the event object itself, value as real JSON, legacy type
-- names in columnType. decode(NULL, payload->'event') reads columnType, not the event's "type".
SELECT ev->>'columnType' AS column_type, monday_sync.decode(NULL, ev) AS decoded
  FROM (VALUES
   ('{"app":"monday","type":"update_column_value","triggerTime":"2025-02-04T19:20:54.522Z","subscriptionId":123,"isRetry":false,"userId":44865791,"originalTriggerUuid":null,"boardId":18414630189,"groupId":"topics","pulseId":18265984789,"pulseName":"Checkout redesign","columnId":"status","columnType":"color","columnTitle":"Status","value":{"label":{"index":0,"text":"Working on it","style":{"color":"#fdab3d","border":"#e99729","var_name":"orange"},"is_done":false},"post_id":null},"previousValue":null,"changedAt":1738696854.123,"isTopGroup":true,"triggerUuid":"a1b2"}'::jsonb),
   ('{"type":"update_column_value","columnId":"person","columnType":"multiple-person","value":{"personsAndTeams":[{"id":44865791,"kind":"person"},{"id":51166,"kind":"team"}],"changed_at":"2025-02-04T19:20:54.000Z"},"previousValue":{}}'),
   ('{"type":"update_column_value","columnId":"date4","columnType":"date","value":{"date":"2025-02-05","icon":null,"time":null,"changed_at":"2025-02-04T19:20:54.000Z"}}'),
   ('{"type":"update_column_value","columnId":"subitems","columnType":"subtasks","value":{"linkedPulseIds":[{"linkedPulseId":18265981953}],"changed_at":"2025-02-04 19:20:54 +0000"}}'),
   ('{"type":"update_column_value","columnId":"dropdown","columnType":"dropdown","value":{"chosenValues":[{"id":1,"name":"Cookie"},{"id":3,"name":"Cupcake"}]}}'),
   ('{"type":"update_column_value","columnId":"tags","columnType":"tag","value":{"tag_ids":[295026]}}'),
   ('{"type":"update_column_value","columnId":"updated","columnType":"pulse-updated","value":{"updated_at":"2025-02-04T19:20:54Z"}}'),
   ('{"type":"update_column_value","columnId":"text0","columnType":"text","value":{"value":"hello from a webhook"}}'),
   ('{"type":"update_column_value","columnId":"numbers","columnType":"numeric","value":{"value":12.5,"unit":null}}'),
   ('{"type":"update_column_value","columnId":"check","columnType":"boolean","value":{"checked":"true"}}'),
   ('{"type":"update_column_value","columnId":"status","columnType":"color","value":null,"previousValue":{"label":{"index":1,"text":"Done"}}}')
  ) AS w(ev);

-- previousValue decodes the same way: pass it as the value.
SELECT monday_sync.decode('color', jsonb_build_object('value', ev->'previousValue')) AS previous_status
  FROM (VALUES ('{"columnType":"color","value":null,"previousValue":{"label":{"index":1,"text":"Done"}}}'::jsonb)) AS w(ev);
