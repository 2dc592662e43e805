-- wrk script: POST a recommendation (or similar-items) request for a user
-- (item) drawn in turn from BENCH_N ids, so requests spread over many users.
local counter = 0
local tid = 0

function setup(thread)
  thread:set("tid", tid)
  tid = tid + 1
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")
  counter = tid * 7919
end

function request()
  counter = counter + 1
  local n = tonumber(os.getenv("BENCH_N"))
  local body
  if os.getenv("BENCH_KIND") == "similar" then
    body = string.format('{"item_id":"PROD_%06d","count":10}', 1 + (counter * 31) % n)
    return wrk.format(nil, "/api/v1/recommendations/similar", nil, body)
  end
  body = string.format('{"user_id":"USER_%06d","count":10}', 1 + (counter * 31) % n)
  return wrk.format(nil, "/api/v1/recommendations", nil, body)
end

function done(summary, latency, requests)
  local f = io.open(os.getenv("BENCH_OUT"), "w")
  f:write(string.format('{"requests":%d,"non2xx":%d,"seconds":%.3f,"p50_ms":%.3f,"p99_ms":%.3f}',
    summary.requests, summary.errors.status, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
  f:close()
end
