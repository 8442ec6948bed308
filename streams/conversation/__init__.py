"""The conversation processor: a contact's case lifecycle and its triage bot, keyed by contact.

One partition owns each contact, so a burst of first messages never opens two cases.
"""
