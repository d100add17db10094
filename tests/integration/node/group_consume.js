'use strict';
// One kafkajs consumer in a group: consumes from the earliest offset until its stdin closes, with
// kafkajs's own offset commits (every 200 ms, after the records handed over), printing each event
// on stdout as it happens (the test acts on them while the script runs, e.g. stops the group's
// coordinator):
//   STARTED
//   MSG <partition> <offset> <value>     a record handed to the application
//   COMMIT <partition> <offset>          a commit the coordinator acknowledged (COMMIT_OFFSETS event)
//   ERROR crash <name> restart=<bool>    the consumer crashed (kafkajs restarts it if restart=true)
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
  consumer.on(consumer.events.COMMIT_OFFSETS, (e) => {
    for (const t of e.payload.topics) {
      for (const p of t.partitions) out(`COMMIT ${p.partition} ${p.offset}`);
    }
  });
  await consumer.connect();
  await consumer.subscribe({ topic: input.topic, fromBeginning: true });
  await consumer.run({
    autoCommit: true,
    autoCommitInterval: 200,
    eachMessage: async ({ partition, message }) => {
      out(`MSG ${partition} ${message.offset} ${message.value.toString()}`);
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
