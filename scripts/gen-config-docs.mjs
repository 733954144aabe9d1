#!/usr/bin/env node
// Writes config.schema.json and docs/configuration.md from the config schema (src/config/schema/),
// using the build in dist/ (run `npm run build` first). A unit test fails when the committed
// files differ from what this writes, so they never drift from the schema.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderJsonSchema, renderReference } from '../dist/config/reference.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
mkdirSync(join(root, 'docs'), { recursive: true });
writeFileSync(join(root, 'config.schema.json'), renderJsonSchema());
writeFileSync(join(root, 'docs', 'configuration.md'), renderReference());
console.log('wrote config.schema.json and docs/configuration.md');
