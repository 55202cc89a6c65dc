-- Test-only: a view whose rows take their id in milliseconds to read (pg_sleep), for genuinely slow reads.
-- Only the rows a query selects sleep: `WHERE id = 800` takes 0.8 s.
CREATE VIEW "SlowRead" AS
SELECT g.ms AS "id", pg_sleep(g.ms / 1000.0)::text AS "slept"
FROM generate_series(100, 10000, 100) AS g(ms);
