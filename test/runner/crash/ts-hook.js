/* Loads .ts files in a child process by transpiling them (no type-check), with an on-disk cache keyed by content. */
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const cacheDir = process.env.TS_HOOK_CACHE;
let ts;
require.extensions['.ts'] = function compileTs(module, filename) {
  const src = fs.readFileSync(filename, 'utf8');
  const key = cacheDir ? path.join(cacheDir, `${crypto.createHash('sha1').update(filename).update(src).digest('hex')}.js`) : undefined;
  let out;
  if (key && fs.existsSync(key)) out = fs.readFileSync(key, 'utf8');
  else {
    ts ??= require('typescript');
    out = ts.transpileModule(src, {
      fileName: filename,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, sourceMap: false },
    }).outputText;
    if (key) fs.writeFileSync(key, out);
  }
  module._compile(out, filename);
};
