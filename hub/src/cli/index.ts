export { type OptionName, parseArgs, UsageError } from './args.js';
export { ApiError, ConnectError, createClient, type HubClient } from './client.js';
export { type CliIo, CTL_HELP, main, runCli } from './main.js';
export { parseManifestText, readManifests, type SourceDocument, withNamespace } from './manifests.js';
export * from './output.js';
export { normalizeServer, resolveServer, type ServerTarget } from './target.js';
export type * from './types.js';
