"""@platformatic/kafka: the client that sends what Java sends and the others do not.

It negotiates the newest versions both sides know (flexible Fetch/Metadata/Produce,
DescribeConfigs v4 with null configuration keys, IncrementalAlterConfigs v1) and its library
exports encoders for DescribeCluster v1 and OffsetForLeaderEpoch v4, sent here through its own
Connection. Results are checked against the broker's state through other clients
(confluent-kafka, kafka-python) and a hand-crafted DescribeConfigs request.
"""
import socket
import struct

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from conftest import NODE_DIR
from kafka_helpers import list_topics, node_script, read_all, watermarks

BROKER_ARGS = ['--auto-create-topics=false']
TIMEOUT_S = 30

# ConfigResource types, config sources, IncrementalAlterConfigs operations.
TOPIC, BROKER = 2, 4
TOPIC_CONFIG, DEFAULT_CONFIG = 1, 5
SET, DELETE, APPEND = 0, 1, 2
FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH = 74, 75
# ListOffsets special timestamps.
LATEST, EARLIEST, MAX_TIMESTAMP = '-1', '-2', '-3'


@pytest.fixture(scope='module', autouse=True)
def _needs_platformatic(node_bin):
    if not (NODE_DIR / 'node_modules' / '@platformatic' / 'kafka').is_dir():
        pytest.fail(f'@platformatic/kafka is not installed in {NODE_DIR} '
                    '(scripts/install-deps.sh --test)', pytrace=False)


def run(broker, *steps):
    """Runs the steps in one node process; returns (results, {api_key: {versions sent}})."""
    out = node_script('platformatic.mjs', {'brokers': [broker.kafka], 'steps': list(steps)},
                      timeout=180)
    sent = {}
    for key, version in out['apis']:
        sent.setdefault(key, set()).add(version)
    return out['results'], sent


def ok(result):
    assert 'ok' in result, result
    return result['ok']


def configs_of(description):
    """{name: config} of one ConfigDescription."""
    return {c['name']: c for c in description['configs']}


def kp_topic_configs(broker, topic):
    a = KafkaAdminClient(bootstrap_servers=broker.kafka, request_timeout_ms=TIMEOUT_S * 1000)
    try:
        (resp,) = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        a.close()
    (res,) = resp.resources
    assert res[0] == 0, res
    return {c[0]: c[1] for c in res[4]}


def test_produce_consume_with_the_newest_flexible_versions(broker, topic):
    messages = [{'topic': topic, 'partition': i % 3, 'key': f'k{i}', 'value': f'v{i} ' + 'p' * i,
                 'headers': {'n': str(i)}} for i in range(30)]
    results, sent = run(
        broker,
        {'op': 'createTopics', 'args': {'topics': [topic], 'partitions': 3, 'replicas': 1}},
        {'op': 'send', 'args': {'messages': messages}},
        {'op': 'consume', 'args': {'topics': [topic], 'count': len(messages)}},
    )
    created, produced, consumed = results
    assert ok(created)[0]['name'] == topic and ok(created)[0]['partitions'] == 3, created
    # One batch a partition: the client reports each batch's base offset.
    acked = ok(produced)['offsets']
    assert sorted((o['partition'], int(o['offset'])) for o in acked) == [(p, 0) for p in range(3)]
    got = ok(consumed)
    by_place = {(r['partition'], int(r['offset'])): r for r in got}
    assert len(by_place) == len(messages)
    for p in range(3):
        mine = [m for m in messages if m['partition'] == p]
        for off, m in enumerate(mine):
            r = by_place[(p, off)]
            assert (r['key'], r['value'], r['headers']) == (m['key'], m['value'], m['headers'])
    # confluent-kafka reads the same log.
    assert len(read_all(broker.kafka, topic, 3)) == len(messages)
    # It negotiated the newest version both sides know (it knows Fetch up to 17, Metadata 12,
    # Produce 11, ListOffsets 9; we advertise Fetch 16, ListOffsets 8).
    assert sent[1] == {17}, sent  # Fetch: its newest (we advertise up to 18)
    assert sent[3] == {12}, sent  # Metadata
    assert sent[0] == {11}, sent  # Produce
    assert 19 in sent and sent[19] == {7}, sent  # CreateTopics
    assert sent[18] == {4} or sent[18] == {3}, sent  # ApiVersions


