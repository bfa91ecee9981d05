-- The dashboard's detail page reads one object's ledger entries, postings
-- and events; without these it would scan the whole journal. (0006 dropped
-- postings_by_entry when only the audit read postings; BENCHMARKS.md has
-- what the three cost a write.)
CREATE INDEX journal_entries_by_reference ON journal_entries (reference_id);
CREATE INDEX postings_by_entry ON postings (entry_id);
CREATE INDEX events_by_object ON events (object_id);

-- The dashboard's charts read samples, not the activity itself: a page
-- must not scan 100,000 conversions. The sampler marks each sample here
-- (replicas racing for one write it once), with it every customer's total
-- available per asset, and the volume created since the sample before.
CREATE TABLE samples (
    taken_at BIGINT PRIMARY KEY
);

CREATE TABLE balance_history (
    customer_id TEXT NOT NULL,
    asset TEXT NOT NULL,
    taken_at BIGINT NOT NULL,
    available BIGINT NOT NULL,
    PRIMARY KEY (customer_id, taken_at, asset)
);

-- Source units of conversions and orchestrations created in
-- [the sample before, taken_at).
CREATE TABLE volume_history (
    customer_id TEXT NOT NULL,
    asset TEXT NOT NULL,
    taken_at BIGINT NOT NULL,
    units BIGINT NOT NULL,
    PRIMARY KEY (customer_id, taken_at, asset)
);
