-- Every monday column type decodes to to_jsonb(<value>::<its default Postgres type>), checked here
-- by Postgres itself. Values are the shapes recorded in shared/monday-api/FACTS.md §1.3.
-- pg_regress runs with DateStyle 'Postgres, MDY' and IntervalStyle 'postgres_verbose'; to_jsonb of a
-- daterange or interval follows them, decode (immutable) always renders the defaults.
SET datestyle = 'ISO, MDY';
SET intervalstyle = 'postgres';
SET TimeZone = 'UTC';

CREATE TABLE regress.cases (n serial, column_type text, cv jsonb, expected text);
INSERT INTO regress.cases (column_type, cv, expected) VALUES
 ('name',           '{"id":"name","name":"Checkout redesign"}', 'Checkout redesign'),
 ('text',           '{"id":"text0","text":"57 lenox ave, nyc","value":"\"57 lenox ave, nyc\""}', '57 lenox ave, nyc'),
 ('long_text',      '{"id":"long_text","text":"Sample text","value":"{\"text\":\"Sample text\",\"changed_at\":\"2024-11-19T13:43:36.060Z\"}"}', 'Sample text'),
 ('numbers',        '{"id":"numbers","text":"1231","value":"\"1231\""}', '1231'),
 ('numbers',        '{"id":"numbers","text":"-12.50","value":"\"-12.50\""}', '-12.50'),
 ('numbers',        '{"id":"numbers","text":"1.5e3","value":"\"1.5e3\""}', '1.5e3'),
 ('status',         '{"id":"status","text":"Done","value":"{\"index\":1,\"post_id\":null,\"changed_at\":\"2025-05-24T14:07:26.376Z\"}"}', 'Done'),
 ('status',         '{"id":"status","text":"Stuck","label":"Stuck","index":2,"value":"{\"index\":2,\"changed_at\":\"2026-05-31T13:49:12.379Z\"}"}', 'Stuck'),
 ('dropdown',       '{"id":"dropdown","text":"Cookie, Cupcake","value":"{\"ids\":[1,3]}","values":[{"id":"1","label":"Cookie"},{"id":"3","label":"Cupcake"}]}', '{Cookie,Cupcake}'),
 ('date',           '{"id":"date4","text":"2023-06-21","value":"{\"date\":\"2023-06-21\",\"icon\":null,\"changed_at\":\"2023-06-20T10:00:00.000Z\"}"}', '2023-06-21'),
 ('date',           '{"id":"date4","value":"{\"date\":\"2026-06-15\",\"time\":\"09:00:00\",\"changed_at\":\"2026-06-01T00:00:00.000Z\"}"}', '2026-06-15'),
 ('timeline',       '{"id":"timeline","text":"2019-06-03 - 2019-06-07","value":"{\"to\":\"2019-06-07\",\"from\":\"2019-06-03\",\"changed_at\":\"2019-06-01T00:00:00.000Z\"}"}', '[2019-06-03,2019-06-07]'),
 ('timeline',       '{"id":"timeline","value":"{\"to\":\"2019-06-03\",\"from\":\"2019-06-03\",\"visualization_type\":\"milestone\"}"}', '[2019-06-03,2019-06-03]'),
 ('week',           '{"id":"week","value":"{\"week\":{\"endDate\":\"2019-06-16\",\"startDate\":\"2019-06-10\"}}"}', '[2019-06-10,2019-06-16]'),
 ('hour',           '{"id":"hour","text":"04:42 PM","value":"{\"hour\":16,\"minute\":42,\"changed_at\":\"2024-01-01T00:00:00.000Z\"}"}', '16:42'),
 ('people',         '{"id":"person","value":"{\"changed_at\":\"2022-10-26T12:39:58.664Z\",\"personsAndTeams\":[{\"id\":44865791,\"kind\":\"person\"},{\"id\":51166,\"kind\":\"team\"}]}"}', '{44865791}'),
 ('board_relation', '{"id":"connect","value":null,"linked_item_ids":["18265984789","18265984790"],"display_value":"A, B"}', '{18265984789,18265984790}'),
 ('board_relation', '{"id":"connect","value":"{\"linkedPulseIds\":[{\"linkedPulseId\":1711043053}],\"changed_at\":\"2023-01-01T00:00:00.000Z\"}"}', '{1711043053}'),
 ('dependency',     '{"id":"dep","value":null,"linked_item_ids":["18265984789"]}', '{18265984789}'),
 ('subtasks',       '{"id":"subitems","value":null,"text":null,"subitems_ids":["18265981953","18265981954"]}', '{18265981953,18265981954}'),
 ('mirror',         '{"id":"lookup_1","value":null,"text":null,"display_value":"Acme, Globex"}', 'Acme, Globex'),
 ('formula',        '{"id":"formula","value":null,"text":null,"display_value":"42.5"}', '42.5'),
 ('email',          '{"id":"email","text":"Test Contact - test@example.com","value":"{\"email\":\"test@example.com\",\"text\":\"Test Contact\",\"changed_at\":\"2026-01-01T00:00:00.000Z\"}"}', 'test@example.com'),
 ('phone',          '{"id":"phone","value":"{\"phone\":\"11231234567\",\"changed_at\":\"2026-01-01T00:00:00.000Z\",\"countryShortName\":\"US\"}"}', '11231234567'),
 ('link',           '{"id":"link","value":"{\"url\":\"http://monday.com\",\"text\":\"go to monday!\",\"changed_at\":\"2026-01-01T00:00:00.000Z\"}"}', 'http://monday.com'),
 ('location',       '{"id":"location","value":"{\"lat\":\"29.9772962\",\"lng\":\"31.1324955\",\"address\":\"Giza Pyramid Complex\",\"changed_at\":\"2026-01-01T00:00:00.000Z\"}"}', '{"address":"Giza Pyramid Complex","lat":29.9772962,"lng":31.1324955}'),
 ('checkbox',       '{"id":"check","text":"v","value":"{\"checked\":true,\"changed_at\":\"2026-01-01T00:00:00.000Z\"}"}', 'true'),
 ('checkbox',       '{"id":"check","text":"","value":"{\"checked\":false}"}', 'false'),
 ('checkbox',       '{"id":"check","text":"","value":null}', 'false'),
 ('rating',         '{"id":"rating","value":"{\"rating\":5,\"changed_at\":\"2026-01-01T00:00:00.000Z\"}"}', '5'),
 ('vote',           '{"id":"vote","text":"3","value":"{\"voter_ids\":[12345,67890,11111],\"changed_at\":\"2026-01-01T00:00:00.000Z\"}"}', '3'),
 ('vote',           '{"id":"vote","text":"0","value":null,"vote_count":0}', '0'),
 ('tags',           '{"id":"tags","value":"{\"tag_ids\":[295026,295064]}"}', '{295026,295064}'),
 ('country',        '{"id":"country","value":"{\"countryCode\":\"US\",\"countryName\":\"United States\"}"}', 'US'),
 ('world_clock',    '{"id":"world_clock","value":"{\"timezone\":\"Europe/London\",\"changed_at\":\"2026-01-01T00:00:00.000Z\"}"}', 'Europe/London'),
 ('color_picker',   '{"id":"color_picker","value":"{\"color\":{\"hex\":\"#FF5733\"},\"changed_at\":\"2026-01-01T00:00:00.000Z\"}"}', '#FF5733'),
 ('creation_log',   '{"id":"pulse_log","value":null,"created_at":"2026-01-05T10:00:00.123Z","creator_id":"1"}', '2026-01-05 10:00:00.123+00'),
 ('last_updated',   '{"id":"last_updated","text":"2026-03-21 08:47:10 UTC","value":"{\"updated_at\":\"2026-03-21T08:47:10Z\",\"updater_id\":\"123456\"}"}', '2026-03-21 08:47:10+00'),
 ('item_id',        '{"id":"item_id","value":"{\"item_id\":\"1711043053\"}"}', '1711043053'),
 ('time_tracking',  '{"id":"time_tracking","value":null,"duration":90061}', '90061 seconds'),
 ('file',           '{"id":"files","value":"{\"files\":[{\"name\":\"x.jpg\",\"assetId\":125951865,\"isImage\":\"true\",\"fileType\":\"ASSET\",\"createdAt\":1749369004275,\"createdBy\":\"76184316\"}]}"}', '{"files":[{"name":"x.jpg","assetId":125951865,"isImage":"true","fileType":"ASSET","createdAt":1749369004275,"createdBy":"76184316"}]}'),
 ('doc',            '{"id":"doc","value":"{\"files\":[{\"fileType\":\"MONDAY_DOC\",\"fileId\":\"77\",\"objectId\":12}]}"}', '{"files":[{"fileType":"MONDAY_DOC","fileId":"77","objectId":12}]}'),
 ('brand_new_2027', '{"id":"x","value":"{\"anything\":[1,2]}"}', '{"anything":[1,2]}');

