import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent.js';
import { DEFAULT_DECODED_BLOCKS } from '../../src/queue/index.js';
import { agentSettings } from '../helpers/agent.js';
import { tempDir } from '../helpers/tmp.js';

describe('Agent wiring', () => {
  const dirs: Array<{ cleanup(): void }> = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) d.cleanup();
  });

  const queueOf = (window?: number, decodedBlocks?: number) => {
    const dir = tempDir();
    dirs.push(dir);
    const settings = agentSettings(dir.path, 'ws://127.0.0.1:1', {
      ...(window === undefined ? {} : { sender: { window } }),
      ...(decodedBlocks === undefined ? {} : { queue: { decodedBlocks } }),
    });
    return new Agent(settings, pino({ level: 'silent' })).queue;
  };

  it("sizes the queue's block cache to outlast the sender's window (twice the window, at least the default, at most 256)", () => {
    expect(queueOf().options.decodedBlocks).toBe(DEFAULT_DECODED_BLOCKS);
    expect(queueOf(1).options.decodedBlocks).toBe(DEFAULT_DECODED_BLOCKS);
    expect(queueOf(32).options.decodedBlocks).toBe(64);
    // A very wide window does not take the cache's memory with it.
    expect(queueOf(1000).options.decodedBlocks).toBe(256);
    // A size given with the queue's options is kept as given.
    expect(queueOf(32, 4).options.decodedBlocks).toBe(4);
  });
});
