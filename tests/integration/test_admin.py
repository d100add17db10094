"""Admin and config APIs: librdkafka's AdminClient, kafka-python's KafkaAdminClient, and
hand-crafted requests for what neither sends (IncrementalAlterConfigs, DescribeCluster,
OffsetForLeaderEpoch).
"""
import struct

import pytest

from confluent_kafka.admin import ConfigResource, NewPartitions
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource as KpConfigResource
from kafka.admin import ConfigResourceType
from kafka.admin import NewPartitions as KpNewPartitions

from kafka_helpers import admin, create_topic, list_topics, produce_ok, wait_for
from test_idempotence_protocol import Conn, kstring

pytestmark = pytest.mark.librdkafka  # runs with librdkafka 2.0.2 and 2.15 (tests/run-integration.sh)

BROKER_ARGS = ['--auto-create-topics=false']
TIMEOUT_S = 30
INVALID_CONFIG, INVALID_PARTITIONS, FENCED_EPOCH, UNKNOWN_EPOCH = 40, 37, 74, 75


def describe_topic_configs(bootstrap, topic):
    a = admin(bootstrap)
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    return a.describe_configs([res], request_timeout=TIMEOUT_S)[res].result(TIMEOUT_S)


# ---------------------------------------------------------------- librdkafka


def test_librdkafka_describe_and_alter_topic_configs(broker, topic):
    create_topic(broker.kafka, topic, config={'retention.ms': '3600000'})
    cfg = describe_topic_configs(broker.kafka, topic)
    assert cfg['retention.ms'].value == '3600000'
    src = cfg['retention.ms'].source
    assert int(getattr(src, 'value', src)) == 1  # DYNAMIC_TOPIC_CONFIG
    assert cfg['retention.bytes'].value == '-1' and cfg['retention.bytes'].is_default
    assert cfg['cleanup.policy'].value == 'delete'
    assert cfg['max.message.bytes'].value == '1048588'
    # AlterConfigs replaces the whole set: retention.ms goes back to its default.
    a = admin(broker.kafka)
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={'max.message.bytes': '2000'})
    a.alter_configs([res], request_timeout=TIMEOUT_S)[res].result(TIMEOUT_S)
    cfg = describe_topic_configs(broker.kafka, topic)
    assert cfg['max.message.bytes'].value == '2000'
    assert cfg['retention.ms'].value == '604800000' and cfg['retention.ms'].is_default
    # Honoured: a 3000-byte record is now too large.
    big = produce_ok_or_error(broker, topic, b'x' * 3000)
    assert big is not None and 'MSG_SIZE_TOO_LARGE' in str(big)
    # Invalid values are refused.
    bad = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={'cleanup.policy': 'compact'})
    err = a.alter_configs([bad], request_timeout=TIMEOUT_S)[bad].exception(TIMEOUT_S)
    assert err is not None and 'compact' in str(err)
    # Survives a restart.
    broker.restart(hard=True)
    assert describe_topic_configs(broker.kafka, topic)['max.message.bytes'].value == '2000'


def produce_ok_or_error(broker, topic, value):
    from kafka_helpers import produce
    (_, _, err), = produce(broker.kafka, topic, [{'value': value, 'partition': 0}],
                           conf={'message.timeout.ms': 10000})
    return err


def test_librdkafka_broker_configs(broker):
    a = admin(broker.kafka)
    res = ConfigResource(ConfigResource.Type.BROKER, '0')
    cfg = a.describe_configs([res], request_timeout=TIMEOUT_S)[res].result(TIMEOUT_S)
    assert cfg['broker.id'].value == '0' and cfg['broker.id'].is_read_only
    assert cfg['auto.create.topics.enable'].value == 'false'
    assert cfg['producer.id.expiration.ms'].value == '86400000'
    assert cfg['advertised.listeners'].value.startswith('PLAINTEXT://')


