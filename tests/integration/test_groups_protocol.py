"""Group coordinator error paths with hand-crafted requests (non-flexible versions).

Real clients rarely hit these paths on purpose, so the requests are built here byte by byte:
wrong generation, unknown member, MEMBER_ID_REQUIRED, bad session timeout, metadata too large,
transactional FindCoordinator, OffsetDelete of a subscribed topic.
"""
import os
import socket
import struct

import pytest

from kafka_helpers import create_topic

# Broker settings given as environment variables (see src/broker/README.md, Settings).
GROUP_ENV = {
    'KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS': '500',
    'KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS': '0',
}

NONE = 0
OFFSET_METADATA_TOO_LARGE = 12
ILLEGAL_GENERATION = 22
UNKNOWN_MEMBER_ID = 25
INVALID_SESSION_TIMEOUT = 26
REBALANCE_IN_PROGRESS = 27
TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53
GROUP_ID_NOT_FOUND = 69
MEMBER_ID_REQUIRED = 79
GROUP_SUBSCRIBED_TO_TOPIC = 86


@pytest.fixture(scope='module', autouse=True)
def group_env():
    saved = {k: os.environ.get(k) for k in GROUP_ENV}
    os.environ.update(GROUP_ENV)
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def i8(v):
    return struct.pack('>b', v)


def i16(v):
    return struct.pack('>h', v)


def i32(v):
    return struct.pack('>i', v)


def i64(v):
    return struct.pack('>q', v)


def string(s):
    if s is None:
        return i16(-1)
    b = s.encode()
    return i16(len(b)) + b


def blob(b):
    return i32(len(b)) + b


def array(items):
    return i32(len(items)) + b''.join(items)


def subscription(topics):
    """ConsumerProtocolSubscription v0."""
    return i16(0) + array([string(t) for t in topics]) + i32(-1)


class Reader:

    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return v

    def i16(self):
        return self.take('>h')

    def i32(self):
        return self.take('>i')

    def i64(self):
        return self.take('>q')

    def string(self):
        n = self.i16()
        if n < 0:
            return None
        s = self.data[self.pos:self.pos + n].decode()
        self.pos += n
        return s

    def blob(self):
        n = self.i32()
        b = self.data[self.pos:self.pos + n]
        self.pos += max(n, 0)
        return b

    def array(self, item):
        return [item() for _ in range(self.i32())]


class Conn:
    """One connection; request header v1, response header v0 (non-flexible versions only)."""

    def __init__(self, bootstrap):
        host, port = bootstrap.rsplit(':', 1)
        self.sock = socket.create_connection((host, int(port)), timeout=20)
        self.correlation = 0

    def call(self, api_key, version, body):
        self.correlation += 1
        msg = i16(api_key) + i16(version) + i32(self.correlation) + string('crafted') + body
        self.sock.sendall(i32(len(msg)) + msg)
        size = struct.unpack('>i', self._read(4))[0]
        r = Reader(self._read(size))
        assert r.i32() == self.correlation
        return r

    def _read(self, n):
        buf = b''
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            assert chunk, 'broker closed the connection'
            buf += chunk
        return buf

    def close(self):
        self.sock.close()


def join(conn, group, member_id, version=1, session_ms=6000, topics=('t',)):
    body = string(group) + i32(session_ms)
    if version >= 1:
        body += i32(session_ms)
    body += string(member_id) + string('consumer')
    body += array([string('range') + blob(subscription(list(topics)))])
    r = conn.call(11, version, body)
    if version >= 2:
        r.i32()  # throttle
    error, generation, protocol, leader, member = r.i16(), r.i32(), r.string(), r.string(), r.string()
    members = r.array(lambda: (r.string(), r.blob()))
    return {'error': error, 'generation': generation, 'protocol': protocol, 'leader': leader,
            'member_id': member, 'members': members}


def sync(conn, group, generation, member_id, assignments=()):
    body = string(group) + i32(generation) + string(member_id)
    body += array([string(m) + blob(a) for m, a in assignments])
    r = conn.call(14, 1, body)
    r.i32()
    return r.i16(), r.blob()


def heartbeat(conn, group, generation, member_id):
    r = conn.call(12, 1, string(group) + i32(generation) + string(member_id))
    r.i32()
    return r.i16()


def leave(conn, group, member_id):
    r = conn.call(13, 1, string(group) + string(member_id))
    r.i32()
    return r.i16()


