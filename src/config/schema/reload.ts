/**
 * Which settings a reload (SIGHUP) applies live, marked on the schema (as zigbee2mqtt marks
 * `requiresRestart`): a key marked live, and everything under it, is applied by the running
 * agent; every other key needs a restart. cli/reload.ts and the configuration reference
 * both read the marks; nothing else lists them.
 */
export const LIVE_ON_RELOAD = { 'x-reload': 'live' } as const;
