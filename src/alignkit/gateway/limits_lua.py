"""The Lua scripts of the Redis rate limiter (:mod:`.limits_redis`), one per operation, so that each
decision is atomic across gateway instances. Key layout per scope (an API key, or a model):

    {prefix}{kind}:{id}:req     sorted set, member "<lease>:1",        score = admitted at
    {prefix}{kind}:{id}:tok     sorted set, member "<lease>:<tokens>", score = admitted at
    {prefix}{kind}:{id}:toksum  the sum of the weights in :tok (recounted if it is ever missing)
    {prefix}{kind}:{id}:slots   sorted set, member "<lease>",          score = slot expires at

Every script takes "now" as its first argument; a negative one means the Redis server's own clock.
Times are written with 6 decimals (microseconds), weights are whole tokens.
"""

_LUA_COMMON = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function f(x) return string.format('%.6f', x) end
local function ms(x) return math.max(0, math.ceil(x * 1000 - 0.000001)) end
local function weight(member) return tonumber(string.match(member, ':(%d+)$')) or 0 end
"""

ACQUIRE_LUA = (
    _LUA_COMMON
    + """
-- KEYS: 4 per scope (req, tok, toksum, slots); ARGV: now, lease, tokens, window, ttl, then per scope
-- requests_per_min, tokens_per_min, concurrent (0: no limit of that kind)
local lease, cost, window, ttl = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local cutoff = now - window
local keep = ms(math.max(window, ttl)) + 1000

local function tokens_in_window(log, sumkey)  -- prunes the log, returns (and stores) its sum
  local sum = tonumber(redis.call('GET', sumkey))
  if sum == nil then
    redis.call('ZREMRANGEBYSCORE', log, '-inf', f(cutoff))
    sum = 0
    for _, m in ipairs(redis.call('ZRANGE', log, 0, -1)) do sum = sum + weight(m) end
  else
    while true do
      local old = redis.call('ZRANGEBYSCORE', log, '-inf', f(cutoff), 'LIMIT', 0, 256)
      if #old == 0 then break end
      for _, m in ipairs(old) do sum = sum - weight(m) end
      redis.call('ZREM', log, unpack(old))
    end
  end
  redis.call('SET', sumkey, string.format('%d', sum), 'PX', keep)
  return sum
end

local function tokens_wait(log, sum, limit)  -- seconds until cost more fits under limit
  local excess = sum + cost - limit
  local start = 0
  while excess > 0 do
    local batch = redis.call('ZRANGE', log, start, start + 255, 'WITHSCORES')
    if #batch == 0 then return window end
    for i = 1, #batch, 2 do
      excess = excess - weight(batch[i])
      if excess <= 0 then return tonumber(batch[i + 1]) + window - now end
    end
    start = start + 256
  end
  return 0
end

local function reset_in(log)  -- seconds until the log is empty again
  local newest = redis.call('ZRANGE', log, -1, -1, 'WITHSCORES')
  if #newest == 0 then return 0 end
  return tonumber(newest[2]) + window - now
end

local n = #KEYS / 4
local refusals, wait, sums = {}, 0, {}
for i = 0, n - 1 do
  local rpm, tpm, conc = tonumber(ARGV[6 + 3 * i]), tonumber(ARGV[7 + 3 * i]), tonumber(ARGV[8 + 3 * i])
  local req, tok, sumkey, slots = KEYS[4 * i + 1], KEYS[4 * i + 2], KEYS[4 * i + 3], KEYS[4 * i + 4]
  if rpm > 0 then
    redis.call('ZREMRANGEBYSCORE', req, '-inf', f(cutoff))
    local count = redis.call('ZCARD', req)
    if count + 1 > rpm then
      local oldest = redis.call('ZRANGE', req, count - rpm, count - rpm, 'WITHSCORES')
      table.insert(refusals, i .. 'r')
      wait = math.max(wait, tonumber(oldest[2]) + window - now)
    end
  end
  if tpm > 0 then
    sums[i] = tokens_in_window(tok, sumkey)
    local w = tokens_wait(tok, sums[i], tpm)
    if w > 0 then
      table.insert(refusals, i .. 't')
      wait = math.max(wait, w)
    end
  end
  if conc > 0 then
    redis.call('ZREMRANGEBYSCORE', slots, '-inf', f(now))
    if redis.call('ZCARD', slots) >= conc then
      table.insert(refusals, i .. 'c')
      wait = math.max(wait, 1)
    end
  end
