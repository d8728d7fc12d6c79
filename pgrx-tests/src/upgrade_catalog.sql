-- Every object of the extension monday_sync as (kind, name, definition) rows, for comparing an
-- upgraded database with a fresh CREATE EXTENSION (pgrx-tests/src/upgrade.rs). Names are stable
-- across databases (no OIDs); table columns are keyed by name, so their order does not count (ALTER
-- TABLE … ADD COLUMN appends), everything else is compared as PostgreSQL prints it.
WITH ext AS (
    SELECT e.oid, e.extconfig, e.extcondition FROM pg_catalog.pg_extension e WHERE e.extname = 'monday_sync'
), members AS (
    SELECT d.classid, d.objid FROM pg_catalog.pg_depend d, ext
     WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
), rels AS (
    SELECT c.oid, c.oid::pg_catalog.regclass::pg_catalog.text AS name, c.relkind
      FROM pg_catalog.pg_class c JOIN members m ON m.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND m.objid = c.oid
)
-- Which objects belong to the extension at all (any kind: a forgotten ALTER EXTENSION … ADD or DROP shows here).
SELECT 'member' AS kind, i.type || ' ' || i.identity AS name, '' AS def
  FROM members m, LATERAL pg_catalog.pg_identify_object(m.classid, m.objid, 0) i
UNION ALL
SELECT 'function', p.oid::pg_catalog.regprocedure::pg_catalog.text,
       pg_catalog.pg_get_functiondef(p.oid)
       || E'\n-- acl ' || coalesce(p.proacl::pg_catalog.text, '(default)')
       || E'\n-- comment ' || coalesce(pg_catalog.obj_description(p.oid, 'pg_proc'), '(none)')
  FROM pg_catalog.pg_proc p JOIN members m ON m.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND m.objid = p.oid
UNION ALL
SELECT 'relation', r.name,
       'kind ' || r.relkind::pg_catalog.text || ' persistence ' || c.relpersistence::pg_catalog.text
       || ' options ' || coalesce(c.reloptions::pg_catalog.text, '-')
       || ' acl ' || coalesce(c.relacl::pg_catalog.text, '(default)')
       || ' comment ' || coalesce(pg_catalog.obj_description(r.oid, 'pg_class'), '(none)')
  FROM rels r JOIN pg_catalog.pg_class c ON c.oid = r.oid
UNION ALL
SELECT 'column', r.name || '.' || a.attname,
       pg_catalog.format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
       || coalesce(' DEFAULT ' || pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), '')
       || CASE WHEN a.attidentity <> '' THEN ' IDENTITY ' || a.attidentity::pg_catalog.text ELSE '' END
       || CASE WHEN a.attgenerated <> '' THEN ' GENERATED ' || a.attgenerated::pg_catalog.text ELSE '' END
       || CASE WHEN a.attcompression <> '' THEN ' COMPRESSION ' || a.attcompression::pg_catalog.text ELSE '' END
       || CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
               THEN ' COLLATE ' || a.attcollation::pg_catalog.regcollation::pg_catalog.text ELSE '' END
       || ' acl ' || coalesce(a.attacl::pg_catalog.text, '(default)')
       || ' comment ' || coalesce(pg_catalog.col_description(r.oid, a.attnum), '(none)')
  FROM rels r JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
 WHERE r.relkind IN ('r', 'p', 'f')
UNION ALL
SELECT 'view', r.name,
       pg_catalog.pg_get_viewdef(r.oid)
       || E'\n-- columns ' || (SELECT pg_catalog.string_agg(a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
                                                         || ' comment ' || coalesce(pg_catalog.col_description(r.oid, a.attnum), '(none)'), ', ' ORDER BY a.attnum)
                                 FROM pg_catalog.pg_attribute a WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped)
  FROM rels r WHERE r.relkind IN ('v', 'm')
UNION ALL
SELECT 'constraint', r.name || ' ' || co.conname,
       pg_catalog.pg_get_constraintdef(co.oid) || CASE WHEN co.convalidated THEN '' ELSE ' (not validated)' END
       || ' comment ' || coalesce(pg_catalog.obj_description(co.oid, 'pg_constraint'), '(none)')
  FROM rels r JOIN pg_catalog.pg_constraint co ON co.conrelid = r.oid
UNION ALL
SELECT 'index', i.indexrelid::pg_catalog.regclass::pg_catalog.text,
       pg_catalog.pg_get_indexdef(i.indexrelid)
       || ' comment ' || coalesce(pg_catalog.obj_description(i.indexrelid, 'pg_class'), '(none)')
  FROM rels r JOIN pg_catalog.pg_index i ON i.indrelid = r.oid
UNION ALL
SELECT 'trigger', r.name || ' ' || tg.tgname, pg_catalog.pg_get_triggerdef(tg.oid)
  FROM rels r JOIN pg_catalog.pg_trigger tg ON tg.tgrelid = r.oid AND NOT tg.tgisinternal
UNION ALL
SELECT 'sequence', r.name,
       pg_catalog.format_type(s.seqtypid, NULL) || ' start ' || s.seqstart || ' increment ' || s.seqincrement
       || ' min ' || s.seqmin || ' max ' || s.seqmax || ' cache ' || s.seqcache || ' cycle ' || s.seqcycle
       || ' owned by ' || coalesce((SELECT d.refobjid::pg_catalog.regclass::pg_catalog.text || '.' || a.attname
                                      FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                                     WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = r.oid
                                       AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i')), '-')
  FROM rels r JOIN pg_catalog.pg_sequence s ON s.seqrelid = r.oid
UNION ALL
SELECT 'type', t.oid::pg_catalog.regtype::pg_catalog.text,
       t.typtype::pg_catalog.text || ' ' || coalesce(pg_catalog.obj_description(t.oid, 'pg_type'), '(none)')
  FROM pg_catalog.pg_type t JOIN members m ON m.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND m.objid = t.oid
UNION ALL
SELECT 'schema', n.nspname,
       'acl ' || coalesce(n.nspacl::pg_catalog.text, '(default)') || ' comment ' || coalesce(pg_catalog.obj_description(n.oid, 'pg_namespace'), '(none)')
  FROM pg_catalog.pg_namespace n WHERE n.nspname = 'monday_sync'
UNION ALL
-- pg_dump's configuration tables and their filters, as names.
SELECT 'config', c.cfg::pg_catalog.regclass::pg_catalog.text, coalesce(ext.extcondition[c.n], '')
  FROM ext, LATERAL pg_catalog.unnest(ext.extconfig) WITH ORDINALITY AS c(cfg, n)
ORDER BY 1, 2
