-- GET / on a random shop host among the first SHOPS of s00000 … s09999
-- (provisioned by bench/tenants.sh), so every request may be a shop the
-- process has not seen yet.
local shops = tonumber(os.getenv("SHOPS") or "10000")
local port = os.getenv("PORT")

function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

request = function()
  local host = string.format("s%05d.localhost:%s", math.random(0, shops - 1), port)
  return wrk.format("GET", "/", {["Host"] = host})
end