end

local out = {#refusals == 0 and 1 or 0, ms(wait), table.concat(refusals, ',')}
for i = 0, n - 1 do
  local rpm, tpm, conc = tonumber(ARGV[6 + 3 * i]), tonumber(ARGV[7 + 3 * i]), tonumber(ARGV[8 + 3 * i])
  local req, tok, sumkey, slots = KEYS[4 * i + 1], KEYS[4 * i + 2], KEYS[4 * i + 3], KEYS[4 * i + 4]
  if #refusals == 0 then
    if rpm > 0 then redis.call('ZADD', req, f(now), lease .. ':1') end
    if tpm > 0 and cost > 0 then
      redis.call('ZADD', tok, f(now), lease .. ':' .. ARGV[3])
      sums[i] = redis.call('INCRBY', sumkey, ARGV[3])
    end
    if conc > 0 then redis.call('ZADD', slots, f(now + ttl), lease) end
  end
  if rpm > 0 then redis.call('PEXPIRE', req, keep) end
  if tpm > 0 then redis.call('PEXPIRE', tok, keep) end
  if conc > 0 then redis.call('PEXPIRE', slots, keep) end
  table.insert(out, rpm > 0 and rpm - redis.call('ZCARD', req) or 0)
  table.insert(out, rpm > 0 and ms(reset_in(req)) or 0)
  table.insert(out, tpm > 0 and tpm - sums[i] or 0)
  table.insert(out, tpm > 0 and ms(reset_in(tok)) or 0)
end
return out
"""
)

RELEASE_LUA = (
    _LUA_COMMON
    + """
-- KEYS: 3 per scope (tok, toksum, slots); ARGV: now, lease, estimate, used, extra (used - estimate),
-- window, ttl, then per scope 1 if it has a tokens limit
local lease, estimate, used, extra = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local window, ttl = tonumber(ARGV[6]), tonumber(ARGV[7])
local keep = ms(math.max(window, ttl)) + 1000
for i = 0, #KEYS / 3 - 1 do
  local tok, sumkey, slots = KEYS[3 * i + 1], KEYS[3 * i + 2], KEYS[3 * i + 3]
  if ARGV[8 + i] == '1' then
    local member = lease .. ':' .. ARGV[3]
    local score = redis.call('ZSCORE', tok, member)
    local delta = 0
    if score and tonumber(score) > now - window then  -- still counted: correct it in place
      redis.call('ZREM', tok, member)
      if used > 0 then redis.call('ZADD', tok, score, lease .. ':' .. ARGV[4]) end
      delta = extra
    elseif extra > 0 then  -- gone from the window: charge what went over the estimate now
      redis.call('ZADD', tok, f(now), lease .. '+:' .. ARGV[5])
      delta = extra
    end
    if delta ~= 0 and redis.call('EXISTS', sumkey) == 1 then redis.call('INCRBY', sumkey, delta) end
    redis.call('PEXPIRE', tok, keep)
  end
  redis.call('ZREM', slots, lease)
end
return 1
"""
)

RENEW_LUA = (
    _LUA_COMMON
    + """
-- KEYS: slot sets; ARGV: now, ttl, then the lease of each key. Returns how many were already gone.
local ttl = tonumber(ARGV[2])
local lost = 0
for i, key in ipairs(KEYS) do
  if redis.call('ZSCORE', key, ARGV[i + 2]) then
    redis.call('ZADD', key, 'XX', f(now + ttl), ARGV[i + 2])
    redis.call('PEXPIRE', key, ms(ttl) + 1000)
  else
    lost = lost + 1
  end
end
return lost
"""
)
