-- The decision archive (docs/archive.md). One row per decision, the full record
-- as GetDecision returns it in `record`, the columns an auditor filters on beside
-- it. Range-partitioned by month on decided_at, so that retention drops whole
-- partitions instead of deleting rows. A partitioned table's primary key must
-- include the partition key: decided_at is fixed by the record, so a re-shipped
-- decision conflicts on (decision_id, decided_at) exactly as on decision_id.
CREATE TABLE creditgate.decisions (
    decision_id    uuid        NOT NULL,
    buyer_id       text        NOT NULL,
    order_id       text        NOT NULL,
    decision       text        NOT NULL CHECK (decision IN ('APPROVED', 'HELD', 'REFERRED')),
    reason_codes   text[]      NOT NULL,
    amount_minor   bigint      NOT NULL,
    currency       char(3)     NOT NULL,
    policy_version text        NOT NULL,
    decided_at     timestamptz NOT NULL,
    record         jsonb       NOT NULL,
    PRIMARY KEY (decision_id, decided_at)
) PARTITION BY RANGE (decided_at);

-- "Decisions of a buyer in a period" (ListDecisions, newest first).
CREATE INDEX decisions_buyer_time ON creditgate.decisions (buyer_id, decided_at DESC, decision_id);

-- "Held orders of a buyer": the orders that were not approved.
CREATE INDEX decisions_buyer_waiting ON creditgate.decisions (buyer_id, decided_at DESC)
    WHERE decision <> 'APPROVED';
