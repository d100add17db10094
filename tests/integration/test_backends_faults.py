"""Faults of the real backends while clients produce: the S3 server (Swift) and etcd are stopped
and restarted mid-produce (same ports, same data), and a broker starts before its dependencies.

Producers must see retriable errors (never a delivery failure), continue once the backend is
back, and afterwards every acknowledged record is readable exactly once (idempotent producer).
These tests use an etcd and a Swift of their own (backends.private_services).
"""
import json
import threading
import time

import pytest
from confluent_kafka import KafkaError

from backends import backend_broker_factory, private_services, services  # noqa: F401 (fixtures)
from conftest import timing_bound
from kafka_helpers import create_topic, produce_ok, producer, read, read_all, wait_for

PARTITIONS = 2
STARTUP_TIMEOUT = '60s'


class BackgroundProducer:
    """Produces numbered records from a thread until stopped, then flushes.

    Idempotent, unlimited retries within a long message timeout: an outage of a few seconds must
    only delay deliveries. Records which partition/offset each key was acknowledged at.
    """

    def __init__(self, bootstrap, topic, interval_s=0.004):
        self.topic = topic
        self.interval_s = interval_s
        self.lock = threading.Lock()
        self.acked = {}  # key -> (partition, offset)
        self.failed = []  # (key, error)
        self.sent = 0
        self.produced_at = {}  # key -> time.monotonic() of produce()
        self.acked_at = {}  # key -> time.monotonic() of the acknowledgement
        self.stop_event = threading.Event()
        self.flush_left = None
        self.p = producer(bootstrap, **{
            'enable.idempotence': True,
            'message.timeout.ms': 120000,
            'linger.ms': 5,
            'retry.backoff.ms': 100,
        })
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _on_delivery(self, err, msg):
        with self.lock:
            if err is not None:
                self.failed.append((msg.key(), err))
            else:
                self.acked[msg.key()] = (msg.partition(), msg.offset())
                self.acked_at[msg.key()] = time.monotonic()

    def _run(self):
        i = 0
        while not self.stop_event.is_set():
            key = f'r{i:07d}'.encode()
            try:
                now = time.monotonic()
                self.p.produce(self.topic, key=key, value=b'v-' + key * 8, partition=i % PARTITIONS,
                               on_delivery=self._on_delivery)
                with self.lock:
                    self.produced_at[key] = now
                self.sent = i = i + 1
            except BufferError:
                pass  # local queue full while the broker cannot take data: try again later
            self.p.poll(self.interval_s)
        deadline = time.monotonic() + 90
        while self.p.flush(0.5) > 0 and time.monotonic() < deadline:
            pass
        self.flush_left = len(self.p)

    def start(self):
        self.thread.start()
        return self

    def acked_count(self):
        with self.lock:
            return len(self.acked)

    def snapshot(self):
        with self.lock:
            return dict(self.acked)

    def stop(self):
        self.stop_event.set()
        self.thread.join(120)
        assert not self.thread.is_alive(), 'producer thread did not finish flushing'
        assert self.flush_left == 0, f'{self.flush_left} records never delivered'
        assert not self.failed, f'{len(self.failed)} deliveries failed, first: {self.failed[:3]}'
        assert len(self.acked) == self.sent

    def delivered_across(self, start, end):
        """Records produced during [start, end] and acknowledged only after `end`.

        The broker refused them meanwhile: the client got retriable errors and retried.
        """
        with self.lock:
            return sum(1 for k, t in self.produced_at.items()
                       if start <= t <= end and self.acked_at.get(k, 0) > end)


def produce_once_without_retries(bootstrap, topic):
    """One record from a producer that does not retry: returns (error or None, seconds)."""
    result = []
    p = producer(bootstrap, **{'retries': 0, 'enable.idempotence': False,
                               'message.timeout.ms': 15000, 'linger.ms': 0})
    started = time.monotonic()
    p.produce(topic, value=b'probe', partition=0, on_delivery=lambda err, msg: result.append(err))
    p.flush(20)
    seconds = time.monotonic() - started
    assert result, 'no delivery report within 20 s'
    return result[0], seconds


def check_all_acked_readable_once(broker, topic, acked):
    """Reads every partition from 0 after a broker restart (empty cache: bytes from S3)."""
    assert broker.stop() == 0, broker.log_tail()
    broker.start()
    got = read_all(broker.kafka, topic, PARTITIONS, timeout=60)
    keys = [r['key'] for r in got]
    dups = {k for k in keys if keys.count(k) > 1} if len(set(keys)) != len(keys) else set()
    assert not dups, f'{len(dups)} records stored twice, e.g. {sorted(dups)[:5]}'
    at = {(r['partition'], r['offset']): r['key'] for r in got}
    missing = [(k, place) for k, place in acked.items() if at.get(place) != k]
    assert not missing, f'{len(missing)} acknowledged records not readable, e.g. {missing[:5]}'
    return got


