"""@confluentinc/kafka-javascript (librdkafka 2.15): its KafkaJS-compatible admin, producer and consumer.

The client is a Node.js binding of librdkafka 2.15.1, built by scripts/install-deps.sh --test in
node-rdkafka/ (see README.md). It sends the newest versions librdkafka speaks (Metadata v12+, Produce
v10, Fetch v16, DescribeTopics through Metadata with authorized operations), so this module runs in
the first pass like the other Node.js clients: it does not depend on which librdkafka Python loaded.
"""
import json
from pathlib import Path

import pytest

from kafka_helpers import read_all, run

RDK_DIR = Path(__file__).resolve().parent / 'node-rdkafka'
BUILT = RDK_DIR / 'node_modules' / '@confluentinc' / 'kafka-javascript' / 'build' / 'deps' / 'librdkafka.so.1'
BROKER_ARGS = ['--auto-create-topics=false']


@pytest.fixture(scope='module', autouse=True)
def _needs_ckjs(node_bin):
    if not BUILT.exists():
        pytest.fail(f'@confluentinc/kafka-javascript is not built ({BUILT} is missing): run '
                    'scripts/install-deps.sh --test and read why its build failed', pytrace=False)


def ckjs(broker, *steps, timeout=180):
    """Runs steps in node-rdkafka/ckjs.js; returns the results (each {"ok": ...} or {"error": ...})."""
    proc = run(['node', 'ckjs.js'], input=json.dumps({'brokers': [broker.kafka], 'steps': list(steps)}).encode(),
               timeout=timeout, cwd=RDK_DIR)
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f'ckjs.js printed no JSON:\n{proc.stdout[-2000:]!r}\n'
                             f'stderr: {proc.stderr.decode(errors="replace")[-3000:]}')
    assert out['librdkafka'].startswith('2.15'), out['librdkafka']
    return out['results']


def ok(result):
    assert 'ok' in result, result
    return result['ok']


def step(op, args=None):
    return {'op': op, 'args': args if args is not None else {}}


def test_admin_produce_and_group_consume(broker, topic):
    group = f'{topic}-g'
    records = [{'key': f'k{i}', 'value': f'v{i}', 'partition': i % 3} for i in range(30)]
    r = ckjs(broker,
             step('createTopics', {'topics': [{'topic': topic, 'numPartitions': 3}]}),
             step('listTopics'),
             step('fetchTopicMetadata', {'topics': [topic]}),
             step('produce', {'topic': topic, 'messages': records}),
             step('consume', {'topic': topic, 'groupId': group, 'count': 30}),
             step('fetchOffsets', {'groupId': group, 'topics': [topic]}),
             step('describeGroups', [[group]]),
             step('listGroups'),
             step('fetchTopicOffsets', [topic]))
    assert ok(r[0]) is True
    assert topic in ok(r[1])
    md = ok(r[2])[0]
    assert md['name'] == topic and sorted(p['partitionId'] for p in md['partitions']) == [0, 1, 2]
    assert all(p['leader'] == 0 and p['replicas'] == [0] for p in md['partitions']), md
    sent = ok(r[3])
    assert sorted(s['partition'] for s in sent) == [0, 1, 2], sent
    got = ok(r[4])
    assert sorted(m['value'] for m in got) == sorted(x['value'] for x in records)
    for p in range(3):
        offsets = [int(m['offset']) for m in got if m['partition'] == p]
        assert offsets == list(range(10)), (p, offsets)
        assert {m['key'] for m in got if m['partition'] == p} == {f'k{i}' for i in range(p, 30, 3)}
    committed = {x['partition']: x['offset'] for x in ok(r[5])[0]['partitions']}
    assert committed == {0: '10', 1: '10', 2: '10'}, ok(r[5])
    desc = ok(r[6])['groups'][0]
    # librdkafka's enums: state 5 is EMPTY (every member left), type 2 is CLASSIC.
    assert desc['groupId'] == group and desc['members'] == [] and desc['protocolType'] == 'consumer', desc
    assert desc['state'] == 5 and desc['type'] == 2 and desc['coordinator']['id'] == 0, desc
    listed = ok(r[7])['groups']
    assert any(g['groupId'] == group for g in listed), listed
    ends = {x['partition']: x for x in ok(r[8])}
    assert {p: ends[p]['high'] for p in ends} == {0: '10', 1: '10', 2: '10'}, ends
    # The records are in the log as the Python client reads them.
    assert sorted(x['value'] for x in read_all(broker.kafka, topic, 3)) == sorted(
        x['value'].encode() for x in records)


