//! A FlashForge server in this process, on the port its settings name (0: a free one).

use actix_web::dev::ServerHandle;
use flashforge::settings::Settings;
use flashforge::startup::{Application, Hooks};

/// A server this process runs, with the means to stop it.
pub struct Running {
    /// `http://127.0.0.1:port`, or `https://…` when TLS is on.
    pub address: String,
    /// The HTTP→HTTPS redirect listener's port, when TLS is on and one is configured.
    pub redirect_port: Option<u16>,
    /// The metrics listener's port, when `metrics.bind` is set.
    pub metrics_port: Option<u16>,
    handle: ServerHandle,
    stopped: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Builds the app from `settings` with `hooks` (signals are left to the test) and runs it
    /// on the current runtime.
    pub async fn start(settings: Settings, hooks: Hooks) -> Self {
        let hooks = Hooks {
            handle_signals: false,
            ..hooks
        };
        let scheme = if settings.server.tls_enabled() {
            "https"
        } else {
            "http"
        };
        let app = Application::build_with(settings, hooks)
            .await
            .expect("the app starts");
        let address = format!("{scheme}://127.0.0.1:{}", app.port());
        let redirect_port = app.redirect_port();
        let metrics_port = app.metrics_port();
        let handle = app.handle();
        let stopped = tokio::spawn(app.run_until_stopped());
        Self {
            address,
            redirect_port,
            metrics_port,
            handle,
            stopped,
        }
    }

    /// Sends the stop command at once, without waiting for it to complete.
    pub fn signal_stop(&self) {
        // The returned future only waits for completion.
        let _stopping = self.handle.stop(false);
    }

    /// Stops it: connections, then the background worker (a job running is cut off after
    /// `server.shutdown_timeout_secs`), then the pool.
    pub async fn stop(self) {
        self.handle.stop(false).await;
        let _ = self.stopped.await;
    }
}
