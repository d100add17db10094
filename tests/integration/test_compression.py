"""Topic compression.type: batches are stored with the topic's codec, recompressed on produce when needed.

As Kafka: "producer" (the default) keeps each batch as sent (our zero-copy path); uncompressed, gzip,
snappy, lz4 and zstd make the broker decompress a batch of another codec, check its records and
compress them again. What is stored is checked in a raw Fetch (the codec bits of every batch), and
read back by librdkafka (and kafka-python for gzip and lz4, a second, pure-Python decoder).
"""
import pytest
from confluent_kafka.admin import ConfigResource, NewTopic
from kafka import KafkaConsumer, TopicPartition

from kafka_helpers import admin, produce_ok, read_all
from test_confluent import assert_read_matches, sample_records
from test_groups_protocol import Conn, Reader, array, i8, i32, i64, string

pytestmark = pytest.mark.librdkafka  # runs with librdkafka 2.0.2 and 2.15 (tests/run-integration.sh)

BROKER_ARGS = ['--auto-create-topics=false']
PARTITIONS = 2
CODECS = {0: 'uncompressed', 1: 'gzip', 2: 'snappy', 3: 'lz4', 4: 'zstd'}
PRODUCER_CODEC = {'uncompressed': 'none', 'gzip': 'gzip', 'snappy': 'snappy', 'lz4': 'lz4', 'zstd': 'zstd'}


def create(broker, topic, config):
    a = admin(broker.kafka)  # kept until the result is in (a destroyed handle fails its futures)
    a.create_topics([NewTopic(topic, PARTITIONS, 1, config=config)])[topic].result(30)


def stored_codecs(broker, topic, partition):
    """Codec name of every batch Fetch v4 returns for the partition (as stored)."""
    c = Conn(broker.kafka)
    try:
        body = i32(-1) + i32(100) + i32(1) + i32(64 << 20) + i8(0)
        body += array([string(topic) + array([i32(partition) + i64(0) + i32(64 << 20)])])
        r = c.call(1, 4, body)
    finally:
        c.close()
    r.i32()  # throttle
    codecs = []
    for _ in range(r.i32()):
        assert r.string() == topic
        for _ in range(r.i32()):
            assert r.i32() == partition
            error = r.i16()
            assert error == 0, error
            r.i64(), r.i64()  # high watermark, last stable offset
            aborted = r.i32()
            assert aborted <= 0
            records = Reader(r.blob())
            while records.pos + 61 <= len(records.data):
                base = records.pos
                records.i64()
                length = records.i32()
                records.pos = base + 21
                codecs.append(CODECS.get(records.i16() & 7, 'unknown'))
                records.pos = base + 12 + length
    return codecs


def compressible(n, tag):
    """Records librdkafka always sends compressed: it sends a batch uncompressed when the codec would not make it
    smaller, which small records alone in a batch are not."""
    return [{'value': f'{tag}-{i}:'.encode() + b'abcd' * 500, 'partition': i % PARTITIONS} for i in range(n)]


def runs(codecs):
    """The codecs in order, consecutive repeats collapsed (one produce may be several batches)."""
    return [c for i, c in enumerate(codecs) if i == 0 or codecs[i - 1] != c]


def recompressed(broker):
    return broker.metrics().get('kafscale_produce_recompressed_batches_total')


@pytest.mark.parametrize('topic_codec', ['uncompressed', 'gzip', 'snappy', 'lz4', 'zstd'])
def test_batches_are_stored_with_the_topic_codec(broker, topic, topic_codec):
    # The producer uses another codec (none, or gzip for an uncompressed topic): every batch is recompressed.
    sent_codec = 'gzip' if topic_codec == 'uncompressed' else 'none'
    create(broker, topic, {'compression.type': topic_codec})
    before = recompressed(broker)
    records = sample_records(60, PARTITIONS) + compressible(10, 'c')  # the latter are always sent compressed
    acked = produce_ok(broker.kafka, topic, records, conf={'compression.type': sent_codec, 'linger.ms': 20})
    assert_read_matches(records, acked, read_all(broker.kafka, topic, PARTITIONS))
    for p in range(PARTITIONS):
        codecs = stored_codecs(broker, topic, p)
        assert codecs and set(codecs) == {topic_codec}, (p, codecs)
    assert recompressed(broker) - before >= PARTITIONS
    if topic_codec in ('gzip', 'lz4', 'uncompressed'):
        # kafka-python decodes these itself (Python's zlib and lz4 modules).
        consumer = KafkaConsumer(bootstrap_servers=broker.kafka, consumer_timeout_ms=5000,
                                 auto_offset_reset='earliest', enable_auto_commit=False)
        consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
        got = sorted((m.partition, m.offset, m.value) for m in consumer)
        consumer.close()
        want = sorted((p, o, r['value']) for r, (p, o) in zip(records, acked))
        assert got == want


def test_batches_already_in_the_topic_codec_are_stored_as_sent(broker, topic):
    create(broker, topic, {'compression.type': 'lz4'})
    before = recompressed(broker)
    records = compressible(40, 'lz4')
    acked = produce_ok(broker.kafka, topic, records, conf={'compression.type': 'lz4'})
    got = read_all(broker.kafka, topic, PARTITIONS)
    assert sorted(r['value'] for r in got) == sorted(r['value'] for r in records) and len(acked) == 40
    assert recompressed(broker) == before
    assert set(stored_codecs(broker, topic, 0)) == {'lz4'}


def test_producer_default_keeps_every_codec(broker, topic):
    create(broker, topic, {})
    before = recompressed(broker)
    for codec in ('none', 'gzip', 'snappy'):
        produce_ok(broker.kafka, topic, [dict(r, partition=0) for r in compressible(5, codec)],
                   conf={'compression.type': codec})
    assert runs(stored_codecs(broker, topic, 0)) == ['uncompressed', 'gzip', 'snappy']
    assert recompressed(broker) == before


def test_altered_compression_applies_to_new_batches_and_bad_values_are_refused(broker, topic):
    create(broker, topic, {'compression.type': 'gzip'})
    produce_ok(broker.kafka, topic, [{'value': b'first', 'partition': 0}], conf={'compression.type': 'none'})
    a = admin(broker.kafka)  # (the broker compresses: a small record is fine here)
    res = ConfigResource('topic', topic, set_config={'compression.type': 'zstd'})
    a.alter_configs([res])[res].result(30)
    described = a.describe_configs([ConfigResource('topic', topic)])
    configs = list(described.values())[0].result(30)
    assert configs['compression.type'].value == 'zstd'
    produce_ok(broker.kafka, topic, [{'value': b'second', 'partition': 0}], conf={'compression.type': 'none'})
    assert stored_codecs(broker, topic, 0) == ['gzip', 'zstd']
    assert [r['value'] for r in read_all(broker.kafka, topic, PARTITIONS)] == [b'first', b'second']

    bad = ConfigResource('topic', topic, set_config={'compression.type': 'brotli'})
    with pytest.raises(Exception) as e:
        a.alter_configs([bad])[bad].result(30)
    assert 'compression.type' in str(e.value) and 'brotli' in str(e.value), e.value
    fs = a.create_topics([NewTopic(topic + '-bad', 1, 1, config={'compression.type': 'none'})])
    with pytest.raises(Exception) as e:
        fs[topic + '-bad'].result(30)
    assert 'INVALID_CONFIG' in str(e.value) or 'String must be one of' in str(e.value), e.value