def test_configs_describe_alter_and_honour(broker, topic):
    results, sent = run(
        broker,
        {'op': 'createTopics', 'args': {'topics': [topic], 'partitions': 1, 'replicas': 1,
                                        'configs': [{'name': 'retention.ms', 'value': '3600000'}]}},
        # No keys: null configuration_keys (DescribeConfigs v4), meaning every config.
        {'op': 'describeConfigs', 'args': {'resources': [{'resourceType': TOPIC,
                                                          'resourceName': topic}],
                                           'includeSynonyms': True}},
        {'op': 'describeConfigs', 'args': {'resources': [{
            'resourceType': TOPIC, 'resourceName': topic,
            'configurationKeys': ['retention.ms', 'cleanup.policy']}]}},
        {'op': 'incrementalAlterConfigs', 'args': {'resources': [{
            'resourceType': TOPIC, 'resourceName': topic, 'configs': [
                {'name': 'max.message.bytes', 'value': '2000', 'configOperation': SET},
                {'name': 'retention.ms', 'configOperation': DELETE},
                # A list config: appending what it holds leaves it as it is, now explicit.
                {'name': 'cleanup.policy', 'value': 'delete', 'configOperation': APPEND},
            ]}]}},
        {'op': 'describeConfigs', 'args': {'resources': [{
            'resourceType': TOPIC, 'resourceName': topic,
            'configurationKeys': ['max.message.bytes', 'retention.ms', 'cleanup.policy']}]}},
        # Invalid changes are refused and change nothing.
        {'op': 'incrementalAlterConfigs', 'args': {'resources': [{
            'resourceType': TOPIC, 'resourceName': topic, 'configs': [
                {'name': 'max.message.bytes', 'value': 'lots', 'configOperation': SET}]}]}},
        {'op': 'incrementalAlterConfigs', 'args': {'resources': [{
            'resourceType': TOPIC, 'resourceName': topic, 'configs': [
                {'name': 'max.message.bytes', 'value': '1000', 'configOperation': SET},
                {'name': 'cleanup.policy', 'value': 'compact', 'configOperation': APPEND}]}]}},
        # The new limit is enforced on produce.
        {'op': 'send', 'args': {'messages': [{'topic': topic, 'partition': 0, 'value': 'x' * 5000}]}},
        {'op': 'send', 'args': {'messages': [{'topic': topic, 'partition': 0, 'value': 'small'}]}},
    )
    (created, described, filtered, altered, read_back, invalid, unsupported, too_big,
     small) = results
    ok(created)

    (desc,) = ok(described)
    every = configs_of(desc)
    assert len(every) >= 15, sorted(every)  # all of Kafka's topic configs we know
    assert every['retention.ms']['value'] == '3600000'
    assert every['retention.ms']['configSource'] == TOPIC_CONFIG
    assert every['segment.bytes']['configSource'] == DEFAULT_CONFIG
    assert every['retention.ms']['synonyms'][0]['source'] == TOPIC_CONFIG, every['retention.ms']
    (filt,) = ok(filtered)
    assert set(configs_of(filt)) == {'retention.ms', 'cleanup.policy'}

    assert ok(altered) is None
    got = configs_of(ok(read_back)[0])
    assert got['max.message.bytes']['value'] == '2000'
    assert got['max.message.bytes']['configSource'] == TOPIC_CONFIG
    assert got['retention.ms']['value'] == '604800000'  # deleted: back to Kafka's default
    assert got['retention.ms']['configSource'] == DEFAULT_CONFIG
    assert got['cleanup.policy']['value'] == 'delete'
    assert got['cleanup.policy']['configSource'] == TOPIC_CONFIG

    for refused in (invalid, unsupported):
        assert 'error' in refused, refused
        assert 'INVALID_CONFIG' in str(refused), refused
    assert 'compact' in str(unsupported), unsupported

    # Another client sees the same configs.
    kp = kp_topic_configs(broker, topic)
    assert (kp['max.message.bytes'], kp['retention.ms'], kp['cleanup.policy']) == (
        '2000', '604800000', 'delete')

    assert 'error' in too_big, too_big
    assert 'MESSAGE_TOO_LARGE' in str(too_big['error']), too_big
    assert [int(o['offset']) for o in ok(small)['offsets']] == [0]

    assert sent[32] == {4}, sent  # DescribeConfigs: the flexible version
    assert sent[44] == {1}, sent  # IncrementalAlterConfigs


