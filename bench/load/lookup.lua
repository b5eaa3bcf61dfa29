-- wrk script for bench/load.py: GET /v1/accounts/{id} over accounts that
-- exist, each wrk thread cycling through the id list from its own offset.
-- Environment: BENCH_IDS (a file of account ids, one a line),
-- BENCH_TOKEN (an analyst bearer token; may be empty for the hello server).
-- done() prints one line "BENCH_JSON {...}" with requests, errors and
-- latency percentiles (microseconds) for the driver to read.

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local requests_ = {}
local n, i = 0, 0

function init(args)
  local path = os.getenv("BENCH_IDS") or error("lookup.lua: BENCH_IDS is not set")
  local token = os.getenv("BENCH_TOKEN") or ""
  local headers = {}
  if token ~= "" then headers["Authorization"] = "Bearer " .. token end
  for line in io.lines(path) do
    if line ~= "" then
      n = n + 1
      -- built once: the client's cost per request stays small and constant
      requests_[n] = wrk.format("GET", "/v1/accounts/" .. urlencode(line), headers)
    end
  end
  if n == 0 then error("lookup.lua: no ids in " .. path) end
  i = ((tid or 1) - 1) * 7919 % n
end

function request()
  i = i % n + 1
  return requests_[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
