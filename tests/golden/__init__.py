"""Golden vectors: acolhe's wire format pinned, read back by an independent Avro implementation."""