def test_alter_configs_replaces_the_whole_set_and_broker_configs(broker, topic):
    results, sent = run(
        broker,
        {'op': 'createTopics', 'args': {'topics': [topic], 'partitions': 1, 'replicas': 1,
                                        'configs': [{'name': 'retention.ms', 'value': '3600000'},
                                                    {'name': 'segment.ms', 'value': '7200000'}]}},
        {'op': 'alterConfigs', 'args': {'resources': [{
            'resourceType': TOPIC, 'resourceName': topic,
            'configs': [{'name': 'retention.bytes', 'value': '1048576'}]}]}},
        {'op': 'describeConfigs', 'args': {'resources': [{'resourceType': TOPIC,
                                                          'resourceName': topic}]}},
        {'op': 'describeCluster'},
    )
    ok(results[0])
    assert ok(results[1]) is None
    got = configs_of(ok(results[2])[0])
    assert got['retention.bytes']['value'] == '1048576'
    assert got['retention.bytes']['configSource'] == TOPIC_CONFIG
    # Not listed in AlterConfigs: back to the defaults.
    assert got['retention.ms']['configSource'] == DEFAULT_CONFIG
    assert got['segment.ms']['configSource'] == DEFAULT_CONFIG
    node = ok(results[3])['brokers'][0]['brokerId']

    results, _ = run(broker, {'op': 'describeConfigs', 'args': {'resources': [
        {'resourceType': BROKER, 'resourceName': str(node)}]}})
    broker_cfg = configs_of(ok(results[0])[0])
    assert broker_cfg, 'no broker configs'
    assert all(c['value'] is None or isinstance(c['value'], str) for c in broker_cfg.values())
    assert sent[33] == {2}, sent  # AlterConfigs


