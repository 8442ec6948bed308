"""Unit tests of the triage bot's pure core: given these events, when this happens, then these."""
