-- Errors carry a SQLSTATE, a DETAIL naming the column (with at most 100 bytes of the value) and a HINT.

-- 22P02: value is not valid JSON.
SELECT regress.err($q$SELECT monday_sync.decode('status', '{"id":"status_1__1","value":"{\"index\":1"}')$q$);
SELECT regress.err($q$SELECT monday_sync.decode('text', jsonb_build_object('id', 'text0', 'value', repeat('x', 5000)))$q$);

-- 22023: valid JSON of the wrong shape for its type.
SELECT regress.err($q$SELECT monday_sync.decode('numbers', '{"id":"numeric_7","value":"\"abc\""}')$q$);
SELECT regress.err($q$SELECT monday_sync.decode('date', '{"id":"date4","value":"{\"date\":\"2023-02-30\"}"}')$q$);
SELECT regress.err($q$SELECT monday_sync.decode('timeline', '{"id":"tl","value":"{\"from\":\"2019-06-07\",\"to\":\"2019-06-03\"}"}')$q$);
SELECT regress.err($q$SELECT monday_sync.decode('people', '{"id":"p","value":"{\"personsAndTeams\":\"nobody\"}"}')$q$);
SELECT regress.err($q$SELECT monday_sync.decode('status', '{"id":"s","text":null,"value":"{\"index\":2}"}')$q$);
SELECT regress.err($q$SELECT monday_sync.decode(NULL, '{"id":"x","value":"\"5\""}')$q$);
SELECT regress.err($q$SELECT monday_sync.decode('text', '[1,2,3]')$q$);
SELECT regress.err($q$SELECT monday_sync.decode_item('{"id":"1","column_values":"nope"}')$q$);
SELECT regress.err($q$SELECT monday_sync.decode_item('{"id":"1","column_values":[]}', '42')$q$);

-- Arbitrary bytes never crash the backend: every case below either decodes or raises a clean error.
SELECT count(*) AS cases,
       count(*) FILTER (WHERE r = 'no error') AS decoded,
       count(*) FILTER (WHERE r LIKE '22P02:%') AS malformed,
       count(*) FILTER (WHERE r LIKE '22023:%') AS wrong_shape,
       count(*) FILTER (WHERE r LIKE '22P05:%') AS nul_in_text,
       count(*) FILTER (WHERE r NOT SIMILAR TO '(no error|22P02:%|22023:%|22P05:%)') AS other
  FROM (SELECT regress.err(format('SELECT monday_sync.decode(%L, %L::jsonb)', t,
                 jsonb_build_object('id', 'c', 'value', v)))
          FROM unnest(ARRAY['text','numbers','status','date','timeline','people','location','hour','file','board_relation']) AS t,
               unnest(ARRAY['', '{', '}', '"', '\', 'null', '[]', '{}', '"\u0000"', '{"a":"\ud800"}', '1e99999', '-0',
                            '{"index":"x"}', '{"date":7}', '{"hour":-1,"minute":99}', '{"lat":"N","lng":"E"}',
                            '{"personsAndTeams":[{"id":"x"}]}', repeat('[', 5000), E'\x01\x02']) AS v) AS s(r);
