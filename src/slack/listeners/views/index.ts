import type { App } from '@slack/bolt';
import { VIEW } from '../../blocks/ids';
import type { SlackContext } from '../../context';
import { forgetRejoinConfirmSubmit, forgetRejoinSubmit } from './forget-rejoin';

export function register(app: App, ctx: SlackContext): void {
  app.view(VIEW.forgetRejoin, forgetRejoinSubmit(ctx));
  app.view(VIEW.forgetRejoinConfirm, forgetRejoinConfirmSubmit(ctx));
}
