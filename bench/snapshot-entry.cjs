// The startup-snapshot experiment of bench/levers.ts: tedious and the probe are evaluated when
// the snapshot is built, and the command line runs when the binary starts from it.
const v8 = require('node:v8');
require('../src/prober/index.ts');
v8.startupSnapshot.setDeserializeMainFunction(() => require('../src/main.ts'));
