-- wrk script: POST a recommendation (or similar-items) request for a user
-- (item) drawn in turn from BENCH_N ids, so requests spread over many users;
-- a shop site's mix (BENCH_KIND=mix, bench/soak.py); or the requests listed
-- in BENCH_REQUESTS (many tenants).
-- The requests are formatted once in init(): per request wrk only hands
-- out the next string, so the load generator (which shares this machine's
-- cores with the server) spends as little CPU per request as it does for
-- the static file it is compared with.
local tid = 0
local pool = {}
local next_index = 1
local delay_ms = 0
local interval_ms = 0  -- BENCH_RATE: this thread's time between requests
local next_slot = nil
local clock = nil
local visitors = 0
local track_headers = nil

function setup(thread)
  thread:set("tid", tid)
  tid = tid + 1
end

function init(args)
  -- BENCH_REQUESTS: a file of "api_key user_id" lines, one request each
  -- (many tenants); the threads start at different lines.
  local file = os.getenv("BENCH_REQUESTS")
  if file then
    for line in io.lines(file) do
      local key, user = line:match("^(%S+)%s+(%S+)$")
      pool[#pool + 1] = wrk.format("POST", "/api/v1/recommendations",
        {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key},
        string.format('{"user_id":"%s","count":10}', user))
    end
    next_index = 1 + (tid * 7919) % #pool
    return
  end
  local key = os.getenv("BENCH_KEY")
  local n = tonumber(os.getenv("BENCH_N"))
  local similar = os.getenv("BENCH_KIND") == "similar"
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}
  local counter = tid * 7919
  delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
  local rate = tonumber(os.getenv("BENCH_RATE") or "0")
  if rate > 0 then
    interval_ms = 1000 * tonumber(os.getenv("BENCH_THREADS") or "2") / rate
    local ffi = require("ffi")
    ffi.cdef("typedef struct { long tv_sec; long tv_nsec; } bench_timespec; int clock_gettime(int, bench_timespec*);")
    local ts = ffi.new("bench_timespec")
    clock = function()
      ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
      return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
    end
  end
  if os.getenv("BENCH_KIND") == "mix" then
    -- What a shop's site sends: recommendations (60 %), similar items
    -- (20 %) and tracked views (20 %), over BENCH_N users and BENCH_ITEMS items.
    local items = tonumber(os.getenv("BENCH_ITEMS"))
    for i = 1, 10000 do
      counter = counter + 1
      local u, it, k = 1 + (counter * 31) % n, 1 + (counter * 17) % items, i % 10
      if k < 6 then
        pool[i] = wrk.format("POST", "/api/v1/recommendations", headers,
                             string.format('{"user_id":"USER_%06d","count":10}', u))
      elseif k < 8 then
        pool[i] = wrk.format("POST", "/api/v1/recommendations/similar", headers,
                             string.format('{"item_id":"PROD_%06d","count":10}', it))
      elseif visitors > 0 then
        pool[i] = it  -- formatted when sent: a visitor drawn from the population
      else
        pool[i] = wrk.format("POST", "/api/v1/interactions", headers,
                             string.format('{"user_id":"USER_%06d","item_id":"PROD_%06d","interaction_type":"view"}', u, it))
      end
    end
    return
  end
  for i = 1, n do
    counter = counter + 1
    local id = 1 + (counter * 31) % n
    if similar then
      pool[i] = wrk.format("POST", "/api/v1/recommendations/similar", headers,
                           string.format('{"item_id":"PROD_%06d","count":10}', id))
    else
      pool[i] = wrk.format("POST", "/api/v1/recommendations", headers,
                           string.format('{"user_id":"USER_%06d","count":10}', id))
    end
  end
end

-- BENCH_RATE (requests/s over BENCH_THREADS threads, 2 by default) paces by
-- a schedule: each thread's requests are due every interval whatever the
-- answers take, so the offered rate does not fall when latency rises (an
-- open-loop arrival rate, as a site's visitors make); a connection waits
-- for its request's due time, and sends at once when it is late. Lateness
-- is made up for at most a second back, so a stall is followed by a short
-- burst, not by an unbounded one.
-- BENCH_DELAY_MS (fractional) paces each connection instead: wrk waits that
-- long before each request, so the offered rate is about connections /
-- (delay + latency). Whole milliseconds only, alternated so the mean is the
-- fraction.
function delay()
  if interval_ms > 0 then
    local now = clock()
    if next_slot == nil or next_slot < now - 1000 then next_slot = math.max(next_slot or now, now - 1000) end
    local due = next_slot
    next_slot = next_slot + interval_ms
    if due <= now then return 0 end
    return math.floor(due - now)
  end
  if delay_ms <= 0 then return 0 end
  local whole = math.floor(delay_ms)
  if math.random() < delay_ms - whole then return whole + 1 end
  return whole
end

function request()
  local r = pool[next_index]
  next_index = next_index + 1
  if next_index > #pool then next_index = 1 end
  if type(r) == "number" then
    return wrk.format("POST", "/api/v1/interactions", track_headers,
      string.format('{"user_id":"VISITOR_%d","item_id":"PROD_%06d","interaction_type":"view"}',
                    math.random(visitors), r))
  end
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
