//! Settings for tests and benchmarks: the repository's `config/` folder, the test secret and
//! password, the embedding model's folder, and the test environment's settings with overrides.

use std::path::PathBuf;

use flashforge::settings::{Environment, Settings};

/// The JWT secret of every test process; the log test proves it never reaches the log.
pub const TEST_JWT_SECRET: &str = "t3st-Only_9fQ2xLmZ8rVb4Nw7Kc1Hd6Jp0Sg5Ye";

/// The password every test account uses: long, and not guessable by zxcvbn.
pub const PASSWORD: &str = "correct horse battery staple";

/// The repository's `config/` folder.
pub fn config_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../config"))
}

/// Where the embedding model is (`make models`; `FLASHFORGE_MODEL_DIR` moves it).
pub fn model_dir() -> PathBuf {
    std::env::var_os("FLASHFORGE_MODEL_DIR")
        .map(Into::into)
        .unwrap_or_else(|| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../models/all-MiniLM-L6-v2").into()
        })
}

/// `pairs` as owned strings, as [`load`] takes them.
pub fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The test environment's settings (`config/test.toml`) with `vars` (`FLASHFORGE__…`) on top.
pub fn load(vars: impl IntoIterator<Item = (String, String)>) -> Settings {
    Settings::load_from(Environment::Test, &config_dir(), vars)
        .expect("test settings are valid")
        .0
}

/// The test configuration for `database_url`, with `overrides` as `FLASHFORGE__…` variables.
pub fn test_settings(database_url: &str, overrides: &[(&str, &str)]) -> Settings {
    let mut vars = owned(&[
        ("FLASHFORGE__AUTH__JWT_SECRET", TEST_JWT_SECRET),
        ("FLASHFORGE__DATABASE__URL", database_url),
        ("FLASHFORGE__DATABASE__MAX_CONNECTIONS", "5"),
        ("FLASHFORGE__SERVER__PORT", "0"),
        ("FLASHFORGE__SERVER__WORKERS", "1"),
        ("FLASHFORGE__SERVER__SHUTDOWN_TIMEOUT_SECS", "5"),
    ]);
    vars.extend(owned(overrides));
    load(vars)
}
