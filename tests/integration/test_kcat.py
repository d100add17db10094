"""kcat (librdkafka's command-line client): metadata, produce/consume, offsets by timestamp."""
import json
import time

import pytest

from kafka_helpers import kcat, kcat_consume, list_topics, produce_ok, wait_for

pytestmark = pytest.mark.librdkafka  # runs with librdkafka 2.0.2 and 2.15 (tests/run-integration.sh)

# Topics here come from auto-creation, so this module does not depend on CreateTopics.
DEFAULT_PARTITIONS = 3
BROKER_ARGS = ['--auto-create-topics=true', '--default-partitions', str(DEFAULT_PARTITIONS)]


def auto_create(broker, topic):
    kcat(broker.kafka, '-P', '-t', topic, '-p', 0, input=b'seed\n')
    wait_for(lambda: list_topics(broker.kafka).get(topic) == DEFAULT_PARTITIONS, 30,
             f'{topic} in metadata')


def test_metadata_lists_broker_and_topics(broker, topic, kcat_bin):
    auto_create(broker, topic)
    md = json.loads(kcat(broker.kafka, '-L', '-J', '-m', 15).stdout)
    brokers = md['brokers']
    assert len(brokers) == 1, brokers
    assert brokers[0]['name'].split('/')[0] == broker.kafka, (brokers, broker.kafka)
    topics = {t['topic']: t for t in md['topics']}
    assert topic in topics, sorted(topics)
    parts = topics[topic]['partitions']
    assert sorted(p['partition'] for p in parts) == list(range(DEFAULT_PARTITIONS))
    for p in parts:
        assert p['leader'] == brokers[0]['id'], p

    # Asking for one topic gives just that topic.
    md = json.loads(kcat(broker.kafka, '-L', '-J', '-t', topic, '-m', 15).stdout)
    assert [t['topic'] for t in md['topics']] == [topic]
    assert 'error' not in md['topics'][0] or not md['topics'][0]['error'], md


def test_produce_keys_and_headers_then_consume_exactly(broker, topic, kcat_bin):
    auto_create(broker, topic)  # partition 0 now holds 'seed' at offset 0
    first = [(f'key-{i}', f'value {i} \u00e9\u4e2d {"x" * (i * 37)}') for i in range(25)]
    kcat(broker.kafka, '-P', '-t', topic, '-p', 0, '-K', '\t', '-H', 'trace=abc', '-H',
         'empty=', '-H', 'trace=dup',
         input=''.join(f'{k}\t{v}\n' for k, v in first).encode())
    second = [f'plain-{i}' for i in range(5)]
    kcat(broker.kafka, '-P', '-t', topic, '-p', 0, '-H', 'run=2',
         input=''.join(v + '\n' for v in second).encode())

    got = kcat_consume(broker.kafka, topic, 0)
    assert [m['offset'] for m in got] == list(range(1 + len(first) + len(second)))
    assert all(m['partition'] == 0 and m['topic'] == topic for m in got)
    assert got[0]['payload'] == 'seed' and got[0]['key'] is None
    for (key, value), m in zip(first, got[1:]):
        assert (m['key'], m['payload']) == (key, value)
        assert m['headers'] == ['trace', 'abc', 'empty', '', 'trace', 'dup'], m
    for value, m in zip(second, got[1 + len(first):]):
        assert (m['key'], m['payload']) == (None, value)
        assert m['headers'] == ['run', '2'], m
    # Other partitions got nothing.
    assert kcat_consume(broker.kafka, topic, 1) == []


def test_consume_from_timestamp(broker, topic, kcat_bin):
    auto_create(broker, topic)
    base = (int(time.time()) - 3600) * 1000  # an hour ago, whole seconds apart
    records = [{'value': f'r{i}'.encode(), 'partition': 1, 'timestamp': base + i * 1000}
               for i in range(9)]
    # Three produce batches, so the lookup must search across batches and within one.
    acked = produce_ok(broker.kafka, topic, records, flush_every=3)
    assert acked == [(1, i) for i in range(9)]

    everything = kcat_consume(broker.kafka, topic, 1)
    assert [m['ts'] for m in everything] == [r['timestamp'] for r in records]

    cases = {
        base - 60_000: 0,  # before every record
        base: 0,
        base + 3000: 3,  # exactly a record's timestamp
        base + 3500: 4,  # between two: the later one
        base + 5999: 6,
        base + 8000: 8,  # the last
    }
    for ts, want in cases.items():
        got = kcat_consume(broker.kafka, topic, 1, offset=f's@{ts}')
        assert [m['offset'] for m in got] == list(range(want, 9)), (ts - base, got)
        assert [m['payload'] for m in got] == [f'r{i}' for i in range(want, 9)]
    # After every record: nothing to read.
    assert kcat_consume(broker.kafka, topic, 1, offset=f's@{base + 60_000}') == []
