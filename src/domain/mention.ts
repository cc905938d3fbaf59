/**
 * People and channels in words meant for humans (outcomes, refusals, notices): a Slack user id becomes a mention
 * (`<@U…>`, which Slack renders as the person's name and notifies), a channel id `<#C…>`; other actors ("cli",
 * "scheduler", a login name) stay plain. The Slack renderers keep these tokens (slackText); the CLI prints `@U…`.
 * Audit records keep raw ids: they are evidence, not messages.
 */
const SLACK_USER = /^[UW][A-Z0-9]{2,}$/;
const SLACK_CHANNEL = /^[CG][A-Z0-9]{2,}$/;

export function mention(userId: string): string {
  return SLACK_USER.test(userId) ? `<@${userId}>` : userId;
}

export function channelMention(channel: string): string {
  return SLACK_CHANNEL.test(channel) ? `<#${channel}>` : channel;
}

/** For a terminal: `<@U0MIKA>` → `@U0MIKA`, `<!subteam^S0OPS>` → `@S0OPS`, `<#C0X>` → `#C0X`. */
export function plainMentions(text: string): string {
  return text.replace(/<@([UW][A-Z0-9]+)>/g, '@$1').replace(/<!subteam\^([A-Z0-9]+)(?:\|[^<>]*)?>/g, '@$1').replace(/<#([CG][A-Z0-9]+)(?:\|[^<>]*)?>/g, '#$1');
}
