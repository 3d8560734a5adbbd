-- wrk: GET PATH (an environment variable, e.g. /today) again and again with a bearer token;
-- prints p50/p95/p99 in milliseconds.
local token = os.getenv("KEHU_TOKEN")
local path = os.getenv("GET_PATH") or "/today"
request = function()
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end
done = function(summary, latency, requests)
  io.write(string.format("p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
