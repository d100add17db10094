"""Consumer groups with librdkafka (confluent-kafka-python): several consumer processes in one group.

Each consumer is its own process (so it can be killed with SIGKILL) that prints what it is
assigned and consumes; the test reads those lines.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from confluent_kafka import Consumer, TopicPartition

from kafka_helpers import check_brokers, create_topic, produce_ok, wait_for

pytestmark = pytest.mark.librdkafka  # runs with librdkafka 2.0.2 and 2.15 (tests/run-integration.sh)

# Broker settings given as environment variables (see src/broker/README.md, Settings): short
# sessions for the crash tests, a short initial delay so consumers started together share the
# first generation.
GROUP_ENV = {
    'KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS': '500',
    'KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS': '1000',
}
WAIT_S = 30  # upper bound for any condition a test waits for

WORKER = r'''
import json, signal, sys
from confluent_kafka import Consumer, KafkaError, KafkaException
conf = json.loads(sys.argv[1])
topic = conf.pop('_topic')
def emit(*a):
    sys.stdout.write(' '.join(str(x) for x in a) + '\n')
    sys.stdout.flush()
def parts(ps):
    return ','.join(str(p.partition) for p in ps) or '-'
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
c = Consumer(conf)
c.subscribe([topic], on_assign=lambda c, ps: emit('ASSIGN', parts(ps)),
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
    emit('MSG', m.partition(), m.offset(), m.value().decode())
    # Committed before the next poll: a rebalance never hands a processed record to another member.
    try:
        c.commit(message=m, asynchronous=False)
    except KafkaException as e:  # e.g. the coordinator moved: reported, the member goes on
        emit('ERROR', 'commit', e.args[0].name())
        continue
    emit('COMMIT', m.partition(), m.offset() + 1)
c.close()
emit('CLOSED')
'''


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


class Worker:
    """A consumer process and what it reported."""

    def __init__(self, bootstrap, group, topic, **conf):
        c = {
            'bootstrap.servers': bootstrap,
            'group.id': group,
            'auto.offset.reset': 'earliest',
            'enable.auto.commit': False,
            'session.timeout.ms': 2000,
            'heartbeat.interval.ms': 200,
            'log_level': 3,
            '_topic': topic,
        }
        c.update(conf)
        self.proc = subprocess.Popen([sys.executable, '-c', WORKER, json.dumps(c)], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        self.events = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.events.append(line.split())

    def snapshot(self):
        with self.lock:
            return list(self.events)

    def assignment(self):
        owned = set()
        for e in self.snapshot():
            if e[0] in ('ASSIGN', 'REVOKE') and e[1] != '-':
                ps = {int(p) for p in e[1].split(',')}
                owned = owned | ps if e[0] == 'ASSIGN' else owned - ps
        return owned

    def rebalance_events(self):
        return [e for e in self.snapshot() if e[0] in ('ASSIGN', 'REVOKE')]

    def values(self):
        return [e[3] for e in self.snapshot() if e[0] == 'MSG']

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


def split_between(ws, partitions):
    """True when the workers own disjoint, non-empty sets covering every partition."""
    sets = [w.assignment() for w in ws]
    if any(not s for s in sets) or sum(len(s) for s in sets) != partitions:
        return False
    return set().union(*sets) == set(range(partitions))


def produce_values(bootstrap, topic, values, partitions):
    produce_ok(bootstrap, topic, [{'value': v.encode(), 'partition': i % partitions} for i, v in enumerate(values)])


def test_partitions_split_and_every_record_consumed_once(broker, topic, workers):
    create_topic(broker.bootstrap, topic, partitions=6)
    values = [f'r{i}' for i in range(300)]
    produce_values(broker.bootstrap, topic, values, 6)
    group = f'g-{topic}'
    ws = [workers(broker.bootstrap, group, topic) for _ in range(3)]
    wait_for(lambda: split_between(ws, 6), WAIT_S, 'three consumers splitting six partitions')
    wait_for(lambda: sum(len(w.values()) for w in ws) >= 300, WAIT_S, 'all records consumed')
    consumed = [v for w in ws for v in w.values()]
    assert sorted(consumed) == sorted(values), 'a record was lost or consumed twice'
    for w in ws:
        w.stop()
    # The group's committed offsets are the end of every partition.
    c = Consumer({'bootstrap.servers': broker.bootstrap, 'group.id': group, 'log_level': 3})
    try:
        committed = c.committed([TopicPartition(topic, p) for p in range(6)], timeout=WAIT_S)
        assert [tp.offset for tp in committed] == [50] * 6
    finally:
        c.close()


def test_rebalance_on_join_leave_and_crash(broker, topic, workers):
    create_topic(broker.bootstrap, topic, partitions=4)
    group = f'g-{topic}'
    produce_values(broker.bootstrap, topic, [f'a{i}' for i in range(40)], 4)
    a = workers(broker.bootstrap, group, topic)
    wait_for(lambda: a.assignment() == {0, 1, 2, 3}, WAIT_S, 'the only consumer owning everything')
    b = workers(broker.bootstrap, group, topic)
    wait_for(lambda: split_between([a, b], 4), WAIT_S, 'a rebalance when a consumer joins')
    produce_values(broker.bootstrap, topic, [f'b{i}' for i in range(40)], 4)
    wait_for(lambda: len(set(a.values()) | set(b.values())) == 80, WAIT_S, '80 records consumed')

    b.stop()  # clean close: LeaveGroup, immediate rebalance
    assert b.snapshot()[-1] == ['CLOSED']
    wait_for(lambda: a.assignment() == {0, 1, 2, 3}, WAIT_S, 'a rebalance when a consumer leaves')

    c = workers(broker.bootstrap, group, topic)
    wait_for(lambda: split_between([a, c], 4), WAIT_S, 'a rebalance when another consumer joins')
    c.kill()  # SIGKILL: no LeaveGroup; the coordinator notices when its session times out
    killed_at = time.monotonic()
    wait_for(lambda: a.assignment() == {0, 1, 2, 3}, WAIT_S, 'a rebalance after the crashed session expired')
    assert time.monotonic() - killed_at >= 1.0, 'the crashed member was removed before its session expired'
    produce_values(broker.bootstrap, topic, [f'c{i}' for i in range(40)], 4)
    everything = {f'{p}{i}' for p in 'abc' for i in range(40)}
    wait_for(lambda: set(a.values()) | set(b.values()) | set(c.values()) == everything, WAIT_S,
             'every record consumed at least once')
    a.stop()


def test_cooperative_sticky_moves_only_some_partitions(broker, topic, workers):
    create_topic(broker.bootstrap, topic, partitions=6)
    group = f'g-{topic}'
    conf = {'partition.assignment.strategy': 'cooperative-sticky'}
    a = workers(broker.bootstrap, group, topic, **conf)
    wait_for(lambda: a.assignment() == set(range(6)), WAIT_S, 'the first consumer owning everything')
    before = len(a.rebalance_events())
    b = workers(broker.bootstrap, group, topic, **conf)
    wait_for(lambda: split_between([a, b], 6), WAIT_S, 'an incremental rebalance')
    revoked = set()
    for kind, ps in a.rebalance_events()[before:]:
        if kind == 'REVOKE' and ps != '-':
            revoked |= {int(p) for p in ps.split(',')}
    # Incremental: the first consumer gave up exactly what the second took, and kept the rest.
    assert revoked == b.assignment()
    assert a.assignment() == set(range(6)) - revoked
    b.stop()
    wait_for(lambda: a.assignment() == set(range(6)), WAIT_S, 'partitions back after a clean leave')
    a.stop()


def test_static_member_restart_without_rebalance(broker, topic, workers):
    create_topic(broker.bootstrap, topic, partitions=4)
    group = f'g-{topic}'
    conf = {'session.timeout.ms': 10000}
    a = workers(broker.bootstrap, group, topic, **{'group.instance.id': 'a', **conf})
    b = workers(broker.bootstrap, group, topic, **{'group.instance.id': 'b', **conf})
    wait_for(lambda: split_between([a, b], 4), WAIT_S, 'two static members splitting the partitions')
    owned_by_a = a.assignment()
    b_events = len(b.rebalance_events())
    a.kill()  # a static member that dies sends no LeaveGroup
    a2 = workers(broker.bootstrap, group, topic, **{'group.instance.id': 'a', **conf})
    wait_for(lambda: a2.assignment(), WAIT_S, 'the restarted static member getting its partitions')
    assert a2.assignment() == owned_by_a
    # b was never asked to give anything up: no rebalance happened.
    produce_values(broker.bootstrap, topic, [f'v{i}' for i in range(20)], 4)
    wait_for(lambda: len(a2.values()) + len(b.values()) >= 20, WAIT_S, 'records consumed after the restart')
    assert len(b.rebalance_events()) == b_events
    a2.stop()
    b.stop()


def test_broker_restart_resumes_from_committed_offsets(broker, topic):
    create_topic(broker.bootstrap, topic, partitions=4)
    values = [f'r{i}' for i in range(200)]
    produce_values(broker.bootstrap, topic, values, 4)
    group = f'g-{topic}'
    conf = {'bootstrap.servers': broker.bootstrap, 'group.id': group, 'auto.offset.reset': 'earliest',
            'enable.auto.commit': False, 'session.timeout.ms': 6000, 'log_level': 3}

    def consume(c, n, out):
        deadline = time.monotonic() + WAIT_S
        while len(out) < n:
            assert time.monotonic() < deadline, f'only {len(out)} of {n} records consumed'
            m = c.poll(0.1)
            if m is None or m.error():
                check_brokers()
                continue
            out.append(m.value().decode())
            c.commit(message=m, asynchronous=False)

    first = []
    c = Consumer(conf)
    c.subscribe([topic])
    consume(c, 100, first)
    # Killed mid-consumption: nothing is flushed or handed over.
    broker.restart(hard=True)
    c.close()
    second = []
    c2 = Consumer(conf)
    c2.subscribe([topic])
    try:
        consume(c2, 100, second)
        extra = c2.poll(1.0)  # nothing more: the committed offsets were exactly where we stopped
        assert extra is None or extra.error(), f'unexpected extra record {extra.value()}'
    finally:
        c2.close()
    assert sorted(first + second) == sorted(values)
