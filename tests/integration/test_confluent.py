"""confluent-kafka-python (librdkafka): produce/consume fidelity, compression, admin, limits."""
import os

import pytest
from confluent_kafka import KafkaError
from confluent_kafka.admin import NewTopic

from kafka_helpers import (admin, create_topic, list_topics, produce, produce_ok, read, read_all,
                           wait_for)

pytestmark = pytest.mark.librdkafka  # runs with librdkafka 2.0.2 and 2.15 (tests/run-integration.sh)

DEFAULT_PARTITIONS = 2
BROKER_ARGS = ['--auto-create-topics=true', '--default-partitions', str(DEFAULT_PARTITIONS)]

MIB = 1 << 20
TOPIC_MAX_MESSAGE_BYTES = 3 * MIB
# Client limits raised well past the topic's so only the broker can refuse a record.
BIG_PRODUCER = {'message.max.bytes': 16 * MIB, 'compression.type': 'none'}
BIG_CONSUMER = {
    'fetch.message.max.bytes': 8 * MIB,
    'fetch.max.bytes': 16 * MIB,
    'receive.message.max.bytes': 32 * MIB,
}


def sample_records(n, partitions):
    """Keys, null keys, null values, empty values, repeated and null headers, varied sizes."""
    records = []
    for i in range(n):
        value = None if i % 7 == 3 else (b'' if i % 11 == 5 else
                                         f'value-{i}:'.encode() + bytes([i % 251]) * (i * 53))
        headers = [('seq', str(i).encode()), ('dup', b'a'), ('dup', b'b')]
        if i % 4 == 0:
            headers.append(('null-header', None))
        records.append({
            'key': None if i % 5 == 2 else f'key-{i}'.encode(),
            'value': value,
            'headers': headers if i % 9 != 8 else None,
            'partition': i % partitions,
        })
    return records


def assert_read_matches(records, acked, got):
    """Everything read is exactly what was acknowledged, at the acknowledged place."""
    by_place = {}
    for r in got:
        place = (r['partition'], r['offset'])
        assert place not in by_place, f'read {place} twice'
        by_place[place] = r
    assert sorted(by_place) == sorted(acked), 'read offsets differ from acknowledged ones'
    for want, place in zip(records, acked):
        r = by_place[place]
        assert r['key'] == want.get('key'), place
        assert r['value'] == want.get('value'), place
        assert r['headers'] == (want.get('headers') or []), place


@pytest.mark.parametrize('compression', ['none', 'gzip', 'snappy', 'lz4', 'zstd'])
def test_produce_consume_roundtrip(broker, topic, compression):
    create_topic(broker.kafka, topic, partitions=3)
    records = sample_records(120, 3)
    acked = produce_ok(broker.kafka, topic, records, conf={'compression.type': compression})
    for p in range(3):  # per partition, offsets start at 0 and are dense
        offsets = [o for part, o in acked if part == p]
        assert offsets == list(range(len(offsets))), (p, offsets)
    got = read_all(broker.kafka, topic, 3)
    assert_read_matches(records, acked, got)


def test_assign_at_explicit_offsets(broker, topic):
    create_topic(broker.kafka, topic, partitions=2)
    records = [{'value': f'v{i}'.encode(), 'partition': i % 2} for i in range(40)]
    acked = produce_ok(broker.kafka, topic, records, flush_every=7)
    got = read(broker.kafka, topic, {0: 13, 1: 20})
    by_part = {p: [r['offset'] for r in got if r['partition'] == p] for p in (0, 1)}
    assert by_part == {0: list(range(13, 20)), 1: []}
    values = {(r['partition'], r['offset']): r['value'] for r in got}
    for rec, place in zip(records, acked):
        if place in values:
            assert values[place] == rec['value']


