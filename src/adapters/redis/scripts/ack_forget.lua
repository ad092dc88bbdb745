-- Removes a holder's record of a notification if it is still pending (tracked for a delivery that
-- reached no connection); finished records are left alone.
-- KEYS[1] the notification's hash; KEYS[2] the deadline index.
-- ARGV[1] the holder; ARGV[2] the index member.
local meta = redis.call('HGET', KEYS[1], 'm:' .. ARGV[1])
if not meta or string.sub(meta, 1, 1) ~= 'p' then
  return 0
end
redis.call('HDEL', KEYS[1], 'm:' .. ARGV[1], 'd:' .. ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[2])
if redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1])
end
return 1
