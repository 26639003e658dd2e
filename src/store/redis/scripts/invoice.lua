-- ARGV: deadline_ms, allow_unmarked, invoice_id, order_id ('' = none), amount, issue_day, due_day
local g = guard(true)
if g then return g end
expire()
local id, order_id, amount = ARGV[3], ARGV[4], tonumber(ARGV[5])
local issue, due = tonumber(ARGV[6]), tonumber(ARGV[7])
local oo, oi, dp = totals()
local existing = redis.call('HGET', K_INV, id)
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
local consumed, order_rec = 0, nil
if order_id ~= '' then
  local rec = redis.call('HGET', K_BUYER, order_field(order_id))
  local st, amt, rem, did, at, exp
  if rec then
    st, amt, rem, did, at, exp = parse_order(rec)
  end
  if st == 'A' then
    consumed = math.min(rem, amount)
    if consumed > 0 then
      -- A fully invoiced order keeps no expiry: its list entry no longer matches.
      local left = rem - consumed
      order_rec = pack_order('A', amt, left, did, at, left == 0 and 0 or exp)
    end
  elseif st == 'I' then
    order_rec = pack_invoiced(amt + amount, at, exp, did)
  else
    order_rec = pack_invoiced(amount, NOW, 0, id)
  end
end
if oo - consumed + oi + amount > MAX_TOTAL then
  return {'OVERFLOW'}
end
if order_rec then
  redis.call('HSET', K_BUYER, order_field(order_id), order_rec)
end
if consumed > 0 then
  redis.call('HINCRBY', K_BUYER, 'oo', fmt(-consumed))
end
redis.call('HINCRBY', K_BUYER, 'oi', ARGV[5])
local first = redis.call('HGET', K_BUYER, 'fi')
if not first or tonumber(first) > issue then
  redis.call('HSET', K_BUYER, 'fi', ARGV[6])
end
redis.call('HSET', K_INV, id, pack_invoice(amount, amount, issue, due, false, order_id))
redis.call('ZADD', K_DUE, ARGV[7], id)
return {'CREATED', oo - consumed, oi + amount, dp, consumed}
