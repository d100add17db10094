'use strict';
// Produces numbered messages with an idempotent kafkajs producer for a while
// (the test kills and restarts the broker meanwhile) and prints every
// acknowledged message's offset.
// stdin:  {"brokers": [...], "topic": "t", "partitions": n, "seconds": s, "batch": m}
// stdout: {"acked": [{"partition": n, "offset": "decimal", "value": "000000042"}],
//          "failed": [{"values": [...], "error": {...}}], "sent": n}
const { makeKafka, runMain, describeError } = require('./common');

async function main(input) {
  const kafka = makeKafka({ ...input });
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // Outlives a broker restart: a send that gives up would be re-sent with
    // new sequence numbers, which idempotence cannot deduplicate.
    retry: { retries: 60, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  await producer.connect();
  const acked = [];
  const failed = [];
  let sent = 0;
  const deadline = Date.now() + input.seconds * 1000;
  try {
    while (Date.now() < deadline) {
      const partition = sent % input.partitions;
      const values = [];
      for (let i = 0; i < input.batch; ++i) values.push(String(sent + i).padStart(9, '0'));
      sent += input.batch;
      try {
        const result = await producer.send({
          topic: input.topic,
          acks: -1,
          timeout: 30000,
          messages: values.map((value) => ({ value, partition })),
        });
        const base = BigInt(result[0].baseOffset);
        values.forEach((value, i) => acked.push({ partition, offset: (base + BigInt(i)).toString(), value }));
      } catch (err) {
        failed.push({ values, error: describeError(err) });
      }
    }
  } finally {
    await producer.disconnect();
  }
  return { acked, failed, sent };
}

runMain(main);
