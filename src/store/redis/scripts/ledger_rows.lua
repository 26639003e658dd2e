-- ARGV: deadline_ms, allow_unmarked, today, kept_from, sales_from, buyer_id, then
-- the writes in order, each its kind and the arguments its own script takes:
--   'I' invoice_id, order_id, amount, issue_day, due_day          (invoice.lua)
--   'P' invoice_id, amount, paid_day, payment_id, discount_days,
--       late_after_days, step_percent, floor_percent, restore_...  (payment.lua)
--   'D' invoice_id, disputed                                       (dispute.lua)
-- and 'R' before each row: once a write of a row is refused, the rest of that row
-- is not applied ('SKIPPED'), as if its own scripts had run one by one and the
-- caller stopped at the refusal. Lapsed reservations are released before each
-- write, as its own script would (a write must not consume a reservation that
-- lapsed): the clock stands still inside a script, so after the first sweep
-- only one that stopped at its batch size leaves any to release. Pruning, which
-- only forgets what already reads as absent, runs once. Answers 'ROWS', then one reply per write, each what its own
-- script answers.
local ARITY = {I = 6, P = 10, D = 3, R = 1}
-- The layout is checked whole before anything is written: a malformed call
-- writes nothing.
local at = 7
while at <= #ARGV do
  local n = ARITY[ARGV[at]]
  if not n or at + n - 1 > #ARGV then
    return redis.error_reply('ledger_rows: malformed write at argument ' .. at)
  end
  at = at + n
end
local g = guard(true)
if g then return g end
local next_due = expire()
prune()
local buyer_id = ARGV[6]
local replies, i, refused = {'ROWS'}, 7, false
local done = {CREATED = true, EXISTS = true, DONE = true}
while i <= #ARGV do
  local kind = ARGV[i]
  if kind == 'R' then
    refused = false
    i = i + 1
  else
    local reply
    -- The first write had the sweep above, as its own script would.
    if not refused and #replies > 1 and next_due and tonumber(next_due) <= NOW then
      next_due = expire()
    end
    if kind == 'I' then
      if not refused then
        reply = record_invoice(ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5],
          buyer_id)
      end
      i = i + ARITY.I
    elseif kind == 'P' then
      if not refused then
        reply = record_payment(unpack(ARGV, i + 1, i + 9))
      end
      i = i + ARITY.P
    elseif kind == 'D' then
      if not refused then
        reply = set_dispute(ARGV[i + 1], ARGV[i + 2])
      end
      i = i + ARITY.D
    end
    if refused then
      reply = {'SKIPPED'}
    elseif not done[reply[1]] then
      refused = true
    end
    replies[#replies + 1] = reply
  end
end
return replies
