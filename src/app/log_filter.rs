//! Log filter directives (`LOG_LEVEL`, `RUST_LOG`) are checked before `tracing-subscriber` parses
//! them: its parser (0.3.23) slices directives by byte offsets and panics on some non-ASCII input
//! (`start byte index … is not a char boundary`), which would crash the start-up instead of naming
//! the setting. Targets, levels and span names are ASCII, so non-ASCII directives are refused.

use tracing_subscriber::EnvFilter;

/// Whether `directives` is a filter `EnvFilter` accepts, without letting its parser panic.
pub fn is_valid(directives: &str) -> bool {
    directives.is_ascii() && EnvFilter::try_new(directives).is_ok()
}

/// The filter from `RUST_LOG`, when it is set and valid (else the caller falls back to `LOG_LEVEL`).
pub fn from_rust_log() -> Option<EnvFilter> {
    let directives = std::env::var(EnvFilter::DEFAULT_ENV).ok()?;
    is_valid(&directives).then(|| EnvFilter::new(directives))
}

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn levels_and_targets_are_valid() {
        for ok in ["info", "warn", "ara=debug,info", "ara::adapters[span{field=1}]=trace", ""] {
            assert!(is_valid(ok), "{ok:?}");
        }
    }

    #[test]
    fn directives_that_crash_the_parser_are_refused() {
        // Found by the `settings` fuzz target: tracing-subscriber panics on this instead of failing.
        assert!(!is_valid("\u{20}\u{20}\u{20}_r~\0\0\0\u{fffd}=weke\u{fffd}"));
        assert!(!is_valid("ara=débug"));
        assert!(!is_valid("info=nonsense=1"));
    }
}
