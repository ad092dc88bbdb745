//! The fuzz targets of `fuzz/targets.rs`, run the way CI can afford: every file of the target's corpus
//! (`fuzz/corpus/<target>`), then mutations of it — bit flips, interesting bytes, JSON tokens, deletions,
//! duplications and splices — for a bounded time (`ARA_FUZZ_SECONDS`, default 2 s per target) from a
//! seed that is printed (`ARA_FUZZ_SEED` replays it). A panic names the input that caused it.
//!
//! The long run is cargo-fuzz over the same targets (docs/RELIABILITY.md).

#[path = "../fuzz/targets.rs"]
mod targets;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Tokens that take a mutated input somewhere the parsers branch.
const DICTIONARY: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    "\n",
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1e999",
    "18446744073709551616",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "{{",
    "}}",
    "{{a}}",
    "{{ a.b.0 }}",
    "\"type\"",
    "\"payload\"",
    "\"channels\"",
    "\"Subscribe\"",
    "\"Ack\"",
    "\"notification_id\"",
    "\"target\"",
    "\"user\"",
    "\"users\"",
    "\"ids\"",
    "\"channel\"",
    "\"broadcast\"",
    "\"tenant_id\"",
    "\"event_type\"",
    "\"template_id\"",
    "\"variables\"",
    "\"priority\"",
    "\"ttl\"",
    "\"alg\"",
    "\"HS256\"",
    "\"none\"",
    "\"RS256\"",
    "\"sub\"",
    "\"exp\"",
    "\"nbf\"",
    "\"aud\"",
    "\"iss\"",
    "=",
    "true",
    "0x10",
    "99999999999",
    "é",
    "\u{202e}",
];

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the corpus {} cannot be read: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    let inputs: Vec<Vec<u8>> = files.iter().filter_map(|path| std::fs::read(path).ok()).collect();
    assert!(!inputs.is_empty(), "the corpus {} is empty", dir.display());
    inputs
}

fn mutate(rng: &mut fastrand::Rng, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.usize(1..=4) {
        let at = rng.usize(..=out.len());
        match rng.u8(..7) {
            0 if !out.is_empty() => {
                let i = rng.usize(..out.len());
                out[i] ^= 1 << rng.u8(..8);
            }
            1 if !out.is_empty() => {
                let i = rng.usize(..out.len());
                out[i] = *rng.choice(b"\0\x7f\xff\"{}[],:\\\n0-".iter()).unwrap_or(&0);
            }
            2 => {
                let token = rng.choice(DICTIONARY.iter()).copied().unwrap_or("");
                out.splice(at..at, token.bytes());
            }
            3 if !out.is_empty() => {
                let end = (at + rng.usize(1..=8)).min(out.len());
                out.drain(at.min(end)..end);
            }
            4 if !out.is_empty() => {
                let start = rng.usize(..out.len());
                let end = (start + rng.usize(1..=32)).min(out.len());
                let piece = out[start..end].to_vec();
                out.splice(at..at, piece);
            }
            5 => {
                let other = &corpus[rng.usize(..corpus.len())];
                let start = rng.usize(..=other.len());
                let piece = other[start..].to_vec();
                out.truncate(at);
                out.extend(piece);
            }
            _ => out.insert(at, rng.u8(..)),
        }
    }
    out.truncate(64 * 1024);
    out
}

fn run(name: &str) {
    let target = targets::TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f).expect("a known target");
    let inputs = corpus(name);
    let budget = std::env::var("ARA_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let seed = std::env::var("ARA_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    let check = |input: &[u8], what: &str| {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| target(input))) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()));
            panic!(
                "fuzz target {name} panicked on {what} (ARA_FUZZ_SEED={seed}): {}\ninput: {:?}",
                message.unwrap_or_default(),
                String::from_utf8_lossy(input)
            );
        }
    };
    for (i, input) in inputs.iter().enumerate() {
        check(input, &format!("corpus entry {i}"));
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    let started = Instant::now();
    let mut runs = 0u64;
    while started.elapsed() < Duration::from_secs_f64(budget) {
        let base = &inputs[rng.usize(..inputs.len())];
        let input = mutate(&mut rng, base, &inputs);
        check(&input, "a mutated input");
        runs += 1;
    }
    eprintln!(
        "fuzz {name}: {} corpus entries, {runs} mutated inputs in {:?} (seed {seed})",
        inputs.len(),
        started.elapsed()
    );
    assert!(runs > 0, "no mutated input ran");
}

#[test]
fn fuzz_client_frame() {
    run("client_frame");
}

#[test]
fn fuzz_pubsub_message() {
    run("pubsub_message");
}

#[test]
fn fuzz_template_render() {
    run("template_render");
}

#[test]
fn fuzz_token() {
    run("token");
}

#[test]
fn fuzz_settings() {
    run("settings");
}

#[test]
fn every_target_has_a_test_and_a_cargo_fuzz_binary() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let this = std::fs::read_to_string(root.join("tests/fuzz.rs")).expect("this file");
    for (name, _) in targets::TARGETS {
        assert!(this.contains(&format!("run(\"{name}\")")), "no test runs {name}");
        assert!(root.join(format!("fuzz/fuzz_targets/{name}.rs")).is_file(), "no cargo-fuzz binary for {name}");
    }
}
