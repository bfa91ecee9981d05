-- postgres only
-- A delivery row is written three times (inserted, leased, delivered), and
-- the lease and the delivery change indexed columns, so each version goes
-- into every index of the table. Its key in event order serves both the
-- lookups by (webhook, event) and those by event alone, so the separate
-- event index goes: three indexes to write instead of four. The index is
-- rebuilt once, holding the table while it is. SQLite keeps its schema:
-- its key is a second B-tree beside the rows either way.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_pkey;
ALTER TABLE deliveries ADD PRIMARY KEY (event_id, webhook_id);
DROP INDEX deliveries_by_event;
