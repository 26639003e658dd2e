local K_MARKER, K_BUYER, K_OEXP, K_INV, K_DUE, K_PAY, K_PAID, K_RET, K_SALES =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
-- The buyer's hash slot's review keys, under its marker's tag (docs/redis.md,
-- "Decision history and held orders"): the capped decision stream, the held
-- orders by last decision time, and their records.
local K_DEC, K_HELD, K_HELDREC = KEYS[10], KEYS[11], KEYS[12]
-- One clock for reservations: every replica's script reads Redis's own, so skewed
-- replica clocks cannot expire each other's reservations (docs/redis.md).
local CLOCK = redis.call('TIME')
local NOW = tonumber(CLOCK[1])
local NOW_MS = NOW * 1000 + math.floor(tonumber(CLOCK[2]) / 1000)
-- One calendar for the ledger: the service's business date (LedgerDay in
-- src/domain/retention.rs; days since 1970-01-01, nil in the scripts that need
-- none). TODAY is stamped on what settles now; an item that settled before KEPT
-- is past the retention window and reads as absent; sales issued before
-- SALES_FROM no longer count toward any DSO. Retention follows the service's
-- date, not TIME, so that tests and every replica agree on the day.
local TODAY, KEPT, SALES_FROM = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
-- Shared by every script (prepended in Rust). The buyer hash holds the profile,
-- the running totals and the order records (fields "o:<order_id>"), so that one
-- HMGET reads everything a decision needs and one HSET writes a reservation. Money is integer minor units; Lua
-- numbers are doubles, exact below 2^53, so every running exposure is kept
-- below MAX_TOTAL and numbers go back to Redis through fmt(), never tostring()
-- (which would print 1e+15).
local MAX_TOTAL = 9007199254740991
local EXPIRE_BATCH = 64
-- store::PRUNE_BATCH in Rust (a unit test holds the two equal).
local PRUNE_BATCH = 32

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

-- ARGV[2]: '1' when ledger writes may bypass a missing marker (seeding mode),
-- followed by 'w' when the caller sends WAIT right after this script.
local UNMARKED_OK = string.sub(ARGV[2], 1, 1) == '1'
local WAITED = string.sub(ARGV[2], 2, 2) == 'w'

-- Redis 6 lets a WAIT cover only what its own connection wrote (7.0 moves the
-- offset on every command): a call that writes nothing (a replay answered from
-- a record another connection wrote, which may not be replicated yet) would be
-- confirmed by a WAIT that covers nothing. A no-op write of the buyer (its
-- version, unchanged) is replicated after everything this master held before
-- it, so the WAIT covers that record too, on either.
local function touch()
  if WAITED then
    redis.call('HINCRBY', K_BUYER, 'v', 0)
  end
end

local function guard(need_buyer)
  if too_late() then
    return {'TOO_LATE'}
  end
  if not UNMARKED_OK and redis.call('EXISTS', K_MARKER) == 0 then
    return {'NO_MARKER'}
  end
  if need_buyer then
    if redis.call('EXISTS', K_BUYER) == 0 then
      return {'UNKNOWN_BUYER'}
    end
    touch()
  end
  return nil
end

local function order_field(id)
  return 'o:' .. id
end

-- order record: state|amount|remaining|decision_id|approved_at|expires_at|settled_day
-- (state A approved, C cancelled; expires_at matches its entry in the expiry
-- list; settled_day is empty while the order reserves), or
-- I|invoiced|at|settled_day|invoice_id for an order invoiced without an
-- approval (the invoice id is free text, so it comes last). A record settles when
-- it stops reserving (fully invoiced, lapsed after a partial invoice, cancelled,
-- invoiced without approval) and is kept for the retention window from that day.
local function parse_order(s)
  if string.sub(s, 1, 1) == 'I' then
    local amt, at, day, inv = string.match(s, '^I|(%d+)|(%-?%d+)|(%-?%d+)|(.*)$')
    return 'I', tonumber(amt), 0, inv, tonumber(at), 0, tonumber(day)
  end
  local st, amt, rem, did, at, exp, day =
    string.match(s, '^([AC])|(%d+)|(%d+)|([^|]*)|(%-?%d+)|(%-?%d+)|(%-?%d*)$')
  return st, tonumber(amt), tonumber(rem), did, tonumber(at), tonumber(exp), tonumber(day)
end

local function pack_invoiced(amt, at, day, invoice_id)
  return 'I|' .. fmt(amt) .. '|' .. fmt(at) .. '|' .. fmt(day) .. '|' .. invoice_id
end

