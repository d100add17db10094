"""The rendered production Deployment run as local processes: pods simulated with real brokers.

No cluster or container runtime exists here, so this test plays the kubelet and the Deployment controller
with the manifest's own numbers: each "pod" runs the broker container's command, arguments and
environment (ConfigMap + env, the pod IP as 127.0.0.1, a free port per pod for Kafka and HTTP, the
metadata and object store URLs pointed at the loopback etcd and Swift that tests/with-services.sh starts,
static S3 keys in place of IRSA, the rack file the init container would write). Probes are polled with
the manifest's periods, timeouts and thresholds; a deleted pod is taken out of the endpoints, runs its
preStop, gets SIGTERM and is killed when the grace period ends. A rolling update follows the manifest's
maxSurge/maxUnavailable and minReadySeconds, then the HPA's way of scaling adds and removes a pod, all
under an idempotent producer and a consumer group: no acknowledged record is lost, the producer sees
only retriable errors, no liveness probe fails, no pod is killed at the end of its grace period, and
each drained broker is gone from the others' Metadata as soon as its process has exited.
"""
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import confluent_kafka
from confluent_kafka.admin import AdminClient

import test_cluster as tc
from backends import services, unique_prefix  # noqa: F401 (fixture)
from conftest import BROKER_BIN, describe_exit
from kafka_helpers import create_topic, wait_for
from test_kubernetes import broker_container, broker_deployment, pod_env, render

# Not marked `librdkafka`: it runs once, in the librdkafka 2.0.2 pass (tests/run-integration.sh).

TOPIC_PARTITIONS = tc.PARTITIONS


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Probe:
    """One probe of a container as the kubelet runs it: period, timeout and thresholds from the manifest."""

    def __init__(self, spec):
        self.path = spec['httpGet']['path']
        self.period = spec.get('periodSeconds', 10)
        self.timeout = spec.get('timeoutSeconds', 1)
        self.failure_threshold = spec.get('failureThreshold', 3)
        self.success_threshold = spec.get('successThreshold', 1)
        self.initial_delay = spec.get('initialDelaySeconds', 0)


