-- ARGV: deadline_ms, allow_unmarked, order_id, tombstone_ttl_secs
-- Answers DONE, released, was_approved, invoiced.
local g = guard(true)
if g then return g end
expire()
local id = ARGV[3]
local field = order_field(id)
local until_at = NOW + tonumber(ARGV[4])
local rec = redis.call('HGET', K_BUYER, field)
if rec then
  local st, amt, rem, did, at = parse_order(rec)
  if st == 'C' then
    return {'DONE', 0, 0, 0}
  end
  if st == 'I' then
    -- Invoiced without approval: a receivable now, nothing to cancel.
    return {'DONE', 0, 0, 1}
  end
  if rem > 0 then
    redis.call('HINCRBY', K_BUYER, 'oo', fmt(-rem))
  end
  if rem < amt then
    -- Shipped in part: the receivable stays and the approval with it (replays
    -- still answer ALREADY_APPROVED); only the unshipped rest is released.
    redis.call('HSET', K_BUYER, field, pack_order('A', amt, 0, did, at, 0))
    return {'DONE', rem, 1, 1}
  end
  redis.call('HSET', K_BUYER, field, pack_order('C', amt, 0, did, at, until_at))
  schedule(id, until_at)
  return {'DONE', rem, 1, 0}
end
redis.call('HSET', K_BUYER, field, pack_order('C', 0, 0, '', NOW, until_at))
schedule(id, until_at)
return {'DONE', 0, 0, 0}
