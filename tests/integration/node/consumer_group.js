'use strict';
// Several kafkajs consumers in one group: waits until the group is stable with all of them,
// produces the records, consumes until every one arrived, then describes the group and its
// offsets, disconnects and deletes the group.
// stdin:  {"brokers": [...], "topic": "t", "groupId": "g", "consumers": n, "records": n,
//          "partitions": n, "sessionTimeout": ms}
// stdout: {"consumed": [{"consumer": i, "partition": n, "offset": "d", "value": s}],
//          "assignments": [[partitions of consumer i]], "describe": {...},
//          "offsets": [{"partition": n, "offset": "d"}], "listed": bool, "deleted": [...]}
const { makeKafka, runMain } = require('./common');

const WAIT_MS = 30000;

async function waitFor(cond, what) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main(input) {
  const kafka = makeKafka(input);
  const admin = kafka.admin();
  await admin.connect();
  const consumed = [];
  const assignments = [];
  const consumers = [];
  try {
    for (let i = 0; i < input.consumers; i++) {
      const c = kafka.consumer({
        groupId: input.groupId,
        sessionTimeout: input.sessionTimeout,
        heartbeatInterval: 200,
        rebalanceTimeout: 10000,
        maxWaitTimeInMs: 200,  // short long-polls: disconnect waits for the one in flight
      });
      assignments.push([]);
      c.on(c.events.GROUP_JOIN, (e) => {
        assignments[i] = (e.payload.memberAssignment[input.topic] || []).slice().sort((a, b) => a - b);
      });
      await c.connect();
      await c.subscribe({ topic: input.topic, fromBeginning: true });
      await c.run({
        eachMessage: async ({ partition, message }) => {
          consumed.push({ consumer: i, partition, offset: message.offset, value: message.value.toString() });
        },
      });
      consumers.push(c);
    }
    // A clean run: everyone is in the group before the first record exists.
    await waitFor(async () => {
      const d = await admin.describeGroups([input.groupId]);
      const g = d.groups[0];
      const total = assignments.reduce((n, a) => n + a.length, 0);
      return g.state === 'Stable' && g.members.length === input.consumers && total === input.partitions &&
        assignments.every((a) => a.length > 0);
    }, 'a stable group with every consumer');
    const producer = kafka.producer();
    await producer.connect();
    const messages = [];
    for (let i = 0; i < input.records; i++) messages.push({ value: `r${i}`, partition: i % input.partitions });
    await producer.send({ topic: input.topic, messages });
    await producer.disconnect();
    await waitFor(() => consumed.length >= input.records, 'every record');
    const describe = (await admin.describeGroups([input.groupId])).groups[0];
    const finalAssignments = assignments.map((a) => a.slice());  // before leaving rebalances the rest
    for (const c of consumers) await c.disconnect();  // commits what was consumed
    consumers.length = 0;
    const offsets = (await admin.fetchOffsets({ groupId: input.groupId, topics: [input.topic] }))[0].partitions;
    const listed = (await admin.listGroups()).groups.some((g) => g.groupId === input.groupId);
    await admin.deleteGroups([input.groupId]);
    const after = (await admin.listGroups()).groups.some((g) => g.groupId === input.groupId);
    return {
      consumed,
      assignments: finalAssignments,
      describe: { state: describe.state, protocol: describe.protocol, members: describe.members.length },
      offsets: offsets.map((p) => ({ partition: p.partition, offset: p.offset })),
      listed,
      listedAfterDelete: after,
    };
  } finally {
    for (const c of consumers) await c.disconnect().catch(() => {});
    await admin.disconnect();
  }
}

runMain(main);
