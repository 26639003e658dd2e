-- ARGV: deadline_ms, allow_unmarked, today, kept_from, sales_from, invoice_id,
--       order_id ('' = none), amount, issue_day, due_day, buyer_id
local g = guard(true)
if g then return g end
expire()
prune()
local id, order_id, amount = ARGV[6], ARGV[7], tonumber(ARGV[8])
local issue, due = tonumber(ARGV[9]), tonumber(ARGV[10])
local oo, oi, dp = totals()
local existing, _, stale = find_invoice(id)
if existing then
  local amt, _, iss, du, _, ord = parse_invoice(existing)
  if amt == amount and iss == issue and du == due and ord == order_id then
    return {'EXISTS', oo, oi, dp}
  end
  return {'CONFLICT'}
end
-- The order's lineage: an approval's reservation is consumed; an order never
-- approved (or cancelled, then shipped anyway) becomes invoiced, so that a later
-- check of it reserves nothing (docs/policy.md, orders, invoices and payments).
-- A record past the retention window counts as none.
local consumed, order_rec, settles, was_held = 0, nil, false, false
if order_id ~= '' then
  local r = redis.call('HMGET', K_BUYER, order_field(order_id), held_field(order_id))
  local rec = r[1]
  was_held = r[2]
  local st, amt, rem, did, at, exp, day
  if rec then
    st, amt, rem, did, at, exp, day = parse_order(rec)
    if not kept(day) then
      st = nil
    end
  end
  if st == 'A' then
    consumed = math.min(rem, amount)
    if consumed > 0 then
      -- A fully invoiced order keeps no expiry (its list entry no longer
      -- matches) and settles today.
      local left = rem - consumed
      settles = left == 0
      order_rec = pack_order('A', amt, left, did, at, settles and 0 or exp, settles and TODAY or nil)
    end
  elseif st == 'I' then
    order_rec = pack_invoiced(amt + amount, at, day, did)
  else
    order_rec = pack_invoiced(amount, NOW, TODAY, id)
    settles = true
  end
end
if oo - consumed + oi + amount > MAX_TOTAL then
  return {'OVERFLOW'}
end
if was_held then
  -- Invoiced: shipped, so no longer waiting for the credit team.
  unhold(ARGV[11], order_id)
end
if order_rec then
  redis.call('HSET', K_BUYER, order_field(order_id), order_rec)
  if settles then
    retain('o', order_id)
  end
end
if consumed > 0 then
  redis.call('HINCRBY', K_BUYER, 'oo', fmt(-consumed))
end
redis.call('HINCRBY', K_BUYER, 'oi', ARGV[8])
local b = redis.call('HMGET', K_BUYER, 'fi', 'so')
if not b[1] or tonumber(b[1]) > issue then
  redis.call('HSET', K_BUYER, 'fi', ARGV[9])
end
-- DSO's credit sales, one running sum per issue day, so that reporting never
-- reads paid invoices. Capped like every sum here; such a day's DSO is 0 anyway.
if issue >= SALES_FROM then
  local sales = num(redis.call('HGET', K_SALES, ARGV[9]))
  redis.call('HSET', K_SALES, ARGV[9], fmt(math.min(sales + amount, MAX_TOTAL)))
  if not b[2] or tonumber(b[2]) > issue then
    redis.call('HSET', K_BUYER, 'so', ARGV[9])
  end
end
if stale then
  redis.call('HDEL', K_PAID, id)
end
redis.call('HSET', K_INV, id, pack_invoice(amount, amount, issue, due, false, order_id, nil))
redis.call('ZADD', K_DUE, ARGV[10], id)
return {'CREATED', oo - consumed, oi + amount, dp, consumed}
