-- Removes holders' records of a notification that are still pending (tracked for a delivery that
-- reached no connection); finished records are left alone.
-- KEYS[1] the notification's hash; KEYS[2] the deadline index.
-- ARGV pairs: the holder, the index member.
local removed = 0
for i = 1, #ARGV, 2 do
  local meta = redis.call('HGET', KEYS[1], 'm:' .. ARGV[i])
  if meta and string.sub(meta, 1, 1) == 'p' then
    redis.call('HDEL', KEYS[1], 'm:' .. ARGV[i])
    redis.call('ZREM', KEYS[2], ARGV[i + 1])
    removed = removed + 1
  end
end
if removed > 0 and redis.call('HINCRBY', KEYS[1], 'n', -removed) <= 0 then
  redis.call('HDEL', KEYS[1], 'n', 'd')
end
if redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1])
end
return removed
