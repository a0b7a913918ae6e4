-- wrk script for bench/compare.sh: POST with an empty body and a Bearer token, the request
-- `stampede bench` sends.
--   WRK_TOKEN=<token>     every request carries this one token (a static request: wrk's
--                         fastest mode; one user is enough where the answer keeps no
--                         per-user state, or for the baseline, which checks nothing);
--   WRK_TOKENS=<file>     request i carries line i of the file (bench/tokens.py writes it),
--                         cycling: every request a different user until the file runs out.
-- The summary line is what compare.sh reads.
wrk.method = "POST"
wrk.body = ""
wrk.headers["Content-Length"] = "0"

local tokens_file = os.getenv("WRK_TOKENS")
if tokens_file and tokens_file ~= "" then
    -- Every request is formatted once, in init (before wrk's clock starts); a request then
    -- costs wrk a table read, which keeps it ahead of the servers it drives.
    local prepared = {}
    local count = 0
    local next_request = 0
    function init(args)
        for line in io.lines(tokens_file) do
            count = count + 1
            prepared[count] = wrk.format("POST", nil,
                { ["Authorization"] = "Bearer " .. line, ["Content-Length"] = "0" }, "")
        end
    end
    function request()
        next_request = next_request + 1
        if next_request > count then
            next_request = 1
        end
        return prepared[next_request]
    end
else
    wrk.headers["Authorization"] = "Bearer " .. (os.getenv("WRK_TOKEN") or "none")
end

function done(summary, latency, requests)
    -- non_2xx counts every 410 sold_out / 200-free answer from Stampede (expected on the
    -- sold-out path) and 401/404 (misconfigured): compare.sh checks the server's own counts.
    io.write(string.format("wrk-summary rps %.0f p50_us %d p99_us %d requests %d non_2xx %d socket_errors %d p999_us %d\n",
        summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
        summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read
            + summary.errors.write + summary.errors.timeout, latency:percentile(99.9)))
end
