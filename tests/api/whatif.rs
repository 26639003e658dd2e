//! Policy what-if (`creditgate whatif`, CreditReviewService.WhatIf) on a book
//! generated through the real server: the policy in force changes nothing, a
//! tightened and a loosened candidate give the golden reports of
//! tests/golden/ (regenerate with `UPDATE_GOLDEN=1`, then review the diff),
//! from the store's decision history (this backend: CREDITGATE_TEST_STORE)
//! and from the archive alike, byte for byte on every run.

use crate::helpers::postgres::shared_postgres;
use crate::helpers::{
    Backend, Decision, TestApp, buyer, connect, decision, eventually, initialised_redis, process,
    redis_options, shared_cluster, shared_redis, test_settings, unique_namespace, with_insurance,
    with_tier,
};
use creditgate::domain::policy::Policy;
use creditgate::grpc::pb;
use creditgate::grpc::pb::credit_review_service_client::CreditReviewServiceClient;
use creditgate::store::memory::MemoryStore;
use creditgate::store::redis::RedisTarget;
use std::collections::BTreeMap;
use std::path::PathBuf;
use tonic::Code;

const SHIPPED_POLICY: &str = include_str!("../../policy/default.toml");

/// The shipped policy with `key` of `[section]` set to `value` (a TOML value).
fn set(toml: &str, section: &str, key: &str, value: &str) -> String {
    let header = format!("[{section}]");
    let mut in_section = false;
    let mut done = false;
    let mut out = String::new();
    for line in toml.lines() {
        if line.starts_with('[') {
            in_section = line.trim() == header;
        }
        if !done && (in_section || section.is_empty()) && line.starts_with(&format!("{key} =")) {
            out.push_str(&format!("{key} = {value}\n"));
            done = true;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(done, "no {key} in [{section}]");
    out
}

fn candidate(version: &str, edits: &[(&str, &str, &str)]) -> String {
    let mut toml = set(SHIPPED_POLICY, "", "version", &format!("{version:?}"));
    for (section, key, value) in edits {
        toml = set(&toml, section, key, value);
    }
    toml
}

/// Tighter: half the new-buyer cap, cover binding on core buyers, no tolerance
/// for standard ones.
fn tightened() -> String {
    candidate(
        "2026-12-tight",
        &[
            ("tiers.new", "max_order_percent_of_limit", "\"25\""),
            ("tiers.core", "uninsured_exposure", "\"hold\""),
            ("tiers.standard", "tolerance_percent", "\"0\""),
        ],
    )
}

/// Looser: no new-buyer cap, standard buyers approved beyond cover, twice the
/// standard tolerance, watched buyers held only from 15 days overdue.
fn loosened() -> String {
    candidate(
        "2026-12-loose",
        &[
            ("tiers.new", "max_order_percent_of_limit", "\"none\""),
            ("tiers.standard", "uninsured_exposure", "\"approve\""),
            ("tiers.standard", "tolerance_percent", "\"10\""),
            ("tiers.watch", "collection_days_overdue", "15"),
        ],
    )
}

/// A deterministic generator (a 64-bit LCG): the same book on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

/// What the server answered for each order of the book.
struct Book {
    answers: BTreeMap<String, pb::CheckCreditLimitResponse>,
    amounts: BTreeMap<String, String>,
    /// decision id → "BUYER/ORDER", to make reports comparable across runs.
    labels: BTreeMap<String, String>,
}

/// 24 buyers of every tier, some insured, some watched buyers with an overdue
/// invoice; four orders each whose amounts grow into the limits, a fifth that
/// crosses the limit by 2 to 14% of it (so every rule the candidates change
/// has work to do), one order checked after it was invoiced, and one analyst
/// release of a held order.
async fn generate_book(app: &TestApp) -> Book {
    let tiers = [
        ("C", pb::RiskTier::Core, 50_000),
        ("S", pb::RiskTier::Standard, 20_000),
        ("N", pb::RiskTier::New, 10_000),
        ("W", pb::RiskTier::Watch, 15_000),
    ];
    let mut rng = Lcg(13);
    let mut book = Book {
        answers: BTreeMap::new(),
        amounts: BTreeMap::new(),
        labels: BTreeMap::new(),
    };
    for (prefix, tier, limit) in tiers {
        for n in 1..=6 {
            let id = format!("{prefix}{n:02}");
            let mut profile = with_tier(buyer(&id, &format!("{limit}.00")), tier);
            // New buyers need cover; others are insured for 40% every other one.
            if tier == pb::RiskTier::New || n % 2 == 0 {
                let insured = if tier == pb::RiskTier::New {
                    limit
                } else {
                    limit * 2 / 5
                };
                profile = with_insurance(profile, &format!("{insured}.00"));
            }
            app.upsert(profile).await;
            // Exposure so far, in cents: what the fifth order crosses the limit from.
            let mut used: i64 = 0;
            if tier == pb::RiskTier::Watch && n % 2 == 1 {
                // Five days overdue: watched buyers are held from the first day.
                let amount = limit / 10;
                app.invoice(
                    &id,
                    &format!("INV-{id}"),
                    &format!("PRE-{id}"),
                    &format!("{amount}.00"),
                    -40,
                    -5,
                )
                .await
                .expect("invoice");
                used += amount * 100;
            }
            let mut amounts = Vec::new();
            for _ in 1..=4 {
                let percent = 10 + rng.next(40) as i64;
                amounts.push((limit / 100 * percent) * 100 + rng.next(100) as i64);
            }
            let excess = [2, 4, 7, 9, 14][rng.next(5) as usize];
            for (k, cents) in amounts.into_iter().map(Some).chain([None]).enumerate() {
                let cents = cents.unwrap_or_else(|| (limit * 100 - used).max(0) + limit * excess);
                let amount = format!("{}.{:02}", cents / 100, cents % 100);
                let order = format!("SO-{id}-{}", k + 1);
                let answer = app.check(&id, &order, &amount).await;
                if decision(&answer) == Decision::Approved {
                    used += cents;
                }
                book.labels
                    .insert(answer.decision_id.clone(), format!("{id}/{order}"));
                book.amounts.insert(order.clone(), amount);
                book.answers.insert(order, answer);
            }
        }
    }
    // An order the ERP invoiced before checking it: referred under any policy.
    let invoiced = app.check("W01", "PRE-W01", "1500.00").await;
    book.labels
        .insert(invoiced.decision_id.clone(), "W01/PRE-W01".to_owned());
    book.amounts
        .insert("PRE-W01".to_owned(), "1500.00".to_owned());
    book.answers.insert("PRE-W01".to_owned(), invoiced);
    // An analyst releases the first held order: its release keeps its outcome.
    let order = book
        .answers
        .iter()
        .find(|(_, a)| decision(a) == Decision::Held)
        .map(|(o, _)| o.clone())
        .expect("the book has a held order");
    let buyer_id = order
        .trim_start_matches("SO-")
        .split('-')
        .next()
        .unwrap()
        .to_owned();
    let amount = book.amounts[&order].clone();
    let released = app
        .release(&buyer_id, &order, &amount, "j.doe", "prepayment received")
        .await
        .expect("release");
    let id = released.decision.unwrap().decision_id;
    book.labels
        .insert(id, format!("{buyer_id}/{order}/release"));
    book
}

/// `creditgate whatif …` through the real binary; its stdout.
async fn whatif_cli(args: Vec<String>) -> String {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut all = vec!["whatif"];
        all.extend(args);
        let (ok, output) = process::run(&all);
        assert!(ok, "creditgate whatif failed: {output}");
        output
    })
    .await
    .unwrap()
}

