/**
 * Preloaded into a spawned `xsupgrade serve` (node -r): writes a marker line on stdout when
 * src/cli/signals.ts starts listening for SIGTERM, i.e. start-up is over and a SIGTERM stops the bot
 * cleanly. (Before that point a SIGTERM kills the process with the default action.)
 */
const on = process.on;
process.on = function (event, listener) {
  const result = on.call(this, event, listener);
  if (event === 'SIGTERM' && /[\\/]cli[\\/]signals\.js/.test(String(new Error().stack))) process.stdout.write('\n[signal-ready-hook] listening for SIGTERM\n');
  return result;
};
