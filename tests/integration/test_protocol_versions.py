"""The newest API versions current clients send (Java 4.x, librdkafka 2.15), hand-built.

Frames follow the Kafka protocol guide; all of these versions are flexible (compact strings and
arrays, tagged-field buffers; request header v2, response header v1 except ApiVersions):
  Metadata v13      top-level error code at the end of the response (KIP-1102)
  Produce v13       topics named by id, UNKNOWN_TOPIC_ID for unknown ids (KIP-516)
  Fetch v18         v17 replica directory id and v18 follower high watermark: partition tags
  ListOffsets v10   -5 = latest tiered offset (KIP-1005), trailing timeout_ms (KIP-1075)
  DescribeGroups v6 GROUP_ID_NOT_FOUND + error message for unknown groups (KIP-1043)
  DescribeCluster v2 include_fenced_brokers / is_fenced (KIP-1073)
"""
import socket
import struct
import uuid

import pytest

from kafka_helpers import create_topic
from test_idempotence_protocol import record_batch

BROKER_ARGS = ['--auto-create-topics=false']

IO_TIMEOUT_S = 10
NONE, INVALID_REQUEST, GROUP_ID_NOT_FOUND, UNKNOWN_TOPIC_ID = 0, 42, 69, 100
PRODUCE, FETCH, LIST_OFFSETS, METADATA, DESCRIBE_GROUPS, API_VERSIONS, DESCRIBE_CLUSTER = 0, 1, 2, 3, 15, 18, 60
NEWEST = {METADATA: 13, FETCH: 18, LIST_OFFSETS: 10, DESCRIBE_GROUPS: 6, DESCRIBE_CLUSTER: 2, PRODUCE: 13}


# ---------------------------------------------------------------- flexible encoding

def uvarint(n):
    out = b''
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def cstr(s):
    if s is None:
        return b'\x00'
    b = s.encode()
    return uvarint(len(b) + 1) + b


def carray(items):
    return uvarint(len(items) + 1) + b''.join(items)


TAGS = b'\x00'  # an empty tagged-field buffer


class Reader:
    def __init__(self, data):
        self.d, self.at = data, 0

    def take(self, n):
        assert self.at + n <= len(self.d), f'short response at {self.at}+{n} of {len(self.d)}'
        b = self.d[self.at:self.at + n]
        self.at += n
        return b

    def fixed(self, fmt):
        (v,) = struct.unpack('>' + fmt, self.take(struct.calcsize(fmt)))
        return v

    def uvarint(self):
        shift = n = 0
        while True:
            b = self.take(1)[0]
            n |= (b & 0x7f) << shift
            shift += 7
            if not b & 0x80:
                return n

    def cstr(self):
        n = self.uvarint()
        return None if n == 0 else self.take(n - 1).decode()

    def cbytes(self):
        n = self.uvarint()
        return None if n == 0 else self.take(n - 1)

    def uuid(self):
        return self.take(16)

    def array(self, fn):
        n = self.uvarint()
        return None if n == 0 else [fn() for _ in range(n - 1)]

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())

    def done(self):
        assert self.at == len(self.d), f'{len(self.d) - self.at} unread bytes'


class Conn:
    def __init__(self, broker):
        host, port = broker.kafka.rsplit(':', 1)
        self.sock = socket.create_connection((host, int(port)), timeout=IO_TIMEOUT_S)
        self.corr = 0

    def close(self):
        self.sock.close()

    def call(self, api_key, version, body):
        """Flexible request (header v2); returns a Reader past the response header."""
        self.corr += 1
        client = b'kafscale-it-versions'
        header = struct.pack('>hhih', api_key, version, self.corr, len(client)) + client
        if api_key != API_VERSIONS or version >= 3:
            header += TAGS
        payload = header + body
        self.sock.sendall(struct.pack('>i', len(payload)) + payload)
        (n,) = struct.unpack('>i', self._exact(4))
        r = Reader(self._exact(n))
        assert r.fixed('i') == self.corr
        if api_key != API_VERSIONS:  # ApiVersions answers with header v0 at every version
            r.tags()
        return r

    def _exact(self, n):
        buf = b''
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            assert chunk, 'broker closed the connection'
            buf += chunk
        return buf


@pytest.fixture
def conn(broker):
    c = Conn(broker)
    yield c
    c.close()


# ---------------------------------------------------------------- requests

def metadata_v13(conn, names):
    body = carray([uuid.UUID(int=0).bytes + cstr(n) + TAGS for n in names]) + b'\x00\x00' + TAGS
    r = conn.call(METADATA, 13, body)
    r.fixed('i')  # throttle
    r.array(lambda: (r.fixed('i'), r.cstr(), r.fixed('i'), r.cstr(), r.tags()))
    cluster_id, controller = r.cstr(), r.fixed('i')

    def partition():
        p = dict(error=r.fixed('h'), index=r.fixed('i'), leader=r.fixed('i'), epoch=r.fixed('i'))
        r.array(lambda: r.fixed('i'))
        r.array(lambda: r.fixed('i'))
        r.array(lambda: r.fixed('i'))
        r.tags()
        return p

    def topic():
        t = dict(error=r.fixed('h'), name=r.cstr(), id=r.uuid(), internal=r.fixed('b'))
        t['partitions'] = r.array(partition)
        r.fixed('i')  # topic authorized operations
        r.tags()
        return t

    topics = r.array(topic)
    top_error = r.fixed('h')  # v13
    r.tags()
    r.done()
    return dict(cluster_id=cluster_id, controller=controller, topics=topics, error=top_error)


