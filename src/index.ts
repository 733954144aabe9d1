/**
 * The agent as a library: the composition root and the settings it takes. The FluxionDB
 * client is published separately as `fluxion-edge/client`.
 */
export { Agent, type AgentSettings, type AgentStatus } from './agent.js';
export { AgentError, ErrorCodes, isAgentError, type ErrorCode } from './errors.js';
