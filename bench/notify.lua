-- POSTs signed sandbox payment notifications, each one once: the list comes
-- from bench/notify.py (NOTIFY_LIST: lines of "path body"); thread i of n
-- takes lines i, i+n, i+2n, ... When its share runs out it sends the last
-- one again (a duplicate, answered without work), so size the list to the run.
local items = {}
local index = 0
local step = 1
local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  local f = assert(io.open(os.getenv("NOTIFY_LIST"), "r"))
  local all = {}
  for line in f:lines() do all[#all + 1] = line end
  f:close()
  -- `tid` is the global thread:set() gave this thread's state.
  local id = tonumber(tid) or 0
  local n = tonumber(os.getenv("NOTIFY_THREADS") or "2")
  for i = id + 1, #all, n do items[#items + 1] = all[i] end
  assert(#items > 0, "no notifications to send: did the order runs create orders?")
end

request = function()
  index = index + 1
  local line = items[math.min(index, #items)]
  local path, body = line:match("^(%S+) (.*)$")
  return wrk.format("POST", path, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
