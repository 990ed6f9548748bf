// Records which sources the bundle was built from: build-info.json holds the SHA-256 of every
// source file and the lock file (the same digest tests/test_playground_bundle.py recomputes), so a
// committed bundle that no longer matches its sources is caught without Node.js.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const out = process.env.PLAYGROUND_OUT || join(here, '../component/service/playground/static');
const TOP = ['index.html', 'package.json', 'package-lock.json', 'stamp.mjs', 'vite.config.js'];

function walk(dir) {
  return readdirSync(dir).sort().flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

const files = [...TOP.map((name) => join(here, name)), ...walk(join(here, 'src'))];
const digest = createHash('sha256');
for (const path of files) {
  const name = relative(here, path).split('\\').join('/');
  digest.update(`${name}\0`);
  digest.update(readFileSync(path));
  digest.update('\0');
}
const info = { sources: digest.digest('hex'), files: files.length };
writeFileSync(join(out, 'build-info.json'), `${JSON.stringify(info, null, 2)}\n`);
console.log(`build-info.json: sources ${info.sources.slice(0, 12)}… (${info.files} files)`);
