// Pack one bundle into SEA binaries with pkg's simple SEA pipeline, called as a library so that
// the SEA configuration can be chosen per architecture (pkg's CLI passes none).
// usage: sea-pack.mjs BUNDLE.cjs OUT-PREFIX [--code-cache=x64|all|none] [--arch=x64,arm64]
//   writes OUT-PREFIX-linux-<arch> for each arch.
//
// The V8 code cache is made by the Node that builds the blob (this host's, x64). V8 accepts a
// cache only from the same V8 version, flags and architecture, so the arm64 binary is packed
// without one (a foreign cache would just be rejected at every start and cost its bytes).
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { renameSync, rmSync } from 'node:fs';

const require = createRequire(import.meta.url);
const { default: sea } = require('../node_modules/@yao-pkg/pkg/lib-es5/sea.js');

const args = process.argv.slice(2);
const [bundle, prefix] = args.filter((a) => !a.startsWith('--'));
const opt = (name, dflt) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
if (!bundle || !prefix) throw new Error('usage: sea-pack.mjs BUNDLE.cjs OUT-PREFIX [--code-cache=x64|all|none] [--arch=x64,arm64]');
const codeCache = opt('code-cache', 'x64');
if (!['x64', 'all', 'none'].includes(codeCache)) throw new Error(`--code-cache=${codeCache}: expected x64, all or none`);
const nodeVersion = process.env.NODE_VERSION;
if (!nodeVersion) throw new Error('NODE_VERSION is not set (build/toolchain.env)');

// One pkg run per architecture: a SEA blob is shared by all targets of a run.
for (const arch of opt('arch', 'x64,arm64').split(',')) {
  // pkg copies Node over its output in place, which fails (ETXTBSY) while the previous binary
  // runs; a new file renamed over it replaces it even then.
  const output = resolve(`${prefix}-linux-${arch}`);
  const part = `${output}.part`;
  rmSync(part, { force: true });
  await sea(resolve(bundle), {
    targets: [{ nodeRange: `node${nodeVersion}`, platform: 'linux', arch, output: part }],
    signature: false,
    seaConfig: {
      disableExperimentalSEAWarning: true,
      useCodeCache: codeCache === 'all' || codeCache === arch,
      useSnapshot: false,
    },
  });
  renameSync(part, output);
}
