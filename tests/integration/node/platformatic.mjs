// Runs @platformatic/kafka steps against a broker and prints their results.
// stdin:  {"brokers": [...], "steps": [{"op": ..., "args": {...}}, ...]}
// stdout: {"results": [{"ok": value} | {"error": {...}}], "apis": [[apiKey, apiVersion], ...]}
// Each step's error is reported, not thrown, so a test can expect failures. "apis" lists every
// (key, version) the client sent, from its diagnostics channel, so tests see what it negotiated.
// Logs go to stderr; stdout carries nothing but the result (BigInts become strings).
import { subscribe } from 'node:diagnostics_channel';
import fs from 'node:fs';

import {
  Admin,
  Connection,
  Consumer,
  MessagesStreamModes,
  Producer,
  createAPI,
  describeClusterV1,
  offsetForLeaderEpochV4,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka';

const TIMEOUT_MS = 30000;
const CONSUME_LIMIT = 100000; // bounds how many records a consume step collects

const sent = new Set();
subscribe('tracing:plt:kafka:connections:api:start', (ctx) => {
  sent.add(`${ctx.apiKey}:${ctx.apiVersion}`);
});

function base(input, id) {
  return { clientId: `kafscale-it-${id}`, bootstrapBrokers: input.brokers, timeout: TIMEOUT_MS, retries: 5 };
}

function describe(err) {
  const out = { name: err.name, code: err.code ?? null, message: err.message };
  if (err.errors) out.errors = err.errors.map(describe);
  if (err.apiId !== undefined) out.apiId = err.apiId; // e.g. MESSAGE_TOO_LARGE
  if (err.apiCode !== undefined) out.apiCode = err.apiCode;
  if (err.serverErrorMessage) out.serverErrorMessage = err.serverErrorMessage;
  if (err.response !== undefined) out.response = err.response;
  return out;
}

// Converts BigInt (offsets, timestamps), Map and Buffer values to JSON-friendly ones.
function plain(v) {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, plain(x)]));
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

function withBigInts(args) {
  // Offsets and timestamps arrive as strings ("123n" is not JSON): keys named so become BigInt.
  if (Array.isArray(args)) return args.map(withBigInts);
  if (args && typeof args === 'object') {
    return Object.fromEntries(
      Object.entries(args).map(([k, x]) => [
        k,
        ['offset', 'timestamp'].includes(k) && typeof x === 'string' ? BigInt(x) : withBigInts(x),
      ]),
    );
  }
  return args;
}

// Reads `count` records of `topics` from the earliest offsets with a throwaway group, or with
// group `groupId` if given; with `commit`, then commits the last record of each partition.
async function consume(input, args) {
  const consumer = new Consumer({
    ...base(input, 'consumer'),
    groupId: args.groupId ?? `kafscale-it-${process.pid}-${Date.now()}`,
    deserializers: stringDeserializers,
    maxWaitTime: 500,
  });
  const records = [];
  const last = new Map(); // partition -> its last message
  try {
    const stream = await consumer.consume({ topics: args.topics, mode: MessagesStreamModes.EARLIEST, autocommit: false });
    const deadline = Date.now() + (args.timeoutMs ?? TIMEOUT_MS);
    const limit = Math.min(args.count, CONSUME_LIMIT);
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`got ${records.length} of ${limit} records`)), deadline - Date.now());
      stream.on('error', reject);
      stream.on('data', (m) => {
        records.push({
          topic: m.topic,
          partition: m.partition,
          offset: m.offset.toString(),
          key: m.key,
          value: m.value,
          headers: Object.fromEntries([...m.headers].map(([k, v]) => [String(k), String(v)])),
        });
        last.set(`${m.topic}/${m.partition}`, m);
        if (records.length >= limit) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    if (args.commit) {
      for (const m of last.values()) await m.commit();
    }
    await stream.close();
  } finally {
    await consumer.close(true);
  }
  return records;
}

// OffsetForLeaderEpoch v4 with the library's request encoder and a response decoder of our own:
// 1.35.0's decoder reads partition before error_code, the reverse of Kafka's EpochEndOffset.
function parseOffsetForLeaderEpoch(_correlationId, _apiKey, _apiVersion, reader) {
  return {
    throttleTimeMs: reader.readInt32(),
    topics: reader.readArray((r) => ({
      topic: r.readString(),
      partitions: r.readArray((r) => ({
        errorCode: r.readInt16(),
        partition: r.readInt32(),
        leaderEpoch: r.readInt32(),
        endOffset: r.readInt64(),
      })),
    })),
  };
}
const offsetForLeaderEpoch = createAPI(23, 4, offsetForLeaderEpochV4.createRequest, parseOffsetForLeaderEpoch);

// Sends one request with the library's own encoder on a connection of its own.
async function raw(input, api, args) {
  const [host, port] = input.brokers[0].split(':');
  const conn = new Connection('kafscale-it-raw');
  await conn.connect(host, Number(port));
  try {
    return await api.async(conn, ...args);
  } finally {
    await conn.close();
  }
}

async function step(input, clients, { op, args }) {
  args = withBigInts(args ?? {});
  const { admin, producer } = clients;
  switch (op) {
    case 'send':
      return producer.send(args);
    case 'consume':
      return consume(input, args);
    case 'describeCluster':
      return raw(input, describeClusterV1.api, [false, 1]);
    case 'offsetForLeaderEpoch':
      return raw(input, offsetForLeaderEpoch, [-1, args.topics]);
    default:
      if (typeof admin[op] !== 'function') throw new Error(`unknown op ${op}`);
      return admin[op](args);
  }
}

async function main() {
  const input = JSON.parse(fs.readFileSync(0, 'utf8'));
  const admin = new Admin(base(input, 'admin'));
  const producer = new Producer({ ...base(input, 'producer'), serializers: stringSerializers, acks: -1 });
  const results = [];
  try {
    for (const s of input.steps) {
      try {
        const value = await step(input, { admin, producer }, s);
        results.push({ ok: value === undefined ? null : plain(value) });
      } catch (err) {
        process.stderr.write(`step ${s.op} failed: ${err.stack}\n`);
        results.push({ error: plain(describe(err)) });
      }
    }
  } finally {
    await producer.close(true);
    await admin.close();
  }
  const apis = [...sent].map((s) => s.split(':').map(Number)).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return { results, apis };
}

main()
  .then((out) => process.stdout.write(JSON.stringify(out) + '\n'))
  .catch((err) => {
    process.stderr.write(`FAILED: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  });
