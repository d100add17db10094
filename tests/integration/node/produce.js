'use strict';
// Produces messages with kafkajs and prints each message's acknowledged offset.
// stdin:  {"brokers": ["host:port"], "topic": "t", "acks": -1, "compression": "none|gzip",
//          "batches": [[{"key": s|null, "value": s|null, "headers": {k: s}, "partition": n}]]}
//         (one producer.send() per batch)
// stdout: {"offsets": [{"partition": n, "offset": "decimal"}]}, one entry per message, in order.
const { CompressionTypes } = require('kafkajs');
const { makeKafka, runMain } = require('./common');

async function main(input) {
  const producer = makeKafka(input).producer({ allowAutoTopicCreation: true });
  await producer.connect();
  const offsets = [];
  try {
    for (const batch of input.batches) {
      const result = await producer.send({
        topic: input.topic,
        acks: input.acks ?? -1,
        timeout: 30000,
        compression: input.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
        messages: batch.map((m) => ({
          key: m.key ?? null,
          value: m.value ?? null,
          headers: m.headers || {},
          partition: m.partition,
        })),
      });
      // Messages of one send() to one partition form one batch: offsets are consecutive.
      const base = new Map();
      for (const r of result) {
        if (r.errorCode !== 0) throw new Error(`partition ${r.partition} error ${r.errorCode}`);
        base.set(r.partition, BigInt(r.baseOffset));
      }
      const seen = new Map();
      for (const m of batch) {
        if (!base.has(m.partition)) throw new Error(`no result for partition ${m.partition}`);
        const i = seen.get(m.partition) || 0n;
        seen.set(m.partition, i + 1n);
        offsets.push({ partition: m.partition, offset: (base.get(m.partition) + i).toString() });
      }
    }
  } finally {
    await producer.disconnect();
  }
  return { offsets };
}

runMain(main);
