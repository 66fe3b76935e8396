/** The absolute path of an installed nats-server ($NATS_SERVER_BIN, PATH, /usr/sbin), or undefined. Never installs. */
export function findNatsServerBinary(): string | undefined;
/** The absolute path of a nats-server binary, installed with the OS package manager if needed. */
export function ensureNatsServer(): Promise<string>;