def test_describe_cluster_list_offsets_and_leader_epochs(broker, topic):
    host, port = broker.kafka.rsplit(':', 1)
    # Timestamps out of order, so the max timestamp is not at the last offset.
    stamps = [1_700_000_000_000 + t for t in (5, 90, 30, 60, 10)]
    results, sent = run(
        broker,
        {'op': 'createTopics', 'args': {'topics': [topic], 'partitions': 2, 'replicas': 1}},
        {'op': 'send', 'args': {'messages': [
            {'topic': topic, 'partition': 1, 'value': f'm{i}', 'timestamp': str(ts)}
            for i, ts in enumerate(stamps)]}},
        {'op': 'describeCluster'},
        {'op': 'metadata', 'args': {'topics': [topic]}},
        {'op': 'listOffsets', 'args': {'topics': [{'name': topic, 'partitions': [
            {'partitionIndex': 1, 'timestamp': EARLIEST}]}]}},
        {'op': 'listOffsets', 'args': {'topics': [{'name': topic, 'partitions': [
            {'partitionIndex': 1, 'timestamp': LATEST}]}]}},
        {'op': 'listOffsets', 'args': {'topics': [{'name': topic, 'partitions': [
            {'partitionIndex': 1, 'timestamp': MAX_TIMESTAMP}]}]}},
        {'op': 'listOffsets', 'args': {'topics': [{'name': topic, 'partitions': [
            {'partitionIndex': 1, 'timestamp': str(stamps[0] + 20)}]}]}},
    )
    ok(results[0])
    ok(results[1])
    cluster = ok(results[2])
    assert cluster['errorCode'] == 0 and cluster['clusterId'], cluster
    assert [(b['host'], b['port']) for b in cluster['brokers']] == [(host, int(port))], cluster
    assert cluster['controllerId'] == cluster['brokers'][0]['brokerId']
    meta = ok(results[3])
    epoch = meta['topics'][topic]['partitions'][1]['leaderEpoch']
    assert epoch >= 0, meta

    def offset_of(r):
        ((t,),) = [ok(r)]
        (p,) = t['partitions']
        return int(p['offset']), int(p['timestamp'])

    assert offset_of(results[4])[0] == 0
    assert offset_of(results[5])[0] == 5
    assert offset_of(results[6]) == (1, stamps[1])  # offset of the largest timestamp
    assert offset_of(results[7]) == (1, stamps[1])  # first record at or after that time
    assert sent[2] == {9}, sent  # ListOffsets: its newest (we advertise up to 10)
    assert sent[60] == {1}, sent  # DescribeCluster

    # OffsetForLeaderEpoch v4 (the library's encoder; its 1.35.0 decoder swaps error_code and
    # partition, so the script decodes): a wrong current_leader_epoch is FENCED (older) or
    # UNKNOWN (newer) as Kafka answers.
    def ofle(current, asked):
        return {'op': 'offsetForLeaderEpoch', 'args': {'topics': [{'name': topic, 'partitions': [
            {'partitionIndex': 1, 'currentLeaderEpoch': current, 'leaderEpoch': asked}]}]}}

    results, sent = run(broker, ofle(epoch, epoch), ofle(-1, epoch), ofle(epoch + 1, epoch),
                        ofle(epoch, epoch + 5))
    answers = [ok(r)['topics'][0]['partitions'][0] for r in results]
    for a in answers:
        assert a['partition'] == 1, a
    assert [(a['errorCode'], a['leaderEpoch'], int(a['endOffset'])) for a in answers] == [
        (0, epoch, 5),  # the current epoch ends at the log end
        (0, epoch, 5),  # no current epoch given: not checked
        (UNKNOWN_LEADER_EPOCH, -1, -1),  # the client knows a newer epoch than the leader
        (0, -1, -1),  # an epoch beyond every known one: undefined
    ], answers
    if epoch > 0:
        results, _ = run(broker, ofle(epoch - 1, epoch))
        assert ok(results[0])['topics'][0]['partitions'][0]['errorCode'] == FENCED_LEADER_EPOCH
    assert sent[23] == {4}, sent
    assert watermarks(broker.kafka, topic, 1) == (0, 5)


def test_delete_records_partitions_and_topics(broker, topic):
    results, sent = run(
        broker,
        {'op': 'createTopics', 'args': {'topics': [topic], 'partitions': 1, 'replicas': 1}},
        {'op': 'send', 'args': {'messages': [{'topic': topic, 'partition': 0, 'value': f'm{i}'}
                                             for i in range(10)]}},
        {'op': 'deleteRecords', 'args': {'topics': [{'name': topic, 'partitions': [
            {'partition': 0, 'offset': '4'}]}]}},
        {'op': 'createPartitions', 'args': {'topics': [{'name': topic, 'count': 3}]}},
    )
    ok(results[0])
    ok(results[1])
    (deleted,) = ok(results[2])
    assert int(deleted['partitions'][0]['lowWatermark']) == 4, deleted
    assert watermarks(broker.kafka, topic, 0) == (4, 10)
    ok(results[3])
    assert list_topics(broker.kafka).get(topic) == 3
    results, _ = run(broker, {'op': 'deleteTopics', 'args': {'topics': [topic]}})
    assert ok(results[0]) is None
    assert topic not in list_topics(broker.kafka)
    assert sent[21] == {2} and sent[37] == {3}, sent  # DeleteRecords, CreatePartitions


# ------------------------------------------------------------ hand-crafted DescribeConfigs


