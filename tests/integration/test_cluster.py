"""Three brokers over one etcd prefix and one bucket prefix (real etcd and Swift on loopback).

Streams of partitions are placed on live brokers by the elected controller; Metadata names the
real leaders; a broker killed with SIGKILL has its streams served again by the others within
its lease plus the takeover; SIGTERM hands streams over at once. Every acknowledged record is
read back once, in order, at its acknowledged offset.
"""
import re
import threading
import time

import pytest

import confluent_kafka
from confluent_kafka.admin import AdminClient

from backends import backend_broker_factory, services, unique_prefix  # noqa: F401 (fixtures)
from conftest import timing_bound
from kafka_helpers import create_topic, read_all, wait_for
from test_groups_protocol import Conn, i8, string

pytestmark = pytest.mark.librdkafka  # runs with librdkafka 2.0.2 and 2.15 (tests/run-integration.sh)

LEASE_MS = 2000
BROKER_ARGS = ['--auto-create-topics=true', f'--lease-ttl-ms={LEASE_MS}', '--streams=12']
PARTITIONS = 12
RATE_PER_S = 300
# A killed broker's partitions must be served again within its lease, the takeover and the
# client's metadata refresh; the bound here is loose (the tight figure is printed).
FAILOVER_BOUND_S = timing_bound(LEASE_MS / 1000 + 8)


def add_broker(services, backend_broker_factory, prefix, node, args=()):
    """Starts broker `node` of the cluster whose etcd and bucket prefix is `prefix`.

    `args` are added to BROKER_ARGS (a backend broker's environment holds only the S3 credentials:
    settings go on the command line). `services` may differ per node (e.g. etcd through a proxy)."""
    b = backend_broker_factory(services, BROKER_ARGS + list(args) + [f'--node-id={node}'],
                               name=f'node{node}', prefix=prefix)
    b.start()
    return b


def start_cluster(services, backend_broker_factory, n=3, args=(), node_services=None):
    """n brokers (node ids 0..n-1) over a fresh prefix; add more with add_broker(..., brokers[0].prefix, id).
    node_services {node: Services} gives some a different endpoint (e.g. etcd through a proxy)."""
    prefix = unique_prefix('cluster')
    return [add_broker((node_services or {}).get(node, services), backend_broker_factory, prefix, node, args)
            for node in range(n)]


def bootstrap(brokers):
    return ','.join(b.kafka for b in brokers if b.alive)


def leaders(boot, topic):
    md = AdminClient({'bootstrap.servers': boot, 'log_level': 3}).list_topics(topic, timeout=10)
    t = md.topics[topic]
    return {p: t.partitions[p].leader for p in t.partitions}, sorted(md.brokers)


