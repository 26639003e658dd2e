-- ARGV: deadline_ms, allow_unmarked, (three calendar arguments, unused),
--       field ('profile' or 'rating'), value,
--       rating (with 'profile' only), expected_version ('' = the buyer must not exist)
-- Compare-and-set on the buyer version: a write built from an older read loses.
local g = guard(false)
if g then return g end
local v = redis.call('HGET', K_BUYER, 'v')
if ARGV[9] == '' then
  if v then
    return {'STALE'}
  end
elseif v ~= ARGV[9] then
  if not v then
    return {'UNKNOWN_BUYER'}
  end
  return {'STALE'}
end
local nv = redis.call('HINCRBY', K_BUYER, 'v', 1)
if ARGV[6] == 'profile' then
  redis.call('HSET', K_BUYER, 'profile', ARGV[7], 'rating', ARGV[8])
else
  redis.call('HSET', K_BUYER, 'rating', ARGV[7])
end
return {'DONE', nv}
