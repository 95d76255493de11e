/**
 * Fault injection for the local S3 front: S3's throttling (503 SlowDown), connection resets and
 * stalls, each on a share of requests, so that tests (and `serve --faults`) can check that the
 * pipeline's clients ride out what S3 does under load. Draws come from a seeded generator: the
 * same requests in the same order get the same faults.
 */
import * as z from 'zod';

const share = z.number().min(0).max(1);

const regex = z.union([z.instanceof(RegExp), z.string()]).transform((value, ctx) => {
  if (value instanceof RegExp) return value;
  try {
    return new RegExp(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `not a regular expression: ${String(error)}` });
    return z.NEVER;
  }
});

/** Which requests a fault may hit; both conditions must hold. */
const AimSchema = z
  .object({
    /** HTTP methods, e.g. ['GET']. */
    methods: z
      .array(z.string().regex(/^[A-Za-z]+$/))
      .nonempty()
      .transform((ms) => ms.map((m) => m.toUpperCase()))
      .optional(),
    /** Tested on the object key, or on a listing's `prefix` (e.g. '^inbox/'). */
    key: regex.optional(),
  })
  .strict();

/** When a fault is on, in ms since the faults were set, and how many times at most it fires. */
const timing = {
  fromMs: z.number().nonnegative().optional(),
  untilMs: z.number().positive().optional(),
  limit: z.number().int().positive().optional(),
  only: AimSchema.optional(),
};

export const FaultOptionsSchema = z
  .object({
    seed: z.number().int().default(1),
    /** Applies to every fault below. */
    only: AimSchema.optional(),
    /** Answer 503 SlowDown, as S3 does when a prefix takes more requests than it can serve. */
    slowDown: z
      .object({ rate: share, ...timing })
      .strict()
      .optional(),
    /**
     * Destroy the client's connection: `request` before anything is forwarded (the store never
     * sees it); `response` after the store has answered, partway through the body when there is
     * one (a write has then happened though its client saw a reset).
     */
    reset: z
      .object({ rate: share, at: z.enum(['request', 'response']).default('request'), ...timing })
      .strict()
      .optional(),
    /** Hold the request this long before forwarding it; without `ms`, until the client gives up. */
    stall: z
      .object({ rate: share, ms: z.number().positive().optional(), ...timing })
      .strict()
      .optional(),
  })
  .strict();

export type FaultOptions = z.input<typeof FaultOptionsSchema>;
type ParsedFaults = z.output<typeof FaultOptionsSchema>;
type Aim = z.output<typeof AimSchema>;
type FaultName = 'stall' | 'slowDown' | 'reset';

/** What to do to one request; all absent means forward it untouched. */
export interface FaultDecision {
  /** Milliseconds to hold it, or 'forever' (until the client closes the connection). */
  readonly stall?: number | 'forever';
  readonly slowDown?: boolean;
  readonly reset?: 'request' | 'response';
}

/** mulberry32: small, fast and good enough to spread faults; seeded so runs repeat. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const aimed = (aim: Aim | undefined, method: string, target: string) =>
  !aim || ((!aim.methods || aim.methods.includes(method)) && (!aim.key || aim.key.test(target)));

export class FaultInjector {
  private faults: ParsedFaults = FaultOptionsSchema.parse({});
  private random = seededRandom(1);
  private setAt = performance.now();
  private fired: Record<FaultName, number> = { stall: 0, slowDown: 0, reset: 0 };

  constructor(options: FaultOptions = {}) {
    this.set(options);
  }

  /** Replaces every fault (an empty object turns them all off) and restarts the clock and the draws. */
  set(options: FaultOptions): void {
    this.faults = FaultOptionsSchema.parse(options);
    this.random = seededRandom(this.faults.seed);
    this.setAt = performance.now();
    this.fired = { stall: 0, slowDown: 0, reset: 0 };
  }

  /** `target`: the object key, or a listing's prefix. */
  decide(method: string, target: string): FaultDecision {
    const { faults } = this;
    if (!aimed(faults.only, method, target)) return {};
    const elapsed = performance.now() - this.setAt;
    // One draw per applicable fault, in a fixed order, so that a seed replays the same faults.
    const hits = (name: FaultName) => {
      const fault = faults[name];
      if (!fault || !aimed(fault.only, method, target)) return false;
      if (elapsed < (fault.fromMs ?? 0) || elapsed >= (fault.untilMs ?? Number.POSITIVE_INFINITY)) return false;
      if (fault.limit !== undefined && this.fired[name] >= fault.limit) return false;
      if (this.random() >= fault.rate) return false;
      this.fired[name]++;
      return true;
    };
    const stall = hits('stall');
    const slowDown = hits('slowDown');
    // A request answered SlowDown is not also reset: one fault per answer.
    const reset = !slowDown && hits('reset');
    return {
      ...(stall ? { stall: faults.stall?.ms ?? 'forever' } : {}),
      ...(slowDown ? { slowDown } : {}),
      ...(reset ? { reset: faults.reset?.at ?? 'request' } : {}),
    };
  }
}
