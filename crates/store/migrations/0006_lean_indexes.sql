-- Indexes cost a write on every insert. Postings are read only by the audit,
-- and it reads them all, so theirs go.
DROP INDEX IF EXISTS postings_by_entry;
DROP INDEX IF EXISTS postings_by_account;

-- Conversions without a ref_id need no entry in its unique index.
DROP INDEX IF EXISTS conversions_ref_id;
CREATE UNIQUE INDEX conversions_ref_id ON conversions (customer_id, ref_id) WHERE ref_id IS NOT NULL
