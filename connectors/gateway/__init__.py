"""The agents' gateway: authenticated HTTP requests from the agents' app become the
contract's commands (SendReply, TransferCase, PutCaseOnHold, ResumeCase, CloseCase,
ClaimCase, ChangePresence, ChangeCapacity).

Pure layers here (`auth`, `commands`); the aiohttp handlers and the Kafka publishing sit on
top of them. A handler's steps, in order:
1. `auth.authenticate(request.headers.get("Authorization"), keys=..., now=wall clock)`;
   refused -> 401 with `WWW-Authenticate: Bearer`;
2. `commands.command_from_request(action, await request.read(), agent=claims,
   idempotency_key=request.headers.get("Idempotency-Key"), received_at=wall clock)`;
   InvalidRequest -> 400 with `to_json()`;
3. publish the command durably (topic and key from schemas.catalog.BY_NAME), then answer 202
   with its event_id, which any later CommandRefused names.
"""
