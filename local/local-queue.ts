/**
 * An in-process queue with SQS's rules, for local mode: a received message is invisible for
 * the visibility timeout; unless deleted (handled) it comes back; after maxReceiveCount
 * receives it moves to the dead-letter list with the last failure's reason. Message bodies
 * are the same JSON strings SQS carries.
 */
export interface LocalMessage {
  readonly messageId: string;
  readonly body: string;
  receiveCount: number;
  visibleAt: number;
  lastError?: string;
}

export interface DeadLetter {
  readonly messageId: string;
  readonly body: string;
  readonly receiveCount: number;
  readonly reason: string;
}

export interface LocalQueueOptions {
  readonly visibilityTimeoutMs: number;
  readonly maxReceiveCount: number;
}

export class LocalQueue {
  private readonly messages: LocalMessage[] = [];
  readonly deadLetters: DeadLetter[] = [];
  private sequence = 0;
  private waiters: (() => void)[] = [];

  constructor(readonly options: LocalQueueOptions) {}

  send(body: string): void {
    this.messages.push({ messageId: `local-${++this.sequence}`, body, receiveCount: 0, visibleAt: 0 });
    this.wake();
  }

  /** The next visible message, now invisible for the visibility timeout; null when none is visible. */
  receive(now = Date.now()): LocalMessage | null {
    for (;;) {
      const message = this.messages.find((m) => m.visibleAt <= now);
      if (!message) return null;
      if (message.receiveCount >= this.options.maxReceiveCount) {
        this.remove(message);
        this.deadLetters.push({
          messageId: message.messageId,
          body: message.body,
          receiveCount: message.receiveCount,
          reason: message.lastError ?? 'visibility timeout expired without a result',
        });
        continue;
      }
      message.receiveCount++;
      message.visibleAt = now + this.options.visibilityTimeoutMs;
      return message;
    }
  }

  /** Handled: gone for good. */
  delete(message: LocalMessage): void {
    this.remove(message);
    this.wake();
  }

  /** Failed: remembered, and visible again when its visibility timeout ends. */
  fail(message: LocalMessage, reason: string): void {
    message.lastError = reason;
    this.wake();
  }

  get inFlight(): number {
    return this.messages.length;
  }

  /** Resolves when something changes (a send, a delete, a failure) or after `ms`. */
  changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const waiter = () => done();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.waiters.push(waiter);
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private remove(message: LocalMessage): void {
    const i = this.messages.indexOf(message);
    if (i >= 0) this.messages.splice(i, 1);
  }
}
