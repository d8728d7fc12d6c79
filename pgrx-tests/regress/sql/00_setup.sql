-- Setup shared by every regress file: the extension, and helpers that show an error's SQLSTATE,
-- message, DETAIL and HINT without the file/line LOCATION (which moves with every edit).
CREATE EXTENSION monday_sync;
CREATE SCHEMA regress;

CREATE FUNCTION regress.err(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE s text; m text; d text; h text;
BEGIN
  EXECUTE q;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
  RETURN s || ': ' || m || E'\nDETAIL: ' || coalesce(d, '') || E'\nHINT: ' || coalesce(h, '');
END $$;

-- to_jsonb(literal::type), the value decode must equal.
CREATE FUNCTION regress.to_jsonb_as(literal text, t regtype) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  EXECUTE format('SELECT to_jsonb(%L::%s)', literal, t) INTO r;
  RETURN r;
END $$;

SELECT extname, extnamespace::regnamespace AS schema, extrelocatable FROM pg_extension WHERE extname = 'monday_sync';
