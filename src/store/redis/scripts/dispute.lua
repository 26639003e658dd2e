-- ARGV: deadline_ms, allow_unmarked, today, kept_from, sales_from, invoice_id,
--       disputed ('1' or '0')
local g = guard(true)
if g then return g end
expire()
prune()
local id, want = ARGV[6], ARGV[7] == '1'
local rec, paid = find_invoice(id)
if not rec then
  return {'UNKNOWN_INVOICE'}
end
local amt, open, issue, due, disputed, order, paid_day = parse_invoice(rec)
if disputed ~= want then
  if paid then
    -- Paid in full: the flag moves, no balance with it.
    redis.call('HSET', K_PAID, id, pack_invoice(amt, open, issue, due, want, order, paid_day))
    return {'DONE', open, want and 1 or 0}
  end
  redis.call('HSET', K_INV, id, pack_invoice(amt, open, issue, due, want, order, nil))
  if want then
    redis.call('HINCRBY', K_BUYER, 'dp', fmt(open))
    redis.call('ZREM', K_DUE, id)
  else
    redis.call('HINCRBY', K_BUYER, 'dp', fmt(-open))
    if open > 0 then
      redis.call('ZADD', K_DUE, fmt(due), id)
    end
  end
end
return {'DONE', open, want and 1 or 0}
