-- ARGV: deadline_ms, allow_unmarked, (three calendar arguments, unused),
--       field ('profile' or 'rating'), value, rating (with 'profile' only),
--       expected_profile_version ('' = the buyer must not exist)
-- Compare-and-set on the profile version (pv): a write built from an older
-- profile loses. Every write bumps the buyer version (v) that decisions check;
-- only a profile write moves pv, so a rating write or a payment's limit move
-- does not make a concurrent profile write or scoring start over. A buyer
-- written before pv existed reads as pv "0".
local g = guard(false)
if g then return g end
local b = redis.call('HMGET', K_BUYER, 'v', 'pv')
local v, pv = b[1], b[2] or '0'
if ARGV[9] == '' then
  if v then
    return {'STALE'}
  end
elseif not v then
  return {'UNKNOWN_BUYER'}
elseif pv ~= ARGV[9] then
  return {'STALE'}
end
local nv = redis.call('HINCRBY', K_BUYER, 'v', 1)
if ARGV[6] == 'profile' then
  redis.call('HSET', K_BUYER, 'profile', ARGV[7], 'rating', ARGV[8], 'pv', nv)
else
  redis.call('HSET', K_BUYER, 'rating', ARGV[7])
end
return {'DONE', nv}