class Producer(threading.Thread):
    """A producer at a steady rate over every partition; records each delivery.

    Idempotent by default. Without idempotence, one request in flight per connection keeps the
    order of a partition across retries (retries may still duplicate records). `conf` adds or
    overrides client settings.
    """

    def __init__(self, boot, topic, idempotent=True, conf=None):
        super().__init__(daemon=True)
        self.topic = topic
        self.stop_event = threading.Event()
        self.hold_event = threading.Event()  # set: produce nothing (see hold())
        self.lock = threading.Lock()
        self.acked = []  # (partition, offset, value, monotonic time)
        # Acknowledged without an offset: librdkafka's idempotent producer "implicitly acks" a batch
        # whose answer was lost once the broker accepted a later sequence of the same partition
        # (which it does only if the earlier one is in the log). (partition, value, monotonic time)
        self.implicit = []
        self.failed = []
        self.sent = 0
        self.unflushed = None
        self.fatal = None  # a fatal client error (KafkaError) that stopped the producer
        settings = {
            'bootstrap.servers': boot,
            'enable.idempotence': idempotent,
            'linger.ms': 5,
            'message.timeout.ms': 120000,
            'retry.backoff.ms': 100,
            'reconnect.backoff.ms': 20,
            'reconnect.backoff.max.ms': 500,
            'topic.metadata.refresh.interval.ms': 1000,
            'log_level': 3,
            'error_cb': self.on_error,
        }
        if not idempotent:
            settings.update({'acks': 'all', 'max.in.flight.requests.per.connection': 1})
        settings.update(conf or {})
        self.producer = confluent_kafka.Producer(settings)

    def on_error(self, err):
        if err.fatal() and self.fatal is None:
            self.fatal = err

    def on_delivery(self, err, msg):
        with self.lock:
            if err is None and msg.offset() is None:
                self.implicit.append((msg.partition(), msg.value(), time.monotonic()))
            elif err is None:
                self.acked.append((msg.partition(), msg.offset(), msg.value(), time.monotonic()))
            else:
                self.failed.append((msg.value(), str(err)))

    def acks_on(self, partitions, after):
        with self.lock:
            return [t for (p, _, _, t) in self.acked if p in partitions and t > after]

    def hold(self, held, timeout=60):
        """Stops producing (and waits until every record sent was delivered), or goes on again."""
        if not held:
            self.hold_event.clear()
            return
        self.hold_event.set()
        deadline = time.monotonic() + timeout
        while self.producer is not None and len(self.producer) > 0:
            assert time.monotonic() < deadline, f'{len(self.producer)} records undelivered after {timeout} s'
            time.sleep(0.05)

    def run(self):
        try:
            self._produce()
        except confluent_kafka.KafkaException as e:
            # error_cb holds the cause (produce() only says "Fatal error"); one poll may return after
            # serving the delivery reports queued before it, so poll until it came.
            deadline = time.monotonic() + 3
            while self.fatal is None and time.monotonic() < deadline:
                try:
                    self.producer.poll(0.1)
                except confluent_kafka.KafkaException:
                    pass
            self.fatal = self.fatal or e.args[0]
            self.unflushed = len(self.producer)
            self.producer.purge()
        finally:
            self.producer = None

    def _produce(self):
        start = time.monotonic()
        while not self.stop_event.is_set():
            if self.hold_event.is_set():
                start = time.monotonic() - self.sent / RATE_PER_S  # no burst when going on
                self.producer.poll(0.01)
                continue
            due = int((time.monotonic() - start) * RATE_PER_S)
            while self.sent < due:
                try:
                    self.producer.produce(self.topic, value=f'{self.sent:09d}'.encode(),
                                          partition=self.sent % PARTITIONS, on_delivery=self.on_delivery)
                except BufferError:
                    break
                self.sent += 1
            self.producer.poll(0.01)
        deadline = time.monotonic() + 120
        while self.producer.flush(0.5) > 0 and time.monotonic() < deadline:
            pass
        self.unflushed = len(self.producer)


def check_read_back(boot, topic, prod):
    got = {(r['partition'], r['offset']): r['value'] for r in read_all(boot, topic, PARTITIONS)}
    with prod.lock:
        acked = list(prod.acked)
        implicit = list(prod.implicit)
    lost = [(p, o) for (p, o, v, _) in acked if got.get((p, o)) != v]
    # An implicit acknowledgement names no offset: the record must be in its partition somewhere.
    present = {(p, v) for (p, _), v in got.items()}
    lost += [(p, v) for (p, v, _) in implicit if (p, v) not in present]
    values = list(got.values())
    dups = len(values) - len(set(values))
    # Per partition, values were sent in increasing order: read back in the same order.
    by_part = {}
    for (p, o), v in sorted(got.items()):
        by_part.setdefault(p, []).append(v)
    out_of_order = [p for p, vs in by_part.items() if vs != sorted(vs)]
    return lost, dups, out_of_order, len(acked) + len(implicit)


# librdkafka 2.0 words it two ways: "sequence desynchronization" (the broker's OUT_OF_ORDER_SEQUENCE_NUMBER
# after the batch ahead failed) and "rewound sequence number" (the same, once it counted the batch acked).
DESYNC = re.compile(r'\[(\d+)\] with (\d+) message\(s\) failed (?:due to sequence desynchronization|with rewound '
                    r'sequence number) .*?PID\{Id:\d+,Epoch:0\}, base seq (\d+)[ ,].*?last (?:partition )?error '
                    r'(\w+) \(actions ([\w,]*), base seq (\d+)\.\.(\d+), base msgid (\d+)')