def commit(conn, group, generation, member_id, topic, offsets):
    """OffsetCommit v2: offsets = {partition: (offset, metadata)}."""
    body = string(group) + i32(generation) + string(member_id) + i64(-1)
    body += array([string(topic) + array([i32(p) + i64(o) + string(m) for p, (o, m) in offsets.items()])])
    r = conn.call(8, 2, body)
    out = {}
    for _ in range(r.i32()):
        r.string()
        for _ in range(r.i32()):
            p = r.i32()
            out[p] = r.i16()
    return out


def fetch_offsets(conn, group, topic, partitions):
    """OffsetFetch v1: {partition: (offset, metadata, error)}."""
    r = conn.call(9, 1, string(group) + array([string(topic) + array([i32(p) for p in partitions])]))
    out = {}
    for _ in range(r.i32()):
        r.string()
        for _ in range(r.i32()):
            p, o, m, e = r.i32(), r.i64(), r.string(), r.i16()
            out[p] = (o, m, e)
    return out


def test_generation_and_member_fencing(broker, topic):
    create_topic(broker.bootstrap, topic, partitions=2)
    c = Conn(broker.bootstrap)
    try:
        g = f'g-{topic}'
        j = join(c, g, '', topics=[topic])
        assert j['error'] == NONE, j
        assert j['generation'] == 1 and j['leader'] == j['member_id'] and j['protocol'] == 'range'
        assert [m for m, _ in j['members']] == [j['member_id']]
        member = j['member_id']

        assert sync(c, g, 2, member)[0] == ILLEGAL_GENERATION
        assert sync(c, g, 1, 'bogus')[0] == UNKNOWN_MEMBER_ID
        assert sync(c, g, 1, member, [(member, b'my-assignment')]) == (NONE, b'my-assignment')

        assert heartbeat(c, g, 1, member) == NONE
        assert heartbeat(c, g, 0, member) == ILLEGAL_GENERATION
        assert heartbeat(c, g, 1, 'bogus') == UNKNOWN_MEMBER_ID
        assert heartbeat(c, f'{g}-none', 1, member) == UNKNOWN_MEMBER_ID

        assert commit(c, g, 7, member, topic, {0: (5, '')}) == {0: ILLEGAL_GENERATION}
        assert commit(c, g, 1, 'bogus', topic, {0: (5, '')}) == {0: UNKNOWN_MEMBER_ID}
        assert commit(c, g, 1, member, topic, {0: (5, 'x' * 4097)}) == {0: OFFSET_METADATA_TOO_LARGE}
        assert commit(c, g, 1, member, topic, {0: (5, 'meta'), 1: (7, '')}) == {0: NONE, 1: NONE}
        assert fetch_offsets(c, g, topic, [0, 1]) == {0: (5, 'meta', NONE), 1: (7, '', NONE)}

        # A member with changed subscriptions rejoining makes the group rebalance.
        j2 = join(c, g, member, topics=[topic, 'other'])
        assert j2['error'] == NONE and j2['generation'] == 2
        assert heartbeat(c, g, 1, member) == ILLEGAL_GENERATION
        assert leave(c, g, member) == NONE
        assert leave(c, g, member) == UNKNOWN_MEMBER_ID
    finally:
        c.close()


def test_member_id_required_and_session_timeout_bounds(broker):
    c = Conn(broker.bootstrap)
    try:
        j = join(c, 'g-v4', '', version=4)
        assert j['error'] == MEMBER_ID_REQUIRED and j['member_id'].startswith('crafted-')
        j2 = join(c, 'g-v4', j['member_id'], version=4)
        assert j2['error'] == NONE and j2['member_id'] == j['member_id'] and j2['generation'] == 1
        assert join(c, 'g-bad', '', session_ms=100)['error'] == INVALID_SESSION_TIMEOUT
        assert join(c, 'g-bad', '', session_ms=1_800_001)['error'] == INVALID_SESSION_TIMEOUT
        assert leave(c, 'g-v4', j['member_id']) == NONE
    finally:
        c.close()


def test_find_coordinator(broker):
    c = Conn(broker.bootstrap)
    try:
        r = c.call(10, 1, string('some-group') + i8(0))
        r.i32()
        error, message, node, host, port = r.i16(), r.string(), r.i32(), r.string(), r.i32()
        assert error == NONE and node == 0 and f'{host}:{port}' == broker.bootstrap
        r = c.call(10, 1, string('some-txn') + i8(1))
        r.i32()
        assert r.i16() == TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    finally:
        c.close()


