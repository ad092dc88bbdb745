//! The `ara` command line: `serve` (default), `openapi`, `token`, `checktoken`, `config` and
//! `healthcheck`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use super::config::Settings;
use super::{telemetry, Application};
use crate::adapters::auth::{JwtAuth, JwtSettings};

#[derive(Debug, Parser)]
#[command(name = "ara", version, about = "Ara real-time notification service")]
pub struct Cli {
    /// TOML configuration file (environment variables still win).
    #[arg(long, global = true, env = "ARA_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Print the OpenAPI description of the HTTP API (as committed in openapi/openapi.json).
    Openapi,
    /// Print a JWT signed with the configured secret, for trying Ara out.
    Token {
        /// The user id (`sub` claim).
        #[arg(long)]
        user: String,
        /// The tenant (`tenant_id` claim); omitted means `default`.
        #[arg(long)]
        tenant: Option<String>,
        /// How long the token is valid, e.g. 30m, 1h, 7d.
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        ttl: Duration,
    },
    /// Check a client's JWT as this server would: who it is, which tenant, when it expires, or why
    /// it is refused (exit 1).
    Checktoken {
        /// The token (`-` reads it from standard input; a `Bearer ` prefix is ignored).
        token: String,
    },
    /// Print the effective settings, secrets masked, and where each came from.
    Config {
        /// JSON instead of `KEY=value  # source` lines.
        #[arg(long)]
        json: bool,
    },
    /// Exit 0 when the server on this host answers /health/live (or /health) with 2xx, 1 otherwise.
    Healthcheck {
        /// Ask this URL instead (default: SERVER_HOST/SERVER_PORT, a wildcard host as loopback).
        #[arg(long)]
        url: Option<String>,
        #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
        timeout: Duration,
    },
}

/// Runs the command line; returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    // The spec needs no configuration, so it prints even where the environment is not set up.
    if matches!(cli.command, Some(Command::Openapi)) {
        print!("{}", crate::app::spec::openapi_json());
        return 0;
    }
    // It reports a configuration that does not load, too, and which source set the bad value.
    if let Some(Command::Config { json }) = cli.command {
        return super::cli_config::run(cli.config.as_deref(), json);
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ara: {e}");
            return 2;
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Token { user, tenant, ttl } => print_token(&settings, &user, tenant.as_deref(), ttl),
        Command::Serve => serve(settings).await,
        Command::Checktoken { token } => super::cli_checktoken::run(&settings, &token).await,
        Command::Healthcheck { url, timeout } => super::cli_healthcheck::run(&settings, url.as_deref(), timeout).await,
        Command::Openapi | Command::Config { .. } => 0,
    }
}

fn print_token(settings: &Settings, user: &str, tenant: Option<&str>, ttl: Duration) -> i32 {
    if let Err(e) = crate::domain::UserId::parse(user) {
        eprintln!("ara: --user: {e}");
        return 2;
    }
    if let Some(Err(e)) = tenant.map(crate::domain::TenantId::parse) {
        eprintln!("ara: --tenant: {e}");
        return 2;
    }
    let jwt = JwtAuth::new(JwtSettings {
        secret: settings.jwt_secret().to_owned(),
        issuer: settings.jwt.issuer.clone(),
        audience: settings.jwt.audience.clone(),
    });
    match jwt.mint(user, tenant, ttl.as_secs().max(1)) {
        Ok(token) => {
            println!("{token}");
            0
        }
        Err(e) => {
            eprintln!("ara: cannot sign token: {e}");
            1
        }
    }
}

async fn serve(settings: Settings) -> i32 {
    let telemetry = match telemetry::init(&settings) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("ara: {e}");
            return 1;
        }
    };
    super::fd_limit::raise_to_hard_limit();
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            // The whole chain: "QUEUE_BACKEND: cannot open the postgres store: …: connection refused".
            let chain = crate::domain::ErrorChain(&e);
            tracing::error!("{chain}");
            eprintln!("ara: {chain}");
            return 1;
        }
    };
    tracing::info!(addr = %app.local_addr(), version = env!("CARGO_PKG_VERSION"), "ara listening");
    let token = app.shutdown_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown signal received, closing connections");
        token.cancel();
    });
    let code = match app.run_until_stopped().await {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("server error: {}", crate::domain::ErrorChain(&e));
            1
        }
    };
    // Spans still buffered in the batch processor are exported before the process exits.
    telemetry.shutdown().await;
    code
}

async fn wait_for_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
