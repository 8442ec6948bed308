"""streams.projections: the read model agent apps query, filled from the log.

- `sqltext`: schema names, identifier quoting and the `{schema}` placeholder (pure);
- `migrations`: the read model's versioned SQL migrations (`sql/NNNN_name.sql`), applied
  by acolhe itself in order, one transaction each, under a per-schema advisory lock;
- `queries`: the queries an agent app runs on the read model, as named constants (shown
  in docs/read-model.md, run against a migrated schema by the tests);
- `writer`: one batch of projected rows and the offsets they came from, in one
  transaction (COPY into staging, upsert newer versions only);
- `rows`, `rows_cases`, `rows_messages`: the pure fold of events into whole rows of
  `sla_clocks` and `agents`, `cases`, `case_messages`;
- `erasures`: an erasure the case projection reads, applied to its own schema in order
  with the rows it writes (the redaction `acolhe erase` runs);
- `blocking`: the blocks and unblocks the case projection reads, kept in
  `blocked_citizens` (the latest per citizen), which row-level security reads;
- `projector`: the SLA clocks' projector (acolhe.sla into sla_clocks), seeking to the
  offsets stored with its rows.

The projectors of the other tables come in the next slices (see docs/read-model.md).
"""
