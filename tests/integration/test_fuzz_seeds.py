"""The seeds of the `request` fuzz target (tests/fuzz/corpus/request) are real clients' requests.

A proxy that records every request frame sits between the clients and a broker that advertises the
proxy, so every connection (bootstrap, leader, coordinator) goes through it. confluent-kafka
(librdkafka) and kafka-python run producers, a consumer group and admin operations. The test checks
that the committed corpus holds a seed for every (API, version) these clients sent, so a client that
starts sending a new version makes it fail until the corpus is refreshed:

    KAFSCALE_FUZZ_SEEDS_OUT=tests/fuzz/corpus/request LIBRDKAFKA=2.0.2 \\
        bash tests/with-services.sh bash tests/run-integration.sh -k fuzz_seeds
    (and again with LIBRDKAFKA=2.15: that pass sends newer versions)

Seeds are named <Api>-v<version>-<client>-<n>; at most SEEDS_PER_VERSION frames per (API, version,
client), each at most MAX_SEED_BYTES.
"""
import os
import re
import select
import socket
import struct
import threading
from pathlib import Path

import confluent_kafka
import kafka
import pytest
from confluent_kafka.admin import ConfigResource, NewPartitions, NewTopic

from conftest import unique_topic
from kafka_helpers import admin, consumer, producer, wait_for

pytestmark = pytest.mark.librdkafka

CORPUS = Path(__file__).resolve().parents[1] / 'fuzz' / 'corpus' / 'request'
SEEDS_PER_VERSION = 2
MAX_SEED_BYTES = 16384
TIMEOUT_S = 30
API_NAMES = {
    0: 'Produce', 1: 'Fetch', 2: 'ListOffsets', 3: 'Metadata', 8: 'OffsetCommit', 9: 'OffsetFetch',
    10: 'FindCoordinator', 11: 'JoinGroup', 12: 'Heartbeat', 13: 'LeaveGroup', 14: 'SyncGroup',
    15: 'DescribeGroups', 16: 'ListGroups', 18: 'ApiVersions', 19: 'CreateTopics', 20: 'DeleteTopics',
    21: 'DeleteRecords', 22: 'InitProducerId', 23: 'OffsetForLeaderEpoch', 32: 'DescribeConfigs',
    33: 'AlterConfigs', 37: 'CreatePartitions', 42: 'DeleteGroups', 44: 'IncrementalAlterConfigs',
    47: 'OffsetDelete', 60: 'DescribeCluster',
}
SEED_NAME = re.compile(r'^(\w+)-v(\d+)-')


