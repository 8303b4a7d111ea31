// Run by registry-faults.test.ts in its own Node process: start() against a registry that never answers,
// then report what is left. The process must then exit on its own (nothing may keep it alive).
import { readdirSync } from 'node:fs';
import { Container } from '../../../src/index.js';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';

const out: Record<string, unknown> = {};
try {
  await new Container(process.env.CHILD_REF!).withPullTimeout(Number(process.env.CHILD_PULL_TIMEOUT)).start();
  out.started = true;
} catch (e) {
  const err = e as { code?: string; message: string; cause?: { code?: string } };
  Object.assign(out, { code: err.code, message: err.message, causeCode: err.cause?.code });
}
const keeper = await Keeper.get();
Object.assign(out, { keeperPid: keeper.pid, keeperDir: keeper.stateDir, containers: readdirSync(keeper.stateDir) });
process.stdout.write(`${JSON.stringify(out)}\n`);
