// Runs @confluentinc/kafka-javascript (librdkafka 2.15 underneath) steps against a broker and prints their results.
// stdin:  {"brokers": [...], "steps": [{"op": ..., "args": {...}}, ...]}
// stdout: {"librdkafka": "2.15.1", "results": [{"ok": value} | {"error": {...}}]}
// Ops: every method of its KafkaJS-compatible admin (createTopics, fetchTopicMetadata, describeGroups, ...)
// with `args` as its one argument (an array `args` is spread), plus "produce" and "consume" below.
// Each step's error is reported, not thrown, so a test can expect failures. Client logs go to stderr.
'use strict';
const fs = require('node:fs');
const { KafkaJS, librdkafkaVersion } = require('@confluentinc/kafka-javascript');

const { Kafka, logLevel } = KafkaJS;
const STEP_TIMEOUT_MS = 60000;

const stderrLogger = {
  level: logLevel.WARN,
  setLogLevel(l) { this.level = l; },
  namespace() { return this; },
  info(m, x) { if (this.level >= logLevel.INFO) process.stderr.write(`INFO ${m} ${JSON.stringify(x ?? {})}\n`); },
  warn(m, x) { if (this.level >= logLevel.WARN) process.stderr.write(`WARN ${m} ${JSON.stringify(x ?? {})}\n`); },
  error(m, x) { if (this.level >= logLevel.ERROR) process.stderr.write(`ERROR ${m} ${JSON.stringify(x ?? {})}\n`); },
  debug(m, x) { if (this.level >= logLevel.DEBUG) process.stderr.write(`DEBUG ${m} ${JSON.stringify(x ?? {})}\n`); },
};

function describe(err) {
  const out = { name: err.name, code: err.code ?? null, message: err.message };
  if (err.type !== undefined) out.type = err.type;
  if (err.errors) out.errors = err.errors.map(describe);
  return out;
}

function plain(v) {
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

function withTimeout(promise, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

// {topic, messages: [{key?, value, partition?}], idempotent?: bool, config?: {librdkafka settings}}
// -> the record metadata of each send (partition, baseOffset per partition).
async function produce(kafka, args) {
  const producer = kafka.producer({
    kafkaJS: { idempotent: args.idempotent ?? true, acks: -1 },
    'linger.ms': 5,
    ...(args.config ?? {}),
  });
  await producer.connect();
  try {
    return await producer.send({ topic: args.topic, messages: args.messages });
  } finally {
    await producer.disconnect();
  }
}

// {topic | topics, groupId, count, config?: {librdkafka settings, e.g. "group.protocol": "consumer"}}
// Consumes from the committed offsets (or the start) until `count` records arrived, commits them,
// leaves the group. -> [{topic, partition, offset, key, value}]
async function consume(kafka, args) {
  const consumer = kafka.consumer({
    kafkaJS: { groupId: args.groupId, fromBeginning: true, autoCommit: false },
    ...(args.config ?? {}),
  });
  const got = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: args.topics ?? [args.topic] });
    let done;
    const finished = new Promise((resolve) => { done = resolve; });
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        got.push({ topic, partition, offset: message.offset, key: message.key?.toString() ?? null,
                   value: message.value?.toString() ?? null });
        await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
        if (got.length >= args.count) done();
      },
    });
    if (args.count > 0) await finished;
  } finally {
    await consumer.disconnect();
  }
  return got;
}

async function main() {
  const input = JSON.parse(fs.readFileSync(0, 'utf8'));
  const kafka = new Kafka({ kafkaJS: { brokers: input.brokers, clientId: 'kafscale-it-ckjs', logger: stderrLogger } });
  const admin = kafka.admin();
  await withTimeout(admin.connect(), 'admin connect');
  const results = [];
  try {
    for (const step of input.steps) {
      try {
        let value;
        if (step.op === 'produce') value = await withTimeout(produce(kafka, step.args), step.op);
        else if (step.op === 'consume') value = await withTimeout(consume(kafka, step.args), step.op);
        else if (typeof admin[step.op] === 'function') {
          const args = Array.isArray(step.args) ? step.args : [step.args ?? {}];
          value = await withTimeout(admin[step.op](...args), step.op);
        } else throw new Error(`unknown op ${step.op}`);
        results.push({ ok: plain(value ?? null) });
      } catch (err) {
        results.push({ error: describe(err) });
      }
    }
  } finally {
    await admin.disconnect();
  }
  process.stdout.write(JSON.stringify({ librdkafka: librdkafkaVersion, results }));
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`ckjs: ${err.stack || err}\n`);
  process.exit(1);
});
