-- Only the offline audit reads postings by entry, and it reads them all:
-- the index cost a write on every posting for nothing.
DROP INDEX IF EXISTS postings_by_entry
