-- Records one revocation and appends it to the change log.
-- KEYS[1] the record (jti or user key), KEYS[2] the sequence counter, KEYS[3] the log (sorted set)
-- ARGV[1] the value (1 for a jti; the issued-before moment in ms for a user), ARGV[2] ttl in ms,
-- ARGV[3] the log entry (JSON), ARGV[4] how many log entries to keep
local value = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current > value then value = current end
local ttl = tonumber(ARGV[2])
local left = redis.call('PTTL', KEYS[1])
if left > ttl then ttl = left end
redis.call('SET', KEYS[1], value, 'PX', ttl)
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[3], seq, seq .. ' ' .. ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -tonumber(ARGV[4]) - 1)
return seq