class _Reader:
    def __init__(self, data):
        self.d, self.i = data, 0

    def take(self, fmt):
        (v,) = struct.unpack_from(fmt, self.d, self.i)
        self.i += struct.calcsize(fmt)
        return v

    def uvarint(self):
        shift = out = 0
        while True:
            b = self.d[self.i]
            self.i += 1
            out |= (b & 0x7f) << shift
            if not b & 0x80:
                return out
            shift += 7

    def string(self, flex):
        n = self.uvarint() - 1 if flex else self.take('>h')
        if n < 0:
            return None
        s = self.d[self.i:self.i + n].decode()
        self.i += n
        return s

    def count(self, flex):
        return self.uvarint() - 1 if flex else self.take('>i')

    def tags(self, flex):
        if flex:
            for _ in range(self.uvarint()):
                self.uvarint()
                self.i += self.uvarint()


def describe_configs_raw(broker, version, topic, keys):
    """DescribeConfigs `version` for one topic, keys None (null), [] or names; returns
    [(error_code, {name: value})] per resource. The broker must answer, not close."""
    flex = version >= 4

    def string(s):
        b = s.encode()
        return bytes([len(b) + 1]) + b if flex else struct.pack('>h', len(b)) + b

    def length(n):  # n < 0: null
        return bytes([n + 1]) if flex else struct.pack('>i', n)

    header = struct.pack('>hhih', 32, version, 7, 3) + b'raw' + (b'\x00' if flex else b'')
    body = length(1) + struct.pack('>b', TOPIC) + string(topic)
    body += length(-1) if keys is None else length(len(keys)) + b''.join(map(string, keys))
    body += b'\x00' if flex else b''  # resource tags
    body += b'\x00' + (b'\x00' if version >= 3 else b'')  # include synonyms, documentation
    body += b'\x00' if flex else b''  # tags
    frame = header + body
    host, port = broker.kafka.rsplit(':', 1)
    with socket.create_connection((host, int(port)), timeout=TIMEOUT_S) as s:
        s.sendall(struct.pack('>i', len(frame)) + frame)
        data = b''
        while len(data) < 4 or len(data) < 4 + struct.unpack('>i', data[:4])[0]:
            chunk = s.recv(65536)
            assert chunk, f'broker closed the connection on DescribeConfigs v{version} keys={keys}'
            data += chunk
    r = _Reader(data[4:])
    assert r.take('>i') == 7
    r.tags(flex)  # response header
    r.take('>i')  # throttle
    out = []
    for _ in range(r.count(flex)):
        err = r.take('>h')
        r.string(flex)
        r.take('>b')
        r.string(flex)
        configs = {}
        for _ in range(r.count(flex)):
            name, value = r.string(flex), r.string(flex)
            r.take('>b'), r.take('>b'), r.take('>b')  # read_only, source, sensitive
            for _ in range(r.count(flex)):  # synonyms
                r.string(flex), r.string(flex), r.take('>b')
                r.tags(flex)
            if version >= 3:
                r.take('>b')  # config type
                r.string(flex)  # documentation
            r.tags(flex)
            configs[name] = value
        r.tags(flex)
        out.append((err, configs))
    r.tags(flex)
    assert r.i == len(data) - 4, 'trailing bytes in the response'
    return out


def test_describe_configs_null_and_empty_keys_hand_crafted(broker, topic):
    results, _ = run(broker, {'op': 'createTopics', 'args': {
        'topics': [topic], 'partitions': 1, 'replicas': 1,
        'configs': [{'name': 'retention.ms', 'value': '123456'}]}})
    ok(results[0])
    for version in (4, 3, 1):
        ((err, every),) = describe_configs_raw(broker, version, topic, None)
        assert err == 0 and every['retention.ms'] == '123456', (version, every)
        assert len(every) >= 15, (version, sorted(every))
        ((err, empty),) = describe_configs_raw(broker, version, topic, [])
        assert empty == every, version  # empty means all, as in Kafka
        ((err, some),) = describe_configs_raw(broker, version, topic, ['retention.ms', 'nope'])
        assert some == {'retention.ms': '123456'}, (version, some)
