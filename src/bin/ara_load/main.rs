//! `ara-load`: Ara's load generator. It opens WebSocket or SSE clients and HTTP senders against a
//! server on this machine, measures connection success, latency (HDR histograms), throughput, loss,
//! duplicates and server memory, prints a summary (or JSON), and exits non-zero when a threshold fails.
//! See docs/LOAD_TESTING.md.

#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod churn;
mod cli;
mod ctx;
mod drive;
mod fleet;
mod http;
mod net;
mod plan;
mod progress;
mod report;
mod scenario;
mod stats;
mod sys;
mod ws;

use clap::Parser;

use crate::cli::Args;
use crate::ctx::{Auth, Ctx};
use crate::net::{parse_server, Sources};
use crate::plan::Plan;
use crate::report::Limits;

fn main() {
    let args = Args::parse();
    std::process::exit(match prepare(&args) {
        Ok((ctx, limits)) => run(args, ctx, limits),
        Err(e) => {
            eprintln!("ara-load: {e}");
            2
        }
    });
}

fn prepare(args: &Args) -> Result<(std::sync::Arc<Ctx>, Limits), String> {
    let server = parse_server(&args.url)?;
    let (plan, max_p99_ms) = Plan::resolve(args)?;
    let fd_limit = sys::raise_fd_limit();
    // Each client holds one descriptor; senders, the runtime and stdio need a few more.
    let needed = (plan.connections + plan.senders + 64) as u64;
    if fd_limit > 0 && needed > fd_limit {
        return Err(format!(
            "{} connections need about {needed} file descriptors but this process may open {fd_limit} \
             (the hard limit); lower --connections or run several ara-load processes",
            plan.connections
        ));
    }
    let sources = Sources::new(&server, args.source_ips);
    let ports = sources.len() * 28_000;
    if plan.connections + plan.senders > ports {
        return Err(format!(
            "{} connections do not fit in the ephemeral ports of {} source addresses; raise --source-ips",
            plan.connections,
            sources.len()
        ));
    }
    let auth = Auth {
        secret: args.jwt_secret.clone().unwrap_or_else(|| ara::app::config::DEV_JWT_SECRET.to_owned()),
        issuer: args.jwt_issuer.clone(),
        audience: args.jwt_audience.clone(),
    };
    let limits = Limits {
        min_connect_success: args.min_connect_success,
        max_p99_ms,
        max_loss: args.max_loss,
        max_error_rate: args.max_error_rate,
    };
    let clients = args.client_urls.iter().map(|u| parse_server(u)).collect::<Result<Vec<_>, _>>()?;
    let ctx = Ctx::new(server, sources, plan, auth, args.api_key.clone(), args.run_id.clone());
    Ok((ctx.with_clients(clients), limits))
}

fn run(args: Args, ctx: std::sync::Arc<Ctx>, limits: Limits) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ara-load: cannot start the runtime: {e}");
            return 2;
        }
    };
    runtime.block_on(async {
        let progress = progress::spawn(ctx.clone(), args.quiet);
        let deadline = ctx.plan.deadline();
        let outcome = match tokio::time::timeout(deadline, scenario::run(&ctx, args.server_pid)).await {
            Ok(result) => result,
            Err(_) => Err(format!("the run exceeded its deadline of {} s and was stopped", deadline.as_secs())),
        };
        ctx.stop.cancel();
        let _ = progress.await;
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                eprintln!("ara-load: {e}");
                return 1;
            }
        };
        let report = report::build(&ctx, args.url.clone(), outcome, &limits);
        if args.json {
            match serde_json::to_string_pretty(&report) {
                Ok(json) => println!("{json}"),
                Err(e) => eprintln!("ara-load: cannot write JSON: {e}"),
            }
        } else {
            print!("{}", report::table(&report));
        }
        i32::from(!report.passed)
    })
}
