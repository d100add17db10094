"""KIP-848 consumer groups (group.protocol=consumer) with librdkafka 2.15 consumer processes.

Each consumer is its own process (confluent-kafka-python over librdkafka 2.15) so it can be killed
with SIGKILL; it prints its incremental assignments and every record it consumed and committed.
The broker runs with a short consumer session timeout so a killed member's partitions move fast.
"""
import json
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading

import pytest
from confluent_kafka import Consumer, TopicPartition

from kafka_helpers import create_topic, produce_ok, wait_for

pytestmark = pytest.mark.librdkafka_2_15

SESSION_MS = 3000
# Below Kafka's bounds (45 s / 5 s minimums), so the bounds are lowered too.
BROKER_ARGS = [
    f'--group-consumer-session-timeout-ms={SESSION_MS}', '--group-consumer-min-session-timeout-ms=1000',
    '--group-consumer-heartbeat-interval-ms=250', '--group-consumer-min-heartbeat-interval-ms=100'
]
WAIT_S = 45  # upper bound for any condition a test waits for

WORKER = r'''
import json, signal, sys, time
from confluent_kafka import Consumer, KafkaError, KafkaException
conf = json.loads(sys.argv[1])
topics = conf.pop('_topics')
def emit(*a):
    sys.stdout.write(' '.join(str(x) for x in a) + '\n')
    sys.stdout.flush()
def parts(ps):
    return ','.join(f'{p.topic}/{p.partition}' for p in ps) or '-'
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
c = Consumer(conf)
c.subscribe(topics, on_assign=lambda c, ps: emit('ASSIGN', parts(ps)),
            on_revoke=lambda c, ps: emit('REVOKE', parts(ps)),
            on_lost=lambda c, ps: emit('REVOKE', parts(ps)))
emit('STARTED')
while not stop:
    m = c.poll(0.1)
    if m is None:
        continue
    if m.error():
        if m.error().code() != KafkaError._PARTITION_EOF:
            emit('ERROR', m.error().name())
        continue
    # Committed before it is reported: a record reported consumed is never handed to another member.
    # A commit racing an epoch change gets STALE_MEMBER_EPOCH (as with Kafka): retried with the new epoch.
    err = None
    for _ in range(50):
        try:
            c.commit(message=m, asynchronous=False)
            err = None
            break
        except KafkaException as e:
            err = e.args[0].name()
            if err != 'STALE_MEMBER_EPOCH':
                break
            time.sleep(0.1)
    if err is not None:
        emit('ERROR', 'commit', err, m.topic(), m.partition(), m.offset())
        continue
    emit('MSG', m.topic(), m.partition(), m.offset(), m.value().decode())
c.close()
emit('CLOSED')
'''


