use clap::Parser;

#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc returns freed pages to the system only from allocator calls unless it has its own purging
/// thread: after a burst (3,000 × 32 KB notifications awaiting ACKs, then expired) an idle server kept
/// ~100 MB resident; with the thread it is back to +3 MB within jemalloc's 10 s decay.
#[cfg(feature = "jemalloc")]
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8] = b"background_thread:true\0";

#[tokio::main]
async fn main() {
    let cli = ara::app::cli::Cli::parse();
    std::process::exit(ara::app::cli::run(cli).await);
}
