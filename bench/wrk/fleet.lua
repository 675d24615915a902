-- wrk script of the kiosk fleet benchmark: one request kind per wrk process.
--   wrk -t1 -cN -dS -s fleet.lua URL -- KIND DATA_FILE RATE [JPEG_FILE]
-- KIND: heartbeat | order | orders_new | kiosks | bare
-- DATA_FILE: one "kiosk_id device_key" (kiosk kinds) or one token (partner kinds) a line
-- RATE: requests per second of this process, paced at constant rate (0: as fast as it can)
-- Latency is measured from the moment a request is written; the caller checks that the
-- achieved rate kept up with the offered one (when it does not, the server is saturated).

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } iwm_timespec;
int clock_gettime(int clk_id, iwm_timespec *tp);
]]
local ts = ffi.new("iwm_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("index", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local requests = {}
local position = 0
local interval = nil
local next_at = nil

local function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if line ~= "" then table.insert(lines, line) end
  end
  return lines
end

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end

local function multipart(jpeg, n)
  local boundary = "iwmbenchboundary7d1f"
  local parts = {
    "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"customerName\"\r\n\r\nBench Customer " .. n .. "\r\n",
    "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"customerEmail\"\r\n\r\nbench" .. n .. "@example.com\r\n",
    "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"customerPhone\"\r\n\r\n+972500000" .. (n % 1000) .. "\r\n",
    "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"image\"; filename=\"photo.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n",
    jpeg, "\r\n--" .. boundary .. "--\r\n",
  }
  return "multipart/form-data; boundary=" .. boundary, table.concat(parts)
end

function init(args)
  local kind, data_file, rate, jpeg_file = args[1], args[2], tonumber(args[3]), args[4]
  local index = wrk.thread:get("index")
  local nthreads = tonumber(wrk.thread:get("nthreads") or "1")
  if rate and rate > 0 then interval = 1000.0 / rate end
  local lines = data_file and data_file ~= "-" and read_lines(data_file) or { "" }
  local jpeg = jpeg_file and read_file(jpeg_file)
  for i, line in ipairs(lines) do
    if (i - 1) % nthreads == index then
      local a, b = line:match("^(%S+)%s*(%S*)$")
      local req
      if kind == "heartbeat" then
        req = wrk.format("POST", "/kiosk/" .. a .. "/heartbeat", { ["Authorization"] = "Bearer " .. b })
      elseif kind == "order" then
        local ctype, body = multipart(jpeg, i)
        req = wrk.format("POST", "/kiosk/" .. a .. "/orders",
          { ["Authorization"] = "Bearer " .. b, ["Content-Type"] = ctype }, body)
      elseif kind == "orders_new" then
        req = wrk.format("GET", "/partner/orders/new", { ["Authorization"] = "Bearer " .. a })
      elseif kind == "kiosks" then
        req = wrk.format("GET", "/partner/kiosks", { ["Authorization"] = "Bearer " .. a })
      elseif kind == "bare" then
        req = wrk.format("POST", "/bare")
      else
        error("unknown kind " .. tostring(kind))
      end
      table.insert(requests, req)
    end
  end
end

function request()
  position = position % #requests + 1
  return requests[position]
end

-- Constant-rate pacing: every call books the next free slot of this thread.
function delay()
  if interval == nil then return 0 end
  local t = now_ms()
  if next_at == nil then next_at = t end
  local slot = next_at
  next_at = next_at + interval
  local wait = slot - t
  if wait < 0 then return 0 end
  return math.floor(wait)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,'
    .. '"status_errors":%d,"timeouts":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean))
end

-- Closed loop (as fast as the server answers) unless the caller asks for pacing.
if os.getenv("IWM_WRK_PACED") ~= "1" then
  delay = nil
end