class Worker:
    """A KIP-848 consumer process and what it reported."""

    def __init__(self, bootstrap, group, topics, **conf):
        c = {
            'bootstrap.servers': bootstrap,
            'group.id': group,
            'group.protocol': 'consumer',
            'auto.offset.reset': 'earliest',
            'enable.auto.commit': False,
            'log_level': 3,
            '_topics': topics,
        }
        c.update(conf)
        self.proc = subprocess.Popen([sys.executable, '-c', WORKER, json.dumps(c)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.events = []
        self.errors = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.err_reader = threading.Thread(target=self._read_err, daemon=True)
        self.err_reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.events.append(line.split())

    def _read_err(self):
        for line in self.proc.stderr:
            with self.lock:
                self.errors.append(line.rstrip())

    def snapshot(self):
        with self.lock:
            return list(self.events)

    def assignment(self):
        """Partitions owned now ('topic/p'), from the incremental ASSIGN / REVOKE events."""
        owned = set()
        for e in self.snapshot():
            if e[0] in ('ASSIGN', 'REVOKE') and e[1] != '-':
                ps = set(e[1].split(','))
                owned = owned | ps if e[0] == 'ASSIGN' else owned - ps
        return owned

    def values(self):
        return [e[4] for e in self.snapshot() if e[0] == 'MSG']

    def describe(self):
        with self.lock:
            return f'events={self.events[-20:]} stderr={self.errors[-10:]}'

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(WAIT_S)
        self.reader.join(WAIT_S)

    def kill(self):
        self.proc.kill()
        self.proc.wait(WAIT_S)
        self.reader.join(WAIT_S)


@pytest.fixture
def workers():
    started = []

    def start(*args, **kw):
        w = Worker(*args, **kw)
        started.append(w)
        return w

    yield start
    for w in started:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait(WAIT_S)


def tp(topic, partitions):
    return {f'{topic}/{p}' for p in range(partitions)}


def split_between(ws, want):
    """The workers own disjoint, non-empty sets covering exactly `want`."""
    sets = [w.assignment() for w in ws]
    if any(not s for s in sets) or sum(len(s) for s in sets) != len(want):
        return False
    return set().union(*sets) == want


def produce_values(bootstrap, topic, values, partitions):
    produce_ok(bootstrap, topic, [{'value': v.encode(), 'partition': i % partitions} for i, v in enumerate(values)])


def consumed(ws):
    return [v for w in ws for v in w.values()]


def wait_consumed(ws, values, what):
    wait_for(lambda: len(consumed(ws)) >= len(values), WAIT_S,
             f'{what}: {len(values)} records consumed ({[w.describe() for w in ws]})')
    got = consumed(ws)
    assert sorted(got) == sorted(values), f'{what}: a record was lost or consumed twice'


def committed(bootstrap, group, topic, partitions):
    c = Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'log_level': 3})
    try:
        return [x.offset for x in c.committed([TopicPartition(topic, p) for p in range(partitions)],
                                              timeout=WAIT_S)]
    finally:
        c.close()


def test_kip848_join_leave_and_third_member(broker, topic, workers):
    create_topic(broker.bootstrap, topic, partitions=6)
    group = f'g-{topic}'
    values = [f'a{i}' for i in range(60)]
    produce_values(broker.bootstrap, topic, values, 6)
    a = workers(broker.bootstrap, group, [topic])
    wait_for(lambda: a.assignment() == tp(topic, 6), WAIT_S, f'the only member owning everything: {a.describe()}')
    b = workers(broker.bootstrap, group, [topic])
    wait_for(lambda: split_between([a, b], tp(topic, 6)), WAIT_S, 'two members sharing the partitions')
    more = [f'b{i}' for i in range(60)]
    produce_values(broker.bootstrap, topic, more, 6)
    values += more
    wait_consumed([a, b], values, 'two members')
    c = workers(broker.bootstrap, group, [topic])
    wait_for(lambda: split_between([a, b, c], tp(topic, 6)), WAIT_S, 'a third member getting its share')
    assert all(len(w.assignment()) == 2 for w in (a, b, c)), 'uniform: 2 partitions each'
    b.stop()  # leaves the group (member epoch -1)
    assert b.snapshot()[-1] == ['CLOSED']
    wait_for(lambda: split_between([a, c], tp(topic, 6)), WAIT_S, 'the rest sharing after a leave')
    more = [f'c{i}' for i in range(60)]
    produce_values(broker.bootstrap, topic, more, 6)
    values += more
    wait_consumed([a, b, c], values, 'after the leave')
    for w in (a, c):
        w.stop()
    assert committed(broker.bootstrap, group, topic, 6) == [30] * 6


