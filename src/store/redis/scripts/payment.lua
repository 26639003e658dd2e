-- ARGV: deadline_ms, allow_unmarked, today, kept_from, sales_from, invoice_id,
--       amount, paid_day, payment_id, discount_days ('' = none), late_after_days,
--       step_percent, floor_percent, restore_after_on_time_payments
local g = guard(true)
if g then return g end
expire()
prune()
local id, amount, paid, pid = ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9]
local oo, oi, dp = totals()
-- (buyer, payment_id) is the payment's key, kept for the retention window from
-- the day it was recorded; a replay answers open_after.
local prev = redis.call('HGET', K_PAY, pid)
if prev then
  local p_amt, p_day, p_open, p_rec, p_inv = parse_payment(prev)
  if kept(p_rec) then
    if p_inv ~= id or p_amt ~= amount or p_day ~= paid then
      return {'PAYMENT_CONFLICT'}
    end
    return {'EXISTS', p_open, oo, oi, dp}
  end
end
local rec, closed = find_invoice(id)
if not rec then
  return {'UNKNOWN_INVOICE'}
end
local amt, open, issue, due, disputed, order = parse_invoice(rec)
if paid < issue then
  return {'PAID_BEFORE_ISSUE', issue}
end
if closed or amount > open then
  -- Paid in full already: nothing is open to pay.
  return {'OVERPAYMENT', open}
end
local left = open - amount
if left == 0 then
  -- Paid in full: moves to the paid invoices, kept for the retention window.
  redis.call('HDEL', K_INV, id)
  redis.call('HSET', K_PAID, id, pack_invoice(amt, 0, issue, due, disputed, order, TODAY))
  retain('i', id)
else
  redis.call('HSET', K_INV, id, pack_invoice(amt, left, issue, due, disputed, order, nil))
end
redis.call('HINCRBY', K_BUYER, 'oi', fmt(-amount))
if disputed then
  redis.call('HINCRBY', K_BUYER, 'dp', fmt(-amount))
  dp = dp - amount
elseif left == 0 then
  redis.call('ZREM', K_DUE, id)
end
-- Payment behaviour. amount x days can pass 2^53, so the weighted sum is kept in
-- two exact integer counters: (amount div 1e6) x days and (amount mod 1e6) x days.
local late = math.max(paid - due, 0)
redis.call('HINCRBY', K_BUYER, 'pn', 1)
if late > 0 then
  redis.call('HINCRBY', K_BUYER, 'pl', 1)
  local hi = math.floor(amount / 1000000)
  local lo = amount - hi * 1000000
  redis.call('HINCRBY', K_BUYER, 'pwh', fmt(hi * late))
  redis.call('HINCRBY', K_BUYER, 'pwl', fmt(lo * late))
end
redis.call('HINCRBY', K_BUYER, 'pm', ARGV[7])
if ARGV[10] ~= '' and paid - issue <= tonumber(ARGV[10]) then
  redis.call('HINCRBY', K_BUYER, 'pe', 1)
end
-- The limit adjustment (LimitAdjustment::after_payment in Rust, same rule): late
-- payments lower the scored limit a step, a run of on-time ones gives one back.
-- A change bumps the buyer version so every replica re-reads the limit.
local b = redis.call('HMGET', K_BUYER, 'adj', 'streak')
local adj, streak = tonumber(b[1]) or 100, tonumber(b[2]) or 0
local step, floor, restore = tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
local new_adj, new_streak = adj, streak
if paid - due > tonumber(ARGV[11]) then
  new_adj, new_streak = math.min(math.max(adj - step, floor), adj), 0
elseif streak + 1 >= restore and adj < 100 then
  new_adj, new_streak = math.min(adj + step, 100), 0
else
  new_streak = math.min(streak + 1, restore)
end
redis.call('HSET', K_BUYER, 'adj', new_adj, 'streak', new_streak)
if new_adj ~= adj then
  redis.call('HINCRBY', K_BUYER, 'v', 1)
end
redis.call('HSET', K_PAY, pid, ARGV[7] .. '|' .. ARGV[8] .. '|' .. fmt(left) .. '|' .. fmt(TODAY) .. '|' .. id)
retain('p', pid)
return {'CREATED', left, oo, oi - amount, dp}
