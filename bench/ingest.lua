-- wrk script of bench.ingest: PUT /v1/devices/me/location, walking the device keys.
-- Arguments: key file (one key a line, or "key lat lon": a device's home, which its reports
-- stay within about 100 m of), first report time (µs since the epoch), wrk threads; the
-- summary goes to $BENCH_INGEST_SUMMARY as JSON. Thread t reports for keys t, t + threads,
-- ...; report n of thread t is at first + n * threads + t µs, so each report is newer than
-- the last of its device. Devices without a home report anywhere in Great Britain.

local thread_count = 0

function setup(thread)
   thread:set("id", thread_count)
   thread_count = thread_count + 1
end

local keys, homes, next_key, sent, first_us, threads

-- A set pace (bench.ingest --rate, a soak): each wrk thread sends its share of the rate on a
-- fixed schedule, on whichever of its connections is free. A send is never early, and a
-- thread that fell behind sends at once until it is back on schedule, so a stall of the
-- server shows in the latency of the reports that queued behind it (a fixed wait between a
-- connection's requests would hide it: the connection would just send less).
local rate = tonumber(os.getenv("BENCH_INGEST_RATE"))
if rate then
   local ffi = require("ffi")
   ffi.cdef [[
      typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
      int clock_gettime(int clock, bench_timespec *ts);
   ]]
   local CLOCK_MONOTONIC = 1
   local ts = ffi.new("bench_timespec")
   local function now_ms()
      ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
      return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
   end
   local slot_ms
   function delay()
      local now = now_ms()
      slot_ms = slot_ms or now
      local wait = slot_ms - now
      slot_ms = slot_ms + 1000 * threads / rate
      return math.max(0, math.floor(wait))
   end
end

function init(args)
   local path = args[1]
   first_us = tonumber(args[2])
   threads = tonumber(args[3])
   keys, homes = {}, {}
   local i = 0
   for line in io.lines(path) do
      if i % threads == id then
         local key, lat, lon = line:match("^(%S+) (%S+) (%S+)$")
         if key then
            homes[#keys + 1] = { tonumber(lat), tonumber(lon) }
         else
            key = line
         end
         keys[#keys + 1] = key
      end
      i = i + 1
   end
   next_key = 1
   sent = 0
   math.randomseed(id + 1)
end

function request()
   local key, home = keys[next_key], homes[next_key]
   next_key = next_key % #keys + 1
   local at_us = first_us + sent * threads + id
   sent = sent + 1
   local seconds = math.floor(at_us / 1000000)
   local at = os.date("!%Y-%m-%dT%H:%M:%S", seconds) .. string.format(".%06dZ", at_us - seconds * 1000000)
   local lat, lon
   if home then
      lat, lon = home[1] + (math.random() - 0.5) * 0.002, home[2] + (math.random() - 0.5) * 0.003
   else
      lat, lon = 49.9 + math.random() * 8.8, -6.4 + math.random() * 8.2
   end
   local body = string.format('{"lat":%.6f,"lon":%.6f,"accuracy_m":12,"at":"%s"}', lat, lon, at)
   return wrk.format("PUT", nil, {["X-Device-Key"] = key, ["Content-Type"] = "application/json"}, body)
end

-- In wrk's main thread, which has no script arguments: the path comes from the environment.
function done(summary, latency, requests)
   local e = summary.errors
   local out = io.open(os.getenv("BENCH_INGEST_SUMMARY"), "w")
   out:write(string.format(
      '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      latency.max, e.connect, e.read, e.write, e.status, e.timeout))
   out:close()
end
