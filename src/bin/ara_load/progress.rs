//! A one-line status on stderr while the run goes: rewritten in place on a terminal, one line every
//! five seconds otherwise (logs, CI).

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::ctx::Ctx;
use crate::stats::Counters;

pub fn spawn(ctx: Arc<Ctx>, quiet: bool) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if quiet {
            return;
        }
        let tty = std::io::stderr().is_terminal();
        let every = if tty { Duration::from_secs(1) } else { Duration::from_secs(5) };
        let start = Instant::now();
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let (mut last_sent, mut last_recv) = (0, 0);
        let c = &ctx.counters;
        loop {
            tokio::select! {
                _ = ctx.stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            let (sent, recv) = (Counters::get(&c.sends), Counters::get(&c.received));
            let secs = every.as_secs_f64();
            let line = format!(
                "[{:>5.0}s] open {} / {} (failed {}) | sent {} ({:.0}/s, failed {}) | received {} ({:.0}/s)",
                start.elapsed().as_secs_f64(),
                Counters::get(&c.open),
                ctx.plan.connections,
                Counters::get(&c.connect_failed),
                sent,
                (sent - last_sent) as f64 / secs,
                Counters::get(&c.sends_failed),
                recv,
                (recv - last_recv) as f64 / secs,
            );
            (last_sent, last_recv) = (sent, recv);
            let mut err = std::io::stderr().lock();
            let _ = if tty { write!(err, "\r\x1b[2K{line}") } else { writeln!(err, "{line}") };
            let _ = err.flush();
        }
        if tty {
            let _ = writeln!(std::io::stderr());
        }
    })
}
