-- wrk: POST /api/v1/cases/{id}/actions/ACTION on cases FIRST.. in turn, each case once: every
-- thread takes the ids equal to its number modulo the thread count, so no two requests act on
-- one case. A bearer token; the body is empty.
local token = os.getenv("KEHU_TOKEN")
local first = tonumber(os.getenv("FIRST_CASE") or "1")
local action = os.getenv("ACTION") or "approve"
local threads = {}
local n = 0
setup = function(thread)
  thread:set("offset", n)
  n = n + 1
  thread:set("step", 0)
  table.insert(threads, thread)
end
init = function(args)
  count = 0
  stride = tonumber(os.getenv("THREADS") or "2")
end
request = function()
  local id = first + offset + count * stride
  count = count + 1
  return wrk.format("POST", "/api/v1/cases/" .. id .. "/actions/" .. action,
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, "{}")
end
done = function(summary, latency, requests)
  io.write(string.format("p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
