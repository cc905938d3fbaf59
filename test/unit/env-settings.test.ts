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
});
