// Bundles GraphiQL into ../src/accessgraph/static/graphiql/ with fixed names:
//   index.html, graphiql.js, graphiql.css, workers/{editor,json,graphql}.worker.js
// Fonts and icon fonts are inlined as data: URIs; nothing is loaded from any
// other origin. Usage: npm ci && npm run build
import * as esbuild from 'esbuild';
import { copyFile, mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(here, '../src/accessgraph/static/graphiql');
const dev = process.argv.includes('--dev');
const started = Date.now();

const common = {
  bundle: true,
  minify: !dev,
  sourcemap: false,
  legalComments: 'none',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  define: { 'process.env.NODE_ENV': JSON.stringify(dev ? 'development' : 'production') },
  logLevel: 'warning',
  // Everything must end up in the bundle (air-gapped); binary assets that CSS
  // references are inlined rather than fetched.
  loader: {
    '.ttf': 'dataurl',
    '.woff': 'dataurl',
    '.woff2': 'dataurl',
    '.svg': 'dataurl',
    '.png': 'dataurl',
  },
};

await rm(outdir, { recursive: true, force: true });
await mkdir(path.join(outdir, 'workers'), { recursive: true });

await Promise.all([
  // Main page bundle -> graphiql.js + graphiql.css (CSS imported by JS).
  esbuild.build({
    ...common,
    entryPoints: { graphiql: path.join(here, 'src/main.jsx') },
    outdir,
    format: 'iife',
    jsx: 'automatic',
    // Only reachable when a websocket subscriptionUrl is configured, which we
    // never do; keeps the optional peer dependency out of the bundle.
    external: ['graphql-ws'],
  }),
  // Monaco web workers, as classic (IIFE) scripts with fixed names.
  esbuild.build({
    ...common,
    entryPoints: {
      'editor.worker': 'monaco-editor/esm/vs/editor/editor.worker.js',
      'json.worker': 'monaco-editor/esm/vs/language/json/json.worker.js',
      'graphql.worker': 'monaco-graphql/esm/graphql.worker.js',
    },
    outdir: path.join(outdir, 'workers'),
    format: 'iife',
  }),
]);

await copyFile(path.join(here, 'src/index.html'), path.join(outdir, 'index.html'));

// Short report of what was written.
async function list(dir, prefix = '') {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix + entry.name;
    if (entry.isDirectory()) out.push(...(await list(path.join(dir, entry.name), `${rel}/`)));
    else out.push([rel, (await stat(path.join(dir, entry.name))).size]);
  }
  return out;
}
for (const [rel, size] of await list(outdir)) {
  console.log(`  ${rel.padEnd(28)} ${(size / 1024).toFixed(0).padStart(6)} KiB`);
}
console.log(`GraphiQL assets built in ${path.relative(process.cwd(), outdir)} (${Date.now() - started} ms)`);
