-- wrk script: POST /api/v1/interactions with a distinct user per request, so
-- every acknowledged request is one new stored interaction.
local counter = 0
local thread_id = 0
local prefix = os.getenv("BENCH_PREFIX") or "W"
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"user_id":"%s%d_%d","item_id":"PROD_%06d","interaction_type":"view"}',
    prefix, tid, counter, 1 + counter % 1000)
  return wrk.format(nil, "/api/v1/interactions", nil, body)
end

function done(summary, latency, requests)
  local f = io.open(os.getenv("BENCH_OUT"), "w")
  f:write(string.format('{"requests":%d,"non2xx":%d,"p99_ms":%.3f,"p50_ms":%.3f}',
    summary.requests, summary.errors.status, latency:percentile(99) / 1000,
    latency:percentile(50) / 1000))
  f:close()
end
