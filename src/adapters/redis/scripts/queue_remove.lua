-- Removes the entries whose notification id is in ARGV from a user's queue; returns how many went.
-- KEYS[1] the user's queue; KEYS[2] the registry of queue keys.
local wanted = {}
for i = 1, #ARGV do
  wanted[ARGV[i]] = true
end
local keep = {}
local removed = 0
for _, entry in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local id = string.match(entry, '^%-?%d+|([^|]*)|')
  if id ~= nil and wanted[id] then
    removed = removed + 1
  else
    keep[#keep + 1] = entry
  end
end
if removed > 0 then
  -- Rewriting the list keeps this O(n) however many ids go; the ttl is carried over.
  local ttl = redis.call('PTTL', KEYS[1])
  redis.call('DEL', KEYS[1])
  for i = 1, #keep, 1000 do
    redis.call('RPUSH', KEYS[1], unpack(keep, i, math.min(i + 999, #keep)))
  end
  if #keep > 0 and ttl > 0 then
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[2], KEYS[1])
end
return removed
