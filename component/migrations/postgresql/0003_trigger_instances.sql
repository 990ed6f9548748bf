-- The trigger instances the workers poll (component/worker/instances.py): which trigger, its inputs,
-- the name of its connection (an entry of the connections file or a stored connection's id; never
-- its secrets) and how often. next_due (Unix seconds) is when it is next handed to a worker; the
-- dispatcher moves it on in the same statement that claims it (FOR UPDATE SKIP LOCKED).
CREATE TABLE trigger_instance (
    instance TEXT PRIMARY KEY,
    ref TEXT NOT NULL,
    inputs JSONB NOT NULL DEFAULT '{}',
    connection TEXT,
    every DOUBLE PRECISION NOT NULL CHECK (every > 0),
    next_due DOUBLE PRECISION NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX trigger_instance_next_due ON trigger_instance (next_due);
