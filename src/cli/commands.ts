/** The table of CLI subcommands. Each module exports `run(args): Promise<exitCode>` and is loaded only when used. */
import type { CommandName } from './specs';

export type Handler = (args: string[]) => Promise<number>;

export const COMMANDS: Record<CommandName, () => Promise<Handler>> = {
  start: async () => (await import('./start')).run,
  serve: async () => (await import('./serve')).run,
  plan: async () => (await import('./plan')).run,
  run: async () => (await import('./run')).run,
  status: async () => (await import('./status')).run,
  resume: async () => (await import('./resume')).run,
  abort: async () => (await import('./abort')).run,
  schedule: async () => (await import('./schedule')).run,
  schedules: async () => (await import('./schedule')).runSchedules,
  unschedule: async () => (await import('./schedule')).runUnschedule,
  state: async () => (await import('./state')).run,
  rehearse: async () => (await import('./rehearse')).run,
  sim: async () => (await import('./sim')).run,
};