def test_admin_configs_and_large_records(broker, topic):
    create_topic(broker.kafka, topic, partitions=1, config={
        'max.message.bytes': str(TOPIC_MAX_MESSAGE_BYTES),
        'cleanup.policy': 'delete',
    })
    big = os.urandom(2 * MIB)
    acked = produce_ok(broker.kafka, topic, [{'value': big, 'key': b'big', 'partition': 0}],
                       conf=BIG_PRODUCER)
    assert acked == [(0, 0)]
    got = read_all(broker.kafka, topic, 1, conf=BIG_CONSUMER)
    assert len(got) == 1 and got[0]['key'] == b'big' and got[0]['value'] == big

    too_big = os.urandom(TOPIC_MAX_MESSAGE_BYTES + 1024)
    [(_, _, err)] = produce(broker.kafka, topic, [{'value': too_big, 'partition': 0}],
                            conf=BIG_PRODUCER)
    assert err is not None and err.code() == KafkaError.MSG_SIZE_TOO_LARGE, err
    # Nothing of it was stored, and the log still works.
    assert produce_ok(broker.kafka, topic, [{'value': b'after', 'partition': 0}]) == [(0, 1)]
    got = read_all(broker.kafka, topic, 1, conf=BIG_CONSUMER)
    assert [r['value'] for r in got] == [big, b'after']


def create_error(bootstrap, new_topic, **kw):
    a = admin(bootstrap)  # must outlive the future
    fut = a.create_topics([new_topic], request_timeout=30, **kw)[new_topic.topic]
    err = fut.exception(timeout=30)
    return None if err is None else err.args[0]


def test_compacted_topic_rejected(broker, topic):
    err = create_error(broker.kafka, NewTopic(topic, 1, 1, config={'cleanup.policy': 'compact'}))
    assert err is not None and err.code() == KafkaError.INVALID_CONFIG, err
    assert topic not in list_topics(broker.kafka)


def test_validate_only_creates_nothing(broker, topic):
    assert create_error(broker.kafka, NewTopic(topic, 4, 1), validate_only=True) is None
    assert topic not in list_topics(broker.kafka)
    # The same request for real does create it.
    assert create_error(broker.kafka, NewTopic(topic, 4, 1)) is None
    wait_for(lambda: list_topics(broker.kafka).get(topic) == 4, 30, f'{topic} created')
    err = create_error(broker.kafka, NewTopic(topic, 4, 1))
    assert err is not None and err.code() == KafkaError.TOPIC_ALREADY_EXISTS, err


def test_delete_topic(broker, topic):
    create_topic(broker.kafka, topic, partitions=2)
    produce_ok(broker.kafka, topic, [{'value': b'x', 'partition': 1}])
    a = admin(broker.kafka)
    fut = a.delete_topics([topic], request_timeout=30)[topic]
    assert fut.exception(timeout=30) is None
    wait_for(lambda: topic not in list_topics(broker.kafka), 30, f'{topic} gone from metadata')


def test_thousand_partitions(broker, topic):
    n = 1000
    create_topic(broker.kafka, topic, partitions=n, timeout=60)
    records = [{'key': f'k{p}'.encode(), 'value': f'partition {p}'.encode(), 'partition': p}
               for p in range(n)]
    acked = produce_ok(broker.kafka, topic, records, timeout=60)
    assert acked == [(p, 0) for p in range(n)]
    got = read_all(broker.kafka, topic, n, timeout=90)
    assert len(got) == n
    for r in got:
        assert r['offset'] == 0
        assert r['value'] == f'partition {r["partition"]}'.encode()
        assert r['key'] == f'k{r["partition"]}'.encode()


def test_auto_create_on_produce(broker, topic):
    assert topic not in list_topics(broker.kafka)
    acked = produce_ok(broker.kafka, topic, [{'value': b'hello'}, {'value': b'world'}])
    assert len(acked) == 2
    assert list_topics(broker.kafka).get(topic) == DEFAULT_PARTITIONS
    got = read_all(broker.kafka, topic, DEFAULT_PARTITIONS)
    assert sorted(r['value'] for r in got) == [b'hello', b'world']


def test_auto_create_disabled(broker_factory, topic):
    b = broker_factory(['--auto-create-topics=false'], name='no-autocreate').start()
    [(_, _, err)] = produce(b.kafka, topic, [{'value': b'x'}], conf={'message.timeout.ms': 4000})
    assert err is not None, 'produce to an unknown topic succeeded with auto-create off'
    assert topic not in list_topics(b.kafka)
    assert b.stop() == 0