class Pod:
    """A broker process with the kubelet's probe loop and termination sequence."""

    def __init__(self, name, template, objects, services, prefix, workdir, zone):
        self.name = name
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        c = broker_container(objects)
        pod = template['spec']
        self.kafka_port, self.http_port = free_port(), free_port()
        env = pod_env(objects, pod_ip='127.0.0.1')
        # What differs from a real pod: ports (one host for every pod), the stores, the credentials.
        env.update({
            'KAFSCALE_LISTEN': f'127.0.0.1:{self.kafka_port}',
            'KAFSCALE_ADVERTISE': f'127.0.0.1:{self.kafka_port}',
            'KAFSCALE_HTTP_LISTEN': f'127.0.0.1:{self.http_port}',
            'KAFSCALE_DATA_DIR': str(workdir / 'scratch'),
            'KAFSCALE_OBJECT_STORE': services.object_store_url(prefix),
            'KAFSCALE_METADATA': services.metadata_url(prefix),
            **services.credentials(),
        })
        rack = workdir / 'rack.yaml'
        rack.write_text(f'rack: "{zone}"\n')
        self.args = [str(rack) if a == '/run/kafscale/rack.yaml' else a for a in c['args']]
        self.env = env
        self.probes = {k: Probe(c[k]) for k in ('startupProbe', 'livenessProbe', 'readinessProbe')}
        self.pre_stop_s = int(c['lifecycle']['preStop']['exec']['command'][1])
        self.grace_s = pod['terminationGracePeriodSeconds']
        self.proc = None
        self.ready = False
        self.ready_since = None
        self.terminating = False
        self.killed = False
        self.liveness_failures = []  # failed liveness probes (times)
        self.exit_code = None
        self.drain_s = None  # SIGTERM to exit
        self.stop = threading.Event()
        self.log_path = workdir / 'broker.log'
        self.on_exit = None  # called once the process exited after delete()
        self.on_exit_error = None
        self.metadata_gone_after = None  # seconds after exit until the others' Metadata dropped it
        self.term_thread = None

    # The process and its probes.

    def start(self):
        with open(self.log_path, 'wb') as log:
            self.proc = subprocess.Popen([BROKER_BIN, *self.args], env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        self.thread = threading.Thread(target=self._kubelet, daemon=True)
        self.thread.start()

    def _get(self, probe):
        try:
            with urllib.request.urlopen(f'http://127.0.0.1:{self.http_port}{probe.path}',
                                        timeout=probe.timeout) as r:
                return 200 <= r.status < 400
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def _kubelet(self):
        start = time.monotonic()
        startup = self.probes['startupProbe']
        failures = 0
        if self.stop.wait(startup.initial_delay):
            return
        while True:  # the startup probe gates the others
            if self._get(startup):
                break
            failures += 1
            if failures >= startup.failure_threshold:
                self.liveness_failures.append(time.monotonic() - start)
                return  # the kubelet would restart the container; the test fails on it
            if self.stop.wait(startup.period):
                return
        live, ready = self.probes['livenessProbe'], self.probes['readinessProbe']
        next_live = next_ready = time.monotonic()
        live_fail = ready_ok = ready_fail = 0
        while not self.stop.is_set():
            now = time.monotonic()
            if now >= next_live:
                next_live += live.period
                if self._get(live):
                    live_fail = 0
                else:
                    live_fail += 1
                    if live_fail >= live.failure_threshold:
                        self.liveness_failures.append(now - start)
            if now >= next_ready:
                next_ready += ready.period
                if self._get(ready):
                    ready_ok, ready_fail = ready_ok + 1, 0
                    if ready_ok >= ready.success_threshold and not self.ready and not self.terminating:
                        self.ready, self.ready_since = True, time.monotonic()
                else:
                    ready_ok, ready_fail = 0, ready_fail + 1
                    if ready_fail >= ready.failure_threshold:
                        self.ready, self.ready_since = False, None
            self.stop.wait(max(0.0, min(next_live, next_ready) - time.monotonic()))

    def available(self, min_ready_s):
        return (self.ready and not self.terminating and self.ready_since is not None
                and time.monotonic() - self.ready_since >= min_ready_s)

    # Deletion: out of the endpoints at once, preStop, SIGTERM, SIGKILL when the grace period ends.

    def delete(self):
        self.terminating, self.ready = True, False
        self.deleted_at = time.monotonic()
        self.term_thread = threading.Thread(target=self._terminate, daemon=True)
        self.term_thread.start()

    def _terminate(self):
        deadline = self.deleted_at + self.grace_s
        time.sleep(self.pre_stop_s)  # preStop: /bin/sleep N
        sigterm_at = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.exit_code = self.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.killed = True
            self.proc.kill()
            self.exit_code = self.proc.wait(10)
        self.drain_s = time.monotonic() - sigterm_at
        self.stop.set()
        if self.on_exit is not None:
            try:
                self.on_exit()
            except Exception as e:  # reported by the test through metadata_gone_after
                self.on_exit_error = e

    def gone(self):
        return self.exit_code is not None

    def log_tail(self):
        return self.log_path.read_bytes()[-4000:].decode('utf-8', 'replace') if self.log_path.exists() else ''


def brokers_in_metadata(boot):
    md = AdminClient({'bootstrap.servers': boot, 'log_level': 3}).list_topics(timeout=10)
    return {b.id: f'{b.host}:{b.port}' for b in md.brokers.values()}


class GroupConsumer(threading.Thread):
    """A consumer group member reading the topic from the start, committing as it goes."""

    def __init__(self, boot, topic):
        super().__init__(daemon=True)
        self.seen = set()
        self.errors = []
        self.stop_event = threading.Event()
        self.consumer = confluent_kafka.Consumer({
            'bootstrap.servers': boot, 'group.id': f'k8s-{topic}', 'auto.offset.reset': 'earliest',
            'enable.auto.commit': True, 'auto.commit.interval.ms': 1000, 'session.timeout.ms': 10000,
            'topic.metadata.refresh.interval.ms': 1000, 'reconnect.backoff.max.ms': 500, 'log_level': 3,
            'error_cb': lambda err: self.errors.append(err)})
        self.consumer.subscribe([topic])

    def run(self):
        try:
            while not self.stop_event.is_set():
                m = self.consumer.poll(0.2)
                if m is not None and not m.error():
                    self.seen.add(m.value())
        finally:
            self.consumer.close()


def test_rolling_update_and_scaling_of_simulated_pods(services, tmp_path, topic):  # noqa: F811
    objects = render('production')
    deployment = broker_deployment(objects)
    template = deployment['spec']['template']
    replicas = deployment['spec']['replicas']
    surge = deployment['spec']['strategy']['rollingUpdate']['maxSurge']
    unavailable = deployment['spec']['strategy']['rollingUpdate']['maxUnavailable']
    min_ready_s = deployment['spec'].get('minReadySeconds', 0)
    prefix = unique_prefix('k8s-pods')
    zones = ['zone-a', 'zone-b', 'zone-c']
    pods, counter = [], [0]

    def new_pod():
        counter[0] += 1
        p = Pod(f'kafscale-{counter[0]}', template, objects, services, prefix, tmp_path / f'pod{counter[0]}',
                zones[counter[0] % len(zones)])
        p.start()
        pods.append(p)
        return p

    def live_pods():
        return [p for p in pods if not p.terminating]

    def available():
        return [p for p in pods if p.available(min_ready_s)]

    def boot():
        return ','.join(f'127.0.0.1:{p.kafka_port}' for p in pods if p.ready and not p.terminating)

    def failed_pods():
        bad = [p for p in pods if p.proc.poll() is not None and not p.terminating]
        return '\n'.join(f'{p.name} exited {describe_exit(p.proc.returncode)}:\n{p.log_tail()}' for p in bad)

    def wait_available(n, what):
        wait_for(lambda: len(available()) >= n or bool(failed_pods()), 120, what)
        assert not failed_pods(), failed_pods()

    departed = []  # (pod, node id) whose absence from Metadata is checked once the process exited
    min_available = [replicas]

    def watch_availability():
        while not stop_watch.is_set():
            min_available[0] = min(min_available[0], len(available()))
            stop_watch.wait(0.2)

    def delete(pod):
        ids = [i for i, addr in brokers_in_metadata(boot()).items() if addr.endswith(f':{pod.kafka_port}')]
        assert len(ids) == 1, f'{pod.name} not in Metadata'
        others = [p for p in pods if p is not pod and not p.terminating]

        def on_exit():
            # Right after the process exited: the other brokers no longer list it.
            addrs = ','.join(f'127.0.0.1:{p.kafka_port}' for p in others)
            t0 = time.monotonic()
            while time.monotonic() - t0 < 2:
                if ids[0] not in brokers_in_metadata(addrs):
                    pod.metadata_gone_after = time.monotonic() - t0
                    return
                time.sleep(0.05)

        pod.on_exit = on_exit
        pod.delete()
        departed.append((pod, ids[0]))

    stop_watch = threading.Event()
    prod = consumer = None
    try:
        started = time.monotonic()
        for _ in range(replicas):
            new_pod()
        wait_available(replicas, f'{replicas} pods available')
        first_ready_s = time.monotonic() - started
        watcher = threading.Thread(target=watch_availability, daemon=True)
        watcher.start()
        create_topic(boot(), topic, partitions=TOPIC_PARTITIONS)
        prod = tc.Producer(boot(), topic)
        prod.start()
        consumer = GroupConsumer(boot(), topic)
        consumer.start()
        wait_for(lambda: len(prod.acked) > 300, 60, 'acks before the rolling update')

        # Rolling update: a new ReplicaSet replaces every pod, maxSurge new pods at a time, never fewer
        # than replicas - maxUnavailable available pods.
        roll_started = time.monotonic()
        old = list(live_pods())
        while old:
            while len(live_pods()) < replicas + surge and len(live_pods()) - len(old) < replicas:
                new_pod()
            # An old pod goes once that leaves replicas - maxUnavailable pods available.
            wait_available(replicas - unavailable + 1, 'a new pod available')
            while old and len(available()) - 1 >= replicas - unavailable:
                delete(old.pop(0))
        wait_for(lambda: all(p.gone() for p, _ in departed), 60, 'old pods gone')
        roll_s = time.monotonic() - roll_started
        acked_after_roll = len(prod.acked)

        # The HPA adds a pod, then (after its scale-down window) removes one.
        new_pod()
        wait_available(replicas + 1, 'the scaled-up pod available')
        delete(live_pods()[0])
        wait_for(lambda: all(p.gone() for p, _ in departed), 60, 'the scaled-down pod gone')
        moved_at = time.monotonic()
        wait_for(lambda: prod.acks_on(set(range(TOPIC_PARTITIONS)), moved_at), 60, 'acks after scaling')
    finally:
        stop_watch.set()
        if prod is not None:
            prod.stop_event.set()
            prod.join(150)
    try:
        lost, dups, out_of_order, acked = tc.check_read_back(boot(), topic, prod)
        with prod.lock:
            values = {v for (_, _, v, _) in prod.acked}
        wait_for(lambda: values <= consumer.seen, 60, 'the consumer group read every acknowledged record')
    finally:
        consumer.stop_event.set()
        consumer.join(30)
        for p in pods:
            if not p.terminating:
                p.delete()  # the end of the test: not checked against Metadata
        for p in pods:
            p.term_thread.join(p.grace_s + 15)
            p.stop.set()
    drains = [p.drain_s for p, _ in departed]
    print(f'simulated pods: {replicas} available after {first_ready_s:.1f} s; rolling update of {replicas} '
          f'pods in {roll_s:.1f} s (maxSurge {surge}, maxUnavailable {unavailable}, minReadySeconds '
          f'{min_ready_s}); fewest available pods {min_available[0]}; drains (SIGTERM to exit) '
          f'{", ".join(f"{d:.2f}" for d in drains)} s; gone from Metadata '
          f'{max((p.metadata_gone_after or -1) for p, _ in departed):.2f} s after exit at most; '
          f'{acked} acknowledged ({acked_after_roll} by the end of the update), lost {len(lost)}, '
          f'duplicates {dups}')
    assert not lost and not out_of_order and dups == 0
    assert prod.fatal is None and not prod.failed and prod.unflushed == 0, (prod.fatal, prod.failed[:3])
    assert min_available[0] >= replicas - unavailable
    for p in pods:
        assert not p.liveness_failures, f'{p.name}: liveness failed at {p.liveness_failures}:\n{p.log_tail()}'
        assert not p.killed, f'{p.name} was still running when its grace period ended:\n{p.log_tail()}'
        assert p.exit_code == 0, f'{p.name} exited {describe_exit(p.exit_code)}:\n{p.log_tail()}'
    for p, node in departed:
        assert p.drain_s < p.grace_s - p.pre_stop_s
        assert p.metadata_gone_after is not None, \
            f'{p.name} (node {node}) still in Metadata 2 s after it exited ({p.on_exit_error})'