fn policy_file(dir: &tempfile::TempDir, name: &str, toml: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, toml).unwrap();
    path.display().to_string()
}

/// Decision ids differ on every run: each becomes its order's label.
fn normalise(report: &str, book: &Book) -> String {
    let mut out = report.to_owned();
    for (id, label) in &book.labels {
        out = out.replace(id.as_str(), &format!("<{label}>"));
    }
    out
}

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Compares `actual` with the golden file, or writes it with UPDATE_GOLDEN=1.
fn golden(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert!(
        expected == actual,
        "{name} differs from its golden file (UPDATE_GOLDEN=1 rewrites it; review the diff):\n{actual}"
    );
}

async fn what_if(
    app: &TestApp,
    policy_toml: &str,
    since: &str,
) -> Result<pb::WhatIfReport, tonic::Status> {
    CreditReviewServiceClient::new(connect(app.addr).await)
        .what_if(pb::WhatIfRequest {
            policy_toml: policy_toml.to_owned(),
            since: since.to_owned(),
            until: String::new(),
        })
        .await
        .map(tonic::Response::into_inner)
}

fn decision_of(value: i32) -> pb::Decision {
    pb::Decision::try_from(value).unwrap()
}

/// Tightened: nothing let through; loosened: nothing stopped.
fn assert_direction(report: &pb::WhatIfReport, tighter: bool) {
    assert!(report.changed > 0, "{}", report.text);
    for t in &report.transitions_by_tier {
        let (before, after) = (decision_of(t.before), decision_of(t.after));
        if tighter {
            assert_ne!(after, pb::Decision::Approved, "{}", report.text);
        } else {
            assert_ne!(before, pb::Decision::Approved, "{}", report.text);
        }
    }
    for exposure in &report.exposure {
        let (none, some) = if tighter {
            (&exposure.let_through, &exposure.stopped)
        } else {
            (&exposure.stopped, &exposure.let_through)
        };
        assert_eq!(none.as_ref().unwrap().amount, "0.00", "{}", report.text);
        assert_ne!(some.as_ref().unwrap().amount, "0.00", "{}", report.text);
    }
}

