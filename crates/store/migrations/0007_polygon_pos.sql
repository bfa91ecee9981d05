-- Paxos's CryptoNetwork enum names Polygon POLYGON_POS; rows written while
-- Stableport called it POLYGON take the spec's name.
UPDATE crypto_addresses SET network = 'POLYGON_POS' WHERE network = 'POLYGON';
UPDATE deposit_addresses SET crypto_network = 'POLYGON_POS' WHERE crypto_network = 'POLYGON';
UPDATE transfers SET crypto_network = 'POLYGON_POS' WHERE crypto_network = 'POLYGON';
UPDATE orchestrations SET destination_network = 'POLYGON_POS' WHERE destination_network = 'POLYGON';
UPDATE orchestration_rules SET source_network = 'POLYGON_POS' WHERE source_network = 'POLYGON';
UPDATE orchestration_rules SET destination_network = 'POLYGON_POS' WHERE destination_network = 'POLYGON';