def test_librdkafka_create_partitions(broker, topic):
    create_topic(broker.kafka, topic, partitions=2)
    a = admin(broker.kafka)
    a.create_partitions([NewPartitions(topic, 5)], request_timeout=TIMEOUT_S)[topic].result(TIMEOUT_S)
    wait_for(lambda: list_topics(broker.kafka).get(topic) == 5, TIMEOUT_S, 'five partitions')
    assert produce_ok(broker.kafka, topic, [{'value': b'p4', 'partition': 4}]) == [(4, 0)]
    err = a.create_partitions([NewPartitions(topic, 3)], request_timeout=TIMEOUT_S)[topic].exception(TIMEOUT_S)
    assert err is not None and err.args[0].code() == INVALID_PARTITIONS
    broker.restart(hard=True)
    assert list_topics(broker.kafka).get(topic) == 5
    assert produce_ok(broker.kafka, topic, [{'value': b'p4b', 'partition': 4}]) == [(4, 1)]


# ---------------------------------------------------------------- kafka-python


def kp_admin(broker):
    return KafkaAdminClient(bootstrap_servers=broker.kafka, request_timeout_ms=TIMEOUT_S * 1000)


def kp_configs(response):
    (res,) = response.resources
    error_code, _, _, _, entries = res
    assert error_code == 0, res
    return {e[0]: e[1] for e in entries}


def test_kafka_python_admin_round_trip(broker, topic):
    create_topic(broker.kafka, topic, partitions=1)
    a = kp_admin(broker)
    try:
        (resp,) = a.describe_configs([KpConfigResource(ConfigResourceType.TOPIC, topic)])
        assert kp_configs(resp)['retention.ms'] == '604800000'
        resp = a.alter_configs([KpConfigResource(ConfigResourceType.TOPIC, topic,
                                                 configs={'retention.bytes': '1048576'})])
        assert resp.resources[0][0] == 0, resp
        (resp,) = a.describe_configs([KpConfigResource(ConfigResourceType.TOPIC, topic)])
        assert kp_configs(resp)['retention.bytes'] == '1048576'
        resp = a.alter_configs([KpConfigResource(ConfigResourceType.TOPIC, topic,
                                                 configs={'retention.ms': 'soon'})])
        assert resp.resources[0][0] == INVALID_CONFIG
        a.create_partitions({topic: KpNewPartitions(total_count=3)})
        wait_for(lambda: list_topics(broker.kafka).get(topic) == 3, TIMEOUT_S, 'three partitions')
        (resp,) = a.describe_configs([KpConfigResource(ConfigResourceType.BROKER, '0')])
        assert kp_configs(resp)['node.id'] == '0'
    finally:
        a.close()


# ---------------------------------------------------------------- hand-crafted


def uvarint(n):
    out = b''
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


class Reader:
    def __init__(self, data):
        self.d, self.i = data, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.d, self.i)
        self.i += struct.calcsize(fmt)
        return v if len(v) > 1 else v[0]

    def uvarint(self):
        shift = n = 0
        while True:
            b = self.d[self.i]
            self.i += 1
            n |= (b & 0x7f) << shift
            if not b & 0x80:
                return n
            shift += 7

    def compact_string(self):
        n = self.uvarint() - 1
        if n < 0:
            return None
        s = self.d[self.i:self.i + n].decode()
        self.i += n
        return s

    def string(self):
        n = self.take('>h')
        s = self.d[self.i:self.i + n].decode()
        self.i += n
        return s


def flexible_call(conn, api_key, version, body):
    """Request header v2 (tagged fields), response header v1 (tagged fields)."""
    conn.corr += 1
    h = struct.pack('>hhi', api_key, version, conn.corr) + kstring('kafscale-it-admin') + b'\x00'
    payload = h + body
    conn.sock.sendall(struct.pack('>i', len(payload)) + payload)
    (n,) = struct.unpack('>i', conn._exact(4))
    data = conn._exact(n)
    assert struct.unpack('>i', data[:4])[0] == conn.corr
    assert data[4] == 0  # no tagged fields in the header
    return Reader(data[5:])


def test_describe_cluster(broker):
    c = Conn(broker)
    try:
        for version, body in ((0, b'\x00\x00'), (1, b'\x00\x01\x00')):
            r = flexible_call(c, 60, version, body)
            assert r.take('>i') == 0  # throttle
            assert r.take('>h') == 0  # error
            assert r.compact_string() is None
            if version >= 1:
                assert r.take('>b') == 1  # endpoint type: brokers
            assert len(r.compact_string()) > 0  # cluster id
            assert r.take('>i') == 0  # controller
            assert r.uvarint() - 1 == 1  # one broker
            assert r.take('>i') == 0
            assert f'{r.compact_string()}:{r.take(">i")}' == broker.kafka
        # Asking for controllers (v1, endpoint type 2): MISMATCHED_ENDPOINT_TYPE.
        r = flexible_call(c, 60, 1, b'\x00\x02\x00')
        r.take('>i')
        assert r.take('>h') == 114
    finally:
        c.close()


