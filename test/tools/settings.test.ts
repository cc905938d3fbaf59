/** The Tools follow-up's settings (issue 15) are validated at start, errors naming the variable, never its value. */
import { loadGeneralSettings } from '../../src/config/env';

test('defaults: a daily reminder, guest metrics read every 10 minutes', () => {
  expect(loadGeneralSettings({}).tools).toEqual({ remindEveryMs: 24 * 3_600_000, checkEveryMs: 10 * 60_000 });
  expect(loadGeneralSettings({ XSUPGRADE_TOOLS_REMINDER_HOURS: '12', XSUPGRADE_TOOLS_CHECK_MINUTES: '2.5' }).tools).toEqual({ remindEveryMs: 12 * 3_600_000, checkEveryMs: 150_000 });
});

test.each([
  ['XSUPGRADE_TOOLS_REMINDER_HOURS', '0', /XSUPGRADE_TOOLS_REMINDER_HOURS must be between 1 and 720 hours/],
  ['XSUPGRADE_TOOLS_REMINDER_HOURS', 'daily', /XSUPGRADE_TOOLS_REMINDER_HOURS must be a number of hours, like 24/],
  ['XSUPGRADE_TOOLS_CHECK_MINUTES', '-5', /XSUPGRADE_TOOLS_CHECK_MINUTES must be a number of minutes, like 10/],
  ['XSUPGRADE_TOOLS_CHECK_MINUTES', '5000', /XSUPGRADE_TOOLS_CHECK_MINUTES must be between 1 and 1440 minutes/],
])('%s=%s is refused', (name, value, message) => {
  expect(() => loadGeneralSettings({ [name]: value })).toThrow(message);
});
