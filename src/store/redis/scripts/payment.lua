-- ARGV: deadline_ms, allow_unmarked, today, kept_from, sales_from, invoice_id,
--       amount, paid_day, payment_id, discount_days ('' = none), late_after_days,
--       step_percent, floor_percent, restore_after_on_time_payments
local g = guard(true)
if g then return g end
expire()
prune()
return record_payment(unpack(ARGV, 6, 14))
