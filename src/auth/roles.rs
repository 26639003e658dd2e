//! The roles a token may hold, and the one table of which roles may call which RPC.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// CheckCreditLimit: order entry and checkout.
    Decide,
    /// ScoreBuyer: risk tooling.
    Score,
    /// Every LedgerService method: the ERP feed.
    Ledger,
    /// Ledger reads (GetBuyerExposure) and the credit team's review RPCs.
    Analyst,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Decide, Role::Score, Role::Ledger, Role::Analyst];

    pub fn name(self) -> &'static str {
        match self {
            Role::Decide => "decide",
            Role::Score => "score",
            Role::Ledger => "ledger",
            Role::Analyst => "analyst",
        }
    }

    /// Exact, lowercase names only: a tokens file that says "Ledger" is a typo to
    /// report, not a role to guess.
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.name() == text)
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of roles as bits: the hot path checks a token against an RPC with one AND.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct RoleSet(u8);

impl RoleSet {
    pub const fn of(roles: &[Role]) -> RoleSet {
        let mut bits = 0;
        let mut at = 0;
        while at < roles.len() {
            bits |= roles[at].bit();
            at += 1;
        }
        RoleSet(bits)
    }

    pub fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    pub fn insert(&mut self, role: Role) {
        self.0 |= role.bit();
    }

    pub fn intersects(self, other: RoleSet) -> bool {
        self.0 & other.0 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL
            .into_iter()
            .filter(move |role| self.contains(*role))
    }
}

impl fmt::Debug for RoleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// "ledger" or "ledger or analyst": how a PERMISSION_DENIED names what was needed.
impl fmt::Display for RoleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (at, role) in self.iter().enumerate() {
            if at > 0 {
                f.write_str(" or ")?;
            }
            f.write_str(role.name())?;
        }
        Ok(())
    }
}

/// What calling a gRPC path takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No token: health checks and reflection (load balancers, grpcurl `list`).
    Open,
    /// A valid token holding any one of these roles.
    AnyOf(RoleSet),
    /// A path in no table (an RPC this build does not serve): any valid token, and
    /// tonic then answers UNIMPLEMENTED. Deny by default: an unknown path is never
    /// open, and telling an anonymous caller "unimplemented" would map the API.
    Authenticated,
}

/// Every RPC and the roles that may call it, keyed by the exact path the
/// generated server dispatches on (`/package.Service/Method`, not decoded or
/// normalised: a path that differs by one byte reaches no handler either). A unit
/// test compares this table with the compiled protos in both directions, so a new
/// RPC cannot ship without an entry.
pub const RPC_ROLES: &[(&str, RoleSet)] = &[
    (
        "/creditgate.v1.CreditDecisionService/CheckCreditLimit",
        RoleSet::of(&[Role::Decide]),
    ),
    (
        "/creditgate.v1.CreditDecisionService/ScoreBuyer",
        RoleSet::of(&[Role::Score]),
    ),
    (
        "/creditgate.v1.LedgerService/UpsertBuyer",
        RoleSet::of(&[Role::Ledger]),
    ),
    (
        "/creditgate.v1.LedgerService/CancelOrder",
        RoleSet::of(&[Role::Ledger]),
    ),
    (
        "/creditgate.v1.LedgerService/RecordInvoice",
        RoleSet::of(&[Role::Ledger]),
    ),
    (
        "/creditgate.v1.LedgerService/RecordPayment",
        RoleSet::of(&[Role::Ledger]),
    ),
    (
        "/creditgate.v1.LedgerService/SetInvoiceDispute",
        RoleSet::of(&[Role::Ledger]),
    ),
    (
        "/creditgate.v1.LedgerService/GetBuyerExposure",
        RoleSet::of(&[Role::Ledger, Role::Analyst]),
    ),
    (
        "/creditgate.v1.CreditReviewService/ListHeldOrders",
        RoleSet::of(&[Role::Analyst]),
    ),
    (
        "/creditgate.v1.CreditReviewService/ReleaseOrder",
        RoleSet::of(&[Role::Analyst]),
    ),
    (
        "/creditgate.v1.CreditReviewService/GetDecision",
        RoleSet::of(&[Role::Analyst]),
    ),
    (
        "/creditgate.v1.CreditReviewService/ListDecisions",
        RoleSet::of(&[Role::Analyst]),
    ),
    (
        "/creditgate.v1.CreditReviewService/WhatIf",
        RoleSet::of(&[Role::Analyst]),
    ),
];