def incremental_alter_topic(conn, topic, ops):
    """IncrementalAlterConfigs v0 on a topic; ops: [(name, op, value)]. Returns the error code."""
    body = struct.pack('>ib', 1, 2) + kstring(topic) + struct.pack('>i', len(ops))
    for name, op, value in ops:
        body += kstring(name) + struct.pack('>b', op) + kstring(value)
    body += b'\x00'
    r = Reader(conn.call(44, 0, body))
    r.take('>i')
    assert r.take('>i') == 1
    return r.take('>h')


def test_incremental_alter_configs(broker, topic):
    create_topic(broker.kafka, topic, config={'retention.ms': '100000'})
    c = Conn(broker)
    try:
        # SET one, keep the others (unlike AlterConfigs).
        assert incremental_alter_topic(c, topic, [('retention.bytes', 0, '4096')]) == 0
        cfg = describe_topic_configs(broker.kafka, topic)
        assert (cfg['retention.ms'].value, cfg['retention.bytes'].value) == ('100000', '4096')
        # DELETE returns to the default.
        assert incremental_alter_topic(c, topic, [('retention.ms', 1, None)]) == 0
        assert describe_topic_configs(broker.kafka, topic)['retention.ms'].value == '604800000'
        # APPEND to a non-list config, an unknown name, a compact policy: INVALID_CONFIG, nothing changes.
        assert incremental_alter_topic(c, topic, [('retention.bytes', 2, '1')]) == INVALID_CONFIG
        assert incremental_alter_topic(c, topic, [('no.such.config', 0, '1')]) == INVALID_CONFIG
        assert incremental_alter_topic(c, topic, [('cleanup.policy', 2, 'compact')]) == INVALID_CONFIG
        assert describe_topic_configs(broker.kafka, topic)['retention.bytes'].value == '4096'
    finally:
        c.close()


def offset_for_leader_epoch(conn, topic, current, epoch):
    body = struct.pack('>i', 1) + kstring(topic) + struct.pack('>iiii', 1, 0, current, epoch)
    r = Reader(conn.call(23, 2, body))
    r.take('>i')  # throttle
    assert r.take('>i') == 1
    assert r.string() == topic
    assert r.take('>i') == 1
    error, partition, leader_epoch, end_offset = r.take('>hiiq')
    return error, leader_epoch, end_offset


def current_epoch(broker, topic, leo):
    """The partition's current leader epoch: the newest epoch that ends at the log end."""
    c = Conn(broker)
    try:
        epochs = [e for e in range(64) if offset_for_leader_epoch(c, topic, -1, e) == (0, e, leo)]
    finally:
        c.close()
    assert epochs, 'no epoch ends at the log end'
    return max(epochs)


def test_offset_for_leader_epoch(broker, topic):
    create_topic(broker.kafka, topic)
    produce_ok(broker.kafka, topic, [{'value': b'a', 'partition': 0}] * 5)
    # A partition starts in its stream's term (1 in a new cluster; more after restarts).
    e0 = current_epoch(broker, topic, 5)
    broker.restart(hard=True)  # a new leader epoch starting at offset 5
    produce_ok(broker.kafka, topic, [{'value': b'b', 'partition': 0}] * 3)
    e1 = current_epoch(broker, topic, 8)
    assert e1 > e0
    c = Conn(broker)
    try:
        assert offset_for_leader_epoch(c, topic, -1, e0) == (0, e0, 5)
        assert offset_for_leader_epoch(c, topic, e1, e1) == (0, e1, 8)
        assert offset_for_leader_epoch(c, topic, -1, e1 + 8) == (0, -1, -1)
        assert offset_for_leader_epoch(c, topic, e0, e0)[0] == FENCED_EPOCH
        assert offset_for_leader_epoch(c, topic, e1 + 1, e0)[0] == UNKNOWN_EPOCH
    finally:
        c.close()
