-- ARGV: deadline_ms, allow_unmarked, (three calendar arguments, unused), order_id,
--       decision_id
-- Undoes a reservation the service found it should not have made (reserved
-- without APPROVED): only that decision's, and only while nothing was invoiced.
local g = guard(true)
if g then return g end
local field = order_field(ARGV[6])
local rec = redis.call('HGET', K_BUYER, field)
if not rec then
  return {'DONE', 0}
end
local st, amt, rem, did = parse_order(rec)
if st ~= 'A' or did ~= ARGV[7] or rem ~= amt then
  return {'DONE', 0}
end
redis.call('HDEL', K_BUYER, field)
redis.call('HINCRBY', K_BUYER, 'oo', fmt(-rem))
return {'DONE', rem}
