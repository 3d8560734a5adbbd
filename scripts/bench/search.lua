-- wrk: GET /api/v1/customers?q=... with name fragments (one and two Chinese characters, common
-- and rare), one or two Latin letters or digits, and phone fragments (starts, ends and middle
-- digits), reporting p50/p95/p99.
local token = os.getenv("KEHU_TOKEN")
local queries = {
  "张", "王", "李", "欧", "张伟", "王芳", "李娜", "刘洋", "伟", "芳", "明轩", "子涵", "雅婷", "国庆",
  "陈静", "赵", "孙丽", "周杰", "吴敏", "郑", "思远", "嘉怡", "晨阳", "一诺", "海燕",
  "1300012", "13000999", "0004567", "5678", "贸易", "有限公司", "三丰", "张三",
  "x", "ab", "12", "7", "6150", "0612", "61502", "130 0456 7890", "+86 130 0012",
}
local function urlencode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end
math.randomseed(os.time())
request = function()
  local q = queries[math.random(1, #queries)]
  return wrk.format("GET", "/api/v1/customers?limit=20&q=" .. urlencode(q), { ["Authorization"] = "Bearer " .. token })
end
done = function(summary, latency, requests)
  io.write(string.format("p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
