-- PostgreSQL only (the SQLite twin is ../sqlite/0040_audit_log_append_only.sql; see
-- Store::migrate for how the two sets are merged). The audit log is append-only: the database
-- itself refuses to change or remove an entry (TRUNCATE included), whatever code or tool is
-- connected. Dropping the table or the trigger needs its owner, which is a deliberate act.
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
