-- A quiet shop's real page views at a steady pace: each connection sends a
-- request, waits for its answer, then waits PACE_MS (default 20) before the
-- next, so the load does not rise when the server slows down and the
-- latency figures are those of a buyer browsing, not of a flood.
local pace = tonumber(os.getenv("PACE_MS") or "20")

function delay()
  return pace
end
