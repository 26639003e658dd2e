-- ARGV: now, allow_unmarked, order_id, tombstone_ttl_secs
local g = guard(true)
if g then return g end
expire()
local id = ARGV[3]
local until_at = fmt(NOW + tonumber(ARGV[4]))
local rec = redis.call('HGET', K_ORDERS, id)
if rec then
  local st, amt, rem, did, at = parse_order(rec)
  if st == 'C' then
    return {'DONE', 0, 0}
  end
  if rem > 0 then
    redis.call('HINCRBY', K_TOTALS, 'oo', fmt(-rem))
  end
  redis.call('HSET', K_ORDERS, id, pack_order('C', amt, 0, did, at))
  redis.call('ZADD', K_OEXP, until_at, id)
  return {'DONE', rem, 1}
end
redis.call('HSET', K_ORDERS, id, pack_order('C', 0, 0, '', NOW))
redis.call('ZADD', K_OEXP, until_at, id)
return {'DONE', 0, 0}
