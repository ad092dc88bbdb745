use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = ara::app::cli::Cli::parse();
    std::process::exit(ara::app::cli::run(cli).await);
}
