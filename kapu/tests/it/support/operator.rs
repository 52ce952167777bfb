//! Operators in tests: created the way `kapu operator create` does, signed
//! in through `/ops/login` with a real TOTP code.

use super::TestApp;
use super::merchant::Browser;

/// An operator's credentials as the CLI prints them.
pub struct OperatorLogin {
    pub email: String,
    pub password: String,
    pub secret_b32: String,
}

/// The TOTP code of `secret_b32` for the 30-second step `steps` away from now.
pub fn totp_code(secret_b32: &str, steps: i64) -> String {
    let secret = totp_rs::Secret::Encoded(secret_b32.to_string()).to_bytes().expect("base32");
    let t = (chrono::Utc::now().timestamp() + steps * 30).max(0) as u64;
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, secret).generate(t)
}

pub async fn create_operator(app: &TestApp, email: &str) -> OperatorLogin {
    let op = kapu_platform::ops::login::create_operator_account(&app.db, &app.master, email).await.expect("operator");
    OperatorLogin { email: email.into(), password: op.password, secret_b32: op.totp_secret_base32 }
}

/// A browser signed in to `/ops` as a new operator `email`.
pub async fn signed_in_operator(app: &TestApp, email: &str) -> (Browser, OperatorLogin) {
    let login = create_operator(app, email).await;
    let mut b = Browser::new(app);
    let code = totp_code(&login.secret_b32, 0);
    let p = b.post("/ops/login", &[("email", &login.email), ("password", &login.password), ("code", &code)]).await;
    assert_eq!(p.status, 303, "operator sign-in: {}", p.body);
    (b, login)
}
