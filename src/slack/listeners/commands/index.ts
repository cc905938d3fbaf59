import type { App } from '@slack/bolt';
import type { SlackContext } from '../../context';
import { xsupgradeCommand } from './xsupgrade';

export const SLASH_COMMAND = '/xsupgrade';

export function register(app: App, ctx: SlackContext): void {
  app.command(SLASH_COMMAND, xsupgradeCommand(ctx));
}