local function pack_order(st, amt, rem, did, at, exp, day)
  return st .. '|' .. fmt(amt) .. '|' .. fmt(rem) .. '|' .. did .. '|' .. fmt(at) .. '|' ..
    fmt(exp) .. '|' .. (day and fmt(day) or '')
end

-- The retention rule (LedgerDay::keeps): whether an item that settled on `day`
-- (nil: not settled) is still honoured. One past the window reads as absent at
-- once, whether prune() has reached it yet or not.
local function kept(day)
  return day == nil or day >= KEPT
end

-- Queues a settled item for prune(): "settled_day|kind|id", kind o (order
-- record), i (paid invoice) or p (payment id). Pushed in settling order, which is
-- day order while replicas agree on the date (a replica a day behind only delays
-- the entries after its own by that day).
local function retain(kind, id)
  redis.call('RPUSH', K_RET, fmt(TODAY) .. '|' .. kind .. '|' .. id)
end

-- The expiry list holds "expires_at|order_id" in insertion order, which is
-- expiry order while the reservation TTL stays the same: a push is O(1) and the
-- head tells at once whether anything lapsed.
local function schedule(id, exp)
  redis.call('RPUSH', K_OEXP, fmt(exp) .. '|' .. id)
end

-- invoice record: amount|open|issue_day|due_day|disputed|paid_day|order_id
-- (order_id last: free text). Open invoices live in K_INV with paid_day empty;
-- paid in full, an invoice moves to K_PAID with the day it was paid, so that
-- listing the open ones never reads the paid ones.
local function parse_invoice(s)
  local amt, open, issue, due, disp, paid, order =
    string.match(s, '^(%d+)|(%d+)|(%-?%d+)|(%-?%d+)|([01])|(%-?%d*)|(.*)$')
  return tonumber(amt), tonumber(open), tonumber(issue), tonumber(due), disp == '1', order,
    tonumber(paid)
end

local function pack_invoice(amt, open, issue, due, disputed, order, paid)
  return fmt(amt) .. '|' .. fmt(open) .. '|' .. fmt(issue) .. '|' .. fmt(due) .. '|' ..
    (disputed and '1' or '0') .. '|' .. (paid and fmt(paid) or '') .. '|' .. order
end

-- The invoice as the ledger still knows it: its record, and whether it is paid
-- (in K_PAID). No record when there is none or it was paid before the retention
-- window; the third value then tells whether such a paid copy is still stored.
local function find_invoice(id)
  local rec = redis.call('HGET', K_INV, id)
  if rec then
    return rec, false, false
  end
  rec = redis.call('HGET', K_PAID, id)
  if not rec then
    return nil, false, false
  end
  if kept(select(7, parse_invoice(rec))) then
    return rec, true, false
  end
  return nil, false, true
end

-- payment record: amount|paid_day|open_after|recorded_day|invoice_id (the invoice
-- id is free text, so it comes last); recorded_day starts its retention window.
local function parse_payment(s)
  local amt, day, open, rec_day, inv = string.match(s, '^(%d+)|(%-?%d+)|(%d+)|(%-?%d+)|(.*)$')
  return tonumber(amt), tonumber(day), tonumber(open), tonumber(rec_day), inv
end

local function totals()
  local t = redis.call('HMGET', K_BUYER, 'oo', 'oi', 'dp')
  return num(t[1]), num(t[2]), num(t[3])
end

