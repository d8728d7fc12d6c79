-- The sync functions' contract where no network is needed: arguments, the token, privileges,
-- settings. (Everything that talks to monday is tested end to end against the fake: src/e2e.rs.)
SET monday_sync.api_url = 'http://127.0.0.1:9/v2';   -- nothing listens there

-- No token yet: 55000 with the set_token call in the HINT, before any request.
SELECT regress.err($q$SELECT monday_sync.track_board(18414630189)$q$);
SELECT regress.err($q$SELECT monday_sync.pull_item(18265984789)$q$);

-- Boards that are not tracked: 55000 with the track_board call in the HINT.
SELECT regress.err($q$SELECT monday_sync.pull_board(18414630189)$q$);
SELECT regress.err($q$SELECT monday_sync.map_column(18414630189, 'status', 'state_of_play')$q$);

-- NULLs and empty tokens.
SELECT regress.err($q$SELECT monday_sync.track_board(NULL)$q$);
SELECT regress.err($q$SELECT monday_sync.set_token('   ')$q$);
SELECT monday_sync.pull_board(NULL) IS NULL AS strict_pull_board;

-- The token: set, replaced, removed; only the owner reads it.
SELECT monday_sync.set_token('first-token');
SELECT monday_sync.set_token('second-token');
SELECT count(*) AS tokens, min(token) AS token FROM monday_sync._credentials;
CREATE ROLE regress_analyst;
GRANT USAGE ON SCHEMA monday_sync, regress TO regress_analyst;
SET ROLE regress_analyst;
SELECT regress.err($q$SELECT token FROM monday_sync._credentials$q$);
SELECT regress.err($q$SELECT monday_sync.set_token('mine')$q$);
SELECT regress.err($q$SELECT monday_sync.pull_item(1)$q$);
SELECT regress.err($q$SET monday_sync.api_url = 'http://127.0.0.1:1/steal'$q$);
SELECT regress.err($q$SET monday_sync.max_retries = 1$q$);
RESET ROLE;
-- EXECUTE granted, the token still unreadable: our 42501, with what to do.
GRANT EXECUTE ON FUNCTION monday_sync.pull_item(bigint) TO regress_analyst;
SET ROLE regress_analyst;
SELECT regress.err($q$SELECT monday_sync.pull_item(1)$q$);
RESET ROLE;
SELECT monday_sync.set_token(NULL);
SELECT count(*) AS tokens FROM monday_sync._credentials;
DROP OWNED BY regress_analyst;
DROP ROLE regress_analyst;

-- An unreachable API: bounded retries, then HV00N naming the board.
SELECT monday_sync.set_token('some-token');
SET monday_sync.max_retries = 1;
SELECT regress.err($q$SELECT monday_sync.track_board(18414630189)$q$) ~ '^HV00N: monday board 18414630189: monday''s API is unavailable' AS unreachable;
SELECT monday_sync.set_token(NULL);
