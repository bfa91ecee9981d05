-- The dashboard's detail page reads one object's ledger entries, postings
-- and events; without these it would scan the whole journal. (0006 dropped
-- postings_by_entry when only the audit read postings; BENCHMARKS.md has
-- what the three cost a write.)
CREATE INDEX journal_entries_by_reference ON journal_entries (reference_id);
CREATE INDEX postings_by_entry ON postings (entry_id);
CREATE INDEX events_by_object ON events (object_id);

-- Total available per customer and asset, sampled by the snapshot worker
-- (one row per customer, asset and sample: small), for the balance chart.
CREATE TABLE balance_history (
    customer_id TEXT NOT NULL,
    asset TEXT NOT NULL,
    taken_at BIGINT NOT NULL,
    available BIGINT NOT NULL,
    PRIMARY KEY (customer_id, taken_at, asset)
);
