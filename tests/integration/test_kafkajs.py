"""kafkajs (a pure JavaScript client): produce with keys/headers, admin topics and metadata."""
import pytest

from kafka_helpers import create_topic, list_topics, node_script, read_all

BROKER_ARGS = ['--auto-create-topics=true']


@pytest.fixture(autouse=True)
def _needs_node(node_bin):
    pass


@pytest.mark.parametrize('compression', ['none', 'gzip'])
def test_produce_read_back_with_confluent(broker, topic, compression):
    create_topic(broker.kafka, topic, partitions=3)
    batches = []
    for b in range(4):
        batches.append([{
            'key': None if i % 6 == 1 else f'key-{b}-{i}',
            'value': None if i % 10 == 9 else f'value {b}/{i} ' + 'z' * (i * 31),
            'headers': {} if i % 5 == 4 else {'batch': str(b), 'idx': str(i), 'empty': ''},
            'partition': (b + i) % 3,
        } for i in range(25)])
    out = node_script('produce.js', {
        'brokers': [broker.kafka],
        'topic': topic,
        'acks': -1,
        'compression': compression,
        'batches': batches,
    })
    flat = [m for batch in batches for m in batch]
    acked = [(o['partition'], int(o['offset'])) for o in out['offsets']]
    assert len(acked) == len(flat)
    assert len(set(acked)) == len(acked), 'two messages acknowledged at the same offset'

    got = {(r['partition'], r['offset']): r for r in read_all(broker.kafka, topic, 3)}
    assert sorted(got) == sorted(acked)
    for m, place in zip(flat, acked):
        r = got[place]
        enc = lambda s: None if s is None else s.encode()
        assert r['key'] == enc(m['key']), place
        assert r['value'] == enc(m['value']), place
        assert r['headers'] == [(k, v.encode()) for k, v in m['headers'].items()], place


def test_admin_create_topics_and_metadata(broker, topic_name):
    a, b = topic_name('a'), topic_name('b')
    out = node_script('admin.js', {
        'brokers': [broker.kafka],
        'actions': [
            {'op': 'createTopics', 'args': {'topics': [
                {'topic': a, 'numPartitions': 4, 'replicationFactor': 1},
                {'topic': b, 'numPartitions': 1,
                 'configEntries': [{'name': 'max.message.bytes', 'value': '2097152'}]},
            ], 'waitForLeaders': True, 'timeout': 30000}},
            {'op': 'fetchTopicMetadata', 'args': {'topics': [a, b]}},
            {'op': 'listTopics'},
            # Creating it again reports "not created" (TOPIC_ALREADY_EXISTS), not a failure.
            {'op': 'createTopics', 'args': {'topics': [{'topic': a, 'numPartitions': 4}]}},
        ],
    })
    created, metadata, listed, again = out['results']
    assert created == {'ok': True}, created
    assert 'ok' in metadata, metadata
    topics = {t['name']: t for t in metadata['ok']['topics']}
    assert set(topics) == {a, b}
    assert sorted(p['partitionId'] for p in topics[a]['partitions']) == [0, 1, 2, 3]
    assert len(topics[b]['partitions']) == 1
    for t in topics.values():
        for p in t['partitions']:
            assert p['partitionErrorCode'] == 0 and p['leader'] >= 0, p
    assert {a, b} <= set(listed['ok'])
    assert again == {'ok': False}, again
    assert list_topics(broker.kafka).get(a) == 4
