-- ARGV: now, allow_unmarked, invoice_id, order_id ('' = none), amount, issue_day, due_day
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
local consumed, order = 0, nil
if order_id ~= '' then
  local rec = redis.call('HGET', K_BUYER, order_field(order_id))
  if rec then
    local st, amt, rem, did, at, exp = parse_order(rec)
    if st == 'A' and rem > 0 then
      consumed = math.min(rem, amount)
      order = {amt, rem - consumed, did, at, exp}
    end
  end
end
if oo - consumed + oi + amount > MAX_TOTAL then
  return {'OVERFLOW'}
end
if order then
  -- A fully invoiced order keeps no expiry: its list entry no longer matches.
  local exp = order[2] == 0 and 0 or order[5]
  redis.call('HSET', K_BUYER, order_field(order_id), pack_order('A', order[1], order[2], order[3], order[4], exp))
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