-- Releases lapsed reservations, at most EXPIRE_BATCH per call so that no call's
-- cost grows with the backlog. An entry whose record now carries another expiry
-- (invoiced, cancelled, released) is just dropped.
-- Then keeps the buyer hash's 'ne' field: when the head of K_OEXP lapses, absent
-- when the list is empty. The check reads 'ne' in the HMGET it makes anyway and
-- looks at the list only when 'ne' is absent or due. 'ne' is never later than
-- the real head: entries only leave from the head (here and in prune()), so the
-- head only moves later; and a script that pushes without knowing 'ne' (an older
-- version, during a rolling deploy) leaves it absent or earlier, which only makes
-- the next check look. As for the list's own order, this holds while the
-- reservation TTL stays the same. `current` is the value the caller read (false:
-- absent; nil: not read, so it is read here); 'ne' is written only when it changes,
-- so a call that releases nothing writes nothing. Returns 'ne' and whether any
-- entry left the list (then the buyer hash may have changed).
local function expire(current)
  local next_due, popped = nil, false
  for n = 1, EXPIRE_BATCH + 1 do
    local head = redis.call('LINDEX', K_OEXP, 0)
    if not head then
      break
    end
    local due, id = string.match(head, '^(%-?%d+)|(.*)$')
    if tonumber(due) > NOW or n > EXPIRE_BATCH then
      next_due = due
      break
    end
    redis.call('LPOP', K_OEXP)
    popped = true
    local field = order_field(id)
    local rec = redis.call('HGET', K_BUYER, field)
    if rec then
      local st, amt, rem, did, at, exp = parse_order(rec)
      if st == 'A' and exp == tonumber(due) then
        if rem > 0 then
          redis.call('HINCRBY', K_BUYER, 'oo', fmt(-rem))
        end
        if rem == amt then
          -- Never shipped: the order may be checked afresh.
          redis.call('HDEL', K_BUYER, field)
        else
          -- Shipped in part: sticky, so a replay cannot reserve it twice.
          redis.call('HSET', K_BUYER, field, pack_order('A', amt, 0, did, at, 0, TODAY))
          retain('o', id)
        end
      end
    end
  end
  if current == nil then
    current = redis.call('HGET', K_BUYER, 'ne')
  end
  if next_due then
    if current ~= next_due then
      redis.call('HSET', K_BUYER, 'ne', next_due)
    end
  elseif current then
    redis.call('HDEL', K_BUYER, 'ne')
  end
  return next_due, popped
end

