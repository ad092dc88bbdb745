-- Takes a node out with what it counted, if this process holds it.
-- KEYS: owner, nodes, conns, held
-- ARGV: token, node, prefix
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
-- The counted keys are known only from KEYS[4], so they are named from the prefix; on Redis Cluster
-- it is the hash tag all of KEYS carry, so these stay in their slot.
for _, key in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  redis.call('HDEL', ARGV[3] .. 'p:' .. key, ARGV[2])
end
redis.call('DEL', KEYS[4], KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
return 1
