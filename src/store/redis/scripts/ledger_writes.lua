-- The ledger writes, one function each, shared by their own scripts (invoice.lua,
-- payment.lua, dispute.lua) and by ledger_rows.lua, which applies many of one
-- buyer's in one call (an import): one rule, whichever script runs it. Each
-- checks everything before it writes anything, so a refusal writes nothing, and
-- answers as its own script always has. Numbers come as the decimal text the
-- caller sent, so that they go back into Redis unchanged.

-- invoice_id, order_id ('' = none), amount, issue_day, due_day, buyer_id
local function record_invoice(id, order_id, amount_text, issue_text, due_text, buyer_id)
  local amount, issue, due = tonumber(amount_text), tonumber(issue_text), tonumber(due_text)
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
    unhold(buyer_id, order_id)
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
  redis.call('HINCRBY', K_BUYER, 'oi', amount_text)
  local b = redis.call('HMGET', K_BUYER, 'fi', 'so')
  if not b[1] or tonumber(b[1]) > issue then
    redis.call('HSET', K_BUYER, 'fi', issue_text)
  end
  -- DSO's credit sales, one running sum per issue day, so that reporting never
  -- reads paid invoices. Capped like every sum here; such a day's DSO is 0 anyway.
  if issue >= SALES_FROM then
    local sales = num(redis.call('HGET', K_SALES, issue_text))
    redis.call('HSET', K_SALES, issue_text, fmt(math.min(sales + amount, MAX_TOTAL)))
    if not b[2] or tonumber(b[2]) > issue then
      redis.call('HSET', K_BUYER, 'so', issue_text)
    end
  end
  if stale then
    redis.call('HDEL', K_PAID, id)
  end
  redis.call('HSET', K_INV, id, pack_invoice(amount, amount, issue, due, false, order_id, nil))
  redis.call('ZADD', K_DUE, due_text, id)
  return {'CREATED', oo - consumed, oi + amount, dp, consumed}
end

-- invoice_id, amount, paid_day, payment_id, discount_days ('' = none), then the
-- limit adjustment rule: late_after_days, step_percent, floor_percent,
-- restore_after_on_time_payments
local function record_payment(id, amount_text, paid_text, pid, discount_days, late_after,
                              step, floor, restore)
  step, floor, restore = tonumber(step), tonumber(floor), tonumber(restore)
  local amount, paid = tonumber(amount_text), tonumber(paid_text)
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
  redis.call('HINCRBY', K_BUYER, 'pm', amount_text)
  if discount_days ~= '' and paid - issue <= tonumber(discount_days) then
    redis.call('HINCRBY', K_BUYER, 'pe', 1)
  end
  -- The limit adjustment (LimitAdjustment::after_payment in Rust, same rule): late
  -- payments lower the scored limit a step, a run of on-time ones gives one back.
  -- A change bumps the buyer version so every replica re-reads the limit.
  local b = redis.call('HMGET', K_BUYER, 'adj', 'streak')
  local adj, streak = tonumber(b[1]) or 100, tonumber(b[2]) or 0
  local new_adj, new_streak = adj, streak
  if paid - due > tonumber(late_after) then
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
  redis.call('HSET', K_PAY, pid, amount_text .. '|' .. paid_text .. '|' .. fmt(left) .. '|' .. fmt(TODAY) .. '|' .. id)
  retain('p', pid)
  return {'CREATED', left, oo, oi - amount, dp}
end

-- invoice_id, disputed ('1' or '0')
local function set_dispute(id, flag)
  local want = flag == '1'
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
end