-- decode = to_jsonb(expected::column_sql_type(type)), and the value reads back as that type.
SELECT n, column_type,
       monday_sync.column_sql_type(column_type) AS sql_type,
       monday_sync.decode(column_type, cv) AS decoded,
       monday_sync.decode(column_type, cv) = regress.to_jsonb_as(expected, monday_sync.column_sql_type(column_type)) AS is_to_jsonb
  FROM regress.cases ORDER BY n;

-- The column type can come from the value itself.
SELECT monday_sync.decode(NULL, '{"id":"n","type":"numbers","text":"7","value":"\"7\""}') AS from_type_field;

-- Immutable means independent of the session: timestamptz is always rendered in UTC, dates in ISO.
SET TimeZone = 'Asia/Tokyo';
SET datestyle = 'SQL, DMY';
SET intervalstyle = 'sql_standard';
SELECT monday_sync.decode('last_updated', cv) AS last_updated_in_tokyo_session,
       monday_sync.decode('timeline', '{"id":"t","value":"{\"from\":\"2019-06-03\",\"to\":\"2019-06-07\"}"}') AS timeline_in_sql_datestyle,
       monday_sync.decode('time_tracking', '{"id":"t","duration":3725}') AS interval_in_sql_standard_style
  FROM regress.cases WHERE column_type = 'last_updated';
