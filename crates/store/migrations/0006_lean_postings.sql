-- Postings are read only by the audit, and it reads them all: indexes on
-- them cost writes on every posting for nothing.
DROP INDEX IF EXISTS postings_by_entry;
DROP INDEX IF EXISTS postings_by_account
