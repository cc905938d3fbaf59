import { commandSchema, parseCommand, tokenize, usageText } from '../../../src/interface/grammar';
import { prng } from '../../../src/domain/prng';

describe('command grammar', () => {
  it.each([
    ['pools', { name: 'pools' }],
    ['plan pool-a', { name: 'plan', pool: 'pool-a' }],
    ['plan pool-a 7.6', { name: 'plan', pool: 'pool-a', target: '7.6' }],
    ['plan pool-a 7.6 manual', { name: 'plan', pool: 'pool-a', target: '7.6', mode: 'manual' }],
    ['plan pool-a update', { name: 'plan', pool: 'pool-a', mode: 'update' }],
    ['PLAN   pool-a', { name: 'plan', pool: 'pool-a' }],
    ['start pool-b', { name: 'start', pool: 'pool-b' }],
    ['status', { name: 'status' }],
    ['status pool-a-20261125-1', { name: 'status', subject: 'pool-a-20261125-1' }],
    ['pause pool-a-20261125-1', { name: 'pause', runId: 'pool-a-20261125-1' }],
    ['resume pool-a-20261125-1', { name: 'resume', runId: 'pool-a-20261125-1' }],
    ['abort pool-a-20261125-1', { name: 'abort', runId: 'pool-a-20261125-1' }],
    ['history pool-a', { name: 'history', pool: 'pool-a' }],
    ['schedules', { name: 'schedules' }],
    ['unschedule sch-3', { name: 'unschedule', id: 'sch-3' }],
    ['schedule pool-a 2026-11-28T02:00', { name: 'schedule', pool: 'pool-a', when: '2026-11-28T02:00' }],
    [
      'schedule pool-a 2026-11-28T02:00 Europe/Paris until 2026-11-28T06:00 Europe/Paris',
      { name: 'schedule', pool: 'pool-a', when: '2026-11-28T02:00 Europe/Paris', until: '2026-11-28T06:00 Europe/Paris' },
    ],
    ['schedule pool-a "0 2 * * 6" UTC until 4h', { name: 'schedule', pool: 'pool-a', when: '0 2 * * 6 UTC', until: '4h' }],
    ['schedule pool-a “0 2 * * 6” UNTIL 06:00', { name: 'schedule', pool: 'pool-a', when: '0 2 * * 6', until: '06:00' }],
  ])('%s', (text, expected) => {
    expect(parseCommand(text)).toEqual({ kind: 'command', command: expected });
  });

  it('answers empty input and "help" with the usage text', () => {
    for (const text of ['', '   ', 'help', 'HELP me please']) {
      const r = parseCommand(text);
      expect(r.kind).toBe('help');
      if (r.kind === 'help') expect(r.text).toContain('plan <pool> [target] [mode]');
    }
  });

  it('answers an unknown subcommand with help naming it', () => {
    expect(parseCommand('upgrade pool-a')).toMatchObject({ kind: 'help', unknown: 'upgrade' });
    expect(parseCommand('constructor')).toMatchObject({ kind: 'help', unknown: 'constructor' });
    expect(parseCommand('__proto__ x')).toMatchObject({ kind: 'help', unknown: '__proto__' });
  });

  it.each([
    ['plan', 'plan needs a pool name', 'plan <pool> [target] [mode]'],
    ['plan Pool_A', 'pool: expected a pool name: lower-case letters, digits and dashes, like pool-a (got "Pool_A")', 'plan <pool>'],
    ['plan pool-a 7.6 manual extra', 'unexpected "extra"', 'plan <pool>'],
    ['plan pool-a seven', 'target: expected a version like 7.6', 'plan <pool>'],
    ['plan pool-a manual automatic', 'plan: mode given twice', 'plan <pool>'],
    // a flag or a typo after the target is not "target given twice"
    ['plan pool-a 7.6 --force', 'expected a version like 7.6, or a mode: one of automatic, manual, update (got "--force")', 'plan <pool>'],
    ['plan pool-a manual sevn', 'expected a version like 7.6, or a mode: one of automatic, manual, update (got "sevn")', 'plan <pool>'],
    ['plan pool-a 7.6 8.2', 'plan: target given twice ("7.6" and "8.2")', 'plan <pool>'],
    ['start', 'start needs a pool name', 'start <pool>'],
    ['abort', 'abort needs a run id', 'abort <run>'],
    ['pause <@U123>', 'runId: expected a run id like pool-a-20261125-1 (got "<@U123>")', 'pause <run>'],
    ['schedule pool-a', 'schedule needs a start', 'schedule <pool> <when>'],
    ['schedule pool-a 2026-02-30T02:00', 'not a valid date-time', 'schedule <pool>'],
    ['schedule pool-a 2026-11-28T02:00 Mars/Olympus', 'unknown time zone "Mars/Olympus"', 'schedule <pool>'],
    ['schedule pool-a 2026-11-28T02:00 until', 'until needs an end', 'schedule <pool>'],
    ['schedule pool-a 2026-11-28T02:00 until soon', '"soon" is not a window end', 'schedule <pool>'],
    ['schedule pool-a "0 2 * * 6" until 2026-11-29T04:00', 'a recurring (cron) window ends after a duration', 'schedule <pool>'],
    ['schedule pool-a "0 2 * *', 'double quote is not closed', 'Usage'],
    ['status a\u0000b', 'control or invisible characters', 'Usage'],
  ])('%s → a clear error', (text, message, usage) => {
    const r = parseCommand(text);
    expect(r.kind).toBe('error');
    if (r.kind === 'error') {
      expect(r.message).toContain(message);
      expect(r.usage).toContain(usage);
    }
  });

  it('refuses over-long input without tokenising it', () => {
    const r = parseCommand(`plan ${'a'.repeat(5000)}`);
    expect(r).toMatchObject({ kind: 'error', message: expect.stringContaining('limit is 1000') });
  });

  it('uses the CLI prefix in usage when asked', () => {
    expect(usageText('xsupgrade')).toMatch(/^Usage: xsupgrade <command>/);
    const r = parseCommand('start', 'xsupgrade');
    expect(r.kind === 'error' && r.usage).toBe('Usage: xsupgrade start <pool>');
  });

  it('tokenises quoted words as one token', () => {
    expect(tokenize(`a "b c" 'd e' f`)).toEqual(['a', 'b c', 'd e', 'f']);
  });
});

