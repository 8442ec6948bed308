"""The triage bot: asks a citizen the first questions over their own channel and classifies
the case (area, priority, urgency flags, region, eligibility, documents at hand).

- `flow`: the flow file (questions and rules as versioned data) loaded into frozen dataclasses;
  `flows/pt-BR.json` is the office's default flow.
- `domain`: the pure core, `decide` and `evolve` over `TriageState`.
- `answers` and `text`: how a free-text, numbered or button answer is understood.

Nothing here imports Kafka, faust, Postgres, logging or a clock: time comes in the events.
"""