class CaptureProxy:
    """Forwards connections to the broker and keeps every request frame (without its size prefix)."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.target = None
        self.lock = threading.Lock()
        self.frames = []  # (client label, frame bytes)
        self.label = 'none'
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.closed = True
        self.listener.close()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                continue
            upstream.settimeout(None)
            threading.Thread(target=self._requests, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _requests(self, src, dst):
        buf = b''
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                buf += data
                while len(buf) >= 4:
                    (n,) = struct.unpack('>i', buf[:4])
                    if len(buf) < 4 + n:
                        break
                    with self.lock:
                        self.frames.append((self.label, buf[4:4 + n]))
                    buf = buf[4 + n:]
        except OSError:
            pass
        finally:
            for s in (src, dst):
                s.close()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                ready, _, _ = select.select([src], [], [], 1)
                if not ready:
                    continue
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except (OSError, ValueError):
            pass


def run_confluent(boot, topic):
    a = admin(boot)
    fs = a.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1,
                                   config={'retention.ms': '3600000'})], request_timeout=TIMEOUT_S)
    fs[topic].result(TIMEOUT_S)
    wait_for(lambda: topic in a.list_topics(timeout=TIMEOUT_S).topics, TIMEOUT_S, 'the topic in metadata')
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    a.describe_configs([res])[res].result(TIMEOUT_S)
    res.set_config('retention.ms', '7200000')
    a.alter_configs([res])[res].result(TIMEOUT_S)
    a.create_partitions([NewPartitions(topic, 3)])[topic].result(TIMEOUT_S)
    for conf in ({'enable.idempotence': True, 'compression.type': 'lz4'}, {'compression.type': 'zstd'}):
        p = producer(boot, **conf)
        for i in range(30):
            p.produce(topic, key=f'k{i}'.encode(), value=b'v' * 50 + str(i).encode(), partition=i % 3,
                      headers=[('h', b'1')])
        assert p.flush(TIMEOUT_S) == 0
    group = f'{topic}-g'
    c = consumer(boot, **{'group.id': group, 'auto.offset.reset': 'earliest', 'enable.partition.eof': False,
                          'enable.auto.offset.store': True})
    c.subscribe([topic])
    got = 0
    while got < 60:
        m = c.poll(TIMEOUT_S)
        assert m is not None, f'{got} of 60 records consumed'
        assert m.error() is None, m.error()
        got += 1
    c.commit(asynchronous=False)
    c.committed([confluent_kafka.TopicPartition(topic, 0)], timeout=TIMEOUT_S)
    c.offsets_for_times([confluent_kafka.TopicPartition(topic, 0, 0)], timeout=TIMEOUT_S)
    c.close()
    a.list_groups(timeout=TIMEOUT_S)
    return group


def run_kafka_python(boot, topic):
    """On a topic of its own: kafka-python cannot read the zstd batches of run_confluent."""
    a = kafka.KafkaAdminClient(bootstrap_servers=boot)
    a.create_topics([kafka.admin.NewTopic(topic, num_partitions=2, replication_factor=1)])
    wait_for(lambda: topic in a.list_topics(), TIMEOUT_S, 'the topic in metadata')
    p = kafka.KafkaProducer(bootstrap_servers=boot, compression_type='gzip')
    for i in range(20):
        p.send(topic, key=b'kp', value=f'kafka-python {i}'.encode(), partition=i % 2)
    p.flush(TIMEOUT_S)
    p.close()
    c = kafka.KafkaConsumer(topic, bootstrap_servers=boot, group_id=f'{topic}-g', auto_offset_reset='earliest',
                            consumer_timeout_ms=TIMEOUT_S * 1000)
    got = 0
    for _ in c:
        got += 1
        if got == 20:
            break
    assert got == 20, f'{got} of 20 records consumed'
    c.commit()
    c.close()
    a.describe_configs([kafka.admin.ConfigResource(kafka.admin.ConfigResourceType.TOPIC, topic)])
    groups = [g for g, _ in a.list_consumer_groups()]
    a.describe_consumer_groups(groups)
    a.list_consumer_group_offsets(f'{topic}-g')
    a.delete_topics([topic])
    a.close()


def seeds_by_version(frames):
    """{(api name, version, client): [frames]} of the captured requests (at most SEEDS_PER_VERSION)."""
    out = {}
    for label, frame in frames:
        if len(frame) < 4 or len(frame) > MAX_SEED_BYTES:
            continue
        key, version = struct.unpack('>hh', frame[:4])
        name = API_NAMES.get(key, f'Api{key}')
        seeds = out.setdefault((name, version, label), [])
        if len(seeds) < SEEDS_PER_VERSION and frame not in seeds:
            seeds.append(frame)
    return out


def test_committed_corpus_covers_what_real_clients_send(broker_factory):
    proxy = CaptureProxy()
    b = broker_factory(['--advertise', f'127.0.0.1:{proxy.port}'], name='seeds')
    try:
        b.start()
        host, port = b.kafka.rsplit(':', 1)
        proxy.target = (host, int(port))
        boot = f'127.0.0.1:{proxy.port}'
        topic = unique_topic('seeds')
        proxy.label = 'librdkafka'
        run_confluent(boot, topic)
        proxy.label = 'kafka-python'
        run_kafka_python(boot, topic + '-kp')
    finally:
        proxy.close()
    with proxy.lock:
        seeds = seeds_by_version(proxy.frames)
    sent = sorted({(name, v) for name, v, _ in seeds})
    print(f'\n{len(proxy.frames)} requests captured; (API, version) sent: {sent}')
    out = os.environ.get('KAFSCALE_FUZZ_SEEDS_OUT')
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        for (name, v, label), frames in seeds.items():
            for n, frame in enumerate(frames):
                (Path(out) / f'{name}-v{v}-{label}-{n}').write_bytes(frame)
        print(f'wrote {sum(len(f) for f in seeds.values())} seeds to {out}')
    committed = {(m.group(1), int(m.group(2))) for f in CORPUS.iterdir() if (m := SEED_NAME.match(f.name))}
    missing = [s for s in sent if s not in committed]
    assert not missing, (f'the clients sent requests that tests/fuzz/corpus/request has no seed for: {missing}; '
                         f'refresh it (see this file\'s docstring)')
    assert {'Produce', 'Fetch', 'JoinGroup', 'SyncGroup', 'OffsetCommit', 'CreateTopics'} <= {n for n, _ in sent}
