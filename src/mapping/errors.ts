import { AgentError, ErrorCodes } from '../errors.js';
import type { MappingProblem } from './types.js';

/**
 * The rules (or mapping options) are invalid. `problems` (also in `details`) lists every
 * problem at once, each with its path, so the operator fixes them in one pass.
 */
export class MappingConfigError extends AgentError {
  readonly problems: MappingProblem[];

  constructor(problems: MappingProblem[]) {
    const lines = problems.map((p) => `  ${p.path}: ${p.message}`).join('\n');
    super(ErrorCodes.CONFIG_INVALID, `invalid mapping rules (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines}`, {
      details: problems,
    });
    this.name = 'MappingConfigError';
    this.problems = problems;
  }
}
