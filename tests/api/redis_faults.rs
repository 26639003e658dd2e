//! Faults under load, with clients that retry: nothing lost, nothing doubled,
//! nothing approved blind. Real redis-server, real creditgate processes.
//!
//! Each test builds its model from what the clients were told, then re-checks
//! every order id once at the end: an approval is sticky (`ALREADY_APPROVED`, same
//! decision id, nothing more reserved), so the re-check shows what the ledger
//! holds for each approved order; an order refused before may be approved now,
//! and then counts. Each buyer's `open_orders` must be exactly the sum of the
//! orders the re-check answers approved, and within the limit.
//!
//! The clients' retry loop is `helpers/load.rs`.

use crate::helpers::load::{Attempt, Retry, approval_ids, check_retrying};
use crate::helpers::process::{self, Replica};
use crate::helpers::redis::RedisServer;
use crate::helpers::*;
use creditgate::clock::{Clock, SystemClock};
use creditgate::grpc::pb;
use creditgate::grpc::pb::ledger_service_client::LedgerServiceClient;
use rust_decimal::Decimal;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::Code;
use tonic::transport::Channel;

fn dec(amount: &str) -> Decimal {
    Decimal::from_str(amount).unwrap()
}

/// `store-init` on a fresh namespace of `redis`, and the replica arguments for it.
fn initialised_namespace(redis: &RedisServer) -> Vec<String> {
    let args = vec![
        "--redis-url".to_owned(),
        redis.url(),
        "--redis-namespace".to_owned(),
        unique_namespace(),
    ];
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    process::store_init(&argv);
    args
}

fn start_replica(args: &[String]) -> Replica {
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    Replica::start(&argv)
}

async fn upsert_buyers(channel: &Channel, buyers: usize, limit: &str) {
    let mut ledger = LedgerServiceClient::new(channel.clone());
    for b in 0..buyers {
        ledger
            .upsert_buyer(pb::UpsertBuyerRequest {
                buyer: Some(buyer(&format!("B-{b}"), limit)),
                update_mask: None,
            })
            .await
            .unwrap();
    }
}

async fn open_orders(channel: &Channel, buyer: &str) -> Decimal {
    let exposure = LedgerServiceClient::new(channel.clone())
        .get_buyer_exposure(pb::GetBuyerExposureRequest {
            buyer_id: buyer.into(),
        })
        .await
        .expect("exposure once the faults are over")
        .into_inner();
    dec(amount(&exposure.open_orders))
}

/// One order of a run: what its client was told, and the re-check at the end.
struct Order {
    buyer: usize,
    id: String,
    amount: String,
    attempts: Vec<Attempt>,
    recheck: Option<pb::CheckCreditLimitResponse>,
}

impl Order {
    fn describe(&self) -> String {
        let attempts: Vec<String> = self
            .attempts
            .iter()
            .map(|a| match &a.answer {
                Ok(r) => format!(
                    "replica {}: {:?} {:?} {}",
                    a.replica,
                    decision(r),
                    codes(r),
                    r.decision_id
                ),
                Err(s) => format!("replica {}: {:?} {}", a.replica, s.code(), s.message()),
            })
            .collect();
        format!(
            "order {} ({} EUR of B-{}): {attempts:?}",
            self.id, self.amount, self.buyer
        )
    }
}

