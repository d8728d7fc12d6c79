-- encode: a typed value (to_jsonb of the column's SQL type, as decode returns it) → the JSON monday
-- accepts in column_values. NULL clears. Read-only types and values monday would refuse are errors.

-- One value per writable type, and what goes to monday.
SELECT t AS column_type, v AS value, monday_sync.encode(t, v, s) AS sent
  FROM (VALUES
    ('name', '"Launch plan"'::jsonb, NULL::jsonb),
    ('text', '"Hello"', NULL),
    ('long_text', '"line one\nline two"', NULL),
    ('numbers', to_jsonb(12.50::numeric), NULL),
    ('numbers', to_jsonb(-7::numeric), NULL),
    ('status', '"Done"', '{"labels":{"0":"Working on it","1":"Done","2":"Stuck"}}'),
    ('dropdown', '["Cookie","Cupcake"]', '{"labels":[{"id":1,"name":"Cookie"},{"id":2,"name":"Muffin"},{"id":3,"name":"Cupcake"}]}'),
    ('date', to_jsonb('2026-06-15'::date), NULL),
    ('timeline', to_jsonb('[2019-06-03,2019-06-07]'::daterange), NULL),
    ('week', to_jsonb('[2019-06-10,2019-06-16]'::daterange), NULL),
    ('hour', to_jsonb('16:42'::time), NULL),
    ('people', '[44865791]', NULL),
    ('board_relation', '[18265984789]', NULL),
    ('email', '"noa@example.com"', NULL),
    ('link', '"https://monday.com"', NULL),
    ('location', '{"lat": 29.9792, "lng": 31.1342, "address": "Giza"}', NULL),
    ('checkbox', 'true', NULL),
    ('rating', '4', '{"limit": 5}'),
    ('tags', '[295026]', NULL),
    ('country', '"FR"', NULL),
    ('world_clock', '"Europe/Paris"', NULL)
  ) AS c(t, v, s);

-- NULL (SQL or JSON) clears.
SELECT monday_sync.encode('text', NULL) AS text_cleared,
       monday_sync.encode('status', 'null') AS status_cleared,
       monday_sync.encode('tags', NULL) AS tags_cleared;

-- decode(encode(v)) = v through SQL: the value monday stores for what we sent reads back as v.
SELECT monday_sync.decode('numbers', jsonb_build_object('id', 'n', 'value',
         monday_sync.encode('numbers', to_jsonb(1234.500::numeric))::text)) AS numbers_back,
       monday_sync.decode('date', jsonb_build_object('id', 'd', 'value',
         monday_sync.encode('date', '"2026-02-28"')::text)) AS date_back;

-- Errors: SQLSTATE, message, DETAIL, HINT.
SELECT regress.err($q$SELECT monday_sync.encode('formula', '"x"')$q$);
SELECT regress.err($q$SELECT monday_sync.encode('mirror', '[1]')$q$);
SELECT regress.err($q$SELECT monday_sync.encode('status', '"Nope"', '{"labels":{"0":"Working on it","1":"Done"}}')$q$);
SELECT regress.err($q$SELECT monday_sync.encode('week', to_jsonb('[2019-06-10,2019-06-14]'::daterange))$q$);
SELECT regress.err($q$SELECT monday_sync.encode('location', '{"lat": 91, "lng": 0}')$q$);
SELECT regress.err($q$SELECT monday_sync.encode('date', '"2026-02-30"')$q$);
SELECT regress.err($q$SELECT monday_sync.encode('name', NULL)$q$);
SELECT regress.err($q$SELECT monday_sync.encode(NULL, '"x"')$q$);
SELECT regress.err($q$SELECT monday_sync.encode('no_such_type', '"x"')$q$);
SELECT regress.err($q$SELECT monday_sync.encode('numbers', '"abc"')$q$);

-- Arbitrary input never crashes the backend: each case encodes or raises a clean error.
SELECT count(*) AS cases,
       count(*) FILTER (WHERE r = 'no error') AS encoded,
       count(*) FILTER (WHERE r !~ '^(no error|22[0-9A-Z]{3}:|0A000:|42704:)') AS other
  FROM (SELECT regress.err(format('SELECT monday_sync.encode(%L, %L::jsonb, %L::jsonb)', t, v, s))
          FROM unnest(ARRAY['text','numbers','status','dropdown','date','timeline','week','hour','people',
                            'location','checkbox','rating','tags','country','phone','email','link']) AS t,
               unnest(ARRAY['""', '"x"', '0', '-1', '1e300', '[]', '[null]', '{}', '{"lat":"a"}', 'true',
                            '"[2026-01-01,)"', '"25:00:00"', '[1,1]', repeat('[', 500) || repeat(']', 500)]) AS v,
               unnest(ARRAY[NULL, '{"labels":{"1":"Done"}}', '"{\"labels\":[]}"', '[]']) AS s) AS x(r);
