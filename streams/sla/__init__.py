"""streams.sla: SLA clocks that count office time, pause, warn, breach and are met.

- `calendar`: office calendars (weekly hours, lunch breaks, holidays computed per year, dated
  closures and openings) and the business-time arithmetic the clocks run on.
- `calendar_change`: a calendar put in force through the log (`CalendarChanged`), both ways.
- `policy`: SLA policies as versioned data (targets and warnings per queue, priority and
  metric; the calendar counted in; the hold reasons that pause), and `SlaPolicyChanged`.
- `clocks`: the state of one case's clocks, their arithmetic, and the case as they see it.
- `domain`: `handle(state, event, policy)`, the whole step for one case, and `next_deadline`.
- `outcomes`: each clock's outcome from its events, and two histories compared (pure).
- `recompute`: `acolhe sla recompute`'s replay of the log under other files (a shell: Kafka).

The domain modules import no Kafka, faust, Postgres, logging or clock: time comes in events.
"""
