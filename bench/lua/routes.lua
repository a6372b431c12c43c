-- Cycles through one request per route of the table (Host header + path), so
-- every route is hit equally often. The bench prepends `targets`, a list of
-- {host, path} pairs generated from the same table the proxies are given.
local requests = {}
local count = 0
local at = 0

function init(args)
  for i, t in ipairs(targets) do
    requests[i] = wrk.format("GET", t[2], { ["Host"] = t[1] })
  end
  count = #requests
end

function request()
  at = at + 1
  if at > count then at = 1 end
  return requests[at]
end
