//! Turns a list of generic contract checks into one `#[tokio::test]` per check and backend:
//!
//! ```ignore
//! contract_suite!([check_a, check_b] for on_memory => Memory, on_redis => Redis);
//! ```
//! gives `on_memory::check_a`, `on_memory::check_b`, `on_redis::check_a`, … each running
//! `check::<Backend>()` on a multi-threaded runtime (the suites race tasks against each other).

macro_rules! contract_suite {
    ($checks:tt for $($module:ident => $backend:ty),+ $(,)?) => {
        $( contract_suite!(@module $module, $backend, $checks); )+
    };
    (@module $module:ident, $backend:ty, [$($check:ident),+ $(,)?]) => {
        mod $module {
            // The backend type is named in the suite's module.
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check::<$backend>().await;
                }
            )+
        }
    };
}

pub(crate) use contract_suite;