def wait_ready(broker, status, timeout, what):
    return wait_for(lambda: broker.http_get('/readyz')[0] == status, timeout, what, interval=0.1)


@pytest.fixture
def fault_broker(backend_broker_factory, private_services, request):  # noqa: F811
    b = backend_broker_factory(private_services, ['--startup-timeout', STARTUP_TIMEOUT],
                               name=request.node.name[:40])
    b.start()
    yield b
    if b.running:
        assert b.alive, f'broker died:\n{b.log_tail()}'


def test_broker_started_before_its_backends_waits_for_them(backend_broker_factory,
                                                           private_services):  # noqa: F811
    svc = private_services
    b = backend_broker_factory(svc, ['--startup-timeout', STARTUP_TIMEOUT], name='late')
    svc.halt_swift()
    svc.halt_etcd()
    outcome = {}

    def start():
        try:
            b.start()
            outcome['ok'] = True
        except Exception as e:  # reported below
            outcome['error'] = e

    t = threading.Thread(target=start, daemon=True)
    try:
        t.start()

        def log_has(text):
            return b.log_path is not None and b.log_path.exists() and text in b.log_path.read_text()

        wait_for(lambda: log_has('object-store s3://') and log_has('is not ready (attempt 1)'), 30,
                 'the broker to report the object store as not ready')
        svc.resume_swift()  # the bucket check passes; now etcd is missing
        wait_for(lambda: log_has('metadata etcd://') and log_has('is not ready'), 30,
                 'the broker to report etcd as not ready')
        assert t.is_alive() and not outcome, outcome
    finally:
        svc.resume_swift()
        svc.resume_etcd()
    t.join(60)
    assert outcome.get('ok'), f'{outcome.get("error")}\n{b.log_tail()}'
    log = b.log_path.read_text()
    assert 'answered after' in log, log[-3000:]
    topic = f'late-{time.monotonic_ns()}'
    create_topic(b.kafka, topic, partitions=1)
    assert b.stop() == 0, b.log_tail()


def test_swift_stopped_and_restarted_mid_produce(fault_broker, private_services, topic):  # noqa: F811
    b, svc = fault_broker, private_services
    create_topic(b.kafka, topic, partitions=PARTITIONS)
    bp = BackgroundProducer(b.kafka, topic).start()
    try:
        wait_for(lambda: bp.acked_count() >= 200, 30, '200 acknowledged records before the fault')
        svc.halt_swift()
        halted = time.monotonic()
        wait_ready(b, 503, 30, '/readyz to fail while Swift is down')
        detect_s = time.monotonic() - halted
        status, body = b.http_get('/readyz')
        assert 'object store unavailable' in body, body
        assert b.metrics().get('kafscale_objstore_health_state') == 2
        acked_while_down = bp.snapshot()

        # Produce fails fast with an error every client retries (nothing was written). A
        # producer without retries reports it as final; the others retry it (checked below).
        err, seconds = produce_once_without_retries(b.kafka, topic)
        assert err is not None and err.code() == KafkaError.NOT_ENOUGH_REPLICAS, err
        assert seconds < timing_bound(3), f'answer took {seconds:.1f}s'

        # Fetches of cached data still succeed.
        got = read(b.kafka, topic, {p: 0 for p in range(PARTITIONS)}, timeout=20)
        at = {(r['partition'], r['offset']): r['key'] for r in got}
        assert all(at.get(place) == k for k, place in acked_while_down.items())

        svc.resume_swift()
        resumed = time.monotonic()
        wait_ready(b, 200, 30, '/readyz to pass once Swift is back')
        recover_s = time.monotonic() - resumed
        n = bp.acked_count()
        wait_for(lambda: bp.acked_count() >= n + 200, 30, 'the producer to continue')
    finally:
        svc.resume_swift()
        bp.stop_event.set()
    bp.stop()
    retried = bp.delivered_across(halted + detect_s, resumed)
    assert retried > 0, 'no record produced during the outage was delivered after it'
    print(f'swift fault: unavailable detected in {detect_s:.1f}s, ready {recover_s:.1f}s after '
          f'resume; {bp.sent} records, {retried} produced during the outage and delivered after; '
          f'{svc.log}')
    check_all_acked_readable_once(b, topic, bp.snapshot())


