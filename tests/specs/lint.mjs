// Lints the machine-readable contracts: protocol/openapi.yaml with
// `@redocly/cli lint` (tests/specs/redocly.yaml) and protocol/asyncapi.yaml with
// `@asyncapi/parser` (its references into openapi.yaml resolved from the file).
// Exits non-zero on any error; warnings are printed. Run by ctest (api_specs_lint).

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parser, fromFile } from '@asyncapi/parser';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const redocly = path.join(root, 'node_modules', '.bin', 'redocly');

let failed = false;

const openapi = spawnSync(redocly, ['lint', '--config', path.join(here, 'redocly.yaml'), '--format', 'stylish',
  path.join(root, 'protocol', 'openapi.yaml')], { encoding: 'utf8', env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } });
process.stdout.write(openapi.stdout ?? '');
process.stdout.write(openapi.stderr ?? '');
if (openapi.status !== 0) {
  failed = true;
  console.error(`openapi.yaml: redocly lint failed (${openapi.error?.message ?? `exit ${openapi.status}`})`);
}

// Severity 0 is an error, 1 a warning; 2 and 3 are hints.
const { document, diagnostics } = await fromFile(new Parser(), path.join(root, 'protocol', 'asyncapi.yaml')).parse();
for (const d of diagnostics) {
  if (d.severity > 1) continue;
  console.log(`asyncapi.yaml ${d.severity === 0 ? 'error' : 'warning'} ${d.code}: ${d.message} at ${d.path.join('.')}`);
  if (d.severity === 0) failed = true;
}
if (!document) failed = true;
console.log(failed ? 'contracts: lint failed' : 'contracts: openapi.yaml and asyncapi.yaml lint clean');
process.exit(failed ? 1 : 0);
