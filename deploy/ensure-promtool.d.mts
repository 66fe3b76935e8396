/** The absolute path of an installed promtool ($PROMTOOL_BIN, PATH, the unpacked one), or undefined. Never fetches. */
export function findPromtoolBinary(): string | undefined;
/** The absolute path of a promtool binary, fetched from Debian's prometheus package if needed. */
export function ensurePromtool(): Promise<string>;
