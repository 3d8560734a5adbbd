-- wrk: GET /api/v1/customers/{id} for random ids in 1..MAX_ID, with a bearer token.
local token = os.getenv("KEHU_TOKEN")
local max_id = tonumber(os.getenv("MAX_ID") or "1000000")
math.randomseed(os.time())
request = function()
  local id = math.random(1, max_id)
  return wrk.format("GET", "/api/v1/customers/" .. id, { ["Authorization"] = "Bearer " .. token })
end
done = function(summary, latency, requests)
  io.write(string.format("p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
