"""schemathesis hooks for crates/stampede/tests/schemathesis.rs.

A payment callback is refused 401 unless its X-Signature is the HMAC-SHA256 of its raw body
under the channel's secret, which no generated value is. So that fuzzed callbacks reach the
handler past that check, every callback that carries the header is signed here with the secret
the test started the server with (STAMPEDE_FUZZ_CHANNEL_SECRET), over the bytes the requests
transport sends for a JSON body (json.dumps with allow_nan=False, UTF-8). A callback generated
without the header still goes out unsigned (and must be answered 401).
"""

import hashlib
import hmac
import json
import os

import schemathesis

SECRET = os.environ["STAMPEDE_FUZZ_CHANNEL_SECRET"].encode()
CALLBACK = "/v1/payments/callbacks/{channel}"


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.path != CALLBACK:
        return
    headers = case.headers or {}
    name = next((k for k in headers if k.lower() == "x-signature"), None)
    if name is None or not isinstance(case.body, (dict, list, str, int, float, bool)):
        return
    if case.media_type not in (None, "application/json"):
        return
    try:
        raw = json.dumps(case.body, allow_nan=False).encode()
    except ValueError:
        return
    headers[name] = hmac.new(SECRET, raw, hashlib.sha256).hexdigest()
    case.headers = headers