/// Re-checks every order once on `channel` (retrying only STORE_UNAVAILABLE:
/// the faults are over, Redis must settle), then holds the ledger to the answers:
/// - every order approved during the run is still reserved, under the same
///   decision id (nothing lost), and no order was approved under two ids
///   (nothing doubled);
/// - an order reserved without having been answered APPROVED had a call that was
///   not decided (no answer, or STORE_UNAVAILABLE): its reservation is the one
///   whose reply was lost;
/// - each buyer's open orders are exactly the orders the re-check approves, and
///   within `limit`.
async fn recheck_and_hold_the_ledger(
    orders: &mut [Order],
    channel: &Channel,
    buyers: usize,
    limit: &str,
) {
    let settle = Retry {
        attempts: 100,
        pause: Duration::from_millis(50),
        timeout: Duration::from_secs(2),
    };
    // Several at a time, to keep the test short; each order once.
    let jobs: Vec<(usize, String, String, String)> = orders
        .iter()
        .enumerate()
        .map(|(i, o)| (i, format!("B-{}", o.buyer), o.id.clone(), o.amount.clone()))
        .collect();
    let jobs = Arc::new(Mutex::new(jobs));
    let mut checkers = Vec::new();
    for _ in 0..8 {
        let (jobs, channel) = (jobs.clone(), channel.clone());
        checkers.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            loop {
                let next = jobs.lock().unwrap().pop();
                let Some((i, buyer, id, amount)) = next else {
                    return answers;
                };
                let attempts = check_retrying(
                    std::slice::from_ref(&channel),
                    0,
                    &buyer,
                    &id,
                    &amount,
                    settle,
                )
                .await;
                let last = attempts.into_iter().last().unwrap();
                let answer = last
                    .decided()
                    .cloned()
                    .unwrap_or_else(|| panic!("re-check of {id} undecided: {last:?}"));
                answers.push((i, answer));
            }
        }));
    }
    for checker in checkers {
        for (i, answer) in checker.await.unwrap() {
            orders[i].recheck = Some(answer);
        }
    }
    let mut reserved = vec![Decimal::ZERO; buyers];
    let mut problems = Vec::new();
    for order in orders.iter() {
        let recheck = order.recheck.as_ref().unwrap();
        let ids = approval_ids(&order.attempts);
        if ids.iter().any(|id| *id != ids[0]) {
            problems.push(format!(
                "approved under two decision ids: {}",
                order.describe()
            ));
        }
        let still_reserved =
            decision(recheck) == Decision::Approved && codes(recheck) == ["ALREADY_APPROVED"];
        if let Some(first) = ids.first() {
            if !still_reserved || recheck.decision_id != *first {
                problems.push(format!(
                    "approved, then not reserved (re-check {:?} {:?} {}): {}",
                    decision(recheck),
                    codes(recheck),
                    recheck.decision_id,
                    order.describe()
                ));
            }
        } else if still_reserved && !order.attempts.iter().any(Attempt::retryable) {
            problems.push(format!(
                "reserved, but never answered APPROVED and every call was decided: {}",
                order.describe()
            ));
        }
        if decision(recheck) == Decision::Approved {
            reserved[order.buyer] += dec(&order.amount);
        }
    }
    assert!(
        problems.is_empty(),
        "{} orders wrong:\n{}",
        problems.len(),
        problems.join("\n")
    );
    for (b, sum) in reserved.iter().enumerate() {
        let held = open_orders(channel, &format!("B-{b}")).await;
        assert_eq!(
            held, *sum,
            "B-{b}: open orders in the ledger vs. the orders answered approved"
        );
        assert!(
            held <= dec(limit),
            "B-{b}: {held} reserved over the limit {limit}"
        );
    }
}

