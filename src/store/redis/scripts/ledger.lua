-- ARGV: deadline_ms, allow_unmarked, today, kept_from, sales_from,
--       first_day, last_day (the DSO window), page_size
-- Totals, payment counters, the DSO window's sales (one field per day: at most
-- 90) and the first page of open invoices. The rest of the open invoices is read
-- with HSCAN from Rust, outside this atomic step, so that no call's work grows
-- with the ledger; paid invoices are never read.
local g = guard(true)
if g then return g end
expire()
prune()
-- Raw strings: the weighted-lateness counters may pass 2^53 and must reach Rust exact.
local t = redis.call('HMGET', K_BUYER, 'oo', 'oi', 'dp', 'pn', 'pl', 'pm', 'pwh', 'pwl', 'pe', 'fi')
local days = {}
for d = tonumber(ARGV[6]), tonumber(ARGV[7]) do
  days[#days + 1] = fmt(d)
end
local sales = redis.call('HMGET', K_SALES, unpack(days))
local page = redis.call('HSCAN', K_INV, '0', 'COUNT', ARGV[8])
return {'DONE', t, sales, page[1], page[2]}
