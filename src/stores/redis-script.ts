/**
 * The memory store's three algorithms and its refund as one Lua script, run atomically by Redis per
 * key. It mirrors `advance`, `consume`, `refund` and `peek` of memory.ts line for line, with the
 * same double arithmetic (Lua numbers are doubles), so both stores answer a sequence of calls alike.
 *
 * State of one key, a hash: fixed/sliding window → a = window start, b = count, c = previous count;
 * token bucket → a = tokens, b = last refill. Numbers are stored with 17 significant digits, which
 * round-trips every double (Lua's own tostring keeps 14 and would drift a fractional token count).
 *
 * KEYS[1] the key; ARGV: operation (consume | refund | peek), algorithm, limit, window ms, now (ms).
 * Returns { success (1/0), remaining, reset as a string } (refund: nil).
 * @module
 */

import { hexOf } from '../hex.ts';

export const RATE_LIMIT_SCRIPT = `
local key = KEYS[1]
local op, algorithm = ARGV[1], ARGV[2]
local limit, windowMs, now = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local function num(x) return string.format('%.17g', x) end

local state = redis.call('HMGET', key, 'a', 'b', 'c')
local a, b, c = tonumber(state[1]), tonumber(state[2]), tonumber(state[3])
if a == nil then
  if op == 'peek' then return {1, limit, num(now + windowMs)} end
  if op == 'refund' then return nil end
  if algorithm == 'token-bucket' then
    a, b, c = limit, now, 0
  else
    a, b, c = math.floor(now / windowMs) * windowMs, 0, 0
  end
end

-- Brings the key up to now (window roll, token refill): the units in use, and the reset.
local used, reset
if algorithm == 'token-bucket' then
  local rate = limit / windowMs
  a = math.min(limit, a + math.max(0, now - b) * rate)
  b = math.max(b, now)
  local missing
  if a >= 1 then missing = limit - a else missing = 1 - a end
  reset = now + math.ceil(missing / rate)
  used = limit - math.floor(a)
else
  -- A clock stepping backwards stays in the current window.
  local start = math.max(a, math.floor(now / windowMs) * windowMs)
  if start ~= a then
    if start - a == windowMs then c = b else c = 0 end
    b = 0
    a = start
  end
  reset = start + windowMs
  if algorithm == 'fixed-window' then
    used = b
  else
    used = math.floor(c * (1 - math.max(0, now - start) / windowMs)) + b
  end
end

local success = 0
if op == 'consume' then
  if used < limit then
    success = 1
    if algorithm == 'token-bucket' then a = a - 1 else b = b + 1 end
    used = used + 1
  end
elseif op == 'refund' then
  if algorithm == 'token-bucket' then
    a = math.min(limit, a + 1)
  elseif b > 0 then
    b = b - 1
  elseif c > 0 then
    c = c - 1
  end
elseif used < limit then
  success = 1
end

redis.call('HSET', key, 'a', num(a), 'b', num(b), 'c', num(c))
-- Two windows hold every state that still matters (a sliding window's previous one); a second more
-- covers clock skew between gateways. Expiry runs on Redis's clock, the counting on the engine's.
redis.call('PEXPIRE', key, 2 * windowMs + 1000)
if op == 'refund' then return nil end
return {success, math.max(0, limit - used), num(reset)}
`;

/**
 * The replay cache: `first` remembers KEYS[1] for ARGV[2] ms unless it is there (SET NX is atomic,
 * so of two gateways offered the same key only one is told it is new) and returns 1 (new) or 0;
 * `forget` deletes it.
 */
export const FIRST_USE_SCRIPT = `
if ARGV[1] == 'forget' then
  redis.call('DEL', KEYS[1])
  return 0
end
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[2]) then return 1 end
return 0
`;

/**
 * A quota's fixed calendar-period counter, atomic per key. State, a hash: s = the period's start,
 * n = calls counted in it. A later period starts from zero; a call from an earlier one (a gateway
 * whose clock lags) counts in the period already stored. A refused call is not counted.
 *
 * KEYS[1] the key; ARGV: limit, period start (ms), period end (ms), now (ms).
 * Returns { success (1/0), remaining, reset as a string }.
 */
export const QUOTA_SCRIPT = `
local key = KEYS[1]
local limit, start, finish, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', key, 's', 'n')
local s, n = tonumber(state[1]), tonumber(state[2])
if s == nil or s < start then s, n = start, 0 end
local success = 0
if n < limit then
  success = 1
  n = n + 1
end
redis.call('HSET', key, 's', string.format('%.17g', s), 'n', n)
-- Kept until the period is over (plus an hour for clocks that lag), relative to the engine's now:
-- an absolute expiry on Redis's clock would drop the count of a gateway on a pinned clock.
redis.call('PEXPIRE', key, math.max(1, finish - now) + 3600000)
return {success, math.max(0, limit - n), string.format('%.17g', finish)}
`;

/** The SHA-1 a script is called by (`EVALSHA`), lowercase hex. */
export async function sha1Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-1', new TextEncoder().encode(text));
  return hexOf(new Uint8Array(digest));
}
