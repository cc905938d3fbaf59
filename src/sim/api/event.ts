/** event.from / event.inject (reference xenapi.md §2 "event"). */
import { Change } from '../db';
import { fail } from '../failure';
import { I4, WireValue } from '../wire';
import { CLASSES } from '../records';
import { ApiCtx, def, num, str, strList } from './registry';

const pad = (n: number) => String(n).padStart(20, '0');
export const tokenOf = (gen: number) => `${pad(gen)},${pad(0)}`;

function parseToken(token: string): number {
  if (token === '') return -1;
  const m = /^(\d+),(\d+)$/.exec(token);
  if (!m) fail('EVENT_FROM_TOKEN_PARSE_FAILURE', token);
  return Number(m[1]);
}

interface Subscription {
  all: boolean;
  classes: Set<string>;
  refs: Set<string>;
}

function parseSubscription(classes: string[]): Subscription {
  const sub: Subscription = { all: false, classes: new Set(), refs: new Set() };
  const known = new Map(CLASSES.map((c) => [c.toLowerCase(), c]));
  for (const s of classes) {
    if (s === '*') {
      sub.all = true;
      continue;
    }
    const [cls, ref] = s.split('/');
    const c = known.get(cls.toLowerCase());
    if (!c) {
      if (cls.toLowerCase() === 'message' || cls.toLowerCase() === 'session') continue;
      fail('EVENT_SUBSCRIPTION_PARSE_FAILURE', s);
    }
    if (ref) sub.refs.add(ref);
    else sub.classes.add(c);
  }
  return sub;
}

const matches = (sub: Subscription, c: Change) => sub.all || sub.classes.has(c.cls) || sub.refs.has(c.ref);

async function eventFrom(ctx: ApiCtx, args: unknown[]): Promise<WireValue> {
  const [classesArg, tokenArg, timeoutArg] = args;
  const sub = parseSubscription(strList(classesArg));
  const since = parseToken(str(tokenArg));
  const timeout = num(timeoutArg, 'float');
  const { db } = ctx.pool;
  const deadline = ctx.sim.clock.now() + timeout * 1000;
  for (;;) {
    const changes = db.changesSince(since); // never EVENTS_LOST: real event.from does not raise it (reference K3)
    const wanted = changes.filter((c) => matches(sub, c));
    const now = ctx.sim.clock.now();
    if (wanted.length > 0 || now >= deadline) {
      wanted.sort((a, b) => (a.deleted ?? a.modified) - (b.deleted ?? b.modified));
      const events = wanted.map((c) => {
        const base = { id: String(c.deleted ?? c.modified), timestamp: '0.0', class: c.cls.toLowerCase(), ref: c.ref };
        if (c.deleted !== undefined) return { ...base, operation: 'del' };
        return { ...base, operation: since < 0 || c.created > since ? 'add' : 'mod', snapshot: db.encoded(c.cls, c.ref) };
      });
      const counts: Record<string, WireValue> = {};
      for (const cls of CLASSES) if (sub.all || sub.classes.has(cls)) counts[cls.toLowerCase()] = new I4(db.refs(cls).length);
      return { events, valid_ref_counts: counts, token: tokenOf(db.generation) };
    }
    // Block until something changes or the timeout passes (clock time).
    const wake = new AbortController();
    const unsubscribe = db.onNextChange(() => wake.abort());
    try {
      await ctx.sim.clock.sleep(deadline - now, AbortSignal.any([wake.signal, ctx.signal, ctx.sim.stopper.signal]));
    } catch {
      if (ctx.signal.aborted || ctx.sim.stopper.signal.aborted) fail('SESSION_INVALID', ctx.session);
    } finally {
      unsubscribe();
    }
  }
}

def('event.from', { params: 3, async: false, handler: eventFrom });

def('event.inject', {
  params: 2,
  async: false,
  handler: ({ pool }, [cls, ref]) => {
    const c = CLASSES.find((x) => x.toLowerCase() === str(cls).toLowerCase());
    if (!c) fail('EVENT_SUBSCRIPTION_PARSE_FAILURE', str(cls));
    pool.db.mutate(c, str(ref), () => undefined);
    return tokenOf(pool.db.generation);
  },
});
