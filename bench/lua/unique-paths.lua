-- A new URL on every request (/cache/miss-<thread>-<start time>-<n>): for the
-- cache-miss scenario, every request is a miss the proxy fetches and stores.
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

local prefix
local n = 0

function init(args)
  prefix = "/cache/miss-" .. tostring(id) .. "-" .. tostring(os.time()) .. "-"
end

function request()
  n = n + 1
  return wrk.format("GET", prefix .. n)
end
