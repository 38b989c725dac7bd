#!/usr/bin/env node
// The installed `mll` command: runs the compiled CLI (npm install builds it).
import '../dist/src/cli/main.js';
