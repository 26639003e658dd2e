-- Records PostgreSQL refused for good (a value a constraint or a type rejects):
-- set aside here, as text, so that one bad record never holds back the ones
-- after it. An operator reads them, fixes the cause and moves them back
-- (docs/operations.md, "Archive backlog"). Text, not jsonb, and no constraint:
-- whatever the record is, it fits.
CREATE TABLE creditgate.rejected_decisions (
    decision_id text        NOT NULL,
    error       text        NOT NULL,
    record      text        NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now()
);
