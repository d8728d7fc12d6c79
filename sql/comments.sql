-- Descriptions a DBA reads with \dn+ and \df+ in psql.

COMMENT ON SCHEMA monday_sync IS
  'monday_sync: monday.com boards as typed PostgreSQL tables. Decoders, sync functions and their state live here.';

COMMENT ON FUNCTION monday_sync.decode(text, jsonb, jsonb) IS
$$Decode one monday column value into its native Postgres value, returned as to_jsonb(value); NULL when the cell is empty.
column_type: the ColumnType name (status, numbers, …) or a legacy/webhook name (color, multiple-person, tag, pulse-updated); NULL = column_value->>'type'.
column_value: one element of Item.column_values as monday returns it (value as a JSON-encoded string, typed fragment fields such as label, display_value, linked_item_ids), or a webhook event (value as a JSON object).
column_settings: the column's settings_str (parsed, or as a JSON string), used to turn status indexes and dropdown ids into labels.
Cast the result with ->> and the type from monday_sync.column_sql_type(column_type). Errors: 22P02 malformed JSON, 22023 wrong shape for the type.$$;

COMMENT ON FUNCTION monday_sync.decode_item(jsonb, jsonb) IS
$$Decode a whole monday item (an element of items_page.items: id, name, column_values[…]) into one object keyed by column id, plus "name". Empty cells are JSON null.
columns (optional): the board's columns [{id, type, settings_str}, …], for column types and label settings.$$;

COMMENT ON FUNCTION monday_sync.column_sql_type(text) IS
$$The Postgres type monday_sync.decode converts a monday column type to (e.g. status → text, numbers → numeric, timeline → daterange, people → bigint[]). Unknown types → jsonb.$$;
