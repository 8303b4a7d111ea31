/** A Dockerfile's stages: the global ARGs before the first FROM, then each FROM and its steps. */
import { SlipwayError } from '../errors.js';
import type { Instruction } from './dockerfile.js';

/** One stage: its FROM and the instructions after it. */
export interface Stage {
  index: number;
  name: string | undefined;
  from: Instruction;
  steps: Instruction[];
}

/** A Dockerfile split: the global ARGs (before the first FROM), then the stages in order. */
export interface DockerfileStages {
  globals: Instruction[];
  stages: Stage[];
}

/** Splits the Dockerfile into global ARGs and stages. */
export function splitStages(instructions: readonly Instruction[]): DockerfileStages {
  const globals: Instruction[] = [];
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const words = ins.args.split(/\s+/);
      let name: string | undefined;
      if (words.length === 3 && words[1]!.toUpperCase() === 'AS') name = words[2]!.toLowerCase();
      else if (words.length !== 1) throw new SlipwayError('ERR_DOCKERFILE_PARSE', `Dockerfile line ${ins.line} (FROM): expected "FROM image [AS name]", got ${JSON.stringify(ins.args)}`);
      stages.push({ index: stages.length, name, from: ins, steps: [] });
    } else if (stages.length === 0) {
      if (ins.keyword !== 'ARG') throw new SlipwayError('ERR_DOCKERFILE_PARSE', `Dockerfile line ${ins.line} (${ins.keyword}): only ARG may come before the first FROM`);
      globals.push(ins);
    } else {
      stages[stages.length - 1]!.steps.push(ins);
    }
  }
  if (!stages.length) throw new SlipwayError('ERR_DOCKERFILE_PARSE', 'the Dockerfile has no FROM instruction', { hint: 'start the Dockerfile with FROM <image>' });
  return { globals, stages };
}
