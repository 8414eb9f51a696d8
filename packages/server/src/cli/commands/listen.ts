import type { Command } from '../command.ts';
export const listen: Command = {
  name: 'listen',
  summary: 'x',
  usage: 'x',
  maxPositionals: 0,
  options: {},
  examples: ['x'],
  async run() {
    return 0;
  },
};
