//! Operating the binary: its metrics from the first request, configuration files found (or
//! refused), secrets read from files, the health check, guarded destructive commands, and shell
//! completions.

use std::process::Stdio;

use flashforge_tests::process::{Process, free_port, raw_get, wait_until_live};

use super::{GOOD_SECRET, flashforge, run};

/// The value of the first sample named exactly `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

/// A fresh process counts the requests made before its first scrape, and names every metric
/// `flashforge_…` with a `# HELP`, next to its build and the process's own metrics.
#[test]
fn the_first_scrape_counts_the_requests_made_before_it() {
    let port = free_port();
    let metrics_port = free_port();
    let (port_text, bind) = (port.to_string(), format!("127.0.0.1:{metrics_port}"));
    let mut child = Process(
        flashforge(
            "test",
            &[
                ("FLASHFORGE__DATABASE__URL", "memory://"),
                ("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET),
                ("FLASHFORGE__SERVER__PORT", &port_text),
                ("FLASHFORGE__METRICS__BIND", &bind),
            ],
        )
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn"),
    );
    wait_until_live(port, &mut child);
    for _ in 0..3 {
        let answer = raw_get(port, "/health/ready").unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let answer = raw_get(metrics_port, "/metrics").unwrap();
    let (_, text) = answer.split_once("\r\n\r\n").unwrap();
    let series =
        r#"flashforge_http_requests_total{method="GET",route="/health/ready",status="200"}"#;
    let counted = sample(text, series).unwrap_or_else(|| panic!("{series} in:\n{text}"));
    assert!(counted >= 3.0, "{counted}:\n{text}");

    let version = env!("CARGO_PKG_VERSION");
    let build = text
        .lines()
        .find(|l| l.starts_with("flashforge_build_info{"))
        .unwrap_or_else(|| panic!("build info in:\n{text}"));
    assert!(
        build.contains(&format!(r#"version="{version}""#)),
        "{build}"
    );
    assert!(build.contains("commit=\""), "{build}");
    assert!(build.ends_with(" 1"), "{build}");

    // Every metric family has a HELP line, and every application metric the prefix.
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split_whitespace().nth(2).unwrap();
        assert!(
            name.starts_with("flashforge_") || name.starts_with("process_"),
            "{name} has no prefix"
        );
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "no HELP for {name}"
        );
    }
    for name in [
        "flashforge_http_request_duration_seconds_bucket{",
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_open_fds ",
    ] {
        assert!(text.contains(name), "{name} in:\n{text}");
    }
}

/// A configuration folder that is named but missing stops the process with a message naming it.
#[test]
fn a_missing_config_dir_is_refused_with_a_clear_message() {
    let out = flashforge("test", &[("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET)])
        .env("FLASHFORGE_CONFIG_DIR", "/nonexistent/flashforge-config")
        .args(["config", "check"])
        .output()
        .expect("run flashforge");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("FLASHFORGE_CONFIG_DIR")
            && stderr.contains("/nonexistent/flashforge-config"),
        "{stderr}"
    );
}

/// Started from a folder without `config/`, the process says it runs on built-in defaults.
#[test]
fn without_a_config_folder_a_warning_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = flashforge("test", &[("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET)]);
    command
        .env_remove("FLASHFORGE_CONFIG_DIR")
        .current_dir(dir.path());
    let out = command.args(["config", "check"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no configuration file in"), "{stderr}");
}

/// `PORT`, `DATABASE_URL` and a secret from a file (its newline dropped) make the configuration.
#[test]
fn port_database_url_and_secret_files_configure_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("jwt");
    std::fs::write(&secret_file, format!("{GOOD_SECRET}\n")).unwrap();
    let db_file = dir.path().join("db-url");
    std::fs::write(&db_file, "postgres://app:file-pass-77@db/ff\n").unwrap();
    let (secret_path, db_path) = (
        secret_file.display().to_string(),
        db_file.display().to_string(),
    );
    let out = run(
        "staging",
        &[
            ("FLASHFORGE__AUTH__JWT_SECRET_FILE", &secret_path),
            ("FLASHFORGE__DATABASE__URL_FILE", &db_path),
            ("PORT", "9321"),
        ],
        &["config", "check"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(config["server"]["port"], 9321);
    assert_eq!(config["auth"]["jwt_secret"], "[REDACTED]");

    // DATABASE_URL applies when the FLASHFORGE key is unset: a MySQL one is refused by name.
    let out = run(
        "test",
        &[
            ("FLASHFORGE__AUTH__JWT_SECRET_FILE", &secret_path),
            ("DATABASE_URL", "mysql://db/ff"),
        ],
        &["config", "check"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("database.url"));

    // A missing file names the variable.
    let out = run(
        "staging",
        &[("FLASHFORGE__AUTH__JWT_SECRET_FILE", "/nonexistent/jwt")],
        &["config", "check"],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("FLASHFORGE__AUTH__JWT_SECRET_FILE"),
        "{stderr}"
    );
}

/// `migrate fresh` destroys data: outside development it needs `--yes`.
#[test]
fn migrate_fresh_needs_yes_outside_development() {
    let dir = tempfile::tempdir().unwrap();
    let url = flashforge_tests::database::sqlite_url(&dir.path().join("ff.db"));
    let vars = [
        ("FLASHFORGE__DATABASE__URL", url.as_str()),
        ("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET),
    ];
    assert!(run("staging", &vars, &["migrate", "up"]).status.success());
    let refused = run("staging", &vars, &["migrate", "fresh"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--yes"), "{stderr}");
    let status = run("staging", &vars, &["migrate", "status"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("create_users\tapplied"));

    // With --yes (or in development) the guard lets it through. (Whether SQLite then rebuilds
    // cleanly is the migrations' business: `fresh` on SQLite currently fails inside sea-orm.)
    for (env, args) in [
        ("staging", &["migrate", "fresh", "--yes"][..]),
        ("development", &["migrate", "fresh"][..]),
    ] {
        let out = run(env, &vars, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("pass --yes"), "{env}: {stderr}");
    }
}

#[test]
fn completions_print_a_script_naming_the_subcommands() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run("test", &[], &["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains("flashforge"), "{shell}: {script}");
        assert!(
            script.contains("migrate") && script.contains("healthcheck"),
            "{shell}"
        );
    }
    assert!(!run("test", &[], &["completions", "tcsh"]).status.success());
}

/// `flashforge healthcheck` is 0 while the API is ready and non-zero when nothing answers; with
/// `--worker` it reads the heartbeat a running worker keeps fresh.
#[test]
fn healthcheck_follows_the_api_and_the_worker_heartbeat() {
    let port = free_port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let heartbeat = dir.path().join("worker.heartbeat").display().to_string();
    let vars = [
        ("FLASHFORGE__DATABASE__URL", "memory://"),
        ("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET),
        ("FLASHFORGE__SERVER__PORT", port.as_str()),
        ("FLASHFORGE__WORKER__HEARTBEAT_FILE", heartbeat.as_str()),
    ];
    let down = run("test", &vars, &["healthcheck"]);
    assert!(!down.status.success());
    let no_worker = run("test", &vars, &["healthcheck", "--worker"]);
    assert!(!no_worker.status.success());
    assert!(String::from_utf8_lossy(&no_worker.stderr).contains("heartbeat"));

    let mut server = Process(
        flashforge("test", &vars)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until_live(port.parse().unwrap(), &mut server);
    let up = run("test", &vars, &["healthcheck"]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );

    let _worker = Process(
        flashforge("test", &vars)
            .arg("worker")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !run("test", &vars, &["healthcheck", "--worker"])
        .status
        .success()
    {
        assert!(std::time::Instant::now() < deadline, "no heartbeat");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
