-- wrk: POST /api/v1/customers with a unique phone per request (thread number and a counter),
-- so every request passes the duplicate check and creates a customer.
local token = os.getenv("KEHU_TOKEN")
local base = tonumber(os.getenv("PHONE_BASE") or "16000000000")
local counter = 0
local threads = {}
setup = function(thread)
  thread:set("thread_no", #threads)
  table.insert(threads, thread)
end
local surnames = { "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴" }
local given = { "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋" }
request = function()
  counter = counter + 1
  local phone = string.format("%d", base + (thread_no or 0) * 100000000 + counter)
  local name = surnames[counter % 10 + 1] .. given[math.floor(counter / 10) % 10 + 1]
  local body = '{"kind":"person","name":"' .. name .. '","phones":["' .. phone .. '"]}'
  return wrk.format("POST", "/api/v1/customers",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end
done = function(summary, latency, requests)
  io.write(string.format("p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
