//! The control endpoint of a running job: one small HTTP API (one router, in `api`) on
//! 127.0.0.1 by default, its address written to the job's state directory so the CLI
//! finds it from the manifest alone. Off loopback every request needs the bearer token.
//!
//! - `api`: the routes, the job and its checkpoints; `swap_api`: swapping a function;
//!   `observe`: operators, dead letters and queryable state; `prometheus`: `/metrics`.
//! - `client`: the CLI's side: finding a job's endpoint and calling it.

pub mod api;
pub mod client;
mod observe;
mod prometheus;
mod swap_api;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

pub use api::ControlState;

/// What `control.json` in the state directory says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Address {
    /// `http://host:port`.
    pub url: String,
    /// The process serving it.
    pub pid: u32,
    /// The environment variable holding the token, if one is required.
    pub token_env: Option<String>,
}

/// A running endpoint; it stops when dropped.
pub struct ControlServer {
    /// Where it listens.
    pub addr: SocketAddr,
    file: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ControlServer {
    /// Binds `bind` and serves `state`; writes the address to `file`.
    pub fn start(
        bind: &str,
        token_env: Option<&str>,
        state: Arc<ControlState>,
        file: &Path,
    ) -> Result<Self> {
        let addr: SocketAddr = bind
            .parse()
            .with_context(|| format!("`{bind}` is not an address"))?;
        if !addr.ip().is_loopback() && state.token.is_none() {
            bail!(
                "the control endpoint on {addr} needs a bearer token (set the variable named by job.control.token_env)"
            );
        }
        let listener = std::net::TcpListener::bind(addr)
            .with_context(|| format!("binding the control endpoint to {addr}"))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let router = api::router(state.clone());
        let thread = std::thread::Builder::new()
            .name("weir-control".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::spawn(observe::sample_forever(state));
                    let _ = axum::serve(listener, router)
                        .with_graceful_shutdown(async {
                            let _ = rx.await;
                        })
                        .await;
                });
            })?;
        let address = Address {
            url: format!("http://{addr}"),
            pid: std::process::id(),
            token_env: token_env.map(str::to_owned),
        };
        crate::checkpoint::store::write_atomically(file, &serde_json::to_vec_pretty(&address)?)?;
        tracing::info!("control endpoint on http://{addr}");
        Ok(Self {
            addr,
            file: file.to_owned(),
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
