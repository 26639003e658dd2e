local K_MARKER, K_BUYER, K_TOTALS, K_ORDERS, K_OEXP, K_INV, K_DUE, K_PAY =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local NOW = tonumber(ARGV[1])
-- Shared by every script (prepended in Rust). Money is integer minor units; Lua
-- numbers are doubles, exact below 2^53, so every running exposure is kept
-- below MAX_TOTAL and numbers go back to Redis through fmt(), never tostring()
-- (which would print 1e+15).
local MAX_TOTAL = 9007199254740991
local EXPIRE_BATCH = 64

local function fmt(n)
  return string.format('%.0f', n)
end

local function num(s)
  return tonumber(s) or 0
end

local function guard(need_buyer)
  if ARGV[2] ~= '1' and redis.call('EXISTS', K_MARKER) == 0 then
    return {'NO_MARKER'}
  end
  if need_buyer and redis.call('EXISTS', K_BUYER) == 0 then
    return {'UNKNOWN_BUYER'}
  end
  return nil
end

-- order record: state|amount|remaining|decision_id|approved_at (state A or C)
local function parse_order(s)
  local st, amt, rem, did, at = string.match(s, '^([AC])|(%d+)|(%d+)|([^|]*)|(%-?%d+)$')
  return st, tonumber(amt), tonumber(rem), did, tonumber(at)
end

local function pack_order(st, amt, rem, did, at)
  return st .. '|' .. fmt(amt) .. '|' .. fmt(rem) .. '|' .. did .. '|' .. fmt(at)
end

-- invoice record: amount|open|issue_day|due_day|disputed|order_id (order_id last: free text)
local function parse_invoice(s)
  local amt, open, issue, due, disp, order = string.match(s, '^(%d+)|(%d+)|(%-?%d+)|(%-?%d+)|([01])|(.*)$')
  return tonumber(amt), tonumber(open), tonumber(issue), tonumber(due), disp == '1', order
end

local function pack_invoice(amt, open, issue, due, disputed, order)
  return fmt(amt) .. '|' .. fmt(open) .. '|' .. fmt(issue) .. '|' .. fmt(due) .. '|' ..
    (disputed and '1' or '0') .. '|' .. order
end

local function totals()
  local t = redis.call('HMGET', K_TOTALS, 'oo', 'oi', 'dp')
  return num(t[1]), num(t[2]), num(t[3])
end

-- Releases lapsed reservations and drops old cancellation tombstones, at most
-- EXPIRE_BATCH per call so that no call's cost grows with the backlog.
local function expire()
  local lapsed = redis.call('ZRANGEBYSCORE', K_OEXP, '-inf', fmt(NOW), 'LIMIT', 0, EXPIRE_BATCH)
  for _, id in ipairs(lapsed) do
    redis.call('ZREM', K_OEXP, id)
    local rec = redis.call('HGET', K_ORDERS, id)
    if rec then
      local st, amt, rem, did, at = parse_order(rec)
      if st == 'A' then
        if rem > 0 then
          redis.call('HINCRBY', K_TOTALS, 'oo', fmt(-rem))
        end
        if rem == amt then
          redis.call('HDEL', K_ORDERS, id)
        else
          redis.call('HSET', K_ORDERS, id, pack_order('A', amt, 0, did, at))
        end
      else
        redis.call('HDEL', K_ORDERS, id)
      end
    end
  end
end

local function snapshot(today, sample)
  local oo, oi, dp = totals()
  local oldest = redis.call('ZRANGE', K_DUE, 0, sample - 1, 'WITHSCORES')
  local nxt = redis.call('ZRANGEBYSCORE', K_DUE, today, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  return {oo, oi, dp, oldest, nxt}
end