RESET TimeZone;
RESET datestyle;
RESET intervalstyle;

-- The type table, for every ColumnType of API 2026-07 and the legacy names webhooks use.
SELECT t AS column_type, monday_sync.column_sql_type(t) AS sql_type
  FROM unnest(ARRAY['auto_number','board_relation','button','checkbox','color_picker','country','creation_log',
       'date','dependency','doc','dropdown','email','file','formula','group','hour','integration','item_assignees',
       'item_id','last_updated','link','location','long_text','mirror','numbers','people','phone','progress','rating',
       'status','tags','team','text','timeline','time_tracking','vote','week','world_clock','unsupported','name',
       'person','direct_doc','subtasks',
       'color','multiple-person','tag','pulse-updated','pulse-log','long-text','numeric','boolean','lookup',
       'board-relation','timerange']) AS t;

-- Values read from a table arrive as stored: short ones (< 127 bytes) with a 1-byte header, the
-- rest with a 4-byte one. Both decode exactly as the same values built in memory.
CREATE TABLE regress.stored AS
  SELECT n, column_type, cv FROM regress.cases
  UNION ALL
  SELECT 1000 + i, 'text', v
    FROM unnest(ARRAY['{"id":"t","value":null}', '{"id":"t","value":"\"x\""}', '{"id":"n","type":"numbers","value":"\"-0.50\""}']::jsonb[])
         WITH ORDINALITY AS u(v, i);
SELECT count(*) AS stored_rows,
       count(*) FILTER (WHERE pg_column_size(cv) < 127) AS short_datums,
       count(*) FILTER (WHERE monday_sync.decode(column_type, cv)
                              IS DISTINCT FROM monday_sync.decode(column_type, cv::text::jsonb)) AS differing
  FROM regress.stored;
