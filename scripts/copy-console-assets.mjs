#!/usr/bin/env node
// The console's pages, styles and scripts are plain files served as they are (no bundler, no
// build step at install time): the TypeScript build copies them next to the compiled console.
import { cpSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const to = join(root, 'dist', 'console', 'assets');
mkdirSync(to, { recursive: true });
cpSync(join(root, 'src', 'console', 'assets'), to, { recursive: true });
