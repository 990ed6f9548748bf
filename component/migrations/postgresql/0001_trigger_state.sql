-- Trigger state and leases, as the SQLite store keeps them (component/triggers/store.py).
-- state is a JSON object; expires and updated_at are Unix seconds from the pollers' clocks.
CREATE TABLE trigger_state (
    instance TEXT PRIMARY KEY,
    state JSONB NOT NULL,
    commits BIGINT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE trigger_lease (
    instance TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    token TEXT NOT NULL,
    expires DOUBLE PRECISION NOT NULL
);