/// Services served to anyone, by path prefix (trailing slash included, so
/// `/grpc.health.v1.HealthX/...` is not open).
const OPEN_SERVICES: &[&str] = &[
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// What calling `path` (the request URI's path) takes.
pub fn required_roles(path: &str) -> Access {
    if let Some((_, roles)) = RPC_ROLES.iter().find(|(rpc, _)| *rpc == path) {
        return Access::AnyOf(*roles);
    }
    let open = OPEN_SERVICES.iter().any(|service| {
        path.strip_prefix(service)
            .is_some_and(|method| !method.is_empty() && !method.contains('/'))
    });
    if open {
        Access::Open
    } else {
        Access::Authenticated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc::pb::FILE_DESCRIPTOR_SET;
    use prost::Message;
    use std::collections::BTreeSet;

    /// Every `/package.Service/Method` path in the compiled creditgate protos.
    fn served_rpcs() -> BTreeSet<String> {
        let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
        let mut paths = BTreeSet::new();
        for file in set.file {
            for service in &file.service {
                for method in &service.method {
                    paths.insert(format!(
                        "/{}.{}/{}",
                        file.package(),
                        service.name(),
                        method.name()
                    ));
                }
            }
        }
        paths
    }

    #[test]
    fn the_table_names_every_served_rpc_and_nothing_else() {
        let served = served_rpcs();
        assert!(served.len() >= 8, "{served:?}");
        let table: BTreeSet<String> = RPC_ROLES.iter().map(|(p, _)| (*p).to_owned()).collect();
        assert_eq!(table.len(), RPC_ROLES.len(), "a path is listed twice");
        let unlisted: Vec<_> = served.difference(&table).collect();
        assert!(unlisted.is_empty(), "RPCs with no roles: {unlisted:?}");
        let stale: Vec<_> = table.difference(&served).collect();
        assert!(stale.is_empty(), "table entries for no RPC: {stale:?}");
        for (path, roles) in RPC_ROLES {
            assert!(!roles.is_empty(), "{path} allows no role");
        }
    }

    #[test]
    fn ledger_calls_every_ledger_method_and_analyst_reads_and_reviews() {
        for path in served_rpcs() {
            let Access::AnyOf(roles) = required_roles(&path) else {
                panic!("{path} is not role-checked");
            };
            let ledger = path.starts_with("/creditgate.v1.LedgerService/");
            assert_eq!(roles.contains(Role::Ledger), ledger, "{path}");
            let review = path.starts_with("/creditgate.v1.CreditReviewService/");
            let read = path.ends_with("/GetBuyerExposure");
            assert_eq!(roles.contains(Role::Analyst), read || review, "{path}");
            if review {
                assert_eq!(roles, RoleSet::of(&[Role::Analyst]), "{path}");
            }
        }
        let check = required_roles("/creditgate.v1.CreditDecisionService/CheckCreditLimit");
        assert_eq!(check, Access::AnyOf(RoleSet::of(&[Role::Decide])));
        let score = required_roles("/creditgate.v1.CreditDecisionService/ScoreBuyer");
        assert_eq!(score, Access::AnyOf(RoleSet::of(&[Role::Score])));
    }

    #[test]
    fn health_and_reflection_are_open_and_nothing_else_is() {
        for open in [
            "/grpc.health.v1.Health/Check",
            "/grpc.health.v1.Health/Watch",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ] {
            assert_eq!(required_roles(open), Access::Open, "{open}");
        }
        for closed in [
            "/creditgate.v1.LedgerService/DeleteEverything",
            "/creditgate.v2.CreditDecisionService/CheckCreditLimit",
            "/creditgate.v1.CreditDecisionService/checkcreditlimit",
            "/creditgate.v1.CreditDecisionService/CheckCreditLimit/",
            "/grpc.health.v1.HealthX/Check",
            "/grpc.health.v1.Health/",
            "/grpc.health.v1.Health/../creditgate.v1.LedgerService/UpsertBuyer",
            "/grpc.health.v1.Health",
            "/",
            "",
        ] {
            assert_eq!(required_roles(closed), Access::Authenticated, "{closed:?}");
        }
    }

    #[test]
    fn role_names_round_trip_and_sets_read_as_alternatives() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.name()), Some(role));
        }
        assert_eq!(Role::parse("Ledger"), None);
        assert_eq!(Role::parse("admin"), None);
        let read = RoleSet::of(&[Role::Analyst, Role::Ledger]);
        assert_eq!(read.to_string(), "ledger or analyst");
        assert!(read.intersects(RoleSet::of(&[Role::Analyst, Role::Score])));
        assert!(!read.intersects(RoleSet::of(&[Role::Decide, Role::Score])));
    }
}
