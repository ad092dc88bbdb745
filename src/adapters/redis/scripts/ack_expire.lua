-- Moves up to ARGV[2] pending ACKs whose deadline is at or before ARGV[1] (µs) to expired.
-- KEYS[1] the deadline index; KEYS[2] the counters hash; ARGV[3] the prefix of notification hashes.
-- The hashes are named here, not in KEYS, because only the index knows them; on Redis Cluster the
-- prefix carries the bucket's hash tag, which every id in this bucket's index shares, so they are in
-- the same slot as KEYS.
-- Returns { members examined, { holder, meta, notification, holder, meta, notification, ... } }; the
-- caller loops while a full batch was examined.
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, member in ipairs(members) do
  redis.call('ZREM', KEYS[1], member)
  -- Members are "<36-character id>:<holder>".
  local key = ARGV[3] .. string.sub(member, 1, 36)
  local holder = string.sub(member, 38)
  local meta = redis.call('HGET', key, 'm:' .. holder)
  -- A missing hash means its retention ran out long ago: nothing left to expire.
  if meta and string.sub(meta, 1, 1) == 'p' then
    redis.call('HSET', key, 'm:' .. holder, 'e' .. string.sub(meta, 2))
    out[#out + 1] = holder
    out[#out + 1] = meta
    out[#out + 1] = redis.call('HGET', key, 'd') or ''
    -- Handed back once, for a redelivery; the marker keeps only status and times, and the last
    -- pending holder takes the shared notification with it.
    if redis.call('HINCRBY', key, 'n', -1) <= 0 then
      redis.call('HDEL', key, 'n', 'd')
    end
  end
end
if #out > 0 then
  redis.call('HINCRBY', KEYS[2], 'expired', #out / 3)
end
return { #members, out }
