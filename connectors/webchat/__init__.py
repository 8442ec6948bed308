"""The website's live chat: a widget on the office's site talks to this connector over a
WebSocket (and HTTP); visitors' messages become MessageReceived, the office's replies
(MessageSent on web_chat) go back to the widget.

Pure layers here: `tokens` (signed visitor tokens, on `signing`), `origins` (the Origin
allow-list), `limits` (message size, per-visitor rate, bounded memory), `protocol` (frames),
`resume` (sequence numbers, the resume window), `mapping` (frames <-> events), `notices`
(what a replica tells the others it recorded). The aiohttp servers, the Kafka publishing
and the LISTENing that carries each message to every replica (`listener`) sit on top of
them. For each visitor frame, in order:
1. on connect: `OriginPolicy.check(Origin header)`, then `verify_visitor_token(...)`;
2. `parse_client_frame(raw)`; an error frame goes back as it is; a `resume` is answered
   with `SessionWindow.after(last_seen_seq)` (a gap: `ResumeGap.to_error()`);
3. a `message`: `RateLimiter.take(visitor_id, monotonic now)`; limited -> an error frame
   `rate_limited` with `retry_after`;
4. `mapping.message_received(...)`, published durably; only then
5. `mapping.record_received(window, event)` and `resume.ack_for(message)` to the widget
   (a widget without an ack resends with the same client id: the same event id).
"""
