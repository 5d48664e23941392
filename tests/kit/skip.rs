//! Skip-or-require: what a test needs and this machine may lack (Postgres, Redis, the model).
//! Without it the test is skipped with a notice, unless its `FLASHFORGE_REQUIRE_…` variable is
//! `1`, which makes that a failure.

use std::io::Write;

/// Whether `var` (`FLASHFORGE_REQUIRE_POSTGRES`, …) is `1`.
pub fn required(var: &str) -> bool {
    std::env::var(var).as_deref() == Ok("1")
}

/// Fails with `{var}=1 but {why}` when `var` requires what is missing.
pub fn fail_if_required(var: &str, why: &str) {
    assert!(!required(var), "{var}=1 but {why}");
}

/// The notice that a test is skipped because of `why`, on stderr (written past the test
/// harness's capture).
pub fn notice(var: &str, why: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! SKIPPED: {why}. Set {var}=1 to make this an error. !!!!!!!!\n"
    );
}

/// A test that cannot run here because of `why`: a failure when `var` requires it, otherwise
/// skipped with a notice.
pub fn skip(var: &str, why: &str) {
    fail_if_required(var, why);
    notice(var, why);
}
