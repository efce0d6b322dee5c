-- Brute-force throttling state, shared by every instance: one row per throttling key (a digest
-- of a credential id or of the identifier a client tried). Rows are deleted after a successful
-- login and swept when stale.
CREATE TABLE login_failures (
    key          bytea   PRIMARY KEY CHECK (length(key) = 32),
    consecutive  integer NOT NULL,
    last_failure bigint  NOT NULL,
    window_start bigint  NOT NULL,
    in_window    integer NOT NULL
);
CREATE INDEX login_failures_last_failure_idx ON login_failures (last_failure);
