-- Notification deliveries (server/src/notify): one row per message and channel, written when the
-- delivery starts (`pending`) and updated after every attempt, ending `sent` or `failed`.
-- `destination` is the channel's label (`webhook:<host>`, `email:<host>:<port>` or the name the
-- settings give it), never a webhook URL or a credential. Times are Unix milliseconds.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    event TEXT NOT NULL,
    subject TEXT,
    title TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('webhook', 'email')),
    destination TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    updated_at BIGINT NOT NULL
);

CREATE INDEX notifications_created_at ON notifications (created_at);
