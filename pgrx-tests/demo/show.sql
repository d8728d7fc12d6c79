\pset footer off
\echo
\echo '== monday sends every cell as JSON inside a string; monday_sync.decode turns it into a Postgres value =='
SELECT cv->>'id' AS column_id,
       cv->>'type' AS type,
       left(coalesce(cv->>'value', 'null'), 58) AS "value, as monday sends it",
       left(monday_sync.decode(NULL, cv)::text, 60) AS decoded,
       monday_sync.column_sql_type(cv->>'type') AS sql_type
  FROM monday_page, jsonb_array_elements(page #> '{data,boards,0,items_page,items,0,column_values}') AS cv;

\echo '== The board "Q3 Launch plan" as a typed table =='
SELECT item_id, name, "group", status, budget, due_date, timeline, owner, area, approved, customer
  FROM q3_launch_plan ORDER BY item_id;

\echo '== Questions a data engineer can now ask in plain SQL =='
SELECT status, count(*) AS items, sum(budget) AS budget, min(due_date) AS first_due
  FROM q3_launch_plan GROUP BY status ORDER BY status NULLS LAST;

SELECT name, upper(timeline) - lower(timeline) AS days_planned, due_date - DATE '2026-06-01' AS days_left
  FROM q3_launch_plan WHERE 44865791 = ANY (owner) ORDER BY due_date;

\echo '== Every column of one item, typed =='
\x on
SELECT * FROM q3_launch_plan WHERE item_id = 18265984789;