def librdkafka_desync(boot, topic, fatal):
    """Whether a fatal client error is librdkafka's own desynchronisation (issue 4438, fixed in 2.3).

    After a request ends "possibly persisted" (a local timeout or REQUEST_TIMED_OUT), librdkafka
    2.0 counts that batch as acknowledged and may send the next batch to the new leader before
    retrying it; the broker rightly answers OUT_OF_ORDER_SEQUENCE_NUMBER and the client treats it
    as fatal. The broker was right iff none of the records of the "possibly persisted" batch are
    in the log. Returns a description, or None (then it may be a broker bug).
    """
    m = DESYNC.search(fatal.str())
    if not m:
        return None
    p, count, failing, last_err, actions, first, last, msgid = m.groups()
    p, count, failing, first, last, msgid = int(p), int(count), int(failing), int(first), int(last), int(msgid)
    # "Possibly persisted" (a timeout) or "not persisted" (NOT_LEADER_OR_FOLLOWER at a move): either
    # way 2.0 may send the next batch to the new leader before retrying this one.
    if ('MsgPossiblyPersisted' not in actions and 'MsgNotPersisted' not in actions) or failing != last + 1:
        return None
    # The n-th record sent to partition p (msgid n, from 1) has the value (n - 1) * PARTITIONS + p.
    def values(first_msgid, n):
        return {f'{(first_msgid - 1 + k) * PARTITIONS + p:09d}'.encode() for k in range(n)}
    log = {r['value'] for r in read_all(boot, topic, PARTITIONS) if r['partition'] == p}
    in_log = values(msgid, last - first + 1) & log
    assert not in_log, (f'broker answered OUT_OF_ORDER_SEQUENCE_NUMBER to sequence {failing} of partition {p} '
                        f'although sequences {first}..{last} are in its log: {sorted(in_log)[:3]}; {fatal}')
    # Nor may the refused batch be there: the broker would have taken it over a gap.
    refused = values(msgid + failing - first, count) & log
    assert not refused, (f'sequences {failing}.. of partition {p} are in the log although {first}..{last} are not: '
                         f'{sorted(refused)[:3]}; {fatal}')
    return (f'librdkafka desynchronisation (issue 4438): partition {p}, sequences {first}..{last} '
            f'ended {last_err} and were not persisted; the broker rightly refused sequence {failing}')


def test_three_brokers_place_route_and_fail_over(services, backend_broker_factory, topic):  # noqa: F811
    topic_name = topic
    brokers = start_cluster(services, backend_broker_factory)
    boot = bootstrap(brokers)
    create_topic(boot, topic_name, partitions=PARTITIONS)

    # Every broker is listed; leaders are spread over all of them.
    def spread():
        lead, nodes = leaders(boot, topic_name)
        return nodes == [0, 1, 2] and set(lead.values()) == {0, 1, 2} and lead
    lead = wait_for(spread, 30, 'partitions led by all three brokers')
    print(f'leaders: {lead}')

    prod = Producer(boot, topic_name)
    prod.start()
    try:
        wait_for(lambda: len(prod.acked) > 300, 30, 'acks before the kill')
        victim = brokers[1]
        moved = {p for p, n in lead.items() if n == 1}
        killed_at = time.monotonic()
        victim.kill()
        # The victim's partitions are acknowledged again, through the other brokers.
        wait_for(lambda: prod.acks_on(moved, killed_at), 60, 'acks on the moved partitions')
        first = min(prod.acks_on(moved, killed_at))
        failover_s = first - killed_at
        lead_after, nodes_after = leaders(bootstrap(brokers), topic_name)
        assert nodes_after == [0, 2], nodes_after
        assert set(lead_after.values()) <= {0, 2}, lead_after
        # Keep producing a little, then a planned move: the victim comes back (same node id)
        # and takes a share again.
        time.sleep(1)
        victim.start()
        wait_for(lambda: set(leaders(bootstrap(brokers), topic_name)[0].values()) == {0, 1, 2}, 30,
                 'the restarted broker leads partitions again')
        time.sleep(1)
    finally:
        prod.stop_event.set()
        prod.join(150)
    assert prod.unflushed == 0, f'{prod.unflushed} records never delivered'
    assert not prod.failed, f'{len(prod.failed)} deliveries failed, e.g. {prod.failed[:3]}'
    lost, dups, out_of_order, acked = check_read_back(bootstrap(brokers), topic_name, prod)
    print(f'cluster: {prod.sent} sent, {acked} acknowledged, failover {failover_s:.2f} s '
          f'(lease {LEASE_MS} ms), lost {len(lost)}, duplicates {dups}')
    assert not lost, f'{len(lost)} acknowledged records missing, e.g. {lost[:5]}'
    assert dups == 0
    assert not out_of_order, out_of_order
    assert failover_s < FAILOVER_BOUND_S


