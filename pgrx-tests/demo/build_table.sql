-- The demo's typed table, built from the board's own column list: one column per monday column,
-- named after its title, typed with monday_sync.column_sql_type. (track_board will do this for real.)
CREATE FUNCTION pg_temp.slug(t text) RETURNS text LANGUAGE sql IMMUTABLE
  AS $$ SELECT trim(both '_' FROM lower(regexp_replace(t, '[^A-Za-z0-9]+', '_', 'g'))) $$;

DO $$
DECLARE cols text;
BEGIN
  SELECT string_agg(format('%I %s', pg_temp.slug(c->>'title'), monday_sync.column_sql_type(c->>'type')), ', ' ORDER BY ord)
    INTO cols
    FROM monday_page, jsonb_array_elements(page #> '{data,boards,0,columns}') WITH ORDINALITY AS t(c, ord);
  EXECUTE format('CREATE TABLE q3_launch_plan (item_id bigint PRIMARY KEY, "group" text, %s)', cols);
END $$;

-- decode_item gives {column_id: to_jsonb(value)}; jsonb_populate_record turns that into the row.
INSERT INTO q3_launch_plan
SELECT r.*
  FROM monday_page p,
       LATERAL (SELECT p.page #> '{data,boards,0}' AS board) b,
       LATERAL jsonb_array_elements(b.board #> '{items_page,items}') AS item,
       LATERAL monday_sync.decode_item(item, b.board -> 'columns') AS d,
       LATERAL (SELECT jsonb_object_agg(pg_temp.slug(c->>'title'), d -> (c->>'id')) AS fields
                  FROM jsonb_array_elements(b.board -> 'columns') AS c) m,
       LATERAL jsonb_populate_record(NULL::q3_launch_plan,
                 m.fields || jsonb_build_object('item_id', item->'id', 'group', item #> '{group,title}')) AS r;
