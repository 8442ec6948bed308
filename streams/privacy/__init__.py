"""streams.privacy: erasing a citizen's personal data (LGPD arts. 16 and 18), and blocking it
(bloqueio: art. 5 XIII, art. 18 IV).

- `domain`: the erasure request checked, its events and their ids (derived from the
  request, so running an erasure again records nothing new), the subjects whose keys are
  destroyed, and what an erasure did (`ErasureReport`) in words (pure);
- `redaction`: where the read model holds personal data in clear, and the SQL that
  removes a citizen's (pure);
- `erasure`: `erase(...)`, the shell: records the request, destroys the data keys
  (crypto-shredding, `streams.shared.keystore`), redacts every read-model schema, records
  the completion. `acolhe erase` (streams/cli/privacy.py) runs it.

- `blocks`: a block or unblock checked, a citizen's standing folded from acolhe.privacy,
  the decision to record it or refuse it, and its report in words (pure);
- `blocking`: `block(...)` / `unblock(...)`, the shell: reads acolhe.privacy, records the
  event there and copies it into every partition of acolhe.conversations. `acolhe block`
  and `acolhe unblock` (streams/cli/privacy.py) run them.

docs/privacy.md says what is erased where, and what is not, and what blocking suspends.
"""
