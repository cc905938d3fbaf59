import type { App } from '@slack/bolt';
import type { SlackContext } from '../context';
import * as actions from './actions';
import * as commands from './commands';
import * as views from './views';

export function registerListeners(app: App, ctx: SlackContext): void {
  commands.register(app, ctx);
  actions.register(app, ctx);
  views.register(app, ctx);
}
