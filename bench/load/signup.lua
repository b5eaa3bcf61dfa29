-- wrk script for bench/load.py: POST /v1/signups, one new account per
-- request. Ids are unique across threads and runs (run tag, wrk thread id,
-- per-thread counter); event time increases from BENCH_TS0; devices and IPs
-- are fresh for most signups and drawn from shared pools for the rest, so
-- some attributes are shared (households, NAT, reused devices) as in
-- `ringwatch simulate`.
-- Environment: BENCH_TOKEN (a signup bearer token), BENCH_TS0 (Unix seconds
-- of the first event), BENCH_TAG (makes ids unique across runs on one DB).
-- done() prints one line "BENCH_JSON {...}" (see lookup.lua).

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local DEVICE_POOL = 20000 -- shared devices (about 30% of signups use one)
local IP_POOL = 5000      -- shared addresses: carrier NAT, offices (about 40%)
local EVENTS_PER_SECOND = 20 -- of event time, per wrk thread

local counter = 0
local headers, tag, ts0

function init(args)
  local token = os.getenv("BENCH_TOKEN") or error("signup.lua: BENCH_TOKEN is not set")
  tag = os.getenv("BENCH_TAG") or "b"
  ts0 = tonumber(os.getenv("BENCH_TS0") or "1790900000")
  headers = {["Content-Type"] = "application/json"}
  if token ~= "" then headers["Authorization"] = "Bearer " .. token end
  math.randomseed((tid or 1) * 7919 + ts0 % 100003)
end

local function ip_of(k)
  -- public-looking IPv4 (first octet 11-110: no loopback, no 10/8), one per k
  return string.format("%d.%d.%d.%d", 11 + k % 100, math.floor(k / 100) % 256, math.floor(k / 25600) % 256,
                       1 + math.floor(k / 6553600) % 253)
end

function request()
  counter = counter + 1
  local acct = string.format("%s-%d-%d", tag, tid or 1, counter)
  local ts = ts0 + math.floor(counter / EVENTS_PER_SECOND)
  local ip
  if math.random() < 0.4 then
    ip = ip_of(math.random(IP_POOL))
  else
    ip = ip_of(100000 + math.random(50000000))
  end
  local device
  local r = math.random()
  if r < 0.3 then
    device = string.format("d-pool-%05d", math.random(DEVICE_POOL))
  elseif r < 0.9 then
    device = string.format("d-%s-%d-%d", tag, tid or 1, counter)
  end -- else: no device, as some simulated signups
  local body
  if device then
    body = string.format('{"account":"%s","ts":%d,"type":"signup","ip":"%s","device":"%s"}', acct, ts, ip, device)
  else
    body = string.format('{"account":"%s","ts":%d,"type":"signup","ip":"%s"}', acct, ts, ip)
  end
  return wrk.format("POST", "/v1/signups", headers, body)
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
