-- wrk script for the soak (bench/soak.py): a mix of the calls a shop's site
-- makes — recommendations (60 %), similar items (20 %), tracked views
-- (20 %) — over BENCH_USERS users and BENCH_ITEMS items, formatted once in
-- init(). BENCH_DELAY_MS (fractional) paces each connection: wrk waits that
-- long before each request, so the offered rate is about connections /
-- (delay + latency). BENCH_OUT receives the slice's summary as JSON.
local tid = 0
local pool = {}
local next_index = 1
local delay_ms = 0

function setup(thread)
  thread:set("tid", tid)
  tid = tid + 1
end

function init(args)
  local key = os.getenv("BENCH_KEY")
  local users = tonumber(os.getenv("BENCH_USERS"))
  local items = tonumber(os.getenv("BENCH_ITEMS"))
  delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}
  local counter = tid * 7919
  for i = 1, 10000 do
    counter = counter + 1
    local u = 1 + (counter * 31) % users
    local it = 1 + (counter * 17) % items
    local k = i % 10
    if k < 6 then
      pool[i] = wrk.format("POST", "/api/v1/recommendations", headers,
                           string.format('{"user_id":"USER_%06d","count":10}', u))
    elseif k < 8 then
      pool[i] = wrk.format("POST", "/api/v1/recommendations/similar", headers,
                           string.format('{"item_id":"PROD_%06d","count":10}', it))
    else
      pool[i] = wrk.format("POST", "/api/v1/interactions", headers,
                           string.format('{"user_id":"USER_%06d","item_id":"PROD_%06d","interaction_type":"view"}', u, it))
    end
  end
end

function delay()
  if delay_ms <= 0 then return 0 end
  -- whole milliseconds only: alternate so the mean is the fractional delay
  local whole = math.floor(delay_ms)
  if math.random() < delay_ms - whole then return whole + 1 end
  return whole
end

function request()
  local r = pool[next_index]
  next_index = next_index + 1
  if next_index > #pool then next_index = 1 end
  return r
end

function done(summary, latency, requests)
  local f = io.open(os.getenv("BENCH_OUT"), "w")
  f:write(string.format('{"requests":%d,"non2xx":%d,"socket_errors":%d,"seconds":%.3f,"p50_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f}',
    summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
  f:close()
end
