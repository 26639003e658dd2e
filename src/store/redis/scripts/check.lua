-- ARGV: deadline_ms, allow_unmarked (ignored: decisions always need the marker;
--       'w' after it: a WAIT follows, see touch()),
--       today, kept_from, sales_from (the ledger's calendar, see the prelude),
--       order_id, amount, buyer_version, blocked, max_total, max_insurable ('' = none),
--       earliest_due_day, decision_id, ttl_secs, sample, inputs (decision
--       record JSON), buyer_id, history cap ('oN': the archive's outbox, see
--       keep_decision), held cap
-- The hot path: seven Redis calls for a new order (clock, marker, buyer with
-- totals, order record, next expiry and held field, due dates, the two writes
-- of a reservation and the decision record's XADD); the expiry list is read only when its head may have lapsed. It
-- prunes nothing: a settled record past the retention window is read as absent
-- and left for the next ledger call to remove.
-- The admission test below is ReserveConditions::admit (src/domain/policy.rs);
-- the model-based test (tests/api/model) holds the two copies together.
if too_late() then
  return {'TOO_LATE'}
end
if redis.call('EXISTS', K_MARKER) == 0 then
  return {'NO_MARKER'}
end
local order_id, amount = ARGV[6], tonumber(ARGV[7])
local field = order_field(order_id)
local b = redis.call('HMGET', K_BUYER, 'v', 'oo', 'oi', 'dp', field, 'ne', held_field(order_id))
if not b[1] then
  return {'UNKNOWN_BUYER'}
end
-- Since when the order waits for review (absent: it never did, or no longer).
local since = b[7]
local decision_id, inputs, buyer_id, history = ARGV[13], ARGV[16], ARGV[17], ARGV[18]
-- 'ne': when the oldest open reservation lapses (absent: none, or not known;
-- see expire()).
local ne = b[6]
if not ne or tonumber(ne) <= NOW then
  local popped
  ne, popped = expire(b[6])
  if popped then
    -- Releasing changed the totals, and perhaps this order's record.
    b = redis.call('HMGET', K_BUYER, 'v', 'oo', 'oi', 'dp', field)
  end
end
local today, sample = TODAY, tonumber(ARGV[15])
local oo, oi, dp = num(b[2]), num(b[3]), num(b[4])
if b[5] then
  local st, amt, rem, did, at, _, day = parse_order(b[5])
  if kept(day) then
    if st == 'C' then
      return {'CANCELLED'}
    end
    if st == 'I' then
      if outbox_full(history) then
        return {'ARCHIVE_BACKLOG'}
      end
      local snap = snapshot(oo, oi, dp, today, sample)
      keep_decision(decision_id, inputs, snapshot_text(snap), 'I|' .. fmt(amt) .. '|' .. did, history)
      if since then
        unhold(buyer_id, order_id)
      end
      return {'INVOICED', amt, did, snap}
    end
    if amt ~= amount then
      return {'CONFLICT', amt, rem, did, at}
    end
    touch()
    return {'REPLAY', amt, rem, did, at, snapshot(oo, oi, dp, today, sample)}
  end
end
if b[1] ~= ARGV[8] then
  return {'STALE'}
end
if outbox_full(history) then
  return {'ARCHIVE_BACKLOG'}
end
local snap = snapshot(oo, oi, dp, today, sample)
local oldest = snap[4]
local admit = ARGV[9] == '0' and oo + oi + amount <= tonumber(ARGV[10])
if admit and ARGV[11] ~= '' then
  admit = oo + oi - dp + amount <= tonumber(ARGV[11])
end
if admit and #oldest > 0 then
  admit = tonumber(oldest[2]) >= tonumber(ARGV[12])
end
local snap_text = snapshot_text(snap)
if not admit then
  keep_decision(decision_id, inputs, snap_text, 'N', history)
  hold(buyer_id, order_id, since, inputs, snap_text, ARGV[19])
  return {'NOT_RESERVED', snap}
end
reserve(order_id, amount, decision_id, oo, ne, tonumber(ARGV[14]))
keep_decision(decision_id, inputs, snap_text, 'R', history)
if since then
  unhold(buyer_id, order_id)
end
return {'RESERVED', snap}
