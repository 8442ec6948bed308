"""The email channel's pure layer: raw mail in, `MessageReceived` out; `MessageSent` in,
raw mail out. The I/O shell (SMTP listener, IMAP polling, SMTP sending, publishing) calls:

- `mime.parse_mail(raw, limits) -> ParsedMail | Quarantined`: bounded in time and memory;
- `mapping.files_to_store(mail)`, then `mapping.message_received(mail, contact=...,
  mailbox=..., receipt_time=..., stored=...) -> MessageReceived`;
- `compose.compose_message(sent, mailbox=..., date=..., files=...) -> ComposedMail`;
- `quoting.split_reply(text)` for the new text of a reply, without its quoted history.

Modules: `tree` (the bounded MIME parser), `decoding` (charsets, encoded words, parameters,
transfer encodings, HTML), `body` (which part is the text, which are files), `threads`
(Message-ID, In-Reply-To, References). None does I/O or reads the clock.
"""
