-- Revision tracking on daily bars (0001 is never edited). `updated_at` is when the row was last
-- written with a different value (unix seconds), `revisions` counts value changes after the first
-- insert, `revised_at` is the time of the latest such change (NULL: never revised).
ALTER TABLE daily_bars ADD COLUMN updated_at BIGINT;
ALTER TABLE daily_bars ADD COLUMN revisions BIGINT NOT NULL DEFAULT 0;
ALTER TABLE daily_bars ADD COLUMN revised_at BIGINT;
