import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extract } from 'tar-stream';
import { afterEach, describe, expect, it } from 'vitest';
import { contextTar } from '../../../src/build/context-tar.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'ctx-tar-'));
  dirs.push(root);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(root, name, '..'), { recursive: true });
    writeFileSync(join(root, name), content);
  }
  return root;
}

async function entries(root: string, dockerfile?: string): Promise<{ dockerfile: string; files: Map<string, string>; types: Map<string, string> }> {
  const ctx = await contextTar(root, dockerfile);
  const files = new Map<string, string>();
  const types = new Map<string, string>();
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      const chunks: Buffer[] = [];
      types.set(h.name, `${h.type} ${h.uid}:${h.gid}${h.linkname ? ` -> ${h.linkname}` : ''}`);
      stream.on('data', (c: unknown) => { chunks.push(c as Buffer); });
      stream.on('end', () => { if (h.type === 'file') files.set(h.name, Buffer.concat(chunks).toString()); next(); });
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ctx.tar.pipe(ex);
  await done;
  return { dockerfile: ctx.dockerfile, files, types };
}

describe('contextTar (the context an engine build gets, as the docker CLI sends it)', () => {
  it('leaves out what .dockerignore excludes, keeps exceptions, and always sends the Dockerfile and .dockerignore', async () => {
    const root = tree({
      Dockerfile: 'FROM scratch\n', '.dockerignore': 'Dockerfile\n.dockerignore\nnode_modules\nlogs\n!logs/keep.log\n*.tmp\n',
      'src/a.js': 'a', 'node_modules/x/index.js': 'x', 'logs/drop.log': 'd', 'logs/keep.log': 'k', 'b.tmp': 't', 'sub/c.tmp': 'c',
    });
    symlinkSync('src/a.js', join(root, 'link'));
    const { dockerfile, files, types } = await entries(root);
    expect(dockerfile).toBe('Dockerfile');
    expect([...files.keys()].sort()).toEqual(['.dockerignore', 'Dockerfile', 'logs/keep.log', 'src/a.js', 'sub/c.tmp']);
    expect(files.get('src/a.js')).toBe('a');
    expect(types.get('link')).toBe('symlink 0:0 -> src/a.js');
    expect(types.get('src/')).toBe('directory 0:0');
    expect(types.has('node_modules/')).toBe(false);
  });

  it('a Dockerfile outside the context is sent under a name of its own', async () => {
    const root = tree({ 'ctx/app.txt': 'app', 'docker/Dockerfile.test': 'FROM scratch\nCOPY app.txt /\n' });
    const { dockerfile, files } = await entries(join(root, 'ctx'), '../docker/Dockerfile.test');
    expect(dockerfile).toMatch(/^\.slipway-dockerfile-/);
    expect(files.get(dockerfile)).toBe('FROM scratch\nCOPY app.txt /\n');
    expect(files.get('app.txt')).toBe('app');
  });

  it('a context that is not a directory is ERR_BUILD_CONTEXT', async () => {
    await expect(contextTar('/nonexistent/ctx')).rejects.toMatchObject({ code: 'ERR_BUILD_CONTEXT' });
  });
});
