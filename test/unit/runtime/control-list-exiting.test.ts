// `slipway ps`/`compose down` ask every slipway process of this user for its containers. A process that exits while
// being asked resets the connection: that is a process going away (with its containers), not one that "did not
// answer" (CI saw `compose down` print that warning when another test process exited during the listing).
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listContainers } from '../../../src/runtime/control/client.js';

const servers: Server[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function owner(root: string, pid: number, onConnection: (sock: import('node:net').Socket) => void): Promise<void> {
  mkdirSync(join(root, `keeper-${pid}`), { mode: 0o700 });
  const server = createServer({ pauseOnConnect: true }, onConnection);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(join(root, `keeper-${pid}`, 'control.sock'), resolve));
}

describe('listContainers with an owner that is exiting', () => {
  it('a reset connection is a process going away, not an unanswered one; a silent one is still unanswered', async () => {
    const root = mkdtempSync(join(tmpdir(), 'slipway-ctl-'));
    dirs.push(root);
    // Closing with the request unread makes the kernel reset the asker's connection, as an exiting process does.
    await owner(root, 101, (sock) => setTimeout(() => sock.destroy(), 50));
    await owner(root, 102, () => { /* reads nothing, answers nothing */ });
    const listing = await listContainers({ env: { ...process.env, SLIPWAY_STATE_DIR: root }, timeoutMs: 300 });
    expect(listing.containers).toEqual([]);
    expect(listing.unanswered.map((u) => u.socket)).toEqual([join(root, 'keeper-102', 'control.sock')]);
  });
});