def test_sigterm_hands_streams_over_at_once(services, backend_broker_factory, topic):  # noqa: F811
    topic_name = topic
    brokers = start_cluster(services, backend_broker_factory)
    boot = bootstrap(brokers)
    create_topic(boot, topic_name, partitions=PARTITIONS)
    wait_for(lambda: set(leaders(boot, topic_name)[0].values()) == {0, 1, 2}, 30, 'spread')
    prod = Producer(boot, topic_name)
    prod.start()
    try:
        wait_for(lambda: len(prod.acked) > 300, 30, 'acks before the drain')
        t0 = time.monotonic()
        code = brokers[2].stop()
        drain_s = time.monotonic() - t0
        assert code == 0
        # Released streams are taken by the others at once (no lease to wait for).
        def served():
            lead, nodes = leaders(bootstrap(brokers), topic_name)
            return nodes == [0, 1] and set(lead.values()) <= {0, 1}
        wait_for(served, 5, 'the drained streams served by the others')
        served_s = time.monotonic() - t0
        moved_at = time.monotonic()
        wait_for(lambda: prod.acks_on(set(range(PARTITIONS)), moved_at), 30, 'acks after the drain')
        time.sleep(1)
    finally:
        prod.stop_event.set()
        prod.join(150)
    lost, dups, out_of_order, acked = check_read_back(bootstrap(brokers), topic_name, prod)
    print(f'drain: SIGTERM to exit {drain_s:.2f} s, served elsewhere after {served_s:.2f} s, '
          f'{acked} acknowledged, lost {len(lost)}')
    assert not lost and dups == 0 and not out_of_order
    if prod.fatal is not None:  # seen once, under the 3x slower sanitized broker
        desync = librdkafka_desync(bootstrap(brokers), topic_name, prod.fatal)
        assert desync, f'the producer failed: {prod.fatal}'
        pytest.xfail(desync)
    assert prod.unflushed == 0 and not prod.failed, prod.failed[:3]


def coordinator_of(boot, group):
    """FindCoordinator v1 for a group (this Debian's confluent-kafka has no describe_consumer_groups)."""
    errors = []

    def ask():
        for addr in boot.split(','):
            try:
                c = Conn(addr)
            except OSError:
                continue
            try:
                r = c.call(10, 1, string(group) + i8(0))
                r.i32()  # throttle
                error = r.i16()
                r.string()
                node = r.i32()
                errors.append((addr, error, node))
                return (node,) if error == 0 else None  # a tuple: node 0 is a valid answer
            finally:
                c.close()
        return None
    try:
        return wait_for(ask, 30, f'a coordinator for {group}')[0]
    except AssertionError:
        raise AssertionError(f'FindCoordinator answers: {errors[-4:]}')


def committed(boot, group, topic):
    c = confluent_kafka.Consumer({'bootstrap.servers': boot, 'group.id': group, 'log_level': 3})
    try:
        parts = [confluent_kafka.TopicPartition(topic, p) for p in range(PARTITIONS)]
        return {tp.partition: tp.offset for tp in c.committed(parts, timeout=15)}
    finally:
        c.close()


def test_group_keeps_its_commits_when_its_coordinator_dies(services, backend_broker_factory, topic):  # noqa: F811
    brokers = start_cluster(services, backend_broker_factory)
    boot = bootstrap(brokers)
    create_topic(boot, topic, partitions=PARTITIONS)
    p = confluent_kafka.Producer({'bootstrap.servers': boot, 'enable.idempotence': True, 'log_level': 3})
    total = 1200
    for i in range(total):
        p.produce(topic, value=f'{i:06d}'.encode(), partition=i % PARTITIONS)
    assert p.flush(60) == 0
    group = f'{topic}-g'
    seen = set()

    def consume(c, until):
        deadline = time.monotonic() + 60
        while len(seen) < until and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None or m.error():
                continue
            seen.add(m.value())
            c.commit(message=m, asynchronous=False)

    conf = {'bootstrap.servers': boot, 'group.id': group, 'auto.offset.reset': 'earliest',
            'enable.auto.commit': False, 'session.timeout.ms': 10000, 'log_level': 3}
    c = confluent_kafka.Consumer(conf)
    c.subscribe([topic])
    try:
        consume(c, total // 2)
        assert len(seen) >= total // 2
        before = committed(boot, group, topic)
        victim_id = coordinator_of(boot, group)
        victim = brokers[victim_id]
        killed_at = time.monotonic()
        victim.kill()
        # The group's slot moves with its stream: the consumer finds the new coordinator and
        # every commit made before the kill is there.
        consume(c, total)
        moved_s = time.monotonic() - killed_at
        assert len(seen) == total, f'{len(seen)} of {total} records consumed'
        after = committed(bootstrap(brokers), group, topic)
        assert all(after[p] >= before[p] for p in before), (before, after)
        assert coordinator_of(bootstrap(brokers), group) != victim_id
        print(f'group: coordinator {victim_id} killed; all {total} records consumed {moved_s:.2f} s later, '
              f'commits kept')
    finally:
        c.close()
