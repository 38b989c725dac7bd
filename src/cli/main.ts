#!/usr/bin/env node
import { buildProgram, type CommandRegistrar } from './program.js';

const registrars: CommandRegistrar[] = [];

const io = { stdout: process.stdout, stderr: process.stderr, env: process.env };
await buildProgram(io, registrars).parseAsync(process.argv);
