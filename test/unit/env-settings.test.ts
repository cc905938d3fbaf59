import { loadGeneralSettings } from '../../src/config/env';

describe('general settings from the environment', () => {
  it('has working defaults with no configuration at all', () => {
    const s = loadGeneralSettings({});
    expect(s.poolsFile).toBeUndefined();
    expect(s.statePath).toBe('./data/state.sqlite');
    expect(s.backupsDir).toBe('./data/backups');
    expect(s.scheduler.approvalReminderAfterMs).toBe(30 * 60_000);
    expect(s.leaseTtlMs).toBe(60_000);
    expect(loadGeneralSettings({ XSUPGRADE_LEASE_TTL_SECONDS: '5' }).leaseTtlMs).toBe(5_000);
  });

  it('reads reminders in minutes', () => {
    const s = loadGeneralSettings({ XSUPGRADE_APPROVAL_REMINDER_MINUTES: '5', XSUPGRADE_MIXED_MODE_REMINDER_MINUTES: '90' });
    expect(s.scheduler.approvalReminderAfterMs).toBe(5 * 60_000);
    expect(s.scheduler.mixedModeAfterMs).toBe(90 * 60_000);
  });

  it('names the variable and what was expected', () => {
    expect(() => loadGeneralSettings({ XSUPGRADE_APPROVAL_REMINDER_MINUTES: 'soon' })).toThrow(
      /XSUPGRADE_APPROVAL_REMINDER_MINUTES must be a number of minutes/,
    );
    expect(() => loadGeneralSettings({ XSUPGRADE_LOG_LEVEL: 'loud' })).toThrow(/XSUPGRADE_LOG_LEVEL/);
    expect(() => loadGeneralSettings({ XSUPGRADE_OVERDUE_FACTOR: '0.5' })).toThrow(/at least 1/);
    expect(() => loadGeneralSettings({ XSUPGRADE_LEASE_TTL_SECONDS: 'a minute' })).toThrow(/XSUPGRADE_LEASE_TTL_SECONDS must be a number of seconds/);
    expect(() => loadGeneralSettings({ XSUPGRADE_LEASE_TTL_SECONDS: '0' })).toThrow(/between 1 and 3600/);
  });

  it('refuses a reminder period under a minute (the scheduler would post one on most of its ticks)', () => {
    expect(() => loadGeneralSettings({ XSUPGRADE_APPROVAL_REMINDER_MINUTES: '0.001' })).toThrow(/XSUPGRADE_APPROVAL_REMINDER_MINUTES must be at least 1 minute/);
    expect(() => loadGeneralSettings({ XSUPGRADE_MIXED_MODE_REMINDER_MINUTES: '0.5' })).toThrow(/XSUPGRADE_MIXED_MODE_REMINDER_MINUTES must be at least 1 minute/);
  });

  it('refuses a postgres:// state URL that does not parse, naming the variable and never echoing the password', () => {
    let message = '';
    try {
      loadGeneralSettings({ XSUPGRADE_STATE: 'postgres://bot:pa#ss-word@db/xsupgrade' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/XSUPGRADE_STATE is not a valid postgres:\/\/ URL \(percent-encode/);
    expect(message).not.toContain('pa#ss');
    expect(loadGeneralSettings({ XSUPGRADE_STATE: 'postgres://bot:pa%23ss-word@db/xsupgrade' }).statePath).toBe('postgres://bot:pa%23ss-word@db/xsupgrade');
    expect(loadGeneralSettings({ XSUPGRADE_STATE: './data/my#state.sqlite' }).statePath).toBe('./data/my#state.sqlite');
  });
});

describe('every variable the bot reads is validated and documented (issue 14)', () => {
  const { readFileSync, readdirSync, statSync } = jest.requireActual<typeof import('node:fs')>('node:fs');
  const { join } = jest.requireActual<typeof import('node:path')>('node:path');
  const { GENERAL_VARIABLES } = jest.requireActual<typeof import('../../src/config/env')>('../../src/config/env');
  const { SLACK_VARIABLES } = jest.requireActual<typeof import('../../src/slack/settings')>('../../src/slack/settings');
  const root = join(__dirname, '../..');
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : f.endsWith('.ts') ? [join(dir, f)] : []));
  // names of the form XSUPGRADE_X / SLACK_X used as environment keys in src/ (env.X, env['X'], process.env.X)
  const read = new Set(files(join(root, 'src')).flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/env(?:\??\.|\[')((?:XSUPGRADE|SLACK)_[A-Z_]+)/g)].map((m) => m[1])));
  // set by the bot itself for its own simulated pools (never configured by a user)
  const internal = new Set(['XSUPGRADE_REHEARSAL_PASSWORD']);

  it('is declared in one of the two schemas', () => {
    const declared = new Set([...GENERAL_VARIABLES, ...SLACK_VARIABLES]);
    expect([...read].filter((v) => !declared.has(v) && !internal.has(v))).toEqual([]);
  });

  it('is listed in .env.example and in the README', () => {
    const example = readFileSync(join(root, '.env.example'), 'utf8');
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    for (const v of [...GENERAL_VARIABLES, ...SLACK_VARIABLES]) {
      expect({ v, inExample: example.includes(`${v}=`) }).toEqual({ v, inExample: true });
      expect({ v, inReadme: readme.includes(`\`${v}\``) }).toEqual({ v, inReadme: true });
    }
  });

  it.each([
    ['XSUPGRADE_POOLS', ''],
    ['XSUPGRADE_LOG_LEVEL', 'chatty'],
    ['XSUPGRADE_APPROVAL_REMINDER_MINUTES', '-1'],
    ['XSUPGRADE_MIXED_MODE_REMINDER_MINUTES', '0'],
    ['XSUPGRADE_OVERDUE_FACTOR', 'x'],
    ['XSUPGRADE_OWNER', 'two words'],
    ['XSUPGRADE_POLL_MS', '-5'],
    ['XSUPGRADE_POLL_MS', '10'],
    ['XSUPGRADE_OPERATOR_CHANNEL', '#ops'],
    ['XSUPGRADE_SANDBOX_PORT', '70000'],
    ['XSUPGRADE_DEMO_SCALE', '0'],
  ])('%s=%j is refused, naming the variable and not echoing the value', (name, value) => {
    if (value === '') {
      // a blank value counts as unset: the default applies
      expect(() => loadGeneralSettings({ [name]: value })).not.toThrow();
      return;
    }
    let message = '';
    try {
      loadGeneralSettings({ [name]: value });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(new RegExp(`^${name} `));
    // (values short enough to occur in the explanation itself are not checked)
    if (value.length > 2) expect(message).not.toContain(value);
  });

  it('takes valid values', () => {
    const s = loadGeneralSettings({ XSUPGRADE_POLL_MS: '2000', XSUPGRADE_OWNER: 'bot-1', XSUPGRADE_OPERATOR_CHANNEL: 'C0OPS', XSUPGRADE_SANDBOX_PORT: '0', XSUPGRADE_DEMO_SCALE: '600' });
    expect(s).toMatchObject({ pollMs: 2000, ownerId: 'bot-1', operatorChannel: 'C0OPS', sandboxPort: 0, demoScale: 600 });
  });
});