const KILL_BUYERS: usize = 4;
const KILL_ORDERS_PER_BUYER: usize = 150;
const KILL_CLIENTS: usize = 24;
/// Demand per buyer is about 150 × 145 = 21,750 EUR: the limit binds about
/// halfway through, after the kill.
const KILL_LIMIT: &str = "10000.00";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_a_replica_killed_mid_load_loses_and_doubles_no_reservation() {
    let redis = RedisServer::start();
    let args = initialised_namespace(&redis);
    let mut a = start_replica(&args);
    let b = start_replica(&args);
    let channels = [connect(a.addr).await, connect(b.addr).await];
    upsert_buyers(&channels[1], KILL_BUYERS, KILL_LIMIT).await;

    // Buyers interleaved, so that every buyer is mid-way when A dies.
    let mut work = Vec::new();
    for k in (0..KILL_ORDERS_PER_BUYER).rev() {
        for b in 0..KILL_BUYERS {
            work.push((b, format!("O-{b}-{k}"), format!("{}.00", 40 + (k % 7) * 35)));
        }
    }
    let total = work.len();
    let work = Arc::new(Mutex::new(work));
    let finished = Arc::new(AtomicUsize::new(0));
    let retry = Retry {
        attempts: 20,
        pause: Duration::from_millis(20),
        timeout: Duration::from_secs(2),
    };
    let mut clients = Vec::new();
    for _ in 0..KILL_CLIENTS {
        let (work, finished, channels) = (work.clone(), finished.clone(), channels.clone());
        clients.push(tokio::spawn(async move {
            let mut orders = Vec::new();
            loop {
                let Some((buyer, id, amount)) = work.lock().unwrap().pop() else {
                    return orders;
                };
                // Every order goes to A first, and to B when A does not decide it.
                let attempts =
                    check_retrying(&channels, 0, &format!("B-{buyer}"), &id, &amount, retry).await;
                finished.fetch_add(1, Ordering::SeqCst);
                orders.push(Order {
                    buyer,
                    id,
                    amount,
                    attempts,
                    recheck: None,
                });
            }
        }));
    }
    let started = Instant::now();
    while finished.load(Ordering::SeqCst) < total / 4 {
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // Redis is frozen for the moment of the kill, so that the checks A has in
    // flight are run by Redis only after A is gone: reservations whose replies
    // no one receives, every run (the clients retry them on B).
    let frozen = redis.freeze();
    a.kill();
    let killed = Instant::now();
    tokio::time::sleep(Duration::from_millis(50)).await;
    frozen.resume();
    let mut orders = Vec::new();
    for client in clients {
        orders.extend(client.await.unwrap());
    }

    let in_flight = orders
        .iter()
        .flat_map(|o| &o.attempts)
        .filter(|t| t.replica == 0 && t.no_answer() && t.sent < killed)
        .count();
    assert!(
        in_flight > 0,
        "no check was in flight on A when it was killed"
    );
    let approved_on_b_after = orders
        .iter()
        .flat_map(|o| &o.attempts)
        .filter(|t| t.replica == 1 && t.sent > killed && t.approved().is_some())
        .count();
    assert!(approved_on_b_after > 0, "B approved nothing after the kill");
    // The kill took reservations with it: A's check reserved, its reply was
    // lost, and the retry on B found the reservation.
    let lost_replies = orders
        .iter()
        .filter(|o| {
            o.attempts[0].replica == 0
                && o.attempts[0].no_answer()
                && o.attempts
                    .iter()
                    .find_map(Attempt::approved)
                    .is_some_and(|r| codes(r) == ["ALREADY_APPROVED"])
        })
        .count();
    assert!(lost_replies > 0, "no reservation of A's lost its reply");
    let undecided: Vec<String> = orders
        .iter()
        .filter(|o| o.attempts.last().unwrap().retryable())
        .map(Order::describe)
        .collect();
    assert!(
        undecided.is_empty(),
        "retries did not converge: {undecided:#?}"
    );
    let refused = orders
        .iter()
        .filter(|o| o.attempts.last().unwrap().approved().is_none())
        .count();
    assert!(
        refused > 0,
        "the limits must bind for the test to mean anything"
    );

    let all: Vec<&Attempt> = orders.iter().flat_map(|o| &o.attempts).collect();
    eprintln!(
        "orders {} attempts {} in_flight {in_flight} no_answer {} store_unavailable {} replays {} approved_on_b_after {approved_on_b_after} refused {refused} lost_replies {lost_replies}",
        orders.len(),
        all.len(),
        all.iter().filter(|t| t.no_answer()).count(),
        all.iter().filter(|t| t.store_unavailable()).count(),
        all.iter()
            .filter(|t| t
                .answer
                .as_ref()
                .is_ok_and(|r| codes(r) == ["ALREADY_APPROVED"]))
            .count(),
    );
    recheck_and_hold_the_ledger(&mut orders, &channels[1], KILL_BUYERS, KILL_LIMIT).await;
}

const OUTAGE_BUYERS: usize = 2;
const OUTAGE_CLIENTS: usize = 12;
/// Far above what the run can approve: every decided check is an approval, so
/// that approvals stopping and resuming is what the test sees.
const OUTAGE_LIMIT: &str = "1000000.00";

/// A stretch of time in which Redis could not answer.
struct Outage {
    what: &'static str,
    /// After Redis was stopped (killed and reaped, or frozen by the kernel).
    from: Instant,
    /// Before Redis was started again (or thawed).
    until: Instant,
    /// Once Redis answered again.
    back: Instant,
}

/// What the ledger writer of one buyer posted, each call retried until it took.
#[derive(Default)]
struct Posted {
    invoices: usize,
    payments: usize,
    /// Calls answered UNAVAILABLE (or not at all) and then retried.
    retried: usize,
}

/// Retries a ledger write until it is answered; only UNAVAILABLE (the store)
/// and transport failures are retried, anything else fails the test.
async fn until_applied<T, F, Fut>(what: &str, retried: &mut usize, mut call: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    for _ in 0..500 {
        match call().await {
            Ok(_) => return,
            Err(status)
                if matches!(
                    status.code(),
                    Code::Unavailable | Code::Unknown | Code::DeadlineExceeded | Code::Cancelled
                ) =>
            {
                *retried += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(status) => panic!("{what}: {status:?}"),
        }
    }
    panic!("{what}: not applied after 500 calls");
}

/// RecordInvoice INV-b-i (10.00), then RecordPayment P-b-i (4.00) on it, for
/// i = 0, 1, … until `stop`: every call retried until it takes.
async fn post_ledger(channel: Channel, b: usize, stop: Arc<AtomicBool>) -> Posted {
    let ledger = LedgerServiceClient::new(channel);
    let today = SystemClock.today();
    let mut posted = Posted::default();
    while !stop.load(Ordering::SeqCst) {
        let i = posted.invoices;
        let invoice = pb::RecordInvoiceRequest {
            buyer_id: format!("B-{b}"),
            invoice_id: format!("INV-{b}-{i}"),
            order_id: String::new(),
            amount: eur("10.00"),
            issue_date: today.to_string(),
            due_date: today.add_days(30).to_string(),
        };
        until_applied(&invoice.invoice_id.clone(), &mut posted.retried, || {
            let mut request = tonic::Request::new(invoice.clone());
            request.set_timeout(Duration::from_secs(1));
            let mut ledger = ledger.clone();
            async move { ledger.record_invoice(request).await }
        })
        .await;
        posted.invoices += 1;
        let payment = pb::RecordPaymentRequest {
            buyer_id: format!("B-{b}"),
            invoice_id: format!("INV-{b}-{i}"),
            amount: eur("4.00"),
            paid_date: today.to_string(),
            payment_id: format!("P-{b}-{i}"),
        };
        until_applied(&payment.payment_id.clone(), &mut posted.retried, || {
            let mut request = tonic::Request::new(payment.clone());
            request.set_timeout(Duration::from_secs(1));
            let mut ledger = ledger.clone();
            async move { ledger.record_payment(request).await }
        })
        .await;
        posted.payments += 1;
    }
    posted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_stopped_and_restarted_under_load_approves_nothing_blind_and_recovers_without_restart()
 {
    // Append-only file, fsync always: a SIGKILLed redis-server comes back with
    // every write it acknowledged (docs/redis.md, "Persistence settings").
    let mut redis = RedisServer::start_with(&["--appendonly", "yes", "--appendfsync", "always"]);
    let args = initialised_namespace(&redis);
    let replica = start_replica(&args);
    let channel = connect(replica.addr).await;
    upsert_buyers(&channel, OUTAGE_BUYERS, OUTAGE_LIMIT).await;

    let stop = Arc::new(AtomicBool::new(false));
    // Retries outlast an outage (1.5 s) and the restart.
    let retry = Retry {
        attempts: 500,
        pause: Duration::from_millis(20),
        timeout: Duration::from_secs(1),
    };
    let mut clients = Vec::new();
    for c in 0..OUTAGE_CLIENTS {
        let (stop, channels) = (stop.clone(), [channel.clone()]);
        clients.push(tokio::spawn(async move {
            let mut orders = Vec::new();
            let buyer = c % OUTAGE_BUYERS;
            while !stop.load(Ordering::SeqCst) {
                // Paced: enough checks in flight, without thousands to re-check.
                tokio::time::sleep(Duration::from_millis(10)).await;
                let id = format!("C{c}-{}", orders.len());
                let amount = format!("{}.{:02}", 1 + orders.len() % 9, c);
                let attempts =
                    check_retrying(&channels, 0, &format!("B-{buyer}"), &id, &amount, retry).await;
                orders.push(Order {
                    buyer,
                    id,
                    amount,
                    attempts,
                    recheck: None,
                });
            }
            orders
        }));
    }
    let writers: Vec<_> = (0..OUTAGE_BUYERS)
        .map(|b| tokio::spawn(post_ledger(channel.clone(), b, stop.clone())))
        .collect();

    let mut outages = Vec::new();
    // 1. Killed (SIGKILL) for 1.5 s, then started again on the same port and files.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    redis.kill();
    let from = Instant::now();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let until = Instant::now();
    redis.restart(false);
    outages.push(Outage {
        what: "killed",
        from,
        until,
        back: Instant::now(),
    });
    // 2. Frozen (SIGSTOP) for 1.5 s: connections stay open and calls queue up
    //    on them; Redis runs them when thawed, after their callers gave up.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let frozen = redis.freeze();
    let from = Instant::now();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let until = Instant::now();
    frozen.resume();
    outages.push(Outage {
        what: "frozen",
        from,
        until,
        back: Instant::now(),
    });
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    stop.store(true, Ordering::SeqCst);

    let mut orders = Vec::new();
    for client in clients {
        orders.extend(client.await.unwrap());
    }
    let mut posted = Vec::new();
    for writer in writers {
        posted.push(writer.await.unwrap());
    }

    let attempts: Vec<&Attempt> = orders.iter().flat_map(|o| &o.attempts).collect();
    for outage in &outages {
        // Sent after Redis stopped and answered before it was back: no store
        // could have been read, so nothing may be approved.
        let during: Vec<&&Attempt> = attempts
            .iter()
            .filter(|t| t.sent > outage.from && t.done < outage.until)
            .collect();
        // A check on a hung Redis takes up to twice the store timeout (the
        // check, then the release of what it may have reserved).
        assert!(
            during.len() >= OUTAGE_CLIENTS / 2,
            "{}: hardly a check during the outage: {}",
            outage.what,
            during.len()
        );
        for attempt in &during {
            assert!(
                attempt.retryable(),
                "{}: decided while Redis was down: {attempt:?}",
                outage.what
            );
            if let Ok(response) = &attempt.answer {
                assert!(response.exposure.is_none(), "exposure is unknown, not zero");
            }
        }
        // Approvals resume by themselves (the same creditgate process), soon.
        let resumed = attempts
            .iter()
            .filter(|t| t.sent > outage.back && t.approved().is_some())
            .map(|t| t.done)
            .min()
            .unwrap_or_else(|| panic!("{}: no approval after Redis was back", outage.what));
        assert!(
            resumed - outage.back < Duration::from_secs(5),
            "{}: approvals resumed only {:?} after Redis was back",
            outage.what,
            resumed - outage.back
        );
    }
    for order in &orders {
        let last = order.attempts.last().unwrap();
        assert!(
            last.approved().is_some(),
            "not approved in the end: {}",
            order.describe()
        );
    }

    // Ledger writes posted across the outages are applied once each.
    assert!(
        posted.iter().map(|p| p.retried).sum::<usize>() > 0,
        "no ledger write met an outage"
    );
    for (b, p) in posted.iter().enumerate() {
        let exposure = LedgerServiceClient::new(channel.clone())
            .get_buyer_exposure(pb::GetBuyerExposureRequest {
                buyer_id: format!("B-{b}"),
            })
            .await
            .unwrap()
            .into_inner();
        let expected = Decimal::from(10 * p.invoices) - Decimal::from(4 * p.payments);
        assert_eq!(
            dec(amount(&exposure.open_invoices)),
            expected,
            "B-{b}: {} invoices of 10.00 and {} payments of 4.00 posted",
            p.invoices,
            p.payments
        );
        assert_eq!(exposure.invoices.len(), p.invoices, "B-{b}: open invoices");
    }
    eprintln!(
        "orders {} attempts {} undecided {} lost replies later replayed {} ledger writes retried {}",
        orders.len(),
        attempts.len(),
        attempts.iter().filter(|t| t.retryable()).count(),
        orders
            .iter()
            .filter(|o| o
                .attempts
                .iter()
                .find(|t| t.approved().is_some())
                .is_some_and(|t| codes(t.approved().unwrap()) == ["ALREADY_APPROVED"]))
            .count(),
        posted.iter().map(|p| p.retried).sum::<usize>(),
    );

    recheck_and_hold_the_ledger(&mut orders, &channel, OUTAGE_BUYERS, OUTAGE_LIMIT).await;
}

/// Stalls of replica A (SIGSTOP/SIGCONT of its process).
const STALLS: usize = 12;
/// Clients, each with a check in flight on A most of the time.
const STALL_CLIENTS: usize = 24;
/// Longer than the store timeout (250 ms): A's checks in flight time out when it
/// runs again, although Redis ran their scripts, in time, while A was stopped.
const STALL: Duration = Duration::from_millis(350);

/// A replica that stalls (a long GC-like pause, CPU starvation, a VM steal) has
/// checks whose scripts Redis ran in time but whose replies it reads only after
/// its timeout: it answers STORE_UNAVAILABLE and releases that decision's
/// reservation. The client retries at once on replica B, which may find the
/// reservation first and answer ALREADY_APPROVED: the release must not take
/// that approval's reservation away. (It did, when the release was sent in the
/// background after the answer: the re-check then found the order unreserved.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_a_stalled_replica_never_releases_what_the_other_one_approved() {
    let redis = RedisServer::start();
    let args = initialised_namespace(&redis);
    let a = start_replica(&args);
    let b = start_replica(&args);
    let channels = [connect(a.addr).await, connect(b.addr).await];
    upsert_buyers(&channels[1], OUTAGE_BUYERS, OUTAGE_LIMIT).await;
    let stop = Arc::new(AtomicBool::new(false));
    // Retried at once on B, as a client that was told "retry shortly" may.
    let retry = Retry {
        attempts: 20,
        pause: Duration::ZERO,
        timeout: Duration::from_secs(3),
    };
    let mut clients = Vec::new();
    for c in 0..STALL_CLIENTS {
        let (stop, channels) = (stop.clone(), channels.clone());
        clients.push(tokio::spawn(async move {
            let mut orders = Vec::new();
            let buyer = c % OUTAGE_BUYERS;
            while !stop.load(Ordering::SeqCst) {
                let id = format!("C{c}-{}", orders.len());
                let amount = "1.00".to_owned();
                let attempts =
                    check_retrying(&channels, 0, &format!("B-{buyer}"), &id, &amount, retry).await;
                orders.push(Order {
                    buyer,
                    id,
                    amount,
                    attempts,
                    recheck: None,
                });
            }
            orders
        }));
    }
    for n in 0..STALLS {
        tokio::time::sleep(Duration::from_millis(200)).await;
        a.stop();
        tokio::time::sleep(STALL).await;
        a.resume();
        // Stalled again a moment after it woke up and answered the checks that
        // timed out: whatever A still has to send then waits, and the retries
        // on B run first.
        std::thread::sleep(Duration::from_millis(1 << (n % 4)));
        a.stop();
        tokio::time::sleep(Duration::from_millis(100)).await;
        a.resume();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::SeqCst);
    let mut orders = Vec::new();
    for client in clients {
        orders.extend(client.await.unwrap());
    }
    let timed_out_on_a = orders
        .iter()
        .flat_map(|o| &o.attempts)
        .filter(|t| t.replica == 0 && t.store_unavailable())
        .count();
    assert!(timed_out_on_a > 0, "A's stalls timed no check out");
    recheck_and_hold_the_ledger(&mut orders, &channels[1], OUTAGE_BUYERS, OUTAGE_LIMIT).await;
}
