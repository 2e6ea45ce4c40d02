-- The per-user cells over all months were kept so that a period's per-user
-- counts could be read as "all months minus those outside it". Readers now
-- keep the sums of complete months between reports and hold the month of
-- now in memory, so that shortcut is rarely taken, while every event paid
-- for it at ingest (a sixth of PostgreSQL's write time). Per-user counts
-- are summed from `month_counts`.
DROP TABLE user_totals;