def topic_id(conn, name):
    (t,) = metadata_v13(conn, [name])['topics']
    assert t['error'] == NONE and t['id'] != bytes(16)
    return t['id']


def produce_v13(conn, tid, batch, partition=0):
    body = (cstr(None) + struct.pack('>hi', -1, 10000) +
            carray([tid + carray([struct.pack('>i', partition) + uvarint(len(batch) + 1) + batch + TAGS]) + TAGS]) +
            TAGS)
    r = conn.call(PRODUCE, 13, body)

    def part():
        p = dict(index=r.fixed('i'), error=r.fixed('h'), base=r.fixed('q'), append_time=r.fixed('q'),
                 log_start=r.fixed('q'))
        r.array(lambda: (r.fixed('i'), r.cstr(), r.tags()))
        p['message'] = r.cstr()
        r.tags()
        return p

    (t,) = r.array(lambda: (r.uuid(), r.array(part), r.tags()))
    r.fixed('i')
    r.tags()
    r.done()
    assert t[0] == tid, 'v13 answers with the topic id it was asked about'
    (p,) = t[1]
    return p


def partition_tags(directory_id=None, high_watermark=None):
    tags = []
    if directory_id is not None:
        tags.append(uvarint(0) + uvarint(16) + directory_id)
    if high_watermark is not None:
        tags.append(uvarint(1) + uvarint(8) + struct.pack('>q', high_watermark))
    return uvarint(len(tags)) + b''.join(tags)


def fetch(conn, version, tid, offset, tags=TAGS):
    part = struct.pack('>iiqiqi', 0, -1, offset, -1, -1, 1 << 20) + tags
    body = (struct.pack('>iiibii', 100, 1, 1 << 20, 0, 0, -1) + carray([tid + carray([part]) + TAGS]) +
            carray([]) + cstr('') + TAGS)
    r = conn.call(FETCH, version, body)
    r.fixed('i')
    top_error, _session = r.fixed('h'), r.fixed('i')

    def part_data():
        p = dict(index=r.fixed('i'), error=r.fixed('h'), hwm=r.fixed('q'), lso=r.fixed('q'), log_start=r.fixed('q'))
        r.array(lambda: (r.fixed('q'), r.fixed('q'), r.tags()))
        r.fixed('i')  # preferred read replica
        p['records'] = r.cbytes()
        r.tags()
        return p

    (t,) = r.array(lambda: (r.uuid(), r.array(part_data), r.tags()))
    r.tags()
    r.done()
    assert top_error == NONE and t[0] == tid
    (p,) = t[1]
    return p


def list_offsets(conn, version, topic, timestamps):
    parts = [struct.pack('>iiq', 0, -1, ts) + TAGS for ts in timestamps]
    body = struct.pack('>ib', -1, 0) + carray([cstr(topic) + carray(parts) + TAGS])
    if version >= 10:
        body += struct.pack('>i', 5000)  # timeout_ms
    body += TAGS
    r = conn.call(LIST_OFFSETS, version, body)
    r.fixed('i')

    def part():
        p = dict(index=r.fixed('i'), error=r.fixed('h'), timestamp=r.fixed('q'), offset=r.fixed('q'),
                 epoch=r.fixed('i'))
        r.tags()
        return p

    (t,) = r.array(lambda: (r.cstr(), r.array(part), r.tags()))
    r.tags()
    r.done()
    return t[1]


def describe_groups(conn, version, group):
    r = conn.call(DESCRIBE_GROUPS, version, carray([cstr(group)]) + b'\x00' + TAGS)
    r.fixed('i')

    def described():
        g = dict(error=r.fixed('h'))
        g['message'] = r.cstr() if version >= 6 else None
        g.update(group=r.cstr(), state=r.cstr(), protocol_type=r.cstr(), protocol=r.cstr())
        g['members'] = r.array(lambda: (r.cstr(), r.cstr(), r.cstr(), r.cstr(), r.cbytes(), r.cbytes(), r.tags()))
        r.fixed('i')
        r.tags()
        return g

    (g,) = r.array(described)
    r.tags()
    r.done()
    return g


# ---------------------------------------------------------------- tests

def test_api_versions_advertise_the_newest_versions(conn):
    r = conn.call(API_VERSIONS, 3, cstr('kafscale-it') + cstr('1') + TAGS)
    assert r.fixed('h') == NONE
    ranges = {k: (lo, hi) for k, lo, hi, _ in r.array(lambda: (r.fixed('h'), r.fixed('h'), r.fixed('h'), r.tags()))}
    for key, newest in NEWEST.items():
        assert ranges[key][1] == newest, f'api {key}: {ranges[key]}'
    assert ranges[PRODUCE][0] == 0  # librdkafka < 2.11.1 infers compression support from v0


