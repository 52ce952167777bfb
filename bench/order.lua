-- POST /api/v1/orders with a distinct buyer email per request.
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format(
    '{"product_id":"video-vip-month","quantity":1,"email":"bench-%d-%d@example.com"}',
    math.random(1, 1000000000), counter)
  return wrk.format("POST", "/api/v1/orders", {["Content-Type"] = "application/json"}, body)
end

local created, refused = 0, 0
response = function(status)
  if status == 201 then created = created + 1 else refused = refused + 1 end
end
