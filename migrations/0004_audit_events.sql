-- The audit trail: one row per authentication decision. Append-only: no foreign keys (events
-- outlive what they describe), and updates are refused by a trigger; only retention deletes.
CREATE TABLE audit_events (
    id            bigint PRIMARY KEY,
    ts            bigint NOT NULL,
    kind          text   NOT NULL,
    reason        text,
    actor         text,
    identity_coll text,
    identity_id   bigint,
    credential_id bigint,
    token_id      bigint,
    key_id        bigint,
    client_addr   text,
    count         bigint
);
CREATE INDEX audit_events_ts_idx ON audit_events (ts);
CREATE INDEX audit_events_identity_idx ON audit_events (identity_id, id);
CREATE INDEX audit_events_kind_idx ON audit_events (kind, id);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END;
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