const VOCABULARY = [
  'help', 'pools', 'plan', 'start', 'status', 'pause', 'resume', 'abort', 'history', 'schedule', 'schedules', 'unschedule',
  'until', 'pool-a', 'pool-b', 'pool-a-20261125-1', '7.6', '8.2.1', 'manual', 'automatic', 'update', '"0 2 * * 6"', '*', '0',
  '2026-11-28T02:00', '2026-13-40T99:99', 'Europe/Paris', 'UTC', '<!channel>', '<@U012ABC>', '<#C123|ops>', '`rm -rf /`',
  "'; DROP TABLE runs; --", '__proto__', 'constructor', 'toString', '${process.env.SLACK_BOT_TOKEN}', '{{7*7}}', '../../etc/passwd',
  '\u202Eevil', '🚀', 'ﬁ', 'İ', '\u0000', '\t', '\n', '"', "'", '“', '”', ' ', '-', '--help', 'a'.repeat(300),
];

function randomString(rand: () => number): string {
  const kind = rand();
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  if (kind < 0.25) {
    // a command word with plausible arguments: mostly valid, sometimes off by one token
    const name = pick(['pools', 'plan', 'start', 'status', 'pause', 'resume', 'abort', 'history', 'schedules', 'unschedule', 'schedule']);
    const args = ['pool-a', 'pool-a-20261125-1', '7.6', 'manual', '2026-11-28T02:00', 'until', '"0 2 * * 6"', 'UTC', '4h', '06:00'];
    const n = Math.floor(rand() * 4);
    return [name, ...Array.from({ length: n }, () => pick(args))].join(' ');
  }
  if (kind < 0.55) {
    // sentences from the vocabulary: close to valid commands
    const n = 1 + Math.floor(rand() * 7);
    return Array.from({ length: n }, () => VOCABULARY[Math.floor(rand() * VOCABULARY.length)]).join(rand() < 0.9 ? ' ' : '  ');
  }
  if (kind < 0.8) {
    // random code points, including surrogates, controls and astral planes
    const n = Math.floor(rand() * 80);
    let s = '';
    for (let i = 0; i < n; i++) {
      const r = rand();
      const cp = r < 0.6 ? 32 + Math.floor(rand() * 95) : r < 0.8 ? Math.floor(rand() * 0x3000) : Math.floor(rand() * 0x10ffff);
      s += cp >= 0xd800 && cp <= 0xdfff ? String.fromCharCode(cp) : String.fromCodePoint(cp);
    }
    return s;
  }
  // very long or boundary-length inputs
  const len = [999, 1000, 1001, 4000, 20000][Math.floor(rand() * 5)];
  return `plan ${'x'.repeat(Math.max(0, len - 5))}`;
}

describe('command grammar fuzz (seeded)', () => {
  it('answers 5000 random and hostile strings with a valid command, help or a clear error, never throwing', () => {
    const rand = prng(20261125);
    const counts = { command: 0, help: 0, error: 0 };
    for (let i = 0; i < 5000; i++) {
      const input = randomString(rand);
      let result: ReturnType<typeof parseCommand>;
      try {
        result = parseCommand(input);
      } catch (e) {
        throw new Error(`case ${i} threw on ${JSON.stringify(input)}: ${(e as Error).message}`);
      }
      counts[result.kind]++;
      if (result.kind === 'command') {
        // whatever is accepted re-validates against the schema: no unvalidated field slips through
        expect(commandSchema.safeParse(result.command).success).toBe(true);
      } else if (result.kind === 'help') {
        expect(result.text).toContain('Usage: /xsupgrade');
      } else {
        expect(result.message.length).toBeGreaterThan(0);
        expect(result.message.length).toBeLessThan(600);
        expect(result.usage).toContain('Usage: /xsupgrade');
      }
      // deterministic: the same input gives the same answer
      expect(parseCommand(input)).toEqual(result);
    }
    // the generator reaches every outcome, so the assertions above are exercised
    expect(counts.command).toBeGreaterThan(100);
    expect(counts.help).toBeGreaterThan(100);
    expect(counts.error).toBeGreaterThan(100);
  });

  it('accepts non-string input with an error instead of crashing', () => {
    for (const input of [undefined, null, 42, {}, [], { toString: () => 'plan pool-a' }]) {
      expect(parseCommand(input).kind).toBe('error');
    }
  });
});
