/** `hookline send`: publish a message to an application. */
import type { Command } from '../command.ts';
import { apiClient, enc, printJson, readPayload, SERVER_OPTIONS, usageError } from '../shared.ts';

export const send: Command = {
  name: 'send',
  summary: 'Publish a message to an application (it fans out to every subscribed endpoint)',
  usage: 'hookline send --app ID --event-type TYPE [PAYLOAD | --file PATH | < payload.json]',
  details:
    'The payload is a JSON object: the argument, the file given with --file (- for stdin), or stdin\nwhen it is piped. Prints the new message id (with --json, the API response).',
  maxPositionals: 1,
  options: {
    app: { type: 'string', valueName: 'ID', description: 'Application id or uid (required)' },
    'event-type': {
      type: 'string',
      valueName: 'TYPE',
      description: 'Event type, such as invoice.paid (required)',
    },
    file: { type: 'string', valueName: 'PATH', description: 'Read the payload from this file (- for stdin)' },
    'event-id': {
      type: 'string',
      valueName: 'ID',
      description: 'Your id for the event (duplicates are refused)',
    },
    channel: { type: 'string', valueName: 'NAME', multiple: true, description: 'Channel of the message' },
    tag: { type: 'string', valueName: 'NAME', multiple: true, description: 'Tag of the message' },
    ...SERVER_OPTIONS,
  },
  examples: [
    `hookline send --app app_2b... --event-type invoice.paid '{"id":"in_1","amount":4200}'`,
    'hookline send --app my-customer --event-type user.created --file user.json',
    `echo '{"ok":true}' | hookline send --app my-customer --event-type ping --json`,
  ],
  async run({ values, positionals, io }) {
    const app = values.app as string | undefined;
    const eventType = values['event-type'] as string | undefined;
    if (!app) throw usageError('send needs --app ID');
    if (!eventType) throw usageError('send needs --event-type TYPE');
    const api = apiClient(values as { server?: string; token?: string }, io.env);
    const payload = await readPayload(io, positionals[0], values.file as string | undefined);
    const channels = values.channel as string[] | undefined;
    const tags = values.tag as string[] | undefined;
    const msg = await api.request('POST', `/api/v1/app/${enc(app)}/msg`, {
      eventType,
      payload,
      ...(values['event-id'] ? { eventId: values['event-id'] } : {}),
      ...(channels?.length ? { channels } : {}),
      ...(tags?.length ? { tags } : {}),
    });
    if (io.json) printJson(io, msg);
    else io.out(`${io.c.green('sent')} ${msg.id} ${io.c.dim(`(${eventType} to ${app})`)}`);
    return 0;
  },
};
