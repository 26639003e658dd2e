-- ARGV: now, allow_unmarked, field ('profile' or 'rating'), value, rating (with 'profile' only),
--       must_exist ('1' for a re-rating)
local g = guard(ARGV[6] == '1')
if g then return g end
local v = redis.call('HINCRBY', K_BUYER, 'v', 1)
if ARGV[3] == 'profile' then
  redis.call('HSET', K_BUYER, 'profile', ARGV[4], 'rating', ARGV[5])
else
  redis.call('HSET', K_BUYER, 'rating', ARGV[4])
end
return {'DONE', v}
