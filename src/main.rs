use clap::Parser;

#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() {
    let cli = ara::app::cli::Cli::parse();
    std::process::exit(ara::app::cli::run(cli).await);
}
