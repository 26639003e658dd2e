-- ARGV: deadline_ms, allow_unmarked, field ('profile' or 'rating'), value,
--       rating (with 'profile' only), expected_profile_version ('' = the buyer must not exist)
-- Compare-and-set on the profile version (pv): a write built from an older
-- profile loses. Every write bumps the buyer version (v) that decisions check;
-- only a profile write moves pv, so a rating write or a payment's limit move
-- does not make a concurrent profile write or scoring start over. A buyer
-- written before pv existed reads as pv "0".
local g = guard(false)
if g then return g end
local b = redis.call('HMGET', K_BUYER, 'v', 'pv')
local v, pv = b[1], b[2] or '0'
if ARGV[6] == '' then
  if v then
    return {'STALE'}
  end
elseif not v then
  return {'UNKNOWN_BUYER'}
elseif pv ~= ARGV[6] then
  return {'STALE'}
end
local nv = redis.call('HINCRBY', K_BUYER, 'v', 1)
if ARGV[3] == 'profile' then
  redis.call('HSET', K_BUYER, 'profile', ARGV[4], 'rating', ARGV[5], 'pv', nv)
else
  redis.call('HSET', K_BUYER, 'rating', ARGV[4])
end
return {'DONE', nv}
