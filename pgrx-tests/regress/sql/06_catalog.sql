-- The SQL surface as a DBA sees it: volatility, parallel safety, and a comment on everything.
SELECT p.oid::regprocedure AS function,
       CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' ELSE 'volatile' END AS volatility,
       CASE p.proparallel WHEN 's' THEN 'safe' WHEN 'r' THEN 'restricted' ELSE 'unsafe' END AS parallel,
       p.proisstrict AS strict,
       CASE WHEN p.proretset THEN 'setof ' || p.prorettype::regtype::text ELSE pg_get_function_result(p.oid) END AS returns,
       obj_description(p.oid, 'pg_proc') IS NOT NULL AS has_comment,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute,
       p.prosecdef AS secdef,
       array_to_string(p.proconfig, '; ') AS config
  FROM pg_proc p
 WHERE p.pronamespace = 'monday_sync'::regnamespace
 ORDER BY p.proname;

SELECT obj_description('monday_sync'::regnamespace, 'pg_namespace') IS NOT NULL AS schema_has_comment,
       has_schema_privilege('public', 'monday_sync', 'USAGE') AS public_usage;
SELECT pg_get_function_arguments('monday_sync.decode(text,jsonb,jsonb)'::regprocedure) AS decode_arguments;

-- Tables and views: each has a comment; only the token table is closed to everyone but the owner.
SELECT c.oid::regclass AS relation, c.relkind,
       obj_description(c.oid, 'pg_class') IS NOT NULL AS has_comment,
       c.relacl IS NOT NULL AS explicit_acl
  FROM pg_class c
 WHERE c.relnamespace = 'monday_sync'::regnamespace AND c.relkind IN ('r', 'v')
 ORDER BY c.relname;

-- Settings: the URL and API version are superuser-only (the token is sent there); the token file
-- is also hidden from other roles.
LOAD 'monday_sync';
SELECT name, setting, context, unit FROM pg_settings WHERE name LIKE 'monday_sync.%' ORDER BY name;
