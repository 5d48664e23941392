//! Where the values come from besides `FLASHFORGE__…`: the platform's conventional variables
//! (`PORT`, `DATABASE_URL`), secrets in files (`FLASHFORGE__AUTH__JWT_SECRET_FILE`, as Docker and
//! Kubernetes mount them), and the configuration folder, which must exist when named.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::problems::SettingsError;

/// Conventional variables, each read when its `FLASHFORGE__` key is unset.
const ALIASES: &[(&str, &str)] = &[
    ("PORT", "FLASHFORGE__SERVER__PORT"),
    ("DATABASE_URL", "FLASHFORGE__DATABASE__URL"),
];

/// Every secret setting, as its variable: each may instead be read from the file that
/// `<variable>_FILE` names.
pub const SECRET_VARIABLES: &[&str] = &[
    "FLASHFORGE__AUTH__JWT_SECRET",
    "FLASHFORGE__DATABASE__URL",
    "FLASHFORGE__CACHE__REDIS_URL",
    "FLASHFORGE__RATE_LIMIT__REDIS_URL",
    "FLASHFORGE__LLM__API_KEY",
    "FLASHFORGE__EMBEDDING__API_KEY",
    "FLASHFORGE__VECTOR__QDRANT_API_KEY",
    "FLASHFORGE__STORAGE__S3_ACCESS_KEY_ID",
    "FLASHFORGE__STORAGE__S3_SECRET_ACCESS_KEY",
    "FLASHFORGE__METRICS__TOKEN",
];

/// The `FLASHFORGE__…` variables from `vars`, with the aliases and the secret files resolved.
/// A secret file that cannot be read, or a secret set both ways, is an error naming the
/// variable (never the secret).
pub(super) fn settings_variables(
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<HashMap<String, String>, SettingsError> {
    let all: HashMap<String, String> = vars.into_iter().collect();
    let mut settings: HashMap<String, String> = all
        .iter()
        .filter(|(k, _)| k.starts_with("FLASHFORGE__") && !is_secret_file_variable(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for variable in SECRET_VARIABLES {
        let file_variable = format!("{variable}_FILE");
        let Some(path) = all.get(&file_variable) else {
            continue;
        };
        if settings.contains_key(*variable) {
            return Err(SettingsError::one(
                file_variable,
                format!("set either {variable} or {variable}_FILE, not both"),
            ));
        }
        let value = read_secret_file(Path::new(path))
            .map_err(|why| SettingsError::one(&file_variable, why))?;
        settings.insert((*variable).to_string(), value);
    }
    for (conventional, key) in ALIASES {
        if let Some(value) = all.get(*conventional)
            && !settings.contains_key(*key)
        {
            settings.insert((*key).to_string(), value.clone());
        }
    }
    Ok(settings)
}

fn is_secret_file_variable(key: &str) -> bool {
    key.strip_suffix("_FILE")
        .is_some_and(|variable| SECRET_VARIABLES.contains(&variable))
}

/// The file's text without its trailing newline (`echo` and editors add one).
fn read_secret_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the secret file {}: {e}", path.display()))?;
    let value = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if value.is_empty() {
        return Err(format!("the secret file {} is empty", path.display()));
    }
    Ok(value.to_string())
}

/// The folder of the TOML files: `FLASHFORGE_CONFIG_DIR` (which must be a folder), or `config`
/// in the working directory (which may be missing: built-in defaults then apply).
pub(super) fn checked_config_dir(named: Option<PathBuf>) -> Result<PathBuf, SettingsError> {
    match named {
        Some(dir) if dir.is_dir() => Ok(dir),
        Some(dir) => Err(SettingsError::one(
            "FLASHFORGE_CONFIG_DIR",
            format!(
                "{} is not a folder (missing or unreadable); point it at the folder holding default.toml",
                dir.display()
            ),
        )),
        None => Ok(PathBuf::from("config")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn port_and_database_url_apply_only_when_their_keys_are_unset() {
        let read = settings_variables(vars(&[
            ("PORT", "8123"),
            ("DATABASE_URL", "postgres://db/ff"),
            ("HOME", "/root"),
        ]))
        .unwrap();
        assert_eq!(read["FLASHFORGE__SERVER__PORT"], "8123");
        assert_eq!(read["FLASHFORGE__DATABASE__URL"], "postgres://db/ff");
        assert!(!read.contains_key("HOME"));
        let read = settings_variables(vars(&[
            ("PORT", "8123"),
            ("FLASHFORGE__SERVER__PORT", "9000"),
            ("DATABASE_URL", "postgres://db/ff"),
            ("FLASHFORGE__DATABASE__URL", "sqlite://ff.db"),
        ]))
        .unwrap();
        assert_eq!(read["FLASHFORGE__SERVER__PORT"], "9000");
        assert_eq!(read["FLASHFORGE__DATABASE__URL"], "sqlite://ff.db");
    }

    #[test]
    fn a_secret_file_is_read_without_its_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        for (i, (written, read)) in [
            ("s3cr3t-value\n", "s3cr3t-value"),
            ("s3cr3t-value\r\n", "s3cr3t-value"),
            ("s3cr3t-value", "s3cr3t-value"),
            ("two\nlines\n", "two\nlines"),
        ]
        .into_iter()
        .enumerate()
        {
            let path = dir.path().join(format!("secret-{i}"));
            std::fs::write(&path, written).unwrap();
            let path = path.display().to_string();
            for variable in SECRET_VARIABLES {
                let file_variable = format!("{variable}_FILE");
                let got = settings_variables(vars(&[(&file_variable, &path)])).unwrap();
                assert_eq!(got[*variable], read, "{variable}");
                assert!(!got.contains_key(&file_variable));
            }
        }
    }

    #[test]
    fn a_missing_or_doubled_secret_file_names_the_variable_not_the_secret() {
        let err = settings_variables(vars(&[(
            "FLASHFORGE__AUTH__JWT_SECRET_FILE",
            "/nonexistent/jwt",
        )]))
        .unwrap_err();
        assert_eq!(err.problems[0].0, "FLASHFORGE__AUTH__JWT_SECRET_FILE");
        assert!(err.problems[0].1.contains("/nonexistent/jwt"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("url");
        std::fs::write(&path, "redis://:hunter2@cache\n").unwrap();
        let err = settings_variables(vars(&[
            (
                "FLASHFORGE__CACHE__REDIS_URL_FILE",
                &path.display().to_string(),
            ),
            ("FLASHFORGE__CACHE__REDIS_URL", "redis://:other@cache"),
        ]))
        .unwrap_err();
        assert_eq!(err.problems[0].0, "FLASHFORGE__CACHE__REDIS_URL_FILE");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn a_named_config_folder_must_exist() {
        let err = checked_config_dir(Some(PathBuf::from("/nonexistent/config"))).unwrap_err();
        assert_eq!(err.problems[0].0, "FLASHFORGE_CONFIG_DIR");
        assert!(err.to_string().contains("/nonexistent/config"), "{err}");
        assert_eq!(checked_config_dir(None).unwrap(), PathBuf::from("config"));
    }
}
