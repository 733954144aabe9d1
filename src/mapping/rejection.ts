import type { RejectCode } from './types.js';

/** A rule's refusal of one message. A class so that outcomes are told apart with instanceof. */
export class Rejection {
  constructor(
    readonly code: RejectCode,
    readonly reason: string,
  ) {}
}
