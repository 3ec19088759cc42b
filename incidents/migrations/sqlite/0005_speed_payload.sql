-- Speed batches as a compact binary payload (incidents.speeds.SpeedUpdates.to_bytes) instead
-- of JSON text; rows written before keep their JSON body (payload NULL) and are still read.
ALTER TABLE speed_batches ADD COLUMN payload BLOB;
