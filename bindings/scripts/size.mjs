// Measures the minified + gzipped size of minimal browser bundles of the
// package (built into dist/ first), with esbuild, and fails above the budget.
// Usage: npm run size            (prints a table)
//        node scripts/size.mjs --json
import { build } from "esbuild";
import { gzipSync } from "node:zlib";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BUDGET = 10 * 1024;

/** Entry points: what a browser app imports. */
const entries = {
  createClient: `import { createClient } from "./dist/src/index.js";
export const client = createClient({ baseUrl: location.origin });`,
  "createClient + openTicketedEventSource": `import { createClient, openTicketedEventSource } from "./dist/src/index.js";
const client = createClient({ baseUrl: location.origin });
export const sub = openTicketedEventSource(client, { onEvent: console.log });`,
};

const results = [];
for (const [name, contents] of Object.entries(entries)) {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: "js", sourcefile: "entry.js" },
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  const code = result.outputFiles[0].contents;
  results.push({ name, minified: code.length, gzipped: gzipSync(code, { level: 9 }).length });
}

if (process.argv.includes("--json")) {
  console.log(JSON.stringify({ budget: BUDGET, results }));
} else {
  for (const r of results) {
    console.log(`${r.name}: ${r.minified} B minified, ${r.gzipped} B gzipped (${(r.gzipped / 1024).toFixed(2)} KiB)`);
  }
}
const over = results.filter((r) => r.gzipped > BUDGET);
if (over.length > 0) {
  console.error(`over the ${BUDGET} B gzip budget: ${over.map((r) => r.name).join(", ")}`);
  process.exit(1);
}
