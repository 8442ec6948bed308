"""streams.routing: queues, agents and the routing policy, as a pure core.

- `domain`: decide / evolve / handle / replay, the entry points;
- `state`: the router's state and `evolve`;
- `policies`: who is eligible and how each rule ranks them;
- `outputs`: output envelopes derived from the cause;
- `commands`: agents' transfers, presence and capacity, accepted into facts or refused;
- `claims`: an agent taking a waiting case by hand;
- `config`: the versioned routing configuration (`config.default.json`).

The Kafka shell comes later; nothing here imports Kafka, Postgres, logging or the clock.
"""
