-- Claims a node id for one process and wipes what an earlier process of that id counted.
-- KEYS: owner, nodes (zset node -> expiry ms), seq, conns (hash node -> connections), held (set)
-- ARGV: token, ttl ms, node, prefix
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then
  return -1
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- The counted keys are known only from KEYS[5], so they are named from the prefix; on Redis Cluster
-- it is the hash tag all of KEYS carry, so these stay in their slot.
for _, key in ipairs(redis.call('SMEMBERS', KEYS[5])) do
  redis.call('HDEL', ARGV[4] .. 'p:' .. key, ARGV[3])
end
redis.call('DEL', KEYS[5])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3])
redis.call('HSET', KEYS[4], ARGV[3], 0)
return redis.call('INCR', KEYS[3])
