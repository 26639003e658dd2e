-- ARGV: now, allow_unmarked, order_id, amount, buyer_version, blocked, max_total,
--       max_insurable ('' = none), earliest_due_day, decision_id, ttl_secs, today, sample
local g = guard(true)
if g then return g end
expire()
local order_id, amount = ARGV[3], tonumber(ARGV[4])
local today, sample = ARGV[12], tonumber(ARGV[13])
local existing = redis.call('HGET', K_ORDERS, order_id)
if existing then
  local st, amt, rem, did, at = parse_order(existing)
  if st == 'C' then
    return {'CANCELLED'}
  end
  if amt ~= amount then
    return {'CONFLICT', amt, rem, did, at}
  end
  return {'REPLAY', amt, rem, did, at, snapshot(today, sample)}
end
if redis.call('HGET', K_BUYER, 'v') ~= ARGV[5] then
  return {'STALE'}
end
local snap = snapshot(today, sample)
local oo, oi, dp, oldest = snap[1], snap[2], snap[3], snap[4]
local admit = ARGV[6] == '0' and oo + oi + amount <= tonumber(ARGV[7])
if admit and ARGV[8] ~= '' then
  admit = oo + oi - dp + amount <= tonumber(ARGV[8])
end
if admit and #oldest > 0 then
  admit = tonumber(oldest[2]) >= tonumber(ARGV[9])
end
if not admit then
  return {'NOT_RESERVED', snap}
end
redis.call('HINCRBY', K_TOTALS, 'oo', ARGV[4])
redis.call('HSET', K_ORDERS, order_id, pack_order('A', amount, amount, ARGV[10], NOW))
redis.call('ZADD', K_OEXP, fmt(NOW + tonumber(ARGV[11])), order_id)
return {'RESERVED', snap}