def test_offset_delete_refuses_subscribed_topics(broker, topic):
    create_topic(broker.bootstrap, topic, partitions=1)
    c = Conn(broker.bootstrap)
    g = f'od-{topic}'

    def offset_delete(group):
        r = c.call(47, 0, string(group) + array([string(topic) + array([i32(0)])]))
        error, _ = r.i16(), r.i32()
        parts = []
        for _ in range(r.i32()):
            r.string()
            parts += r.array(lambda: (r.i32(), r.i16()))
        return error, parts

    try:
        j = join(c, g, '', topics=[topic])
        member = j['member_id']
        assert sync(c, g, 1, member, [(member, b'a')])[0] == NONE
        assert commit(c, g, 1, member, topic, {0: (3, '')}) == {0: NONE}
        assert offset_delete(g) == (NONE, [(0, GROUP_SUBSCRIBED_TO_TOPIC)])
        assert leave(c, g, member) == NONE
        assert offset_delete(g) == (NONE, [(0, NONE)])
        assert fetch_offsets(c, g, topic, [0]) == {0: (-1, '', NONE)}
        assert offset_delete('no-such-group')[0] == GROUP_ID_NOT_FOUND
        # DescribeGroups v0 of a group that does not exist: state Dead, no error.
        r = c.call(15, 0, array([string('no-such-group')]))
        groups = r.array(lambda: (r.i16(), r.string(), r.string(), r.string(), r.string(),
                                  r.array(lambda: (r.string(), r.string(), r.string(), r.blob(), r.blob()))))
        assert groups == [(NONE, 'no-such-group', 'Dead', '', '', [])]
    finally:
        c.close()


def commit_v6(conn, group, generation, member_id, topic, offsets):
    """OffsetCommit v6 (has committed_leader_epoch): offsets = {partition: (offset, epoch, metadata)}."""
    body = string(group) + i32(generation) + string(member_id)
    body += array([string(topic) + array([i32(p) + i64(o) + i32(e) + string(m)
                                          for p, (o, e, m) in offsets.items()])])
    r = conn.call(8, 6, body)
    r.i32()  # throttle
    out = {}
    for _ in range(r.i32()):
        r.string()
        for _ in range(r.i32()):
            p = r.i32()
            out[p] = r.i16()
    return out


def fetch_offsets_v5(conn, group, topic, partitions):
    """OffsetFetch v5: ({partition: (offset, epoch, metadata, error)}, top-level error)."""
    r = conn.call(9, 5, string(group) + array([string(topic) + array([i32(p) for p in partitions])]))
    r.i32()  # throttle
    out = {}
    for _ in range(r.i32()):
        r.string()
        for _ in range(r.i32()):
            p, o, e, m, err = r.i32(), r.i64(), r.i32(), r.string(), r.i16()
            out[p] = (o, e, m, err)
    return out, r.i16()


def test_committed_leader_epoch_is_stored_and_returned(broker, topic):
    """As Kafka's group coordinator: the committed leader epoch is not checked against the
    partition's leader epoch on commit (the consumer validates it later with OffsetForLeaderEpoch);
    it is stored with the offset and OffsetFetch v5+ returns it, -1 when none was given."""
    create_topic(broker.bootstrap, topic, partitions=3)
    g = f'epoch-{topic}'
    c = Conn(broker.bootstrap)
    try:
        # Epoch 7 is beyond this broker's leader epoch for the partition: still accepted, like Kafka.
        assert commit_v6(c, g, -1, '', topic, {0: (10, 7, 'm0'), 1: (11, -1, None)}) == {0: NONE, 1: NONE}
        want = {0: (10, 7, 'm0', NONE), 1: (11, -1, '', NONE), 2: (-1, -1, '', NONE)}
        assert fetch_offsets_v5(c, g, topic, [0, 1, 2]) == (want, NONE)
        # Versions before 5 have no epoch field; the offsets are the same.
        assert fetch_offsets(c, g, topic, [0, 1]) == {0: (10, 'm0', NONE), 1: (11, '', NONE)}
        # A commit without the field (v2) stores "no epoch".
        assert commit(c, g, -1, '', topic, {0: (12, '')}) == {0: NONE}
        assert fetch_offsets_v5(c, g, topic, [0])[0] == {0: (12, -1, '', NONE)}
        assert commit_v6(c, g, -1, '', topic, {0: (13, 3, '')}) == {0: NONE}
    finally:
        c.close()
    # The epoch is durable like the offset.
    broker.restart()
    c = Conn(broker.bootstrap)
    try:
        assert fetch_offsets_v5(c, g, topic, [0, 1])[0] == {0: (13, 3, '', NONE), 1: (11, -1, '', NONE)}
    finally:
        c.close()
