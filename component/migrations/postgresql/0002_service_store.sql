-- The service's stored connections and pending trigger batches, as the SQLite service store keeps
-- them (component/service/store.py). sealed is the Fernet token of the secret fields (never the
-- secrets themselves); secret_names names the secret fields that are set. Times are Unix seconds.
CREATE TABLE service_connection (
    id TEXT PRIMARY KEY,
    connector TEXT NOT NULL,
    vals JSONB NOT NULL,
    sealed BYTEA,
    secret_names JSONB NOT NULL DEFAULT '[]',
    updated_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE trigger_pending (
    instance TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    state JSONB NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