#[tokio::test]
async fn whatif_from_the_store_history_matches_the_goldens_and_repeats_byte_for_byte() {
    let app = TestApp::spawn().await;
    let book = generate_book(&app).await;
    let decisions = book.answers.len() as u64 + 1;

    // The policy in force: every decision replays as it was answered.
    let current = what_if(&app, SHIPPED_POLICY, "").await.unwrap();
    assert_eq!(current.decisions, decisions, "{}", current.text);
    assert_eq!(current.changed, 0, "{}", current.text);
    assert_eq!(current.released, 1);
    assert!(current.text.contains("No decision would change."));

    let dir = tempfile::tempdir().unwrap();
    let server = format!("http://{}", app.addr);
    for (name, toml, tighter) in [("tight", tightened(), true), ("loose", loosened(), false)] {
        let rpc = what_if(&app, &toml, "2000-01-01").await.unwrap();
        assert_eq!(rpc.decisions, decisions);
        assert_eq!(rpc.source, "store decision history");
        assert_direction(&rpc, tighter);
        let file = policy_file(&dir, &format!("{name}.toml"), &toml);
        for format in ["text", "json"] {
            let args = || {
                vec![
                    "--policy".into(),
                    file.clone(),
                    "--since".into(),
                    "2000-01-01".into(),
                    "--format".into(),
                    format.into(),
                    "--server".into(),
                    server.clone(),
                ]
            };
            let first = whatif_cli(args()).await;
            let second = whatif_cli(args()).await;
            assert_eq!(first, second, "two runs, two outputs");
            let expected = if format == "text" {
                &rpc.text
            } else {
                &rpc.json
            };
            assert_eq!(&first, expected, "the CLI prints the RPC's rendering");
            let ext = if format == "text" { "txt" } else { "json" };
            golden(&format!("whatif_{name}.{ext}"), &normalise(&first, &book));
        }
    }
}

