// Packs the package (already built) into dist/pack/ and prints the tarball's path.
// Usage: npm run pack:tarball   (builds first)
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const destination = join(root, "dist", "pack");
mkdirSync(destination, { recursive: true });
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
// --ignore-scripts: the build already ran (prepack would run it again).
const output = execFileSync(npm, ["pack", "--json", "--ignore-scripts", "--pack-destination", destination], {
  cwd: root,
  encoding: "utf8",
});
const [info] = JSON.parse(output);
console.log(join(destination, info.filename));