def test_metadata_v13_top_level_error_code(broker, conn):
    create_topic(broker.kafka, 'pv-meta', partitions=2)
    m = metadata_v13(conn, ['pv-meta', 'pv-missing'])
    assert m['error'] == NONE
    by_name = {t['name']: t for t in m['topics']}
    assert by_name['pv-meta']['error'] == NONE and len(by_name['pv-meta']['partitions']) == 2
    assert by_name['pv-missing']['error'] == 3  # UNKNOWN_TOPIC_OR_PARTITION; not a top-level error
    assert m['controller'] >= 0 and m['cluster_id']


def test_produce_v13_and_fetch_v18_by_topic_id(broker, conn):
    create_topic(broker.kafka, 'pv-data')
    tid = topic_id(conn, 'pv-data')
    first = produce_v13(conn, tid, record_batch([b'a1', b'a2']))
    assert (first['error'], first['base'], first['log_start']) == (NONE, 0, 0)
    second = produce_v13(conn, tid, record_batch([b'b1']))
    assert (second['error'], second['base']) == (NONE, 2)

    unknown = produce_v13(conn, uuid.uuid4().bytes, record_batch([b'x']))
    assert (unknown['error'], unknown['base']) == (UNKNOWN_TOPIC_ID, -1)

    # Fetch v17/v18 as a consumer sends them, and with the follower-only tags set: same answer.
    for version, tags in ((17, TAGS), (18, TAGS), (18, partition_tags(uuid.uuid4().bytes, 1))):
        p = fetch(conn, version, tid, 0, tags)
        assert (p['error'], p['hwm'], p['log_start']) == (NONE, 3, 0), (version, p)
        assert b'a1' in p['records'] and b'a2' in p['records'] and b'b1' in p['records']
    p = fetch(conn, 18, tid, 2)
    assert b'b1' in p['records'] and b'a1' not in p['records']


def test_list_offsets_v9_v10_latest_tiered(broker, conn):
    create_topic(broker.kafka, 'pv-offsets')
    tid = topic_id(conn, 'pv-offsets')
    assert produce_v13(conn, tid, record_batch([b'1', b'2', b'3']))['error'] == NONE
    for version in (9, 10):
        latest, earliest, local, tiered = list_offsets(conn, version, 'pv-offsets', [-1, -2, -4, -5])
        assert (latest['error'], latest['offset']) == (NONE, 3)
        assert (earliest['error'], earliest['offset']) == (NONE, 0)
        assert (local['error'], local['offset']) == (NONE, 0)  # every offset is "local" to us
        # Nothing is ever in a second tier: like Kafka with remote storage disabled.
        assert (tiered['error'], tiered['offset'], tiered['timestamp'], tiered['epoch']) == (NONE, -1, -1, -1)
        assert latest['epoch'] >= 0
    (old,) = list_offsets(conn, 8, 'pv-offsets', [-5])
    assert old['error'] == INVALID_REQUEST  # -5 means nothing before v9


def test_describe_groups_v6_unknown_group(conn):
    g = describe_groups(conn, 6, 'pv-no-such-group')
    assert (g['error'], g['group'], g['state']) == (GROUP_ID_NOT_FOUND, 'pv-no-such-group', 'Dead')
    assert 'pv-no-such-group' in g['message']
    old = describe_groups(conn, 5, 'pv-no-such-group')
    assert (old['error'], old['state'], old['members']) == (NONE, 'Dead', [])


def test_describe_groups_v6_existing_group(broker, conn):
    create_topic(broker.kafka, 'pv-group-topic')
    from kafka_helpers import consumer
    c = consumer(broker.kafka, **{'group.id': 'pv-group', 'auto.offset.reset': 'earliest'})
    try:
        c.subscribe(['pv-group-topic'])
        g = None
        for _ in range(100):  # each poll waits up to 0.2 s for the join to complete
            c.poll(0.2)
            g = describe_groups(conn, 6, 'pv-group')
            if g['state'] == 'Stable':
                break
        assert (g['error'], g['message'], g['state'], g['protocol_type']) == (NONE, None, 'Stable', 'consumer')
        assert len(g['members']) == 1
    finally:
        c.close()


@pytest.mark.parametrize('include_fenced', [0, 1])
def test_describe_cluster_v2(broker, conn, include_fenced):
    r = conn.call(DESCRIBE_CLUSTER, 2, struct.pack('>bbb', 0, 1, include_fenced) + TAGS)
    r.fixed('i')
    assert r.fixed('h') == NONE
    assert r.cstr() is None
    assert r.fixed('b') == 1  # endpoint type: brokers
    assert r.cstr()  # cluster id
    controller = r.fixed('i')
    brokers = r.array(lambda: (r.fixed('i'), r.cstr(), r.fixed('i'), r.cstr(), r.fixed('b'), r.tags()))
    r.fixed('i')
    r.tags()
    r.done()
    host, port = broker.kafka.rsplit(':', 1)
    assert [(b[0], b[2], b[4]) for b in brokers] == [(controller, int(port), 0)]  # one broker, not fenced
