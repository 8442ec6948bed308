"""streams.sla: SLA clocks that count office time, pause, warn, breach and are met.

- `calendar`: office calendars (weekly hours, lunch breaks, holidays computed per year, dated
  closures and openings) and the business-time arithmetic the clocks run on.

The domain modules import no Kafka, faust, Postgres, logging or clock: time comes in events.
"""
