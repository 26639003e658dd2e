//! The Redis key schema (docs/redis.md). Every key of a buyer shares one hash tag,
//! `{<ns>:b:<escaped id>}`, so one script can touch them all on Redis Cluster.
//! Each hash slot also holds a store marker, reachable from any buyer's script.

use crate::domain::ids::BuyerId;

/// Redis Cluster hash slots.
pub const SLOTS: usize = 16_384;

/// The keys of one buyer, in the order every script expects them as
/// KEYS[1..12]: marker, buyer, oexp, inv, due, pay, paid, ret, sales, then the
/// buyer's slot's decision stream, held set and held records ([`SlotKeys`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuyerKeys {
    pub keys: [String; 12],
}

/// The review keys of one hash slot, under its marker's tag so that any buyer's
/// script in the slot may write them: the capped decision stream, the held-order
/// sorted set and its records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotKeys {
    pub decisions: String,
    pub held: String,
    pub held_records: String,
}

impl BuyerKeys {
    pub fn marker(&self) -> &str {
        &self.keys[0]
    }

    pub fn buyer(&self) -> &str {
        &self.keys[1]
    }

    /// Open invoices: what GetBuyerExposure pages through.
    pub fn open_invoices(&self) -> &str {
        &self.keys[3]
    }
}

/// Key names for one namespace, with the marker key of every slot precomputed.
pub struct KeySchema {
    namespace: String,
    /// For each slot, the marker key whose hash tag lands in that slot.
    markers: Vec<String>,
}

/// Percent-escapes the characters that would end or nest a hash tag, and '%' itself,
/// so that distinct ids always give distinct keys with an intact tag.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '{' => out.push_str("%7B"),
            '}' => out.push_str("%7D"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
    out
}

/// CRC16/XMODEM, the checksum Redis Cluster uses to place keys in slots.
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

pub fn slot_of_tag(tag: &str) -> usize {
    usize::from(crc16(tag.as_bytes())) % SLOTS
}

impl KeySchema {
    pub fn new(namespace: &str) -> KeySchema {
        let namespace = escape(namespace);
        let mut markers = vec![String::new(); SLOTS];
        let mut missing = SLOTS;
        let mut n: u64 = 0;
        // About 170,000 tries cover all 16,384 slots (coupon collector): a few ms, once.
        while missing > 0 {
            let tag = format!("{namespace}:m:{n}");
            let slot = slot_of_tag(&tag);
            if markers[slot].is_empty() {
                markers[slot] = format!("{{{tag}}}:marker");
                missing -= 1;
            }
            n += 1;
        }
        KeySchema { namespace, markers }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn tag(&self, buyer_id: &BuyerId) -> String {
        format!("{}:b:{}", self.namespace, escape(buyer_id.as_str()))
    }

    /// The hash slot of the buyer's keys (and of its decisions).
    pub fn buyer_slot(&self, buyer_id: &BuyerId) -> usize {
        slot_of_tag(&self.tag(buyer_id))
    }

    pub fn slot(&self, slot: usize) -> SlotKeys {
        let marker = &self.markers[slot];
        // "{<ns>:m:N}:marker" → "{<ns>:m:N}:<suffix>"
        let tag = &marker[..marker.len() - "marker".len()];
        SlotKeys {
            decisions: format!("{tag}decisions"),
            held: format!("{tag}held"),
            held_records: format!("{tag}heldrec"),
        }
    }

    pub fn buyer(&self, buyer_id: &BuyerId) -> BuyerKeys {
        let tag = self.tag(buyer_id);
        let key = |suffix: &str| format!("{{{tag}}}:{suffix}");
        let slot = slot_of_tag(&tag);
        let review = self.slot(slot);
        BuyerKeys {
            keys: [
                self.markers[slot].clone(),
                key("buyer"),
                key("oexp"),
                key("inv"),
                key("due"),
                key("pay"),
                key("paid"),
                key("ret"),
                key("sales"),
                review.decisions,
                review.held,
                review.held_records,
            ],
        }
    }

    /// Every slot's marker key: what `store-init` writes.
    pub fn markers(&self) -> &[String] {
        &self.markers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn crc16_matches_redis_cluster_reference() {
        // Reference value from the Redis Cluster specification.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(slot_of_tag("foo"), 12_182);
    }

    #[test]
    fn every_slot_has_a_marker_in_that_slot() {
        let schema = KeySchema::new("cg");
        for (slot, key) in schema.markers().iter().enumerate() {
            let tag = &key[1..key.find('}').unwrap()];
            assert_eq!(slot_of_tag(tag), slot);
        }
    }

    #[test]
    fn buyer_keys_share_the_marker_slot() {
        let schema = KeySchema::new("cg");
        let keys = schema.buyer(&BuyerId::parse("ACME {EU} 100%").unwrap());
        assert_eq!(keys.buyer(), "{cg:b:ACME %7BEU%7D 100%25}:buyer");
        let tag_of = |key: &str| key[1..key.find('}').unwrap()].to_owned();
        let slot = slot_of_tag(&tag_of(keys.buyer()));
        for key in &keys.keys {
            assert_eq!(slot_of_tag(&tag_of(key)), slot, "{key}");
        }
    }

    proptest! {
        #[test]
        fn escaping_is_injective_and_brace_free(a in "[a-z{}%]{1,8}", b in "[a-z{}%]{1,8}") {
            let (ea, eb) = (escape(&a), escape(&b));
            let brace_free = !ea.contains('{') && !ea.contains('}');
            prop_assert!(brace_free);
            prop_assert_eq!(a == b, ea == eb);
        }
    }
}
