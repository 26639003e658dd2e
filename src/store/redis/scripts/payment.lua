-- ARGV: now, allow_unmarked, invoice_id, amount, paid_day, payment_id ('' = none)
local g = guard(true)
if g then return g end
expire()
local id, amount, paid, pid = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local rec = redis.call('HGET', K_INV, id)
if not rec then
  return {'UNKNOWN_INVOICE'}
end
local amt, open, issue, due, disputed, order = parse_invoice(rec)
local oo, oi, dp = totals()
local pay_key = id .. '\31' .. pid
if pid ~= '' then
  local prev = redis.call('HGET', K_PAY, pay_key)
  if prev then
    if tonumber(prev) ~= amount then
      return {'PAYMENT_CONFLICT'}
    end
    return {'EXISTS', open, oo, oi, dp}
  end
end
if amount > open then
  return {'OVERPAYMENT', open}
end
local left = open - amount
redis.call('HSET', K_INV, id, pack_invoice(amt, left, issue, due, disputed, order))
redis.call('HINCRBY', K_TOTALS, 'oi', fmt(-amount))
if disputed then
  redis.call('HINCRBY', K_TOTALS, 'dp', fmt(-amount))
  dp = dp - amount
elseif left == 0 then
  redis.call('ZREM', K_DUE, id)
end
-- Payment behaviour. amount x days can pass 2^53, so the weighted sum is kept in
-- two exact integer counters: (amount div 1e6) x days and (amount mod 1e6) x days.
local late = math.max(paid - due, 0)
redis.call('HINCRBY', K_TOTALS, 'pn', 1)
if late > 0 then
  redis.call('HINCRBY', K_TOTALS, 'pl', 1)
  local hi = math.floor(amount / 1000000)
  local lo = amount - hi * 1000000
  redis.call('HINCRBY', K_TOTALS, 'pwh', fmt(hi * late))
  redis.call('HINCRBY', K_TOTALS, 'pwl', fmt(lo * late))
end
redis.call('HINCRBY', K_TOTALS, 'pm', ARGV[4])
if pid ~= '' then
  redis.call('HSET', K_PAY, pay_key, ARGV[4])
end
return {'CREATED', left, oo, oi - amount, dp}
