"""kafka-python: its own protocol code (version probing, Metadata v1, legacy request versions)."""
import logging
import time

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from kafka_helpers import check_brokers, create_topic, list_topics

DEFAULT_PARTITIONS = 1
BROKER_ARGS = ['--auto-create-topics=true', '--default-partitions', str(DEFAULT_PARTITIONS)]
TIMEOUT_S = 30

logging.getLogger('kafka').setLevel(logging.WARNING)


def make_producer(broker, **kw):
    # api_version is left unset: kafka-python probes the broker with ApiVersions.
    return KafkaProducer(bootstrap_servers=broker.kafka, acks='all', linger_ms=5,
                         max_block_ms=TIMEOUT_S * 1000, request_timeout_ms=TIMEOUT_S * 1000, **kw)


def send_all(producer, topic, records):
    """Sends dicts (key, value, headers, partition); returns [(partition, offset)] in order."""
    futures = [
        producer.send(topic, value=r.get('value'), key=r.get('key'), headers=r.get('headers'),
                      partition=r.get('partition')) for r in records
    ]
    producer.flush(timeout=TIMEOUT_S)
    metas = [f.get(timeout=TIMEOUT_S) for f in futures]
    return [(m.partition, m.offset) for m in metas]


def read_back(broker, topic, partitions, count):
    """KafkaConsumer without a group: assign, seek_to_beginning, poll until `count` records."""
    consumer = KafkaConsumer(bootstrap_servers=broker.kafka, group_id=None,
                             enable_auto_commit=False, request_timeout_ms=TIMEOUT_S * 1000 + 5000)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        got = []
        deadline = time.monotonic() + TIMEOUT_S
        while len(got) < count:
            if time.monotonic() > deadline:
                pytest.fail(f'kafka-python read {len(got)} of {count} records in {TIMEOUT_S}s')
            check_brokers()
            for records in consumer.poll(timeout_ms=500).values():
                got.extend(records)
        return got
    finally:
        consumer.close()


def check(records, acked, got):
    assert len(got) == len(records), 'extra records read'
    by_place = {(r.partition, r.offset): r for r in got}
    assert sorted(by_place) == sorted(acked)
    for want, place in zip(records, acked):
        r = by_place[place]
        assert (r.key, r.value) == (want.get('key'), want.get('value')), place
        assert list(r.headers) == list(want.get('headers') or []), place


def test_produce_flush_and_read_back(broker, topic):
    create_topic(broker.kafka, topic, partitions=2)
    records = [{
        'key': f'k{i}'.encode() if i % 3 else None,
        'value': f'value {i}'.encode() * (i + 1),
        'partition': i % 2,
    } for i in range(60)]
    producer = make_producer(broker)
    try:
        acked = send_all(producer, topic, records)
    finally:
        producer.close(timeout=TIMEOUT_S)
    assert sorted(acked) == sorted([(p, o) for p in (0, 1) for o in range(30)])
    check(records, acked, read_back(broker, topic, 2, len(records)))


def test_headers(broker, topic):
    create_topic(broker.kafka, topic, partitions=1)
    records = [{
        'value': f'v{i}'.encode(),
        'headers': [('trace', f'{i}'.encode()), ('empty', b''), ('trace', b'again')],
        'partition': 0,
    } for i in range(10)]
    producer = make_producer(broker)
    try:
        acked = send_all(producer, topic, records)
    finally:
        producer.close(timeout=TIMEOUT_S)
    check(records, acked, read_back(broker, topic, 1, len(records)))


def test_gzip_compression(broker, topic):
    create_topic(broker.kafka, topic, partitions=1)
    records = [{'key': b'k', 'value': (f'compressible {i} ' * 200).encode(), 'partition': 0}
               for i in range(100)]
    producer = make_producer(broker, compression_type='gzip', batch_size=256 * 1024)
    try:
        acked = send_all(producer, topic, records)
    finally:
        producer.close(timeout=TIMEOUT_S)
    assert acked == [(0, i) for i in range(100)]
    check(records, acked, read_back(broker, topic, 1, len(records)))


def test_auto_create_via_metadata_v1(broker, topic):
    # kafka-python asks Metadata v1 for the new topic; the broker creates it on the spot.
    assert topic not in list_topics(broker.kafka)
    producer = make_producer(broker)
    try:
        acked = send_all(producer, topic, [{'value': b'first'}])
    finally:
        producer.close(timeout=TIMEOUT_S)
    assert acked[0][1] == 0 and 0 <= acked[0][0] < DEFAULT_PARTITIONS
    assert list_topics(broker.kafka).get(topic) == DEFAULT_PARTITIONS
    [r] = read_back(broker, topic, DEFAULT_PARTITIONS, 1)
    assert r.value == b'first'
