-- SQLite only (the PostgreSQL twin is ../postgres/0040_audit_log_append_only.sql; see
-- Store::migrate for how the two sets are merged). The audit log is append-only: the database
-- itself refuses to change or remove an entry, whatever code or tool is connected.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused');
END;

-- `INSERT OR REPLACE` deletes the old row without firing delete triggers (unless
-- recursive_triggers is on): refuse any insert that would overwrite an existing entry.
CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log
WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: overwriting an entry refused');
END;
