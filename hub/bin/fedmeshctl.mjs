#!/usr/bin/env node
// The compiled program when `npm run build` made it and it is current; the sources otherwise.
import { launch } from '../../scripts/launch.mjs';

await launch('fedmeshctl', 'hub/src/cli/main.ts');
