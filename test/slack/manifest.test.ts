import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { usageText } from '../../src/interface/grammar';
import { EVENTS_PATH } from '../../src/slack/app';
import { SLASH_COMMAND } from '../../src/slack/listeners/commands';

describe('manifests/slack-app.yaml', () => {
  const manifest = YAML.parse(readFileSync(join(__dirname, '../../manifests/slack-app.yaml'), 'utf8'));

  it('declares the slash command the app listens to, with a usage hint naming every command', () => {
    const [cmd] = manifest.features.slash_commands;
    expect(cmd.command).toBe(SLASH_COMMAND);
    expect(cmd.usage_hint.length).toBeLessThanOrEqual(1000);
    for (const name of ['help', 'pools', 'plan', 'start', 'status', 'pause', 'resume', 'abort', 'history', 'schedule', 'schedules', 'unschedule']) {
      expect(cmd.usage_hint).toMatch(new RegExp(`\\b${name}\\b`));
      expect(usageText()).toMatch(new RegExp(`\\b${name}\\b`));
    }
    expect(cmd.url.endsWith(EVENTS_PATH)).toBe(true);
    expect(manifest.settings.interactivity.request_url.endsWith(EVENTS_PATH)).toBe(true);
  });

  it('asks for the minimal bot scopes, within Slack limits', () => {
    expect(manifest.oauth_config.scopes.bot).toEqual(['commands', 'chat:write', 'chat:write.public', 'usergroups:read', 'channels:read', 'groups:read']);
    expect(manifest.oauth_config.scopes.user).toBeUndefined();
    expect(manifest.display_information.name.length).toBeLessThanOrEqual(35);
    expect(manifest.display_information.description.length).toBeLessThanOrEqual(140);
    expect(manifest.features.bot_user.display_name).toMatch(/^[a-z0-9._-]{1,80}$/);
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    expect(typeof manifest.settings.socket_mode_enabled).toBe('boolean');
  });
});