-- Removes settled items past the retention window, oldest first, at most
-- PRUNE_BATCH per call: the K_RET list is in settling order, so its head tells
-- at once whether anything is due. An entry whose item settled again since (an
-- id used afresh once forgotten) no longer matches its record and is just
-- dropped. Then drops up to PRUNE_BATCH days of sales no DSO window needs any
-- more, walking from 'so' (the earliest issue day that may still be in K_SALES),
-- and up to PRUNE_BATCH expiry entries at the head of K_OEXP whose reservation
-- ended before it lapsed (invoiced in full, cancelled, released): otherwise each
-- would stay for the whole reservation TTL, one per order. Never called on the
-- decision path (check.lua).
local function prune()
  for _ = 1, PRUNE_BATCH do
    local head = redis.call('LINDEX', K_RET, 0)
    if not head then
      break
    end
    local day, kind, id = string.match(head, '^(%-?%d+)|(%a)|(.*)$')
    day = tonumber(day)
    if day >= KEPT then
      break
    end
    redis.call('LPOP', K_RET)
    if kind == 'o' then
      local field = order_field(id)
      local rec = redis.call('HGET', K_BUYER, field)
      if rec and select(7, parse_order(rec)) == day then
        redis.call('HDEL', K_BUYER, field)
      end
    elseif kind == 'i' then
      local rec = redis.call('HGET', K_PAID, id)
      if rec and select(7, parse_invoice(rec)) == day then
        redis.call('HDEL', K_PAID, id)
      end
    else
      local rec = redis.call('HGET', K_PAY, id)
      if rec and select(4, parse_payment(rec)) == day then
        redis.call('HDEL', K_PAY, id)
      end
    end
  end
  local oldest = tonumber(redis.call('HGET', K_BUYER, 'so'))
  if oldest and oldest < SALES_FROM then
    local days, d = {}, oldest
    while d < SALES_FROM and #days < PRUNE_BATCH do
      days[#days + 1] = fmt(d)
      d = d + 1
    end
    redis.call('HDEL', K_SALES, unpack(days))
    if redis.call('EXISTS', K_SALES) == 0 then
      redis.call('HDEL', K_BUYER, 'so')
    else
      redis.call('HSET', K_BUYER, 'so', fmt(d))
    end
  end
  for _ = 1, PRUNE_BATCH do
    local head = redis.call('LINDEX', K_OEXP, 0)
    if not head then
      break
    end
    local due, id = string.match(head, '^(%-?%d+)|(.*)$')
    local rec = redis.call('HGET', K_BUYER, order_field(id))
    if rec then
      local st, _, _, _, _, exp = parse_order(rec)
      if st == 'A' and exp == tonumber(due) then
        break
      end
    end
    redis.call('LPOP', K_OEXP)
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

-- The decision history and the held-order list (docs/redis.md, "Decision
-- history and held orders"). Their text forms are the ones
-- src/store/decision_format.rs reads; its tests hold the Rust side, the
-- redis_review integration tests the two together.

-- The buyer field holding since when (ms) the order waits: read by the check's
-- one HMGET, so an order that never waited costs no extra call.
local function held_field(id)
  return 'h:' .. id
end

-- (buyer, order) as one member. NUL sorts below every other byte, so among equal
-- scores the set orders members as Rust orders (buyer_id, order_id) in HeldCursor.
local function held_member(buyer_id, order_id)
  return buyer_id .. '\0' .. order_id
end

local function sized(s)
  return #s .. ':' .. s
end

-- A snapshot() as text: oo|oi|dp|n, then |day|<bytes>:<invoice id> for each of
-- the n oldest due and for the next due, if any.
local function snapshot_text(snap)
  local parts = {fmt(snap[1]), fmt(snap[2]), fmt(snap[3]), fmt(#snap[4] / 2)}
  local function item(id, day)
    parts[#parts + 1] = fmt(tonumber(day))
    parts[#parts + 1] = sized(id)
  end
  for i = 1, #snap[4], 2 do
    item(snap[4][i], snap[4][i + 1])
  end
  if #snap[5] > 0 then
    item(snap[5][1], snap[5][2])
  end
  return table.concat(parts, '|')
end

-- `cap` says what the slot's decision stream is (docs/archive.md, "The outbox"):
-- 'N', the history, trimmed to about N entries ('~': whole stream nodes at a
-- time, so trimming costs nothing per call); 'oN', the archive's outbox, never
-- trimmed (an entry leaves only once the archive committed it) and holding at
-- most N: a decision that would not fit is not made (ARCHIVE_BACKLOG).
local function outbox_full(cap)
  return string.byte(cap, 1) == 111 and
    redis.call('XLEN', K_DEC) >= tonumber(string.sub(cap, 2))
end

local function keep_decision(decision_id, inputs, snap_text, verdict, cap)
  if string.byte(cap, 1) == 111 then
    redis.call('XADD', K_DEC, '*', 'd', decision_id, 'i', inputs, 's', snap_text, 'o',
      verdict, 't', fmt(NOW_MS))
  else
    redis.call('XADD', K_DEC, 'MAXLEN', '~', cap, '*', 'd', decision_id, 'i', inputs, 's',
      snap_text, 'o', verdict, 't', fmt(NOW_MS))
  end
end

-- The order waits, with this decision (verdict N) as its latest: first_ms|packed
-- record, packed as decision_format::record_to_packed. `since` is the buyer's
-- h: field: since when it waits, if its entry is still listed (the per-slot cap
-- may have evicted it and left the field behind: the set's entry decides).
local function hold(buyer_id, order_id, since, inputs, snap_text, cap)
  local member = held_member(buyer_id, order_id)
  local first = NOW_MS
  if since and redis.call('ZSCORE', K_HELD, member) then
    first = tonumber(since)
  end
  local rec = fmt(NOW_MS) .. '|' .. sized(snap_text) .. '|' .. sized('N') .. '|' .. inputs
  redis.call('HSET', K_HELDREC, member, fmt(first) .. '|' .. rec)
  if since ~= fmt(first) then
    redis.call('HSET', K_BUYER, held_field(order_id), fmt(first))
  end
  if redis.call('ZADD', K_HELD, fmt(NOW_MS), member) == 1 and
      redis.call('ZCARD', K_HELD) > tonumber(cap) then
    -- The order that waited longest unseen leaves, as on the embedded store. Its
    -- buyer's h: field (another buyer's key, perhaps) stays until that order's
    -- next decision, cancel or invoice: the set's entry is what counts.
    local out = redis.call('ZPOPMIN', K_HELD)
    redis.call('HDEL', K_HELDREC, out[1])
  end
end

-- The order no longer waits (approved, released, invoiced, cancelled).
local function unhold(buyer_id, order_id)
  local member = held_member(buyer_id, order_id)
  redis.call('ZREM', K_HELD, member)
  redis.call('HDEL', K_HELDREC, member)
  redis.call('HDEL', K_BUYER, held_field(order_id))
end

-- Reserves `amount` for a new approval of the order (check.lua, release_order.lua):
-- the record, the running total and the expiry entry. `ne` is the buyer's 'ne'
-- field as read (false: the expiry list was empty).
local function reserve(order_id, amount, decision_id, oo, ne, ttl)
  local expires = NOW + ttl
  -- Overwrites a settled record past the window, if one is still stored.
  local record = pack_order('A', amount, amount, decision_id, NOW, expires, nil)
  local field = order_field(order_id)
  if not ne then
    -- The list was empty: this reservation becomes its head.
    redis.call('HSET', K_BUYER, 'oo', fmt(oo + amount), field, record, 'ne', fmt(expires))
  else
    redis.call('HSET', K_BUYER, 'oo', fmt(oo + amount), field, record)
  end
  schedule(order_id, expires)
end
