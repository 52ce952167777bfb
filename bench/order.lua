-- POST /api/v1/orders as many different buyers: a distinct email and a
-- random client address (sent through the trusted-proxy header) per request,
-- so the per-buyer unpaid-order cap stays at its default.
-- With BENCH_ORDERS_OUT set, each created order's pay URL and amount are
-- appended to that file plus a per-thread suffix (bench/notify.py signs
-- notifications for them).
local counter = 0
local out = nil
local prefix = os.getenv("BENCH_ORDERS_OUT")
-- The product ordered (BENCH_PRODUCT): the demo's 180,000-key product unless told.
local product = os.getenv("BENCH_PRODUCT") or "video-vip-month"

function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
  if prefix then
    out = io.open(string.format("%s.%d", prefix, math.random(1, 1000000000)), "a")
    -- Thread states are never closed: unbuffered lines, or the tail is lost.
    out:setvbuf("line")
  end
end

request = function()
  counter = counter + 1
  local body = string.format(
    '{"product_id":"%s","quantity":1,"email":"bench-%d-%d@example.com"}',
    product, math.random(1, 1000000000), counter)
  local ip = string.format("10.%d.%d.%d", math.random(0, 255), math.random(0, 255), math.random(1, 254))
  return wrk.format("POST", "/api/v1/orders",
    {["Content-Type"] = "application/json", ["X-Forwarded-For"] = ip}, body)
end

response = function(status, headers, body)
  if out and status == 201 then
    local pay = body:match('"pay_url":"([^"]+)"')
    local amount = body:match('"amount_minor":(%d+)')
    local currency = body:match('"currency":"([^"]+)"')
    if pay and amount and currency then
      out:write(pay, " ", amount, " ", currency, "\n")
    end
  end
end

function done(summary, latency, requests)
  if out then out:close() end
end
