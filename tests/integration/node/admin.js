'use strict';
// Runs kafkajs admin actions in order and prints each one's result or error.
// stdin:  {"brokers": [...], "actions": [{"op": "createTopics", "args": {...}},
//          {"op": "fetchTopicMetadata", "args": {"topics": [...]}}, {"op": "listTopics"}, ...]}
//         where op is any kafkajs admin method and args its single argument.
// stdout: {"results": [{"ok": value} | {"error": {name, type, code, message}}]}
const { makeKafka, runMain, describeError } = require('./common');

async function main(input) {
  const admin = makeKafka(input).admin();
  await admin.connect();
  const results = [];
  try {
    for (const action of input.actions) {
      if (typeof admin[action.op] !== 'function') throw new Error(`unknown admin op ${action.op}`);
      try {
        const value = await admin[action.op](action.args);
        results.push({ ok: value === undefined ? null : value });
      } catch (err) {
        results.push({ error: describeError(err) });
      }
    }
  } finally {
    await admin.disconnect();
  }
  return { results };
}

runMain(main);
