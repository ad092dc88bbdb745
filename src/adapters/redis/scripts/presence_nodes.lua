-- The live nodes with their connection counts, flat: node, count, node, count...
-- KEYS: nodes, conns
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for _, node in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')) do
  table.insert(out, node)
  table.insert(out, redis.call('HGET', KEYS[2], node) or '0')
end
return out