#[tokio::test]
async fn whatif_from_the_archive_replays_every_answer_and_matches_the_store_report() {
    let url = shared_postgres().fresh_database().await;
    let app = TestApp::spawn_archived(MemoryStore::with_outbox(100_000, Some(10_000)), &url).await;
    let book = generate_book(&app).await;
    let decisions = book.answers.len() + 1;
    let dir = tempfile::tempdir().unwrap();

    // Every record archived, then read straight from PostgreSQL.
    let archived = || async {
        let client = creditgate::archive::connect::connect(&url).await.unwrap();
        creditgate::archive::decisions::list_all(&client, None, None, None, 10_000)
            .await
            .unwrap_or_default()
    };
    eventually("every decision archived", || async {
        archived().await.len() == decisions
    })
    .await;

    // Under the policy in force (the server's), every record replays to the
    // very answer the server gave: decision, reasons and their words.
    let current = Policy::default();
    for record in archived().await {
        let order = record.inputs.order_id.to_string();
        let replayed = record.replay_under(
            current.tier(record.inputs.buyer.profile.tier),
            current.expired_max_order_percent,
        );
        if record.inputs.release.is_some() {
            assert_eq!(
                replayed.decision,
                creditgate::domain::policy::Decision::Approved
            );
            continue;
        }
        let answer = &book.answers[&order];
        assert_eq!(record.inputs.decision_id, answer.decision_id);
        assert_eq!(
            format!(
                "DECISION_{}",
                creditgate::store::decision_format::decision_code(replayed.decision)
            ),
            decision(answer).as_str_name(),
            "{order}"
        );
        let words: Vec<(&str, &str)> = replayed
            .reasons
            .iter()
            .map(|r| (r.code.as_str(), r.message.as_str()))
            .collect();
        let answered: Vec<(&str, &str)> = answer
            .reasons
            .iter()
            .map(|r| (r.code.as_str(), r.message.as_str()))
            .collect();
        assert_eq!(words, answered, "{order}");
    }
    let file = policy_file(&dir, "current.toml", SHIPPED_POLICY);
    let report = whatif_cli(vec![
        "--policy".into(),
        file,
        "--archive-url".into(),
        url.clone(),
    ])
    .await;
    assert!(report.contains("No decision would change."), "{report}");
    assert!(
        report.contains(&format!(
            "on {decisions} recorded decisions (from the decision archive)"
        )),
        "{report}"
    );

    // The candidates: the same report as from the store's history, whether
    // the CLI reads the archive itself or asks the (archived) server.
    for (name, toml) in [("tight", tightened()), ("loose", loosened())] {
        let file = policy_file(&dir, &format!("{name}.toml"), &toml);
        let direct = whatif_cli(vec![
            "--policy".into(),
            file.clone(),
            "--since".into(),
            "2000-01-01".into(),
            "--archive-url".into(),
            url.clone(),
        ])
        .await;
        let served = whatif_cli(vec![
            "--policy".into(),
            file,
            "--since".into(),
            "2000-01-01".into(),
            "--server".into(),
            format!("http://{}", app.addr),
        ])
        .await;
        assert_eq!(direct, served);
        let as_store =
            normalise(&direct, &book).replace("decision archive", "store decision history");
        golden(&format!("whatif_{name}.txt"), &as_store);
    }
}

#[tokio::test]
async fn whatif_refuses_a_bad_policy_or_period_naming_the_field() {
    let app = TestApp::spawn().await;
    let bad_key = set(SHIPPED_POLICY, "tiers.new", "tolerance_percent", "\"lots\"");
    let status = what_if(&app, &bad_key, "").await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("policy_toml"), "{status:?}");
    assert!(
        status.message().contains("tiers.new.tolerance_percent"),
        "{status:?}"
    );
    let status = what_if(&app, "version = ", "").await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("policy_toml"), "{status:?}");
    let status = what_if(&app, SHIPPED_POLICY, "last month")
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("since"), "{status:?}");
    let status = CreditReviewServiceClient::new(connect(app.addr).await)
        .what_if(pb::WhatIfRequest {
            policy_toml: SHIPPED_POLICY.into(),
            since: "2026-03-01".into(),
            until: "2026-02-01".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("until"), "{status:?}");
    // An empty book: nothing to change.
    let report = what_if(&app, SHIPPED_POLICY, "").await.unwrap();
    assert_eq!((report.decisions, report.changed), (0, 0));
}

