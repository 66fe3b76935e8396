export { ApiError, ConnectError, createClient, type HubClient } from './client.js';
export { type CliIo, CTL_HELP, main, runCli } from './main.js';
export { parseManifestText, readManifests, type SourceDocument } from './manifests.js';
export * from './output.js';
