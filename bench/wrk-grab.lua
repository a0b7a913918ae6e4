-- wrk script for bench/compare.sh's cross-check: POST with an empty body and a Bearer token,
-- the same request shape `stampede bench` sends. WRK_TOKEN is a user token minted with
-- `stampede token --user ... --token-secret ...`; one user is enough for the sold-out path,
-- which keeps no per-user state.
wrk.method = "POST"
wrk.body = ""
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("WRK_TOKEN") or "none")
wrk.headers["Content-Length"] = "0"

function done(summary, latency, requests)
    -- non_2xx counts every 410 sold_out from Stampede (expected) and 401/404 (misconfigured).
    io.write(string.format("wrk-summary rps %.0f p50_us %d p99_us %d requests %d non_2xx %d socket_errors %d\n",
        summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
        summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read
            + summary.errors.write + summary.errors.timeout))
end
