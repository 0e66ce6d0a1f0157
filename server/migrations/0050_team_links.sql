-- Named team links (server/src/links.rs): a backtest or sweep share state (app/src/share.rs,
-- the versioned compressed string "Copy link" puts after `?s=`) stored under a short random id,
-- served as `/s/<id>`. The state is checked by decoding it before it is stored. created_by is a
-- user name, kept as text (no foreign key) so a link outlives its author's account. Times are
-- Unix milliseconds.
CREATE TABLE team_links (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('backtest', 'sweep')),
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX team_links_created_at ON team_links (created_at);