def test_kip848_killed_member_partitions_move_after_session_timeout(broker, topic, workers):
    create_topic(broker.bootstrap, topic, partitions=4)
    group = f'g-{topic}'
    a = workers(broker.bootstrap, group, [topic])
    b = workers(broker.bootstrap, group, [topic])
    wait_for(lambda: split_between([a, b], tp(topic, 4)), WAIT_S, 'two members sharing the partitions')
    values = [f'a{i}' for i in range(40)]
    produce_values(broker.bootstrap, topic, values, 4)
    wait_consumed([a, b], values, 'before the kill')
    b.kill()  # SIGKILL: no leave; the session timeout removes it
    wait_for(lambda: a.assignment() == tp(topic, 4), SESSION_MS / 1000 + WAIT_S,
             'the killed member\'s partitions moving to the survivor')
    more = [f'b{i}' for i in range(40)]
    produce_values(broker.bootstrap, topic, more, 4)
    wait_consumed([a, b], values + more, 'after the kill')
    a.stop()
    assert committed(broker.bootstrap, group, topic, 4) == [20] * 4


def test_kip848_regex_subscription_picks_up_new_topic(broker, topic, workers):
    first, second = f'{topic}-x1', f'{topic}-x2'
    create_topic(broker.bootstrap, first, partitions=2)
    group = f'g-{topic}'
    a = workers(broker.bootstrap, group, [f'^{topic}-x.*'])
    try:
        wait_for(lambda: a.assignment() == tp(first, 2), WAIT_S, f'the pattern matching {first}')
    except AssertionError:
        print('\n'.join(a.errors[-200:]))
        raise
    values = [f'a{i}' for i in range(10)]
    produce_values(broker.bootstrap, first, values, 2)
    wait_consumed([a], values, 'first topic')
    create_topic(broker.bootstrap, second, partitions=3)
    wait_for(lambda: a.assignment() == tp(first, 2) | tp(second, 3), WAIT_S,
             f'the new topic {second} assigned: {a.describe()}')
    more = [f'b{i}' for i in range(30)]
    produce_values(broker.bootstrap, second, more, 3)
    wait_consumed([a], values + more, 'second topic')
    a.stop()


def test_kip848_broker_restart_mid_rebalance(broker, topic, workers):
    create_topic(broker.bootstrap, topic, partitions=4)
    group = f'g-{topic}'
    values = [f'a{i}' for i in range(40)]
    produce_values(broker.bootstrap, topic, values, 4)
    a = workers(broker.bootstrap, group, [topic])
    wait_for(lambda: a.assignment() == tp(topic, 4), WAIT_S, 'the only member owning everything')
    wait_consumed([a], values, 'before the restart')
    b = workers(broker.bootstrap, group, [topic])
    wait_for(lambda: any(e[0] == 'STARTED' for e in b.snapshot()), WAIT_S, 'the second member started')
    broker.restart()  # while b joins and a revokes
    wait_for(lambda: split_between([a, b], tp(topic, 4)), WAIT_S,
             f'both members sharing after the restart: {a.describe()} {b.describe()}')
    more = [f'b{i}' for i in range(40)]
    produce_values(broker.bootstrap, topic, more, 4)
    wait_consumed([a, b], values + more, 'after the restart')
    for w in (a, b):
        w.stop()
    assert committed(broker.bootstrap, group, topic, 4) == [20] * 4


# ---- ListGroups v5 and ConsumerGroupDescribe v0, hand-built (flexible encoding): the installed
# confluent-kafka-python (1.7) has no admin call for them.

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
    b = s.encode()
    return uvarint(len(b) + 1) + b


def carray(items):
    return uvarint(len(items) + 1) + b''.join(items)


