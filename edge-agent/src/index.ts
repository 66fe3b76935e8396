// The verified apply lives in @fedmesh/shared (the hub and tests check against the same code).
export { applyPayload, emptyView, mirror } from '@fedmesh/shared';
export { type AgentStatus, type RunningAgent, startAgent } from './agent.js';
export { type AgentConfig, AgentConfigSchema, parseAgentArgs } from './config.js';
