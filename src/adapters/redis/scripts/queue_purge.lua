-- Removes expired entries from a batch of queues; returns how many went.
-- KEYS[1] the registry of queue keys; KEYS[2..] queues; ARGV[1] now (µs since the epoch).
-- Queues that end up empty (or whose key already expired) leave the registry.
local now = tonumber(ARGV[1])
local purged = 0
for k = 2, #KEYS do
  local keep = {}
  local removed = 0
  for _, entry in ipairs(redis.call('LRANGE', KEYS[k], 0, -1)) do
    local expires = tonumber(string.match(entry, '^(%-?%d+)|'))
    if expires ~= nil and expires <= now then
      removed = removed + 1
    else
      keep[#keep + 1] = entry
    end
  end
  if removed > 0 then
    local ttl = redis.call('PTTL', KEYS[k])
    redis.call('DEL', KEYS[k])
    for i = 1, #keep, 1000 do
      redis.call('RPUSH', KEYS[k], unpack(keep, i, math.min(i + 999, #keep)))
    end
    if #keep > 0 and ttl > 0 then
      redis.call('PEXPIRE', KEYS[k], ttl)
    end
    purged = purged + removed
  end
  if redis.call('EXISTS', KEYS[k]) == 0 then
    redis.call('SREM', KEYS[1], KEYS[k])
  end
end
return purged
