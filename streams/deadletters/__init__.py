"""Dead letters for operators: list, inspect and replay what `acolhe.deadletter` holds.

`select` is pure (filters, what an operator sees, which records can be replayed and why
not); `reading` reads the dead-letter topic and the original records; `ledger` keeps the
replays in Postgres; `replay` puts rejected records back on their source topic. Nothing
here prints a payload unless asked: it may hold personal data in clear (docs/privacy.md).
"""
