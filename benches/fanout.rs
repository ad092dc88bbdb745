//! Dispatcher fan-out microbenchmark (work in progress).
fn main() {}
