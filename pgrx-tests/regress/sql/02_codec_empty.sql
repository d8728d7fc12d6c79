-- Every empty form in FACTS.md §1.1–1.3 decodes to SQL NULL (checkbox: false, as specified).
SELECT column_type, cv, monday_sync.decode(column_type, cv) IS NULL AS is_null
  FROM (VALUES
    ('text',           '{"id":"t","text":"","value":null}'::jsonb),           -- never set
    ('text',           '{"id":"t","text":"","value":"\"\""}'),                -- cleared: "\"\""
    ('numbers',        '{"id":"n","text":"","value":"\"\""}'),
    ('long_text',      '{"id":"l","text":"","value":"{\"text\":\"\",\"changed_at\":\"2024-11-19T13:43:36.060Z\"}"}'),
    ('status',         '{"id":"s","text":null,"value":null}'),
    ('status',         '{"id":"s","text":null,"value":"{\"changed_at\":\"2025-05-24T14:07:26.376Z\"}"}'),  -- only changed_at
    ('status',         '{"id":"s","text":null,"value":"{\"index\":5,\"post_id\":null}"}'),              -- index 5, null text
    ('status',         '{"id":"s","text":null,"value":"{}"}'),
    ('dropdown',       '{"id":"d","text":null,"value":"{\"ids\":[]}"}'),
    ('dropdown',       '{"id":"d","text":null,"value":"{\"labels\":[]}"}'),
    ('date',           '{"id":"d","text":"","value":"{\"changed_at\":\"2025-05-24T14:07:26.376Z\"}"}'),
    ('timeline',       '{"id":"t","text":"","value":"{}"}'),
    ('people',         '{"id":"p","text":"","value":"{\"personsAndTeams\":[]}"}'),
    ('board_relation', '{"id":"r","text":null,"value":null,"linked_item_ids":[],"display_value":""}'), -- empty linked_item_ids
    ('dependency',     '{"id":"r","text":null,"value":null,"linked_item_ids":[]}'),
    ('subtasks',       '{"id":"s","text":null,"value":null,"subitems_ids":[]}'),
    ('mirror',         '{"id":"m","text":null,"value":null,"display_value":""}'),                        -- empty display_value
    ('formula',        '{"id":"f","text":null,"value":null,"display_value":""}'),
    ('file',           '{"id":"f","text":"","value":"{\"files\":[]}"}'),
    ('tags',           '{"id":"t","text":"","value":"{\"tag_ids\":[]}"}'),
    ('location',       '{"id":"l","text":"","value":null}'),
    ('vote',           '{"id":"v","value":null}'),
    ('time_tracking',  '{"id":"t","value":null,"duration":null}')
  ) AS e(column_type, cv);

SELECT monday_sync.decode('checkbox', '{"id":"c","text":"","value":null}') AS checkbox_never_set,
       monday_sync.decode('checkbox', '{"id":"c","text":"","value":"{\"checked\":false}"}') AS checkbox_cleared;

-- SQL NULL in, SQL NULL out; a NULL type with no type in the value is an error (see 04_codec_errors).
SELECT monday_sync.decode('text', NULL) IS NULL AS null_value, monday_sync.decode_item(NULL) IS NULL AS null_item;
