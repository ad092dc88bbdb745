-- Keeps a node alive and sweeps every node whose heartbeat ran out (what it counted goes with it).
-- KEYS: owner, nodes, conns
-- ARGV: token, ttl ms, node, connections, prefix
-- Returns 1, 2 when the claim had lapsed and was taken back (the caller writes its counts again),
-- or -1 when another process holds the id.
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then
  return -1
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, node in ipairs(dead) do
  -- A dead node's keys are known only from the index read here, so they are named from the prefix;
  -- on Redis Cluster it is the hash tag all of KEYS carry, so these stay in their slot.
  local held = ARGV[5] .. 'held:' .. node
  for _, key in ipairs(redis.call('SMEMBERS', held)) do
    redis.call('HDEL', ARGV[5] .. 'p:' .. key, node)
  end
  redis.call('DEL', held)
  redis.call('ZREM', KEYS[2], node)
  redis.call('HDEL', KEYS[3], node)
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
if owner then
  return 1
end
return 2
