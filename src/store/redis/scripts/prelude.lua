local K_MARKER, K_BUYER, K_OEXP, K_INV, K_DUE, K_PAY =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
-- One clock for the ledger: every replica's script reads Redis's own, so skewed
-- replica clocks cannot expire each other's reservations (docs/redis.md).
local CLOCK = redis.call('TIME')
local NOW = tonumber(CLOCK[1])
local NOW_MS = NOW * 1000 + math.floor(tonumber(CLOCK[2]) / 1000)
-- Shared by every script (prepended in Rust). The buyer hash holds the profile,
-- the running totals and the order records (fields "o:<order_id>"), so that one
-- HMGET reads everything a decision needs and one HSET writes a reservation. Money is integer minor units; Lua
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

-- ARGV[1] is the caller's give-up time on this clock (ms, '' for none): a script
-- that starts after it (Redis was paused, the command sat queued) writes
-- nothing, because the caller has already been told that the call failed.
local function too_late()
  return ARGV[1] ~= '' and NOW_MS > tonumber(ARGV[1])
end

local function guard(need_buyer)
  if too_late() then
    return {'TOO_LATE'}
  end
  if ARGV[2] ~= '1' and redis.call('EXISTS', K_MARKER) == 0 then
    return {'NO_MARKER'}
  end
  if need_buyer and redis.call('EXISTS', K_BUYER) == 0 then
    return {'UNKNOWN_BUYER'}
  end
  return nil
end

local function order_field(id)
  return 'o:' .. id
end

-- order record: state|amount|remaining|decision_id|approved_at|expires_at
-- (state A approved, C cancelled; expires_at matches its entry in the expiry list),
-- or I|invoiced|at|expires_at|invoice_id for an order invoiced without an
-- approval (the invoice id is free text, so it comes last).
local function parse_order(s)
  if string.sub(s, 1, 1) == 'I' then
    local amt, at, exp, inv = string.match(s, '^I|(%d+)|(%-?%d+)|(%-?%d+)|(.*)$')
    return 'I', tonumber(amt), 0, inv, tonumber(at), tonumber(exp)
  end
  local st, amt, rem, did, at, exp = string.match(s, '^([AC])|(%d+)|(%d+)|([^|]*)|(%-?%d+)|(%-?%d+)$')
  return st, tonumber(amt), tonumber(rem), did, tonumber(at), tonumber(exp)
end

local function pack_invoiced(amt, at, exp, invoice_id)
  return 'I|' .. fmt(amt) .. '|' .. fmt(at) .. '|' .. fmt(exp) .. '|' .. invoice_id
end

local function pack_order(st, amt, rem, did, at, exp)
  return st .. '|' .. fmt(amt) .. '|' .. fmt(rem) .. '|' .. did .. '|' .. fmt(at) .. '|' .. fmt(exp)
end

-- The expiry list holds "expires_at|order_id" in insertion order, which is
-- expiry order while the reservation TTL stays the same: a push is O(1) and the
-- head tells at once whether anything lapsed.
local function schedule(id, exp)
  redis.call('RPUSH', K_OEXP, fmt(exp) .. '|' .. id)
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
  local t = redis.call('HMGET', K_BUYER, 'oo', 'oi', 'dp')
  return num(t[1]), num(t[2]), num(t[3])
end

-- Releases lapsed reservations and drops old cancellation tombstones, at most
-- EXPIRE_BATCH per call so that no call's cost grows with the backlog. An entry
-- whose record now carries another expiry (invoiced, cancelled) is just dropped.
local function expire()
  for _ = 1, EXPIRE_BATCH do
    local head = redis.call('LINDEX', K_OEXP, 0)
    if not head then
      return
    end
    local due, id = string.match(head, '^(%-?%d+)|(.*)$')
    if tonumber(due) > NOW then
      return
    end
    redis.call('LPOP', K_OEXP)
    local field = order_field(id)
    local rec = redis.call('HGET', K_BUYER, field)
    if rec then
      local st, amt, rem, did, at, exp = parse_order(rec)
      if exp == tonumber(due) then
        if st == 'A' then
          if rem > 0 then
            redis.call('HINCRBY', K_BUYER, 'oo', fmt(-rem))
          end
          if rem == amt then
            redis.call('HDEL', K_BUYER, field)
          else
            redis.call('HSET', K_BUYER, field, pack_order('A', amt, 0, did, at, 0))
          end
        else
          redis.call('HDEL', K_BUYER, field)
        end
      end
    end
  end
end

-- Totals, the oldest undisputed due dates and the next one due: one ZRANGE, and a
-- second lookup only when every sampled invoice is already overdue.
local function snapshot(oo, oi, dp, today, sample)
  local oldest = redis.call('ZRANGE', K_DUE, 0, sample - 1, 'WITHSCORES')
  local nxt = {}
  for i = 1, #oldest, 2 do
    if tonumber(oldest[i + 1]) >= today then
      nxt = {oldest[i], oldest[i + 1]}
      break
    end
  end
  if #nxt == 0 and #oldest == sample * 2 then
    nxt = redis.call('ZRANGEBYSCORE', K_DUE, today, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  end
  return {oo, oi, dp, oldest, nxt}
end
