-- A flood of page views on one shop from many client addresses (sent
-- through the trusted-proxy header, so the per-client limit never binds and
-- only the shop's plan cap and share stand in the way).
function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

request = function()
  local ip = string.format("10.%d.%d.%d", math.random(0, 255), math.random(0, 255), math.random(1, 254))
  return wrk.format("GET", nil, {["X-Forwarded-For"] = ip}, nil)
end
