-- POST /api/v1/orders as many different buyers: a distinct email and a
-- random client address (sent through the trusted-proxy header) per request,
-- so the per-buyer unpaid-order cap stays at its default.
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format(
    '{"product_id":"video-vip-month","quantity":1,"email":"bench-%d-%d@example.com"}',
    math.random(1, 1000000000), counter)
  local ip = string.format("10.%d.%d.%d", math.random(0, 255), math.random(0, 255), math.random(1, 254))
  return wrk.format("POST", "/api/v1/orders",
    {["Content-Type"] = "application/json", ["X-Forwarded-For"] = ip}, body)
end

local created, refused = 0, 0
response = function(status)
  if status == 201 then created = created + 1 else refused = refused + 1 end
end
