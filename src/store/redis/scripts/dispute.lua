-- ARGV: deadline_ms, allow_unmarked, today, kept_from, sales_from, invoice_id,
--       disputed ('1' or '0')
local g = guard(true)
if g then return g end
expire()
prune()
return set_dispute(ARGV[6], ARGV[7])
