// Where things are, for every test.
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN_X64 = join(ROOT, 'dist/mssql-role-check-linux-x64');
export const BIN_ARM64 = join(ROOT, 'dist/mssql-role-check-linux-arm64');
/** The pinned Node that runs the tests (also the one embedded in the binaries). */
export const NODE = process.execPath;
