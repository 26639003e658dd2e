-- KEYS[1]: a slot's decision stream (the outbox). ARGV: group, least idle ms,
-- the calling replica's own consumer name.
-- Removes the group's consumers that hold nothing pending and have been idle
-- at least that long: each replica process is a consumer of its own, so every
-- restart would otherwise leave one behind in every slot it read. In one
-- script, so that a consumer cannot take an entry between the look and the
-- removal (removing a consumer drops what it holds pending).
local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if not ok then
  return 0
end
local least_idle, removed = tonumber(ARGV[2]), 0
for _, consumer in ipairs(consumers) do
  local f = {}
  for i = 1, #consumer, 2 do
    f[consumer[i]] = consumer[i + 1]
  end
  if f['pending'] == 0 and f['idle'] >= least_idle and f['name'] ~= ARGV[3] then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    removed = removed + 1
  end
end
return removed