class Reader:
    def __init__(self, b):
        self.b, self.i = b, 0

    def take(self, n):
        v = self.b[self.i:self.i + n]
        self.i += n
        return v

    def i8(self):
        return struct.unpack('>b', self.take(1))[0]

    def i16(self):
        return struct.unpack('>h', self.take(2))[0]

    def i32(self):
        return struct.unpack('>i', self.take(4))[0]

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

    def array(self, item):
        n = self.uvarint()
        return None if n == 0 else [item() for _ in range(n - 1)]

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def call(bootstrap, api_key, version, body, tls_ca=None):
    """One request with a flexible header; over TLS (trusting the CA file `tls_ca`) when given."""
    host, port = bootstrap.split(':')
    conn = socket.create_connection((host, int(port)), timeout=10)
    if tls_ca:
        conn = ssl.create_default_context(cafile=tls_ca).wrap_socket(conn, server_hostname=host)
    with conn:
        client = b'kip848-test'
        header = struct.pack('>hhih', api_key, version, 7, len(client)) + client + uvarint(0)
        msg = header + body
        conn.sendall(struct.pack('>i', len(msg)) + msg)
        def read(n):
            out = b''
            while len(out) < n:
                chunk = conn.recv(n - len(out))
                assert chunk, f'the broker closed the connection (API {api_key} v{version})'
                out += chunk
            return out
        data = read(struct.unpack('>i', read(4))[0])
    r = Reader(data)
    assert r.i32() == 7
    r.tags()
    return r


def list_groups_v5(bootstrap, types=()):
    r = call(bootstrap, 16, 5, carray([]) + carray([cstr(t) for t in types]) + uvarint(0))
    r.i32()
    assert r.i16() == 0

    def group():
        g = (r.cstr(), r.cstr(), r.cstr(), r.cstr())
        r.tags()
        return g
    return {g[0]: {'protocol_type': g[1], 'state': g[2], 'type': g[3]} for g in r.array(group)}


def consumer_group_describe(bootstrap, group):
    r = call(bootstrap, 69, 0, carray([cstr(group)]) + b'\x00' + uvarint(0))
    r.i32()

    def assignment():
        def tp():
            r.take(16)
            name = r.cstr()
            parts = r.array(r.i32)
            r.tags()
            return name, parts
        out = {}
        for name, parts in r.array(tp):
            out.setdefault(name, set()).update(parts)
        r.tags()
        return out

    def member():
        m = {'member_id': r.cstr(), 'instance_id': r.cstr(), 'rack_id': r.cstr(), 'member_epoch': r.i32(),
             'client_id': r.cstr(), 'client_host': r.cstr(), 'topics': r.array(r.cstr), 'regex': r.cstr(),
             'assignment': assignment(), 'target': assignment()}
        r.tags()
        return m

    def described():
        g = {'error': r.i16(), 'message': r.cstr(), 'group_id': r.cstr(), 'state': r.cstr(), 'group_epoch': r.i32(),
             'assignment_epoch': r.i32(), 'assignor': r.cstr(), 'members': r.array(member)}
        r.i32()  # authorized operations
        r.tags()
        return g
    return r.array(described)[0]


def test_kip848_list_and_describe(broker, topic, workers):
    create_topic(broker.bootstrap, topic, partitions=2)
    group = f'g-{topic}'
    a = workers(broker.bootstrap, group, [topic])
    wait_for(lambda: a.assignment() == tp(topic, 2), WAIT_S, 'the member owning everything')
    listed = list_groups_v5(broker.bootstrap)
    assert listed[group]['type'] == 'consumer' and listed[group]['protocol_type'] == 'consumer'
    assert group in list_groups_v5(broker.bootstrap, types=['Consumer'])
    assert group not in list_groups_v5(broker.bootstrap, types=['classic'])
    d = consumer_group_describe(broker.bootstrap, group)
    assert d['error'] == 0 and d['state'] == 'Stable' and d['assignor'] == 'uniform', d
    assert d['group_epoch'] >= 1 and d['assignment_epoch'] == d['group_epoch'], d
    [m] = d['members']
    assert m['topics'] == [topic] and m['assignment'] == {topic: {0, 1}} and m['target'] == m['assignment'], m
    assert m['member_epoch'] == d['assignment_epoch']
    missing = consumer_group_describe(broker.bootstrap, f'absent-{topic}')
    assert missing['error'] == 69  # GROUP_ID_NOT_FOUND
    a.stop()
    wait_for(lambda: consumer_group_describe(broker.bootstrap, group)['state'] == 'Empty', WAIT_S,
             'the group empty after the member left')