def test_etcd_stopped_and_restarted_mid_produce(fault_broker, private_services, topic):  # noqa: F811
    b, svc = fault_broker, private_services
    create_topic(b.kafka, topic, partitions=PARTITIONS)
    bp = BackgroundProducer(b.kafka, topic).start()
    try:
        wait_for(lambda: bp.acked_count() >= 200, 30, '200 acknowledged records before the fault')
        svc.halt_etcd()
        halted = time.monotonic()
        # Commits fail while etcd is down: a producer without retries sees an error that the
        # others retry (KAFKA_STORAGE_ERROR: known not committed; REQUEST_TIMED_OUT: unknown).
        err, seconds = produce_once_without_retries(b.kafka, topic)
        assert err is not None, 'a produce was acknowledged while etcd was down'
        assert err.code() in (KafkaError.KAFKA_STORAGE_ERROR, KafkaError.REQUEST_TIMED_OUT), err
        # /readyz tells a load balancer the broker cannot take writes, and says why.
        wait_ready(b, 503, 30, '/readyz to fail while etcd is down')
        status, body = b.http_get('/readyz')
        assert 'metadata store unreachable' in body, body
        assert b.metrics().get('kafscale_metastore_reachable') == 0
        n = bp.acked_count()
        resumed_at = time.monotonic()
        svc.resume_etcd()
        wait_ready(b, 200, 30, '/readyz to pass once etcd is back')
        wait_for(lambda: bp.acked_count() >= n + 200, 30, 'the producer to continue')
    finally:
        svc.resume_etcd()
        bp.stop_event.set()
    bp.stop()
    retried = bp.delivered_across(halted, resumed_at)
    assert retried > 0, 'no record produced during the outage was delivered after it'
    print(f'etcd fault: {bp.sent} records, {retried} produced during the outage and delivered '
          f'after')
    check_all_acked_readable_once(b, topic, bp.snapshot())


def test_etcd_out_of_space_gives_retriable_errors_until_the_operator_frees_space(
        fault_broker, private_services, topic):  # noqa: F811
    b, svc = fault_broker, private_services
    create_topic(b.kafka, topic, partitions=1)
    produce_ok(b.kafka, topic, [{'value': b'before', 'partition': 0}])

    def status():
        return json.loads(svc.etcdctl('endpoint', 'status', '-w', 'json'))[0]['Status']

    # The same etcd, restarted with a quota just above its size, then filled up.
    quota = status()['dbSize'] + (2 << 20)
    svc.halt_etcd()
    svc.resume_etcd(f'--quota-backend-bytes={quota}')
    try:
        filler = b'x' * (512 << 10)  # on stdin: too long for an argument
        for i in range(64):  # bounded: 32 MiB at most
            try:
                svc.etcdctl('put', f'/filler/{i}', input=filler)
            except AssertionError as e:
                assert 'database space exceeded' in str(e), e
                break
        else:
            raise AssertionError(f'etcd with quota {quota} never ran out of space')

        # Produce gets a retriable error; the broker logs what the operator must do.
        err, _ = produce_once_without_retries(b.kafka, topic)
        assert err is not None and err.code() == KafkaError.KAFKA_STORAGE_ERROR, err
        log = b.log_path.read_text()
        assert 'etcd is out of space (NOSPACE alarm' in log, log[-3000:]
        assert 'etcdctl alarm disarm' in log and '--quota-backend-bytes' in log
        assert b.metrics().get('kafscale_metastore_nospace_errors_total') > 0

        # A producer with retries keeps trying while the operator follows the advice.
        p = producer(b.kafka, **{'message.timeout.ms': 60000, 'retry.backoff.ms': 200})
        delivered = []
        p.produce(topic, value=b'during', partition=0,
                  on_delivery=lambda e, m: delivered.append((e, m.offset())))
        p.poll(1)
        assert not delivered, delivered
        svc.etcdctl('del', '--prefix', '/filler/')
        svc.etcdctl('compaction', status()['header']['revision'])
        svc.etcdctl('defrag')
        svc.etcdctl('alarm', 'disarm')
        p.flush(60)
        assert delivered and delivered[0][0] is None, delivered
        assert 'etcd accepts writes again' in b.log_path.read_text()
    finally:
        svc.halt_etcd()
        svc.resume_etcd()
    got = read(b.kafka, topic, {0: 0})
    assert [r['value'] for r in got] == [b'before', b'during']
