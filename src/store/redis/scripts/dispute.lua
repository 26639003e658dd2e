-- ARGV: deadline_ms, allow_unmarked, invoice_id, disputed ('1' or '0')
local g = guard(true)
if g then return g end
expire()
local id, want = ARGV[3], ARGV[4] == '1'
local rec = redis.call('HGET', K_INV, id)
if not rec then
  return {'UNKNOWN_INVOICE'}
end
local amt, open, issue, due, disputed, order = parse_invoice(rec)
if disputed ~= want then
  redis.call('HSET', K_INV, id, pack_invoice(amt, open, issue, due, want, order))
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
