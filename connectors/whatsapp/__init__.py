"""The WhatsApp Cloud API connector: webhooks in (messages and delivery statuses), messages
out through Meta's Graph API.

The modules here are the pure core; the I/O shell (the aiohttp webhook server, the Kafka
publisher, the outbound loop) calls them:

- `signature`: is a webhook POST really from Meta (X-Hub-Signature-256), and the GET
  subscription handshake.
- `mapping`: a webhook payload -> MessageReceived and DeliveryStatusChanged events, pending
  media to fetch, and per-item rejections with reasons.
- `window`: may a free-form message go out (the 24-hour customer-service window).
- `graph`: Graph API request bodies for a MessageSent, the send response, and what to do
  about a Graph API error (retry later, refuse, or call an operator).

None of them performs I/O or reads the clock.
"""
