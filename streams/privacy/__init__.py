"""streams.privacy: erasing a citizen's personal data (LGPD arts. 16 and 18).

- `domain`: the erasure request checked, its events and their ids (derived from the
  request, so running an erasure again records nothing new), the subjects whose keys are
  destroyed, and what an erasure did (`ErasureReport`) in words (pure);
- `redaction`: where the read model holds personal data in clear, and the SQL that
  removes a citizen's (pure);
- `erasure`: `erase(...)`, the shell: records the request, destroys the data keys
  (crypto-shredding, `streams.shared.keystore`), redacts every read-model schema, records
  the completion. `acolhe erase` (streams/cli/privacy.py) runs it.

docs/privacy.md says what is erased where, and what is not.
"""
