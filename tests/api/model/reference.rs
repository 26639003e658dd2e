//! The reference model: the ledger and the credit policy as docs/policy.md
//! states them, written again from the documentation as plain data and
//! arithmetic, for the buyers the generator makes (manual limits, EUR, the
//! shipped policy). It shares no code with the service: where the two disagree,
//! one of them is wrong.

use std::collections::BTreeMap;

pub const DAY: i64 = 86_400;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Approved,
    Held,
    Referred,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    Core,
    Standard,
    New,
    Watch,
}

/// The tier table of docs/policy.md, as shipped in policy/default.toml.
struct TierRules {
    tolerance_percent: i64,
    max_order_percent: Option<i64>,
    uninsured: Outcome,
    insurance_expected: bool,
    collection_days: i32,
    legal_days: i32,
    rerating_days: i32,
}

fn rules(tier: Tier) -> TierRules {
    let base = TierRules {
        tolerance_percent: 0,
        max_order_percent: None,
        uninsured: Outcome::Referred,
        insurance_expected: false,
        collection_days: 15,
        legal_days: 60,
        rerating_days: 180,
    };
    match tier {
        Tier::Core => TierRules {
            tolerance_percent: 10,
            uninsured: Outcome::Approved,
            rerating_days: 365,
            ..base
        },
        Tier::Standard => TierRules {
            tolerance_percent: 5,
            uninsured: Outcome::Held,
            ..base
        },
        Tier::New => TierRules {
            max_order_percent: Some(50),
            insurance_expected: true,
            rerating_days: 90,
            ..base
        },
        Tier::Watch => TierRules {
            collection_days: 1,
            rerating_days: 30,
            ..base
        },
    }
}

/// `rerating.expired_max_order_percent_of_limit` of the shipped policy.
const EXPIRED_MAX_ORDER_PERCENT: i64 = 10;
const REMINDER_DAYS: i32 = 7;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    pub tier: Tier,
    /// Manual credit limit, cents.
    pub limit: i64,
    pub insured: Option<i64>,
    pub insolvent: bool,
}

/// An order's record. `settled`: the day it stopped reserving anything, from
/// which the retention window runs (docs/redis.md, "Retention").
#[derive(Clone, Debug)]
enum Order {
    Approved {
        amount: i64,
        remaining: i64,
        expires_at: Option<i64>,
        settled: Option<i64>,
        /// Made by an analyst's release: a retried release answers it again.
        released: bool,
    },
    Invoiced {
        invoice: String,
        amount: i64,
        settled: i64,
    },
    Cancelled {
        settled: i64,
        was_approved: bool,
    },
}

impl Buyer {
    /// A new approval reserves the amount until `expires_at`; the order stops
    /// waiting for review.
    fn approve(&mut self, order: &str, amount: i64, expires_at: i64, released: bool) {
        self.orders.insert(
            order.to_owned(),
            Order::Approved {
                amount,
                remaining: amount,
                expires_at: Some(expires_at),
                settled: None,
                released,
            },
        );
        self.held.remove(order);
    }
}

impl Order {
    fn settled(&self) -> Option<i64> {
        match self {
            Order::Approved { settled, .. } => *settled,
            Order::Invoiced { settled, .. } | Order::Cancelled { settled, .. } => Some(*settled),
        }
    }
}

#[derive(Clone, Debug)]
struct Invoice {
    order: Option<String>,
    amount: i64,
    open: i64,
    issue: i64,
    due: i64,
    disputed: bool,
    /// The day it was paid in full.
    settled: Option<i64>,
}

#[derive(Clone, Debug)]
struct Payment {
    invoice: String,
    amount: i64,
    paid: i64,
    open_after: i64,
    recorded: i64,
}

#[derive(Clone, Debug)]
pub struct Buyer {
    pub profile: Profile,
    pub valid_until: i64,
    orders: BTreeMap<String, Order>,
    invoices: BTreeMap<String, Invoice>,
    payments: BTreeMap<String, Payment>,
    /// Orders waiting for the credit team (their latest check was HELD or
    /// REFERRED), with the amount checked: docs/policy.md, "Review".
    pub held: BTreeMap<String, i64>,
}

