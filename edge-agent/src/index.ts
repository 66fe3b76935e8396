export { type AgentStatus, type RunningAgent, startAgent } from './agent.js';
export { type AgentConfig, AgentConfigSchema, parseAgentArgs } from './config.js';
export { applyPayload, emptyView, mirror } from './sync/apply.js';
