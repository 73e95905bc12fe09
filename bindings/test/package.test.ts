/**
 * The published shape of the package: `npm pack` of the built package,
 * installed offline into an empty project (it has no runtime dependencies),
 * imported as ESM and type-checked as a consumer would; and the size of a
 * minimal browser bundle. Needs no server.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The package root (this file runs from dist/test/). */
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

test("the packed tarball installs offline and imports as ESM with types", { timeout: 120_000 }, (t) => {
  const work = mkdtempSync(join(tmpdir(), "weft-pack-"));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const packDir = join(work, "pack");
  const consumer = join(work, "consumer");
  mkdirSync(packDir);
  mkdirSync(consumer);

  // The build ran before the tests (npm test); skip prepack's second build.
  const [info] = JSON.parse(run(npm, ["pack", "--json", "--ignore-scripts", "--pack-destination", packDir], root)) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  assert.ok(info);
  const files = info.files.map((f) => f.path);
  for (const expected of ["package.json", "README.md", "dist/src/index.js", "dist/src/index.d.ts", "dist/src/runtime.js"]) {
    assert.ok(files.includes(expected), `the tarball holds ${expected}`);
  }
  assert.ok(!files.some((f) => f.startsWith("dist/test/") || f.startsWith("test/")), "tests are not published");

  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as Record<string, unknown>;
  assert.equal(manifest["private"], undefined, "publishable");
  assert.equal(manifest["sideEffects"], false);
  assert.equal(manifest["dependencies"], undefined, "no runtime dependencies");

  writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  run(npm, ["install", join(packDir, info.filename), "--offline", "--no-audit", "--no-fund"], consumer);

  const script = `
    import * as weft from "@weft/client";
    const client = weft.createClient({ baseUrl: "http://127.0.0.1:1/" });
    console.log(JSON.stringify({
      createClient: typeof weft.createClient,
      openTicketedEventSource: typeof weft.openTicketedEventSource,
      subscribeEvents: typeof weft.subscribeEvents,
      RpcError: typeof weft.RpcError,
      eventTypes: weft.WEFT_EVENT_TYPES.length,
      baseUrl: client.rpc.options.baseUrl,
      me: typeof client.auth.me,
    }));`;
  const imported = JSON.parse(run(process.execPath, ["--input-type=module", "-e", script], consumer)) as Record<string, unknown>;
  assert.deepEqual(imported, {
    createClient: "function",
    openTicketedEventSource: "function",
    subscribeEvents: "function",
    RpcError: "function",
    eventTypes: 24,
    baseUrl: "http://127.0.0.1:1/",
    me: "function",
  });

  // A consumer's TypeScript sees the types through `exports`.
  writeFileSync(
    join(consumer, "check.ts"),
    `import { createClient, openTicketedEventSource, type WeftEvent, type AuthSession } from "@weft/client";
const client = createClient({ baseUrl: "/", refreshAccessToken: async () => null, batching: { maxSize: 10 } });
const me: Promise<AuthSession["user"]> = client.auth.me({});
const stop = openTicketedEventSource(client, { onEvent: (e: WeftEvent) => void e.type });
void me; stop.close();
`,
  );
  writeFileSync(
    join(consumer, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        noEmit: true,
        strict: true,
        target: "es2022",
        lib: ["es2022", "dom"],
        module: "nodenext",
        moduleResolution: "nodenext",
        types: [],
      },
      files: ["check.ts"],
    }),
  );
  run(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "."], consumer);
});

test("a minimal browser bundle of createClient stays under 10 KiB gzipped", { timeout: 60_000 }, () => {
  const output = run(process.execPath, [join(root, "scripts", "size.mjs"), "--json"], root);
  const { budget, results } = JSON.parse(output) as { budget: number; results: Array<{ name: string; gzipped: number }> };
  assert.equal(budget, 10 * 1024);
  const minimal = results.find((r) => r.name === "createClient");
  assert.ok(minimal);
  assert.ok(minimal.gzipped < budget, `createClient bundle: ${minimal.gzipped} B gzipped`);
});
