// Reading fixture OCI layouts (sizes, layers), and removing images from Docker/Podman so that a
// pull is cold.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh } from './proc.mjs';

function blob(layout, digest) {
  return readFileSync(join(layout, 'blobs', ...digest.split(':')), 'utf8');
}

/** Manifest, config and compressed size (config + layers) of `<layout>:<tag>`. */
export function layoutImage(layout, tag) {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const desc = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!desc) throw new Error(`no tag ${tag} in ${layout}`);
  const manifest = JSON.parse(blob(layout, desc.digest));
  const config = JSON.parse(blob(layout, manifest.config.digest));
  const compressedBytes = manifest.config.size + manifest.layers.reduce((a, l) => a + l.size, 0);
  return { manifest, config, compressedBytes, layers: manifest.layers.length, diffIds: config.rootfs.diff_ids };
}

/**
 * Removes from Docker or Podman (`cli`) every image holding one of `diffIds`, and the containers
 * using them, so the next pull of that image has to fetch and unpack every layer.
 */
export async function removeImagesWithLayers(cli, diffIds) {
  const ids = (await sh(cli, ['image', 'ls', '-aq', '--no-trunc'])).stdout.split('\n').filter(Boolean);
  if (!ids.length) return 0;
  const inspect = await sh(cli, ['image', 'inspect', '--format', '{{.Id}}\t{{json .RootFS.Layers}}', ...new Set(ids)], { allowFail: true });
  const wanted = new Set(diffIds);
  const doomed = inspect.stdout.split('\n').filter(Boolean)
    .map((l) => l.split('\t'))
    .filter(([, layers]) => (JSON.parse(layers || 'null') ?? []).some((d) => wanted.has(d)))
    .map(([id]) => id);
  for (const id of doomed) {
    const users = (await sh(cli, ['ps', '-aq', '--filter', `ancestor=${id}`], { allowFail: true })).stdout.split('\n').filter(Boolean);
    if (users.length) await sh(cli, ['rm', '-f', ...users], { allowFail: true });
  }
  if (doomed.length) await sh(cli, ['image', 'rm', '-f', ...doomed], { allowFail: true });
  return doomed.length;
}
