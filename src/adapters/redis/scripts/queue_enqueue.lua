-- Appends one entry to a user's offline queue and trims the oldest beyond the cap, atomically.
-- KEYS[1] the user's queue (a list, oldest first); KEYS[2] the registry of queue keys.
-- ARGV[1] the encoded entry; ARGV[2] the cap; ARGV[3] the key ttl in ms (a safety net: entries
-- expire by their own timestamp, the key ttl only reclaims queues nobody comes back for).
local len = redis.call('RPUSH', KEYS[1], ARGV[1])
local cap = tonumber(ARGV[2])
local dropped = 0
if len > cap then
  dropped = len - cap
  redis.call('LTRIM', KEYS[1], dropped, -1)
end
local ttl = tonumber(ARGV[3])
-- Never shorten the ttl: an earlier entry may need longer than this one.
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
redis.call('SADD', KEYS[2], KEYS[1])
return dropped