def test_delete_records_group_and_topic(broker, topic):
    group = f'{topic}-g'
    r = ckjs(broker,
             step('createTopics', {'topics': [{'topic': topic, 'numPartitions': 1}]}),
             step('produce', {'topic': topic, 'messages': [{'value': f'v{i}'} for i in range(10)]}),
             step('consume', {'topic': topic, 'groupId': group, 'count': 10}),
             step('deleteTopicRecords', {'topic': topic, 'partitions': [{'partition': 0, 'offset': '4'}]}),
             step('fetchTopicOffsets', [topic]),
             step('deleteGroups', [[group]]),
             step('listGroups'),
             step('deleteTopics', {'topics': [topic]}),
             step('listTopics'))
    for i in range(3):
        ok(r[i])
    ok(r[3])
    assert ok(r[4])[0]['low'] == '4' and ok(r[4])[0]['high'] == '10', ok(r[4])
    ok(r[5])
    assert all(g['groupId'] != group for g in ok(r[6])['groups'])
    ok(r[7])
    assert topic not in ok(r[8])


# Kafka's AclOperation codes (librdkafka's rd_kafka_AclOperation_t) of every operation defined for a topic and a
# group: with no authorizer, a client may perform all of them.
ACL_OPERATIONS = {'READ': 3, 'WRITE': 4, 'CREATE': 5, 'DELETE': 6, 'ALTER': 7, 'DESCRIBE': 8,
                  'DESCRIBE_CONFIGS': 10, 'ALTER_CONFIGS': 11}
TOPIC_OPERATIONS = {'READ', 'WRITE', 'CREATE', 'DELETE', 'ALTER', 'DESCRIBE', 'DESCRIBE_CONFIGS', 'ALTER_CONFIGS'}
GROUP_OPERATIONS = {'READ', 'DELETE', 'DESCRIBE', 'DESCRIBE_CONFIGS', 'ALTER_CONFIGS'}


def operation_names(ops):
    by_code = {v: k for k, v in ACL_OPERATIONS.items()}
    return {by_code.get(o, o) if isinstance(o, int) else str(o).upper() for o in ops}


def test_authorized_operations_when_asked(broker, topic):
    group = f'{topic}-g'
    r = ckjs(broker,
             step('createTopics', {'topics': [{'topic': topic, 'numPartitions': 1}]}),
             step('produce', {'topic': topic, 'messages': [{'value': 'v'}]}),
             step('consume', {'topic': topic, 'groupId': group, 'count': 1}),
             step('fetchTopicMetadata', {'topics': [topic], 'includeAuthorizedOperations': True}),
             step('fetchTopicMetadata', {'topics': [topic]}),
             step('describeGroups', [[group], {'includeAuthorizedOperations': True}]),
             step('describeGroups', [[group]]))
    for i in range(3):
        ok(r[i])
    asked = ok(r[3])[0].get('authorizedOperations')
    assert asked is not None and operation_names(asked) == TOPIC_OPERATIONS, asked
    assert not ok(r[4])[0].get('authorizedOperations'), ok(r[4])
    asked = ok(r[5])['groups'][0].get('authorizedOperations')
    assert asked is not None and operation_names(asked) == GROUP_OPERATIONS, asked
    assert not ok(r[6])['groups'][0].get('authorizedOperations'), ok(r[6])
