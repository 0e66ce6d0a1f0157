-- A sweep team link's finished results (server/src/links.rs): the rows, statistics, chosen point
-- and walk-forward curve as `app::share::encode_results` writes them (versioned, zlib,
-- base64url), so `/s/<id>` shows the table without re-running while the data version matches.
-- NULL for backtest links and sweeps saved before they finished.
ALTER TABLE team_links ADD COLUMN results TEXT;