/// A server on this backend keeping `history` decisions (per hash slot on Redis).
async fn app_keeping(history: usize) -> TestApp {
    let target = match Backend::from_env() {
        Backend::Memory => {
            return TestApp::spawn_on(MemoryStore::with_history(history), test_settings()).await;
        }
        Backend::Redis => RedisTarget::Url(shared_redis()),
        Backend::Cluster => RedisTarget::Cluster(shared_cluster()),
    };
    let mut options = redis_options(target, &unique_namespace());
    options.settings.decision_history = history;
    TestApp::spawn_on(initialised_redis(&options).await, test_settings()).await
}

#[tokio::test]
async fn whatif_reads_a_history_longer_than_a_page_and_keeps_to_the_period() {
    // One buyer: one slot on Redis, whose stream is read past its first page.
    let app = app_keeping(1_000).await;
    app.upsert(buyer("BIG", "10000000.00")).await;
    for n in 0..300 {
        app.check("BIG", &format!("SO-{n}"), "10.00").await;
    }
    let all = what_if(&app, SHIPPED_POLICY, "2000-01-01").await.unwrap();
    assert_eq!((all.decisions, all.changed), (300, 0), "{}", all.text);
    let later = what_if(&app, SHIPPED_POLICY, "2999-01-01").await.unwrap();
    assert_eq!(later.decisions, 0, "{}", later.text);
    let earlier = CreditReviewServiceClient::new(connect(app.addr).await)
        .what_if(pb::WhatIfRequest {
            policy_toml: SHIPPED_POLICY.into(),
            since: String::new(),
            until: "2000-01-01".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(earlier.decisions, 0, "{}", earlier.text);
}

#[tokio::test]
async fn whatif_without_an_archive_sees_only_the_bounded_history() {
    let app = app_keeping(50).await;
    app.upsert(buyer("BIG", "10000000.00")).await;
    for n in 0..120 {
        app.check("BIG", &format!("SO-{n}"), "10.00").await;
    }
    let report = what_if(&app, SHIPPED_POLICY, "").await.unwrap();
    // Exactly 50 on the embedded store; Redis trims its streams roughly
    // (MAXLEN ~), keeping at least 50.
    assert!((50..120).contains(&report.decisions), "{}", report.text);
}

#[tokio::test]
async fn the_whatif_command_names_the_option_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let good = policy_file(&dir, "good.toml", SHIPPED_POLICY);
    let bad = policy_file(
        &dir,
        "bad.toml",
        &set(
            SHIPPED_POLICY,
            "tiers.core",
            "uninsured_exposure",
            "\"maybe\"",
        ),
    );
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            process::run(&[&["whatif"], &args[..]].concat())
        })
    };
    // Read straight from an archive: the candidate and the dates are judged
    // before PostgreSQL is asked (nothing listens on port 1).
    let archive = "postgres://nobody@127.0.0.1:1/none".to_owned();
    let (ok, output) = run(vec![
        "--policy".into(),
        bad,
        "--archive-url".into(),
        archive.clone(),
    ])
    .await
    .unwrap();
    assert!(!ok);
    assert!(
        output.contains("--policy is not a valid policy")
            && output.contains("tiers.core.uninsured_exposure"),
        "{output}"
    );
    let (ok, output) = run(vec![
        "--policy".into(),
        good.clone(),
        "--since".into(),
        "yesterday".into(),
        "--archive-url".into(),
        archive,
    ])
    .await
    .unwrap();
    assert!(!ok);
    assert!(output.contains("--since must be"), "{output}");
    let (ok, output) = run(vec![
        "--policy".into(),
        dir.path().join("missing.toml").display().to_string(),
    ])
    .await
    .unwrap();
    assert!(!ok);
    assert!(output.contains("--policy"), "{output}");
}
