// Tests of an Invent client against invent-mock, one isolated org per test.
// Run: node --test examples/node/   (binary: INVENT_MOCK_BIN, default ../../build/invent-mock)
import { after, before, beforeEach, afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { InventClient } from './invent-client.mjs';

const BIN = process.env.INVENT_MOCK_BIN ??
  fileURLToPath(new URL('../../build/invent-mock', import.meta.url));
const READY_TIMEOUT_MS = 10_000;

let server; // the child process
let baseUrl;
let org; // { org_id, api_key } of this test's isolated org
let client;

// Starts invent-mock and resolves with its ready line, parsed.
function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, ['--port', '0', '--db', ':memory:'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const fail = (why) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`invent-mock (${BIN}) ${why}; stderr:\n${err}`));
    };
    const timer = setTimeout(() => fail(`gave no ready line within ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
    child.on('error', (e) => fail(`could not start: ${e.message}`));
    child.on('exit', (code) => fail(`exited with status ${code} before it was ready`));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => { if (err.length < 65536) err += d; });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', function onData(d) {
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.removeAllListeners('exit');
      child.stdout.resume(); // keep draining; nothing more is expected
      try {
        const ready = JSON.parse(out.slice(0, nl));
        assert.equal(ready.event, 'ready');
        resolve({ child, ready });
      } catch (e) {
        fail(`printed an unexpected first line: ${out.slice(0, nl)}`);
      }
    });
  });
}

// The emulator's own API under /__admin/.
async function admin(method, path, body) {
  const res = await fetch(baseUrl + path, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function count(filters) {
  return (await admin('GET', `/__admin/requests/count?${new URLSearchParams(filters)}`)).count;
}

before(async () => {
  const started = await startServer();
  server = started.child;
  baseUrl = started.ready.url;
});

after(async () => {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  process.kill(server.pid, 'SIGTERM'); // this PID only; it finishes in-flight requests, exits 0
  const timer = setTimeout(() => server.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
});

beforeEach(async () => {
  org = await admin('POST', '/__admin/orgs', { from: 'org_demo' });
  client = new InventClient(baseUrl, org.api_key);
});

afterEach(async () => {
  await admin('DELETE', `/__admin/orgs/${org.org_id}`);
});

test('a PATCH blocks ct_ada; blocked_at equals updated_at', async () => {
  const contact = await client.updateContact(org.org_id, 'ct_ada', { blocked: true });
  assert.equal(contact.id, 'ct_ada');
  assert.equal(contact.blocked, true);
  assert.ok(contact.blocked_at);
  assert.equal(contact.blocked_at, contact.updated_at);
});

test('the journal holds exactly one PATCH for this org', async () => {
  await client.updateContact(org.org_id, 'ct_ada', { blocked: true });
  assert.equal(await count({ method: 'PATCH', org_id: org.org_id }), 1);
});

test('the client retries an injected 503 and succeeds on the 2nd attempt', async () => {
  await admin('POST', '/__admin/faults', {
    method: 'PATCH', path: '/orgs/*/contacts/*', org_id: org.org_id, status: 503, times: 1,
  });
  const contact = await client.updateContact(org.org_id, 'ct_ada', { blocked: true });
  assert.equal(contact.blocked, true);
  assert.equal(client.lastAttempts, 2);
  // A faulted request is journaled with its org, as any other.
  assert.equal(await count({ method: 'PATCH', org_id: org.org_id }), 2);
  assert.equal(await count({ method: 'PATCH', org_id: org.org_id, status: 503 }), 1);
});

test('blocked_at under a frozen clock', async () => {
  await admin('POST', '/__admin/clock', { frozen_at: '2030-01-01T00:00:00Z' });
  try {
    const contact = await client.updateContact(org.org_id, 'ct_ada', { blocked: true });
    assert.equal(contact.blocked_at, '2030-01-01T00:00:00.000Z');
    assert.equal(contact.updated_at, '2030-01-01T00:00:00.000Z');
  } finally {
    await admin('POST', '/__admin/clock', { mode: 'real' });
  }
});