/// What a call answered when it failed: the gRPC code class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    NotFound,
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckAnswer {
    pub decision: Outcome,
    pub codes: Vec<&'static str>,
    /// Exposure after the decision, cents.
    pub exposure: i64,
    /// True when the check itself reserved (a new approval).
    pub reserved: bool,
    /// ALREADY_INVOICED: the invoice the message must name.
    pub invoice: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Totals {
    pub open_orders: i64,
    pub open_invoices: i64,
    pub disputed: i64,
}

impl Totals {
    pub fn total(&self) -> i64 {
        self.open_orders + self.open_invoices
    }
}

pub struct Model {
    pub buyers: BTreeMap<String, Buyer>,
    /// The service's clock (unix seconds): today, due dates, rating expiry.
    pub now: i64,
    /// Whether reservations lapse on the service's clock (the embedded store) or
    /// on Redis's own, which the test does not move (docs/redis.md).
    pub reservations_follow_clock: bool,
    pub reservation_ttl: i64,
    /// Settled items are honoured this many days after they settled, then forgotten.
    pub retention_days: i64,
}

impl Buyer {
    pub fn totals(&self) -> Totals {
        let mut totals = Totals::default();
        for order in self.orders.values() {
            if let Order::Approved { remaining, .. } = order {
                totals.open_orders += remaining;
            }
        }
        for invoice in self.invoices.values() {
            totals.open_invoices += invoice.open;
            if invoice.disputed {
                totals.disputed += invoice.open;
            }
        }
        totals
    }

    pub fn invoice_open(&self, id: &str) -> Option<i64> {
        self.invoices.get(id).map(|i| i.open)
    }

    /// The undisputed open invoice due first: (due day, id).
    fn oldest_due(&self) -> Option<(i64, &str)> {
        self.invoices
            .iter()
            .filter(|(_, i)| i.open > 0 && !i.disputed)
            .map(|(id, i)| (i.due, id.as_str()))
            .min()
    }

    fn next_due(&self, today: i64) -> Option<i64> {
        self.invoices
            .values()
            .filter(|i| i.open > 0 && !i.disputed && i.due >= today)
            .map(|i| i.due)
            .min()
    }

    /// Docs: "Every rule below is checked; the most severe outcome wins", reasons
    /// most severe first, profile reasons before ledger reasons; an approval
    /// carries WITHIN_LIMIT first, then informational reasons, then DUE_SOON.
    fn evaluate(&self, amount: i64, today: i64) -> (Outcome, Vec<&'static str>) {
        let p = &self.profile;
        let r = rules(p.tier);
        let totals = self.totals();
        let mut findings: Vec<(Outcome, &'static str)> = Vec::new();
        if p.insolvent {
            findings.push((Outcome::Referred, "INSOLVENCY"));
        }
        if today > self.valid_until {
            let cap = p.limit * EXPIRED_MAX_ORDER_PERCENT / 100;
            let outcome = if amount > cap {
                Outcome::Referred
            } else {
                Outcome::Approved
            };
            findings.push((outcome, "RATING_EXPIRED"));
        }
        if let Some(percent) = r.max_order_percent
            && amount > p.limit * percent / 100
        {
            findings.push((Outcome::Referred, "NEW_BUYER_MAX_ORDER"));
        }
        if let Some((due, _)) = self.oldest_due() {
            let overdue = today - due;
            if overdue >= i64::from(r.legal_days) {
                findings.push((Outcome::Referred, "OVERDUE_LEGAL"));
            } else if overdue >= i64::from(r.collection_days) {
                findings.push((Outcome::Held, "OVERDUE_COLLECTION"));
            }
        }
        let after = totals.total() + amount;
        if after > p.limit {
            let tolerance = p.limit * r.tolerance_percent / 100;
            let outcome = if after - p.limit <= tolerance {
                Outcome::Held
            } else {
                Outcome::Referred
            };
            findings.push((outcome, "LIMIT_EXCEEDED"));
        }
        let cap = p.insured.or(r.insurance_expected.then_some(0));
        if let Some(cap) = cap
            && totals.total() - totals.disputed + amount > cap
        {
            findings.push((r.uninsured, "UNINSURED_EXPOSURE"));
        }
        let decision = findings
            .iter()
            .map(|(o, _)| *o)
            .max()
            .unwrap_or(Outcome::Approved);
        findings.sort_by_key(|(o, _)| std::cmp::Reverse(*o));
        let mut codes: Vec<&'static str> = findings.into_iter().map(|(_, c)| c).collect();
        if decision == Outcome::Approved {
            codes.insert(0, "WITHIN_LIMIT");
            if let Some(due) = self.next_due(today)
                && due - today <= i64::from(REMINDER_DAYS)
            {
                codes.push("DUE_SOON");
            }
        }
        (decision, codes)
    }
}

impl Model {
    pub fn today(&self) -> i64 {
        self.now.div_euclid(DAY)
    }

    pub fn limit_of(&self, buyer: &str) -> Option<i64> {
        self.buyers.get(buyer).map(|b| b.profile.limit)
    }

    pub fn advance_days(&mut self, days: i64) {
        self.now += days * DAY;
    }

    /// Releases lapsed reservations (docs/policy.md, "Orders, invoices and
    /// payments") and forgets settled items past the retention window.
    fn expire(&mut self, buyer: &str) {
        let (now, today) = (self.now, self.today());
        let oldest_kept = today - self.retention_days;
        let follow = self.reservations_follow_clock;
        let Some(b) = self.buyers.get_mut(buyer) else {
            return;
        };
        b.orders.retain(|_, order| {
            if let Order::Approved {
                amount,
                remaining,
                expires_at,
                settled,
                ..
            } = order
                && follow
                && expires_at.is_some_and(|at| at <= now)
            {
                if *remaining == *amount {
                    return false;
                }
                *remaining = 0;
                *expires_at = None;
                *settled = Some(today);
            }
            order.settled().is_none_or(|day| day >= oldest_kept)
        });
        b.invoices
            .retain(|_, i| i.settled.is_none_or(|day| day >= oldest_kept));
        b.payments.retain(|_, p| p.recorded >= oldest_kept);
    }

    pub fn totals(&mut self, buyer: &str) -> Option<Totals> {
        self.expire(buyer);
        self.buyers.get(buyer).map(Buyer::totals)
    }

    /// UpsertBuyer: a profile equal to the stored one changes nothing; any
    /// change re-rates (valid_until = today + the tier's re-rating interval).
    pub fn upsert(&mut self, buyer: &str, profile: Profile) {
        let today = self.today();
        let valid_until = today + i64::from(rules(profile.tier).rerating_days);
        match self.buyers.get_mut(buyer) {
            Some(b) if b.profile == profile => {}
            Some(b) => {
                b.profile = profile;
                b.valid_until = valid_until;
            }
            None => {
                self.buyers.insert(
                    buyer.to_owned(),
                    Buyer {
                        profile,
                        valid_until,
                        orders: BTreeMap::new(),
                        invoices: BTreeMap::new(),
                        payments: BTreeMap::new(),
                        held: BTreeMap::new(),
                    },
                );
            }
        }
    }

    /// ScoreBuyer: re-rates from the current profile; answers valid_until.
    pub fn score(&mut self, buyer: &str) -> Result<i64, Refusal> {
        let today = self.today();
        let b = self.buyers.get_mut(buyer).ok_or(Refusal::NotFound)?;
        b.valid_until = today + i64::from(rules(b.profile.tier).rerating_days);
        Ok(b.valid_until)
    }

    pub fn check(&mut self, buyer: &str, order: &str, amount: i64) -> Result<CheckAnswer, Refusal> {
        self.expire(buyer);
        let today = self.today();
        let (now, ttl) = (self.now, self.reservation_ttl);
        let Some(b) = self.buyers.get_mut(buyer) else {
            return Ok(CheckAnswer {
                decision: Outcome::Referred,
                codes: vec!["UNKNOWN_BUYER"],
                exposure: 0,
                reserved: false,
                invoice: None,
            });
        };
        let total = b.totals().total();
        match b.orders.get(order) {
            Some(Order::Cancelled { .. }) => return Err(Refusal::FailedPrecondition),
            Some(Order::Invoiced { invoice, .. }) => {
                b.held.remove(order);
                return Ok(CheckAnswer {
                    decision: Outcome::Referred,
                    codes: vec!["ALREADY_INVOICED"],
                    exposure: total,
                    reserved: false,
                    invoice: Some(invoice.clone()),
                });
            }
            Some(Order::Approved { amount: a, .. }) if *a != amount => {
                return Err(Refusal::AlreadyExists);
            }
            Some(Order::Approved { .. }) => {
                return Ok(CheckAnswer {
                    decision: Outcome::Approved,
                    codes: vec!["ALREADY_APPROVED"],
                    exposure: total,
                    reserved: false,
                    invoice: None,
                });
            }
            None => {}
        }
        let (decision, codes) = b.evaluate(amount, today);
        let approved = decision == Outcome::Approved;
        if approved {
            b.approve(order, amount, now + ttl, false);
        } else {
            b.held.insert(order.to_owned(), amount);
        }
        Ok(CheckAnswer {
            decision,
            codes,
            exposure: if approved { total + amount } else { total },
            reserved: approved,
            invoice: None,
        })
    }

    /// RecordInvoice: (created, reservation consumed, total exposure).
    pub fn invoice(
        &mut self,
        buyer: &str,
        id: &str,
        order: Option<&str>,
        amount: i64,
        issue: i64,
        due: i64,
    ) -> Result<(bool, i64, i64), Refusal> {
        self.expire(buyer);
        let today = self.today();
        let b = self.buyers.get_mut(buyer).ok_or(Refusal::NotFound)?;
        if let Some(existing) = b.invoices.get(id) {
            let same = existing.order.as_deref() == order
                && existing.amount == amount
                && existing.issue == issue
                && existing.due == due;
            if !same {
                return Err(Refusal::AlreadyExists);
            }
            return Ok((false, 0, b.totals().total()));
        }
        let mut consumed = 0;
        if let Some(order) = order {
            match b.orders.get_mut(order) {
                Some(Order::Approved {
                    remaining,
                    expires_at,
                    settled,
                    ..
                }) => {
                    consumed = (*remaining).min(amount);
                    if consumed > 0 {
                        *remaining -= consumed;
                        if *remaining == 0 {
                            *expires_at = None;
                            *settled = Some(today);
                        }
                    }
                }
                Some(Order::Invoiced { amount: billed, .. }) => *billed += amount,
                Some(Order::Cancelled { .. }) | None => {
                    b.orders.insert(
                        order.to_owned(),
                        Order::Invoiced {
                            invoice: id.to_owned(),
                            amount,
                            settled: today,
                        },
                    );
                }
            }
        }
        if let Some(order) = order {
            // Invoiced: shipped, so no longer waiting for the credit team.
            b.held.remove(order);
        }
        b.invoices.insert(
            id.to_owned(),
            Invoice {
                order: order.map(str::to_owned),
                amount,
                open: amount,
                issue,
                due,
                disputed: false,
                settled: None,
            },
        );
        Ok((true, consumed, b.totals().total()))
    }

    /// RecordPayment: (invoice open balance, created, total exposure).
    pub fn pay(
        &mut self,
        buyer: &str,
        payment: &str,
        invoice: &str,
        amount: i64,
        paid: i64,
    ) -> Result<(i64, bool, i64), Refusal> {
        self.expire(buyer);
        let today = self.today();
        let b = self.buyers.get_mut(buyer).ok_or(Refusal::NotFound)?;
        if let Some(previous) = b.payments.get(payment) {
            let same =
                previous.invoice == invoice && previous.amount == amount && previous.paid == paid;
            if !same {
                return Err(Refusal::AlreadyExists);
            }
            return Ok((previous.open_after, false, b.totals().total()));
        }
        let inv = b.invoices.get_mut(invoice).ok_or(Refusal::NotFound)?;
        if paid < inv.issue {
            return Err(Refusal::InvalidArgument);
        }
        if amount > inv.open {
            return Err(Refusal::FailedPrecondition);
        }
        inv.open -= amount;
        if inv.open == 0 {
            inv.settled = Some(today);
        }
        let open_after = inv.open;
        b.payments.insert(
            payment.to_owned(),
            Payment {
                invoice: invoice.to_owned(),
                amount,
                paid,
                open_after,
                recorded: today,
            },
        );
        Ok((open_after, true, b.totals().total()))
    }

    /// SetInvoiceDispute: (open balance, disputed).
    pub fn dispute(
        &mut self,
        buyer: &str,
        invoice: &str,
        disputed: bool,
    ) -> Result<(i64, bool), Refusal> {
        self.expire(buyer);
        let b = self.buyers.get_mut(buyer).ok_or(Refusal::NotFound)?;
        let inv = b.invoices.get_mut(invoice).ok_or(Refusal::NotFound)?;
        inv.disputed = disputed;
        Ok((inv.open, inv.disputed))
    }

    /// CancelOrder: (released, was_approved, invoiced).
    pub fn cancel(&mut self, buyer: &str, order: &str) -> Result<(i64, bool, bool), Refusal> {
        self.expire(buyer);
        let today = self.today();
        let b = self.buyers.get_mut(buyer).ok_or(Refusal::NotFound)?;
        b.held.remove(order);
        let answer = match b.orders.get_mut(order) {
            // A retried cancel answers as the first one did, less what it released.
            Some(Order::Cancelled { was_approved, .. }) => return Ok((0, *was_approved, false)),
            Some(Order::Invoiced { .. }) => return Ok((0, false, true)),
            Some(Order::Approved {
                amount,
                remaining,
                expires_at,
                settled,
                ..
            }) if *remaining < *amount => {
                let released = *remaining;
                if released > 0 {
                    *remaining = 0;
                    *expires_at = None;
                    *settled = Some(today);
                }
                return Ok((released, true, true));
            }
            Some(Order::Approved { remaining, .. }) => (*remaining, true, false),
            None => (0, false, false),
        };
        let was_approved = answer.1;
        b.orders.insert(
            order.to_owned(),
            Order::Cancelled {
                settled: today,
                was_approved,
            },
        );
        Ok(answer)
    }

    /// ReleaseOrder: (exposure after, created). A retried release (the order
    /// holds the approval an earlier release made, for this amount) answers that
    /// release again; any other order with a record, or one not waiting, or
    /// waiting for another amount, is refused.
    pub fn release(
        &mut self,
        buyer: &str,
        order: &str,
        amount: i64,
    ) -> Result<(i64, bool), Refusal> {
        self.expire(buyer);
        let (now, ttl) = (self.now, self.reservation_ttl);
        let b = self.buyers.get_mut(buyer).ok_or(Refusal::NotFound)?;
        let total = b.totals().total();
        match b.orders.get(order) {
            Some(Order::Approved {
                amount: a,
                released: true,
                ..
            }) if *a == amount => return Ok((total, false)),
            Some(_) => return Err(Refusal::FailedPrecondition),
            None => {}
        }
        if b.held.get(order) != Some(&amount) {
            return Err(Refusal::FailedPrecondition);
        }
        b.approve(order, amount, now + ttl, true);
        Ok((total + amount, true))
    }
}
