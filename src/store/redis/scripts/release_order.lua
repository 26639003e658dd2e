-- ARGV: deadline_ms, allow_unmarked (ignored: a release is a decision and
--       always needs the marker; 'w' after it: a WAIT follows, see touch()),
--       today, kept_from, sales_from (the ledger's calendar, see the prelude),
--       order_id, amount, buyer_version, decision_id, ttl_secs, sample,
--       inputs (decision record JSON, with its release), buyer_id, history cap
-- An analyst's release of a waiting order (CreditReviewService.ReleaseOrder;
-- release.lua is another thing: undoing a reservation). Like the check, in one
-- atomic step: an order with a record answers as the check would (a retried
-- release finds its own approval); else the order must be listed as waiting,
-- for this amount, and the buyer unchanged; then the amount is reserved whatever
-- the conditions say (never past MAX_TOTAL), the order leaves the list and the
-- release is recorded (verdict R).
local g = guard(true)
if g then return g end
expire()
local order_id, amount, buyer_id = ARGV[6], tonumber(ARGV[7]), ARGV[13]
local rec = redis.call('HGET', K_BUYER, order_field(order_id))
if rec then
  local st, amt, rem, did, at, _, day = parse_order(rec)
  if kept(day) then
    if st == 'C' then
      return {'CANCELLED'}
    end
    if st == 'I' then
      return {'INVOICED'}
    end
    return {'APPROVED', amt, rem, did, at}
  end
end
local held = redis.call('HGET', K_HELDREC, held_member(buyer_id, order_id))
if not held then
  return {'NOT_HELD'}
end
-- first_ms|decided_at|<bytes>:<snapshot>|<bytes>:<verdict>|<inputs json>
local slen, spos = string.match(held, '^%-?%d+|%-?%d+|(%d+):()')
local ok, doc = false, nil
if spos then
  local vlen, vpos = string.match(held, '^|(%d+):()', spos + tonumber(slen))
  if vpos then
    ok, doc = pcall(cjson.decode, string.sub(held, vpos + tonumber(vlen) + 1))
  end
end
if not ok or type(doc) ~= 'table' or type(doc.amount) ~= 'number' then
  return {'CORRUPT_HELD'}
end
if doc.amount ~= amount then
  return {'AMOUNT_DIFFERS', doc.amount}
end
local b = redis.call('HMGET', K_BUYER, 'v', 'oo', 'oi', 'dp', 'ne')
if b[1] ~= ARGV[8] then
  return {'STALE'}
end
local oo, oi, dp = num(b[2]), num(b[3]), num(b[4])
if oo + oi + amount > MAX_TOTAL then
  return {'OVERFLOW'}
end
if outbox_full(ARGV[14]) then
  return {'ARCHIVE_BACKLOG'}
end
local snap = snapshot(oo, oi, dp, TODAY, tonumber(ARGV[11]))
reserve(order_id, amount, ARGV[9], oo, b[5], tonumber(ARGV[10]))
unhold(buyer_id, order_id)
keep_decision(ARGV[9], ARGV[12], snapshot_text(snap), 'R', ARGV[14])
return {'RELEASED', snap}
