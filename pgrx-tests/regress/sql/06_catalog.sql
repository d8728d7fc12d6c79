-- The SQL surface as a DBA sees it: volatility, parallel safety, and a comment on everything.
SELECT p.oid::regprocedure AS function,
       CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' ELSE 'volatile' END AS volatility,
       CASE p.proparallel WHEN 's' THEN 'safe' WHEN 'r' THEN 'restricted' ELSE 'unsafe' END AS parallel,
       p.proisstrict AS strict,
       pg_get_function_result(p.oid) AS returns,
       obj_description(p.oid, 'pg_proc') IS NOT NULL AS has_comment
  FROM pg_proc p
 WHERE p.pronamespace = 'monday_sync'::regnamespace
 ORDER BY p.proname;

SELECT obj_description('monday_sync'::regnamespace, 'pg_namespace') IS NOT NULL AS schema_has_comment;
SELECT pg_get_function_arguments('monday_sync.decode(text,jsonb,jsonb)'::regprocedure) AS decode_arguments;
