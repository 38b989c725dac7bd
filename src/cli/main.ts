#!/usr/bin/env node
import { registerContractCommand } from './commands/contract.js';
import { buildProgram, type CommandRegistrar } from './program.js';

const registrars: CommandRegistrar[] = [registerContractCommand];

const io = { stdout: process.stdout, stderr: process.stderr, env: process.env };
await buildProgram(io, registrars).parseAsync(process.argv);
