/**
 * The frames sent on one connection that wait for their answer. The server handles a connection's
 * frames one at a time and answers each once, in order (`subscribed`, `unsubscribed`, `pong`, `acked`
 * or an `error`), so the oldest waiting request owns the next answer.
 */

import { AraError } from './errors.js';
import type { ServerFrame } from './types.js';

export type PendingKind = 'subscribe' | 'unsubscribe' | 'ping' | 'ack' | 'refresh';

/** The answer each kind expects; `refresh` takes whatever a newer server answers with. */
const EXPECTED: Record<PendingKind, string | undefined> = {
  subscribe: 'subscribed',
  unsubscribe: 'unsubscribed',
  ping: 'pong',
  ack: 'acked',
  refresh: undefined,
};

const REPLIES = new Set(Object.values(EXPECTED).filter((t): t is string => t !== undefined));

interface Entry {
  kind: PendingKind;
  resolve(frame: ServerFrame): void;
  reject(error: AraError): void;
  timer: ReturnType<typeof setTimeout>;
}

export class Pending {
  private readonly queue: Entry[] = [];

  get size(): number {
    return this.queue.length;
  }

  /** Waits for the answer; rejects with `REPLY_TIMEOUT` after `timeoutMs`. */
  add(kind: PendingKind, timeoutMs: number): Promise<ServerFrame> {
    return new Promise((resolve, reject) => {
      const entry: Entry = {
        kind,
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.queue.indexOf(entry);
          if (i >= 0) this.queue.splice(i, 1);
          // A server may take a new token without a word; only a refusal says otherwise.
          if (kind === 'refresh') return resolve({ type: 'refresh-accepted' });
          reject(new AraError('REPLY_TIMEOUT', `no answer to ${kind} within ${timeoutMs} ms`, { source: 'client' }));
        }, timeoutMs),
      };
      this.queue.push(entry);
    });
  }

  /** A non-error frame: the answer to the oldest request, if it is of the kind that answers so. */
  answer(frame: ServerFrame): boolean {
    const head = this.queue[0];
    if (!head) return false;
    const expected = EXPECTED[head.kind];
    if (head.kind === 'refresh' && REPLIES.has(frame.type)) {
      // The answer to a later frame came first: the Refresh was taken without one.
      this.queue.shift();
      clearTimeout(head.timer);
      head.resolve({ type: 'refresh-accepted' });
      return this.answer(frame);
    }
    if (expected !== undefined && expected !== frame.type) return false;
    this.queue.shift();
    clearTimeout(head.timer);
    head.resolve(frame);
    return true;
  }

  /** An `error` frame: the refusal of the oldest request. */
  fail(code: string, message: string): void {
    const head = this.queue.shift();
    if (!head) return;
    clearTimeout(head.timer);
    head.reject(new AraError(code, message, { source: head.kind === 'ack' ? 'ack' : head.kind === 'subscribe' ? 'subscribe' : 'frame' }));
  }

  failAll(error: AraError): void {
    for (const entry of this.queue.splice(0)) {
      clearTimeout(entry.timer);
      entry.reject(error);
    }
  }
}
