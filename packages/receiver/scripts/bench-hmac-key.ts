/**
 * Prints how much faster HMAC-SHA256 is with a cached KeyObject than with a Buffer key, the
 * reason Standard Webhooks signing caches `createSecretKey` per secret.
 *
 *   node packages/receiver/scripts/bench-hmac-key.ts
 */
import { createHmac, createSecretKey } from 'node:crypto';

const key = Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64');
const keyObject = createSecretKey(key);
const message = Buffer.from(`msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.${'{"test": 2432232314}'.repeat(10)}`);
const rounds = 200_000;

function time(label: string, run: () => void): number {
  for (let i = 0; i < 10_000; i++) run();
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) run();
  const ns = Number(process.hrtime.bigint() - start) / rounds;
  console.log(`${label.padEnd(18)} ${ns.toFixed(0).padStart(6)} ns/op`);
  return ns;
}

const buffer = time('Buffer key', () => createHmac('sha256', key).update(message).digest());
const object = time('KeyObject key', () => createHmac('sha256', keyObject).update(message).digest());
console.log(`KeyObject is ${(buffer / object).toFixed(1)}x faster`);
