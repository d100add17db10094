'use strict';
// One kafkajs consumer in a group: consumes from the earliest offset and commits after every
// batch until its stdin closes, printing each event on stdout as it happens (the test acts on
// them while the script runs, e.g. stops the group's coordinator):
//   STARTED
//   MSG <partition> <offset> <value>     a record handed to the application
//   COMMIT <partition> <offset>          a commit the coordinator acknowledged
//   ERROR <what> ...                     a failed commit (thrown again: kafkajs retries the
//                                        batch) or a consumer crash (kafkajs restarts)
//   CLOSED
// argv[2]: {"brokers": [...], "topic": "t", "groupId": "g", "sessionTimeout": ms}
const { makeKafka } = require('./common');

function out(line) {
  process.stdout.write(line + '\n');
}

async function main(input) {
  const consumer = makeKafka(input).consumer({
    groupId: input.groupId,
    sessionTimeout: input.sessionTimeout ?? 6000,
    heartbeatInterval: 300,
    rebalanceTimeout: 10000,
    maxWaitTimeInMs: 200,
  });
  consumer.on(consumer.events.CRASH, (e) => {
    const err = e.payload.error;
    out(`ERROR crash ${err && err.name} restart=${e.payload.restart} ${err && err.message}`.replace(/\n/g, ' '));
  });
  await consumer.connect();
  await consumer.subscribe({ topic: input.topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const { messages } = batch;
      if (messages.length === 0) return;
      for (const m of messages) out(`MSG ${batch.partition} ${m.offset} ${m.value.toString()}`);
      const next = (BigInt(messages[messages.length - 1].offset) + 1n).toString();
      try {
        await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
      } catch (err) {
        out(`ERROR commit ${batch.partition} ${next} ${err.name} ${err.type || ''}`);
        throw err;
      }
      out(`COMMIT ${batch.partition} ${next}`);
    },
  });
  out('STARTED');
  await new Promise((resolve) => {
    process.stdin.on('end', resolve);
    process.stdin.resume();
  });
  await consumer.disconnect();
  out('CLOSED');
}

main(JSON.parse(process.argv[2])).catch((err) => {
  process.stderr.write(`FAILED: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
