// The registries an engine build sends credentials for (X-Registry-Config): every image the Dockerfile pulls, and
// nothing it names that is an earlier stage.
import { describe, expect, it } from 'vitest';
import { parseDockerfile } from '../../../src/build/dockerfile.js';
import { imageRegistries } from '../../../src/build/image-registries.js';
import { splitStages } from '../../../src/build/stages.js';

const registries = (text: string, buildArgs: Record<string, string> = {}): string[] =>
  imageRegistries(splitStages(parseDockerfile(text).instructions), buildArgs).sort();

describe('imageRegistries', () => {
  it('FROM and COPY --from images, global ARGs and build args expanded; scratch and earlier stages left out', () => {
    const df = [
      'ARG BASE=registry.a:5000/base:1', 'ARG TOOLS',
      'FROM $BASE AS build', 'COPY --from=registry.b/tools:2 /t /t',
      'FROM scratch', 'COPY --from=build /out /out', 'COPY --from=0 /out /out2',
      'FROM ${TOOLS}', 'COPY --from=build / /',
    ].join('\n');
    expect(registries(df)).toEqual(['registry.a:5000', 'registry.b']);
    expect(registries(df, { BASE: 'registry.c/base', TOOLS: 'registry.d/tools' })).toEqual(['registry.b', 'registry.c', 'registry.d']);
  });

  it('a stage index counts stages, not the names beside them', () => {
    // Stage 0 is named: stage 1 is still 1 (a count of indices and names together made it 2, and "1" an image on docker.io).
    expect(registries('FROM registry.a/x AS first\nFROM registry.a/y\nFROM registry.a/z\nCOPY --from=1 / /')).toEqual(['registry.a']);
  });

  it("a stage's own name is not in scope on its FROM line: FROM golang AS golang pulls golang", () => {
    expect(registries('FROM golang AS golang\nRUN true')).toEqual(['docker.io']);
  });
});
