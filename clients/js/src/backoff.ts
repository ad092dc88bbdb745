/** Exponential back-off with jitter, so that clients cut off together do not come back together. */

export interface BackoffOptions {
  /** Delay before the first retry, in ms (default 500). */
  initialDelayMs?: number;
  /** Upper bound of any delay, in ms (default 30000). */
  maxDelayMs?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /**
   * Share of each delay that is random, 0..1 (default 0.5): the delay is drawn from
   * `[d * (1 - jitter), d]` where `d` is the exponential delay.
   */
  jitter?: number;
}

export class Backoff {
  private attempt = 0;
  private readonly initial: number;
  private readonly max: number;
  private readonly factor: number;
  private readonly jitter: number;

  constructor(
    options: BackoffOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    this.initial = Math.max(0, options.initialDelayMs ?? 500);
    this.max = Math.max(this.initial, options.maxDelayMs ?? 30_000);
    this.factor = Math.max(1, options.factor ?? 2);
    this.jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
  }

  /** Attempts since the last success. */
  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next attempt; each call counts one attempt. */
  next(): number {
    const exponential = Math.min(this.max, this.initial * Math.pow(this.factor, this.attempt));
    this.attempt += 1;
    return Math.round(exponential * (1 - this.jitter * this.random()));
  }

  reset(): void {
    this.attempt = 0;
  }
}
