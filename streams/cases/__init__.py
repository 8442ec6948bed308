"""streams.cases: the case lifecycle of each contact, from first message to closing.

One processor partition owns each contact (inbound and outbound messages are keyed by
`contact_id`), so a burst of first messages, or a webhook retried while the first delivery is
in flight, is decided one at a time against the same state and never opens two cases.

- `policy`: the office's configurable rules (reopening window, inactivity ladders), from JSON.
- `state`: `ContactState`, `CaseView` and `evolve`, the fold of every event over a contact.
- `domain`: `decide` and `handle`, the pure decisions (open, join, reopen, resume, remind,
  put on hold, auto-close, close at the citizen's erasure), and `next_deadline`, so the
  shell can send ticks only where due.
- `commands`: agents' replies, holds, resumptions and closes, accepted into facts or refused
  with the reason.

The domain modules import no Kafka, faust, Postgres, logging or clock: time comes in events.
"""
