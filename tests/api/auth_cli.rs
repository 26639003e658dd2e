//! `creditgate token new`, through the real binary: the entry it prints loads as
//! a tokens file that knows the token it printed.

use crate::helpers::process;
use creditgate::auth::Authenticator;
use http::HeaderValue;
use tonic::Code;

const EXPOSURE: &str = "/creditgate.v1.LedgerService/GetBuyerExposure";
const CHECK: &str = "/creditgate.v1.CreditDecisionService/CheckCreditLimit";

#[test]
fn token_new_prints_a_token_once_and_an_entry_that_accepts_it() {
    let (ok, output) = process::run(&[
        "token",
        "new",
        "--name",
        "erp-prod",
        "--roles",
        "ledger,analyst",
    ]);
    assert!(ok, "{output}");
    let token = output
        .lines()
        .find(|line| line.starts_with("cg_"))
        .unwrap_or_else(|| panic!("no token in:\n{output}"));
    assert_eq!(output.matches(token).count(), 1, "{output}");

    let entry = &output[output.find("[[tokens]]").expect("an entry")..];
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), entry).unwrap();
    let auth = Authenticator::load(file.path()).unwrap();
    let mut headers = http::HeaderMap::new();
    let bearer = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
    headers.insert(http::header::AUTHORIZATION, bearer);
    let caller = auth.authorize(EXPOSURE, &headers).unwrap().unwrap();
    assert_eq!(&*caller.name, "erp-prod");
    let denied = auth.authorize(CHECK, &headers).unwrap().unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let (_, again) = process::run(&["token", "new", "--name", "erp-prod", "--roles", "ledger"]);
    assert!(
        !again.contains(token),
        "a second token differs from the first"
    );
}

#[test]
fn token_new_refuses_what_the_tokens_file_would_refuse() {
    for (args, expected) in [
        (
            ["--name", "erp prod", "--roles", "ledger"],
            "--name: name may hold only",
        ),
        (
            ["--name", "erp", "--roles", "ledger,admin"],
            "--roles: unknown role \"admin\"",
        ),
        (
            ["--name", "erp", "--roles", "score,score"],
            "--roles: role score is listed twice",
        ),
    ] {
        let (ok, output) = process::run(&[&["token", "new"], args.as_slice()].concat());
        assert!(!ok, "{args:?} accepted:\n{output}");
        assert!(output.contains(expected), "{args:?}: {output}");
        assert!(!output.contains("cg_"), "no token printed: {output}");
    }
}
