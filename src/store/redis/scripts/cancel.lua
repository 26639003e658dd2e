-- ARGV: deadline_ms, allow_unmarked, today, kept_from, sales_from, order_id, buyer_id
-- Answers DONE, released, was_approved, invoiced. A tombstone settles today: the
-- id stays retired for the retention window (a late retry of the check is
-- refused), then the record is pruned like any settled one.
local g = guard(true)
if g then return g end
expire()
prune()
local id = ARGV[6]
local field = order_field(id)
local r = redis.call('HMGET', K_BUYER, field, held_field(id))
local rec = r[1]
if r[2] then
  -- Whatever it was, a cancelled order waits for nobody.
  unhold(ARGV[7], id)
end
if rec then
  local st, amt, rem, did, at, _, day = parse_order(rec)
  if kept(day) then
    if st == 'C' then
      -- Already cancelled: answer as the first cancel did (its record keeps the
      -- approved amount, 0 for an id never approved).
      return {'DONE', 0, amt > 0 and 1 or 0, 0}
    end
    if st == 'I' then
      -- Invoiced without approval: a receivable now, nothing to cancel.
      return {'DONE', 0, 0, 1}
    end
    if rem < amt then
      -- Shipped in part: the receivable stays and the approval with it (replays
      -- still answer ALREADY_APPROVED); only the unshipped rest is released.
      if rem > 0 then
        redis.call('HINCRBY', K_BUYER, 'oo', fmt(-rem))
        redis.call('HSET', K_BUYER, field, pack_order('A', amt, 0, did, at, 0, TODAY))
        retain('o', id)
      end
      return {'DONE', rem, 1, 1}
    end
    redis.call('HINCRBY', K_BUYER, 'oo', fmt(-rem))
    redis.call('HSET', K_BUYER, field, pack_order('C', amt, 0, did, at, 0, TODAY))
    retain('o', id)
    return {'DONE', rem, 1, 0}
  end
end
redis.call('HSET', K_BUYER, field, pack_order('C', 0, 0, '', NOW, 0, TODAY))
retain('o', id)
return {'DONE', 0, 0, 0}
