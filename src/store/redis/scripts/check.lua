-- ARGV: deadline_ms, allow_unmarked (ignored: decisions always need the marker;
--       'w' after it: a WAIT follows, see touch()),
--       today, kept_from, sales_from (the ledger's calendar, see the prelude),
--       order_id, amount, buyer_version, blocked, max_total, max_insurable ('' = none),
--       earliest_due_day, decision_id, ttl_secs, sample
-- The hot path: six Redis calls for a new order (clock, marker, buyer with
-- totals, order record and next expiry, due dates, and the two writes of a
-- reservation); the expiry list is read only when its head may have lapsed. It
-- prunes nothing: a settled record past the retention window is read as absent
-- and left for the next ledger call to remove.
-- The admission test below is ReserveConditions::admit (src/domain/policy.rs);
-- the model-based test (tests/api/model) holds the two copies together.
if too_late() then
  return {'TOO_LATE'}
end
if redis.call('EXISTS', K_MARKER) == 0 then
  return {'NO_MARKER'}
end
local order_id, amount = ARGV[6], tonumber(ARGV[7])
local field = order_field(order_id)
local b = redis.call('HMGET', K_BUYER, 'v', 'oo', 'oi', 'dp', field, 'ne')
if not b[1] then
  return {'UNKNOWN_BUYER'}
end
-- 'ne': when the oldest open reservation lapses (absent: none, or not known;
-- see expire()).
local ne = b[6]
if not ne or tonumber(ne) <= NOW then
  local popped
  ne, popped = expire(b[6])
  if popped then
    -- Releasing changed the totals, and perhaps this order's record.
    b = redis.call('HMGET', K_BUYER, 'v', 'oo', 'oi', 'dp', field)
  end
end
local today, sample = TODAY, tonumber(ARGV[15])
local oo, oi, dp = num(b[2]), num(b[3]), num(b[4])
if b[5] then
  local st, amt, rem, did, at, _, day = parse_order(b[5])
  if kept(day) then
    if st == 'C' then
      return {'CANCELLED'}
    end
    if st == 'I' then
      return {'INVOICED', amt, did, snapshot(oo, oi, dp, today, sample)}
    end
    if amt ~= amount then
      return {'CONFLICT', amt, rem, did, at}
    end
    touch()
    return {'REPLAY', amt, rem, did, at, snapshot(oo, oi, dp, today, sample)}
  end
end
if b[1] ~= ARGV[8] then
  return {'STALE'}
end
local snap = snapshot(oo, oi, dp, today, sample)
local oldest = snap[4]
local admit = ARGV[9] == '0' and oo + oi + amount <= tonumber(ARGV[10])
if admit and ARGV[11] ~= '' then
  admit = oo + oi - dp + amount <= tonumber(ARGV[11])
end
if admit and #oldest > 0 then
  admit = tonumber(oldest[2]) >= tonumber(ARGV[12])
end
if not admit then
  return {'NOT_RESERVED', snap}
end
local expires = NOW + tonumber(ARGV[14])
-- Overwrites a settled record past the window, if one is still stored.
local record = pack_order('A', amount, amount, ARGV[13], NOW, expires, nil)
if not ne then
  -- The list was empty: this reservation becomes its head.
  redis.call('HSET', K_BUYER, 'oo', fmt(oo + amount), field, record, 'ne', fmt(expires))
else
  redis.call('HSET', K_BUYER, 'oo', fmt(oo + amount), field, record)
end
schedule(order_id, expires)
return {'RESERVED', snap}
