-- ARGV: deadline_ms, allow_unmarked, today, kept_from, sales_from, invoice_id,
--       order_id ('' = none), amount, issue_day, due_day, buyer_id
local g = guard(true)
if g then return g end
expire()
prune()
return record_invoice(ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11])
