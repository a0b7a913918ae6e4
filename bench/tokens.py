#!/usr/bin/env python3
"""Writes N user tokens, one a line, for wrk scripts (bench/wrk-grab.lua with WRK_TOKENS).

    bench/tokens.py SECRET COUNT PREFIX TTL_SECS > tokens.txt

User ids are PREFIX0 .. PREFIX<COUNT-1>; each token is the server's format,
`v1.<user>.<expires>.<hex HMAC-SHA256 of "v1.<user>.<expires>" under SECRET>` (what `stampede
token` mints), expiring TTL_SECS from now. A million tokens take a few seconds.
"""
import hashlib
import hmac
import sys
import time


def main() -> None:
    secret, count, prefix, ttl = sys.argv[1].encode(), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    expires = int(time.time()) + ttl
    key = hmac.new(secret, digestmod=hashlib.sha256)
    out = sys.stdout
    for i in range(count):
        signed = f"v1.{prefix}{i}.{expires}"
        mac = key.copy()
        mac.update(signed.encode())
        out.write(f"{signed}.{mac.hexdigest()}\n")


if __name__ == "__main__":
    main()
