"""Real clients against a broker on the production backends: S3 (Swift) + etcd.

A representative subset of the embedded-mode client tests: kcat, confluent-kafka with every
compression codec, consumer groups, restarts that read everything back from the bucket, and the
backend metrics (object-store health, etcd DB size).
"""
import signal

import pytest

from backends import backend_broker_factory, services  # noqa: F401 (fixtures)
from kafka_helpers import (consumer, create_topic, kcat, kcat_consume, produce_ok, read_all,
                           wait_for)

pytestmark = pytest.mark.librdkafka  # runs with librdkafka 2.0.2 and 2.15 (tests/run-integration.sh)

PARTITIONS = 3
EXTRA_ARGS = ['--auto-create-topics=true', '--default-partitions', str(PARTITIONS)]


@pytest.fixture(scope='module')
def s3_broker(backend_broker_factory, services):  # noqa: F811
    b = backend_broker_factory(services, EXTRA_ARGS, name='clients')
    b.start()
    return b


@pytest.fixture
def broker(s3_broker):
    if not s3_broker.running:
        s3_broker.start()
    yield s3_broker
    assert s3_broker.alive, f'broker died:\n{s3_broker.log_tail()}'


def records(n, partitions, tag=''):
    return [{
        'key': f'key-{tag}{i}'.encode(),
        'value': f'value-{tag}{i}:'.encode() + bytes([i % 251]) * (i * 37 % 3000),
        'headers': [('seq', str(i).encode())],
        'partition': i % partitions,
    } for i in range(n)]


def check_read(sent, acked, got):
    by_place = {(r['partition'], r['offset']): r for r in got}
    assert len(got) == len(sent), (len(got), len(sent))
    for want, (p, o) in zip(sent, acked):
        r = by_place.get((p, o))
        assert r is not None, f'record at {p}/{o} missing'
        assert (r['key'], r['value']) == (want['key'], want['value']), (p, o)
        assert r['headers'] == want['headers'], (p, o)


def test_kcat_produce_and_consume(broker, topic, kcat_bin):
    lines = [f'k{i}\tkcat value {i} {"x" * (i * 31)}' for i in range(40)]
    kcat(broker.kafka, '-P', '-t', topic, '-p', 1, '-K', '\t', '-H', 'src=kcat',
         input=('\n'.join(lines) + '\n').encode())
    got = kcat_consume(broker.kafka, topic, 1)
    assert [m['offset'] for m in got] == list(range(40))
    for line, m in zip(lines, got):
        key, value = line.split('\t', 1)
        assert (m['key'], m['payload']) == (key, value)
        assert m['headers'] == ['src', 'kcat']
    assert kcat_consume(broker.kafka, topic, 0) == []


@pytest.mark.parametrize('compression', ['gzip', 'snappy', 'lz4', 'zstd'])
def test_confluent_roundtrip_with_compression(broker, topic, compression):
    create_topic(broker.kafka, topic, partitions=PARTITIONS)
    sent = records(150, PARTITIONS)
    acked = produce_ok(broker.kafka, topic, sent, conf={'compression.type': compression})
    for p in range(PARTITIONS):
        offsets = [o for part, o in acked if part == p]
        assert offsets == list(range(len(offsets))), (p, offsets)
    check_read(sent, acked, read_all(broker.kafka, topic, PARTITIONS))


def test_consumer_group_commits_and_resumes(broker, topic):
    create_topic(broker.kafka, topic, partitions=PARTITIONS)
    sent = records(60, PARTITIONS)
    produce_ok(broker.kafka, topic, sent)
    group = f'g-{topic}'

    def consume(n, timeout=30):
        c = consumer(broker.kafka, **{'group.id': group, 'auto.offset.reset': 'earliest',
                                      'enable.partition.eof': False,
                                      'enable.auto.offset.store': True})
        got = []
        try:
            c.subscribe([topic])
            wait_for(lambda: got.extend(m for m in c.consume(n - len(got), 0.5) if not m.error())
                     or len(got) >= n, timeout, f'{n} records through group {group}')
            c.commit(asynchronous=False)
        finally:
            c.close()
        return got

    first = consume(60)
    assert sorted(m.value() for m in first) == sorted(r['value'] for r in sent)
    more = records(9, PARTITIONS, tag='b')
    produce_ok(broker.kafka, topic, more)
    # The group resumes from its committed offsets (stored in etcd): only the new records.
    second = consume(9)
    assert sorted(m.value() for m in second) == sorted(r['value'] for r in more)


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGKILL], ids=['sigterm', 'sigkill'])
def test_restart_reads_everything_back_from_the_bucket(broker, topic, sig):
    create_topic(broker.kafka, topic, partitions=PARTITIONS)
    sent = records(200, PARTITIONS)
    acked = produce_ok(broker.kafka, topic, sent, conf={'compression.type': 'lz4'})
    if sig == signal.SIGKILL:
        broker.kill()
    else:
        assert broker.stop() == 0, broker.log_tail()
    broker.start()
    # A new process has an empty cache: every byte comes from S3, every offset from etcd.
    check_read(sent, acked, read_all(broker.kafka, topic, PARTITIONS))
    more = records(30, PARTITIONS, tag='after')
    acked_more = produce_ok(broker.kafka, topic, more)
    for p in range(PARTITIONS):  # offsets continue where the acknowledged ones ended
        before = sum(1 for part, _ in acked if part == p)
        assert [o for part, o in acked_more if part == p] == list(
            range(before, before + sum(1 for part, _ in acked_more if part == p)))


def test_backend_metrics_and_readiness(broker, topic):
    produce_ok(broker.kafka, topic, records(10, 1))
    m = broker.metrics()
    assert m.get('kafscale_objstore_health_state') == 0  # healthy
    assert m.get('kafscale_objstore_window_failures') == 0
    assert m.get('kafscale_objstore_window_calls') > 0
    assert m.get('kafscale_objstore_requests_total', op='put') > 0
    assert m.get('kafscale_objstore_errors_total') == 0
    # etcd's DB size comes from its maintenance status (polled at start, then every 15 s).
    wait_for(lambda: broker.metrics().get('kafscale_metastore_db_size_bytes') > 0, 20,
             'etcd DB size in /metrics')
    m = broker.metrics()
    assert 0 < m.get('kafscale_metastore_db_size_in_use_bytes') <= m.get(
        'kafscale_metastore_db_size_bytes')
    assert m.get('kafscale_metastore_nospace_alarm') == 0
    assert m.get('kafscale_metastore_nospace_errors_total') == 0
    assert broker.http_get('/readyz') == (200, 'ready\n')
