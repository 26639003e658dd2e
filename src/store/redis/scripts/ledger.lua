-- ARGV: deadline_ms, allow_unmarked
local g = guard(true)
if g then return g end
expire()
-- Raw strings: the weighted-lateness counters may pass 2^53 and must reach Rust exact.
local t = redis.call('HMGET', K_BUYER, 'oo', 'oi', 'dp', 'pn', 'pl', 'pm', 'pwh', 'pwl', 'pe', 'fi')
return {'DONE', t, redis.call('HGETALL', K_INV)}
