"""The `cluster` phase of make bench: failover and drain times of a three-broker cluster.

Starts its own etcd and Swift (S3 API) on loopback (scripts/etcd-test.sh, scripts/swift-test.sh with state
directories of their own), then for each lease TTL of the profile a fresh cluster of three brokers (node ids 0,
1, 2, one etcd prefix and one bucket prefix) under a steady idempotent producer (confluent-kafka, i.e.
librdkafka), and:

- kill -9 a broker N times (nodes in turn). Failover = time from the kill until EVERY partition the victim led
  is acknowledged again (a delivery report after the kill + GUARD_S). The victim is restarted with the same
  node id, on the same port, and the next kill waits until it leads partitions again and every partition was
  acknowledged since.
- SIGTERM a broker D times: time to exit, and time until every partition it led is acknowledged again after
  its exit (the process is gone, so by another broker; an upper bound of the handover).
- at the end, every acknowledged record is read back at its acknowledged offset (lost = missing or another
  value there) and duplicates are counted (a value present twice).

Targets (reported like the other phases'): failover max <= lease TTL + FAILOVER_SLACK_S; drain handover max <=
lease TTL (a planned move must not wait as long as a failover); 0 records lost; 0 duplicates; no fatal client
error. A failover counted from a fatal client error (librdkafka 2.0's sequence desynchronisation after a
leader move; issue 4438) is recorded and a fresh producer continues the load.
"""
import os
import signal
import statistics
import subprocess
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 60
SCRIPT_TIMEOUT_S = 600  # a Swift start on a loaded 2-core machine can take tens of seconds
PARTITIONS = 12
STREAMS = 12
RECORD_BYTES = 100
# Delivery reports this soon after a kill may be answers the killed broker sent before it died (the callback
# runs at the producer thread's next poll): they do not count as served by the others.
GUARD_S = 0.25
FAILOVER_SLACK_S = 5.0
SEQ_PER_PRODUCER = 10 ** 9  # values of the n-th producer of a run start at n * this
WAIT_S = 90  # longest wait for anything (a failover past this is reported as a failure)
# The producer's settings that shape a failover: how soon it notices the move and retries elsewhere.
PRODUCER_CONF = {
    'enable.idempotence': True,
    'acks': 'all',
    'linger.ms': 5,
    'message.timeout.ms': 120000,
    'retry.backoff.ms': 100,
    'reconnect.backoff.ms': 20,
    'reconnect.backoff.max.ms': 500,
    'topic.metadata.refresh.interval.ms': 1000,
    'log_level': 2,  # connection refused to the killed broker is expected; fatal errors come via error_cb
}


def log(msg):
    print(f'[bench {time.strftime("%H:%M:%S")}] cluster: {msg}', flush=True, file=__import__('sys').stderr)


def percentile(values, q):
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(q / 100 * len(s) + 0.5)) - 1))
    return s[k]


def fmt_s(v):
    return f'{v:.2f} s' if v is not None else '- (not seen before the acks)'


def summary(values):
    if not values:
        return None
    return {'count': len(values), 'p50_s': statistics.median(values), 'p90_s': percentile(values, 90),
            'max_s': max(values), 'min_s': min(values)}


class Services:
    """A private etcd and Swift, stopped (state deleted) by stop()."""

    def __init__(self):
        uid = os.getuid()
        self.env = dict(os.environ, KAFSCALE_ETCD_DIR=f'/dev/shm/kafscale-bench-cluster-etcd-{uid}',
                        KAFSCALE_SWIFT_DIR=f'/tmp/kafscale-bench-cluster-swift-{uid}')
        self.etcd = self.s3 = None

    def _script(self, name, action):
        p = subprocess.run(['bash', str(REPO / 'scripts' / name), action], capture_output=True, text=True,
                           env=self.env, timeout=SCRIPT_TIMEOUT_S, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise RuntimeError(f'{name} {action} failed ({p.returncode}): {p.stderr[-800:]}')
        return p.stdout

    def start(self):
        out = self._script('swift-test.sh', 'start')
        self.s3 = {}
        for line in out.splitlines():
            if line.startswith('export ') and '=' in line:
                k, v = line[len('export '):].split('=', 1)
                self.s3[k] = v
        self.etcd = self._script('etcd-test.sh', 'start').strip().splitlines()[-1]
        return self

    def stop(self):
        for name in ('swift-test.sh', 'etcd-test.sh'):
            subprocess.run(['bash', str(REPO / 'scripts' / name), 'stop'], capture_output=True, env=self.env,
                           timeout=SCRIPT_TIMEOUT_S, stdin=subprocess.DEVNULL)

    def broker_args(self, prefix):
        endpoint = urllib.parse.quote(self.s3['KAFSCALE_TEST_S3_ENDPOINT'], safe='')
        store = (f's3://{self.s3["KAFSCALE_TEST_S3_BUCKET"]}/{prefix}?endpoint={endpoint}'
                 f'&region={self.s3.get("KAFSCALE_TEST_S3_REGION", "us-east-1")}&path_style=true')
        return ['--object-store', store, '--metadata', 'etcd://' + self.etcd.split('://', 1)[1].rstrip('/') +
                f'/{prefix}']

    def broker_env(self):
        return dict(os.environ, AWS_ACCESS_KEY_ID=self.s3['KAFSCALE_TEST_S3_ACCESS_KEY'],
                    AWS_SECRET_ACCESS_KEY=self.s3['KAFSCALE_TEST_S3_SECRET'])


class Node:
    """One broker process of the cluster; restarts listen on the same port."""

    def __init__(self, binary, node, workdir, args, env):
        self.binary, self.node, self.workdir, self.args, self.env = binary, node, Path(workdir), args, env
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = None
        self.kafka = None
        self.starts = 0

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        import json
        ready = self.workdir / 'ready.json'
        ready.unlink(missing_ok=True)
        self.starts += 1
        self.log_path = self.workdir / f'broker-{self.starts}.log'
        argv = [str(self.binary), 'broker', '--listen', self.kafka or '127.0.0.1:0', '--http-listen', '127.0.0.1:0',
                '--data-dir', str(self.workdir / 'data'), '--ready-file', str(ready),
                f'--node-id={self.node}'] + self.args
        with open(self.log_path, 'wb') as f:
            f.write(('$ ' + ' '.join(argv) + '\n').encode())
            f.flush()
            self.proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         cwd=self.workdir, env=self.env)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                info = json.loads(ready.read_text())
                break
            except (OSError, ValueError):
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f'node {self.node} exited with {self.proc.returncode} before it was ready:\n'
                                   f'{self.log_tail()}')
            if time.monotonic() > deadline:
                raise RuntimeError(f'node {self.node} not ready within {START_TIMEOUT_S} s:\n{self.log_tail()}')
            time.sleep(0.02)
        self.kafka = info['kafka']
        return self

    def kill(self):
        if self.alive:
            self.proc.kill()
        self.proc.wait(10)

    def term(self, timeout=60):
        """SIGTERM and wait; the exit code (SIGKILL after `timeout`)."""
        if not self.alive:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            return 'killed after timeout'

    def log_tail(self, n=2000):
        try:
            return self.log_path.read_bytes()[-n:].decode('utf-8', 'replace')
        except OSError:
            return '(no log)'


class Acks:
    """Every delivery report of every producer of one cluster run."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = []  # (partition, offset, value, monotonic time)
        self.failed = []  # (value, error)

    def first_after(self, partitions, after):
        out = {}
        with self.lock:
            for i in range(len(self.acked) - 1, -1, -1):  # newest first; stop at `after`
                p, _, _, t = self.acked[i]
                if t <= after:
                    break
                if p in partitions:
                    out[p] = t  # overwritten by earlier ones: the first after `after`
        return out


class Producer(threading.Thread):
    """A steady idempotent producer over every partition (values carry a global sequence number)."""

    def __init__(self, boot, topic, acks, rate, seq_start=0):
        super().__init__(daemon=True)
        import confluent_kafka
        self.ck = confluent_kafka
        self.topic, self.acks, self.rate = topic, acks, rate
        self.stop_event = threading.Event()
        self.sent = 0
        self.seq = seq_start
        self.fatal = None
        self.unflushed = None
        self.producer = confluent_kafka.Producer(dict(PRODUCER_CONF, **{'bootstrap.servers': boot,
                                                                          'error_cb': self.on_error}))

    def on_error(self, err):
        if err.fatal() and self.fatal is None:
            self.fatal = err

    def on_delivery(self, err, msg):
        t = time.monotonic()
        with self.acks.lock:
            if err is None:
                self.acks.acked.append((msg.partition(), msg.offset(), msg.value(), t))
            else:
                self.acks.failed.append((msg.value(), str(err)))

    def run(self):
        try:
            start = time.monotonic()
            while not self.stop_event.is_set() and self.fatal is None:
                due = int((time.monotonic() - start) * self.rate)
                while self.sent < due:
                    value = f'{self.seq:012d}'.encode().ljust(RECORD_BYTES, b'.')
                    try:
                        self.producer.produce(self.topic, value=value, partition=self.seq % PARTITIONS,
                                              on_delivery=self.on_delivery)
                    except BufferError:
                        break
                    self.sent += 1
                    self.seq += 1
                self.producer.poll(0.005)
            deadline = time.monotonic() + 130
            while self.fatal is None and self.producer.flush(0.5) > 0 and time.monotonic() < deadline:
                pass
        except self.ck.KafkaException as e:
            self.fatal = self.fatal or e.args[0]
        finally:
            try:
                self.producer.poll(0.2)  # delivery reports and error_cb still pending
            except self.ck.KafkaException:
                pass
            self.unflushed = len(self.producer)
            if self.unflushed:
                self.producer.purge()
                self.producer.poll(0.2)


class ClusterRun:
    """Three brokers over one etcd prefix and one bucket prefix, with one lease TTL."""

    def __init__(self, binary, services, workdir, lease_ms, rate):
        import confluent_kafka.admin
        self.lease_ms, self.rate = lease_ms, rate
        prefix = f'bench-cluster-{uuid.uuid4().hex[:8]}'
        args = services.broker_args(prefix) + [f'--lease-ttl-ms={lease_ms}', f'--streams={STREAMS}',
                                               '--auto-create-topics=true', '--log-level', 'warn']
        self.nodes = [Node(binary, n, Path(workdir) / f'node{n}', args, services.broker_env()) for n in range(3)]
        self.topic = f'failover-{uuid.uuid4().hex[:6]}'
        self.acks = Acks()
        self.producers = []
        self.events = []  # fatal client errors and what was done
        self.admin_mod = confluent_kafka.admin
        self.admin = None

    @property
    def boot(self):
        return ','.join(n.kafka for n in self.nodes if n.kafka)

    @property
    def producer(self):
        return self.producers[-1]

    def start(self):
        for n in self.nodes:
            n.start()
        self.admin = self.admin_mod.AdminClient({'bootstrap.servers': self.boot, 'log_level': 2})
        fut = self.admin.create_topics([self.admin_mod.NewTopic(self.topic, num_partitions=PARTITIONS,
                                                                 replication_factor=1)],
                                       operation_timeout=30, request_timeout=30)[self.topic]
        fut.result(timeout=60)
        self.wait_spread()
        self.new_producer()
        self.wait_acked_all(time.monotonic(), 'first acknowledgements')

    def new_producer(self):
        p = Producer(self.boot, self.topic, self.acks, self.rate, seq_start=len(self.producers) * SEQ_PER_PRODUCER)
        p.start()
        self.producers.append(p)

    def check_nodes(self, expected_up):
        for n in self.nodes:
            if n.node in expected_up and not n.alive:
                raise RuntimeError(f'node {n.node} died (exit {n.proc.returncode}):\n{n.log_tail()}')

    def check_producer(self, what):
        """A fatal client error: recorded; a fresh producer (new producer id) continues the load."""
        p = self.producer
        if p.fatal is None:
            return False
        self.events.append({'at': what, 'fatal': str(p.fatal)})
        log(f'fatal client error during {what}: {p.fatal}; starting a new producer')
        p.stop_event.set()
        p.join(150)
        self.new_producer()
        return True

    def leaders(self):
        md = self.admin.list_topics(self.topic, timeout=10)
        t = md.topics[self.topic]
        if t.error is not None:
            return None, sorted(md.brokers)
        return {p: t.partitions[p].leader for p in t.partitions}, sorted(md.brokers)

    def wait_spread(self, up=(0, 1, 2), timeout=WAIT_S):
        """Until exactly `up` are live and each leads partitions: {partition: leader}."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_nodes(up)
            try:
                lead, live = self.leaders()
            except Exception:  # noqa: BLE001 (a metadata timeout while brokers move)
                lead, live = None, None
            if lead and live == sorted(up) and len(lead) == PARTITIONS and set(lead.values()) == set(up):
                return lead
            if time.monotonic() > deadline:
                raise RuntimeError(f'nodes {list(up)} did not each lead partitions within {timeout} s '
                                   f'(leaders {lead}, live {live})')
            time.sleep(0.1)

    def wait_acked(self, partitions, after, what, up=(0, 1, 2), timeout=WAIT_S, old_leader=None):
        """Until every partition of `partitions` has a delivery report after `after`: ({partition: time},
        whether the producer was replaced, when Metadata first named other leaders for all of them (only
        with `old_leader`))."""
        deadline = time.monotonic() + timeout
        restarted = False
        moved_at = None
        while True:
            if old_leader is not None and moved_at is None:
                moved_at = self.moved_at(partitions, old_leader)
            f = self.acks.first_after(partitions, after)
            if len(f) == len(partitions):
                # moved_at stays None when every partition was acknowledged before a Metadata answer named
                # the new leaders (a Metadata request can take long while the client reconnects).
                return f, restarted, moved_at
            if self.check_producer(what):
                restarted = True
            self.check_nodes(up)
            if time.monotonic() > deadline:
                raise RuntimeError(f'{what}: partitions {sorted(set(partitions) - set(f))} not acknowledged '
                                   f'within {timeout} s')
            time.sleep(0.01)

    def wait_acked_all(self, after, what, up=(0, 1, 2)):
        return self.wait_acked(set(range(PARTITIONS)), after, what, up)

    def moved_at(self, partitions, old_leader):
        """Now, if Metadata names a leader other than `old_leader` for every partition of `partitions`."""
        try:
            lead, _ = self.leaders()
        except Exception:  # noqa: BLE001 (a metadata timeout while brokers move)
            return None
        if lead and all(lead.get(p, -1) not in (-1, old_leader) for p in partitions):
            return time.monotonic()
        return None

    def steady(self, what):
        """Every node leads partitions and every partition was acknowledged since: the state before a fault."""
        self.wait_spread()
        self.wait_acked_all(time.monotonic(), what)

    def kill(self, i):
        node = i % 3
        self.steady(f'steady state before kill {i + 1}')
        lead = self.wait_spread()
        moved = {p for p, n in lead.items() if n == node}
        victim = self.nodes[node]
        t0 = time.monotonic()
        victim.kill()
        up = tuple(n for n in range(3) if n != node)
        firsts, client_restart, moved_at = self.wait_acked(moved, time.monotonic() + GUARD_S,
                                                           f'kill {i + 1} (node {node})', up, old_leader=node)
        failover = max(firsts.values()) - t0
        t1 = time.monotonic()
        victim.start()
        self.wait_spread()
        rejoin = time.monotonic() - t1
        return {'node': node, 'partitions': sorted(moved), 'failover_s': failover,
                'metadata_moved_s': moved_at - t0 if moved_at is not None else None, 'rejoin_s': rejoin, 'client_restarted': client_restart}

    def drain(self, i):
        node = (i + 1) % 3
        self.steady(f'steady state before drain {i + 1}')
        lead = self.wait_spread()
        moved = {p for p, n in lead.items() if n == node}
        victim = self.nodes[node]
        t0 = time.monotonic()
        code = victim.term()
        exited = time.monotonic()
        up = tuple(n for n in range(3) if n != node)
        firsts, client_restart, _ = self.wait_acked(moved, exited + GUARD_S, f'drain {i + 1} (node {node})', up)
        handover = max(firsts.values()) - t0
        t1 = time.monotonic()
        victim.start()
        self.wait_spread()
        return {'node': node, 'partitions': sorted(moved), 'exit_code': code, 'exit_s': exited - t0,
                'handover_s': handover, 'rejoin_s': time.monotonic() - t1, 'client_restarted': client_restart}

    def finish(self):
        """Stops the producers (flushing) and reads every record back."""
        for p in self.producers:
            p.stop_event.set()
        for p in self.producers:
            p.join(150)
            if p.fatal is not None and not any(e['fatal'] == str(p.fatal) for e in self.events):
                self.events.append({'at': 'final flush', 'fatal': str(p.fatal)})
        got = self.read_back()
        with self.acks.lock:
            acked = list(self.acks.acked)
            failed = list(self.acks.failed)
        lost = [(p, o) for (p, o, v, _) in acked if got.get((p, o)) != v]
        values = list(got.values())
        dups = len(values) - len(set(values))
        # Per producer and partition, values were sent in increasing order.
        out_of_order = 0
        for p in range(PARTITIONS):
            seqs = [int(v[:12]) for (q, o), v in sorted(got.items()) if q == p]
            per_producer = {}
            for s in seqs:
                per_producer.setdefault(s // SEQ_PER_PRODUCER, []).append(s)
            out_of_order += sum(1 for vs in per_producer.values() if vs != sorted(vs))
        return {'sent': sum(p.sent for p in self.producers), 'acknowledged': len(acked), 'read_back': len(got),
                'lost': len(lost), 'lost_examples': lost[:5], 'duplicates': dups,
                'partitions_out_of_order': out_of_order, 'failed_deliveries': len(failed),
                'failed_examples': [f'{v[:12]!r}: {e}' for v, e in failed[:3]],
                'unflushed': sum(p.unflushed or 0 for p in self.producers), 'producers': len(self.producers)}

    def read_back(self):
        import confluent_kafka
        c = confluent_kafka.Consumer({'bootstrap.servers': self.boot, 'group.id': f'rb-{uuid.uuid4().hex[:6]}',
                                      'enable.auto.commit': False, 'enable.partition.eof': True,
                                      'auto.offset.reset': 'earliest', 'log_level': 3})
        got = {}
        try:
            c.assign([confluent_kafka.TopicPartition(self.topic, p, 0) for p in range(PARTITIONS)])
            pending = set(range(PARTITIONS))
            deadline = time.monotonic() + 300
            while pending:
                if time.monotonic() > deadline:
                    raise RuntimeError(f'read-back: partitions {sorted(pending)} did not reach their end')
                m = c.poll(0.2)
                if m is None:
                    continue
                if m.error():
                    if m.error().code() == confluent_kafka.KafkaError._PARTITION_EOF:
                        pending.discard(m.partition())
                    elif m.error().fatal() or m.topic() == self.topic:
                        raise RuntimeError(f'read-back: {m.error()}')
                    continue
                pending.add(m.partition())
                got[(m.partition(), m.offset())] = m.value()
        finally:
            c.close()
        return got

    def stop(self):
        for p in self.producers:
            p.stop_event.set()
        for n in self.nodes:
            if n.alive:
                code = n.term()
                if code not in (0, None):
                    log(f'node {n.node} exited with {code} on SIGTERM')


def run(binary, profile, workdir):
    """The phase: {'settings', 'leases': [...], 'targets': [...], 'notes': [...]}; raises only on setup."""
    binary = Path(binary)
    settings = {'brokers': 3, 'partitions': PARTITIONS, 'streams': STREAMS, 'record_bytes': RECORD_BYTES,
                'rate_per_s': profile['cluster_rate'], 'kills': profile['cluster_kills'],
                'drains': profile['cluster_drains'], 'lease_ttl_ms': profile['cluster_leases'],
                'guard_s': GUARD_S, 'failover_slack_s': FAILOVER_SLACK_S, 'producer': dict(PRODUCER_CONF),
                'broker_binary': str(binary)}
    out = {'settings': settings, 'leases': [], 'targets': [], 'notes': []}
    try:
        import confluent_kafka  # noqa: F401 (only whether it is installed)
    except ImportError:
        out['notes'].append('cluster phase skipped: python3-confluent-kafka is not installed')
        return out
    for script in ('etcd-test.sh', 'swift-test.sh'):
        if not (REPO / 'scripts' / script).exists():
            out['notes'].append(f'cluster phase skipped: scripts/{script} is missing')
            return out
    services = Services()
    try:
        log('starting etcd and Swift (own instances, stopped afterwards)')
        t = time.monotonic()
        services.start()
        log(f'etcd {services.etcd}, S3 {services.s3["KAFSCALE_TEST_S3_ENDPOINT"]} ({time.monotonic() - t:.0f} s)')
        for lease in profile['cluster_leases']:
            out['leases'].append(run_lease(binary, services, Path(workdir) / f'lease{lease}', lease, profile))
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        out['notes'].append(f'cluster phase stopped early: {str(e)[:1500]}')
        log(out['notes'][-1])
    finally:
        services.stop()
    out['targets'] = targets(out['leases'], profile)
    return out


def run_lease(binary, services, workdir, lease, profile):
    log(f'lease {lease} ms: starting 3 brokers')
    c = ClusterRun(binary, services, workdir, lease, profile['cluster_rate'])
    res = {'lease_ttl_ms': lease, 'kills': [], 'drains': [], 'events': c.events, 'error': None}
    try:
        c.start()
        for i in range(profile['cluster_kills']):
            k = c.kill(i)
            res['kills'].append(k)
            log(f'lease {lease} ms: kill -9 {i + 1}/{profile["cluster_kills"]} of node {k["node"]} '
                f'({len(k["partitions"])} partitions): failover {k["failover_s"]:.2f} s (Metadata names new '
                f'leaders after {fmt_s(k["metadata_moved_s"])}), leads again '
                f'{k["rejoin_s"]:.2f} s after its restart')
        for i in range(profile['cluster_drains']):
            d = c.drain(i)
            res['drains'].append(d)
            log(f'lease {lease} ms: SIGTERM {i + 1}/{profile["cluster_drains"]} of node {d["node"]}: exit '
                f'{d["exit_s"]:.2f} s (code {d["exit_code"]}), acknowledged elsewhere {d["handover_s"]:.2f} s')
        c.steady('steady state after the last fault')
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        res['error'] = str(e)[:1500]
        log(f'lease {lease} ms: stopped early: {res["error"]}')
    try:
        res['records'] = c.finish()
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        res['records'] = None
        res['error'] = (res['error'] or '') + f'; read-back failed: {str(e)[:800]}'
    finally:
        c.stop()
    res['failover'] = summary([k['failover_s'] for k in res['kills']])
    res['failover_clean'] = summary([k['failover_s'] for k in res['kills'] if not k['client_restarted']])
    res['metadata_moved'] = summary([k['metadata_moved_s'] for k in res['kills'] if k['metadata_moved_s'] is not None])
    res['rejoin'] = summary([k['rejoin_s'] for k in res['kills']])
    res['drain_exit'] = summary([d['exit_s'] for d in res['drains']])
    res['drain_handover'] = summary([d['handover_s'] for d in res['drains']])
    r = res['records'] or {}
    log(f'lease {lease} ms: {r.get("sent")} sent, {r.get("acknowledged")} acknowledged, lost {r.get("lost")}, '
        f'duplicates {r.get("duplicates")}, fatal client errors {len(c.events)}')
    return res


def targets(leases, profile):
    out = []
    for res in leases:
        lease = res['lease_ttl_ms']
        n_k, n_d = len(res['kills']), len(res['drains'])
        tag = f'cluster lease {lease} ms'
        done = res['error'] is None and n_k == profile['cluster_kills'] and n_d == profile['cluster_drains']
        out.append({'target': f'{tag}: every kill and drain completed ({profile["cluster_kills"]} kill -9, '
                              f'{profile["cluster_drains"]} SIGTERM)', 'value': n_k + n_d,
                    'limit': profile['cluster_kills'] + profile['cluster_drains'], 'holds': done,
                    **({'why': res['error'][:300]} if res['error'] else {})})
        f = res['failover']
        limit = lease / 1000 + FAILOVER_SLACK_S
        out.append({'target': f'{tag}: failover max (kill -9 to every partition of the victim acknowledged again, '
                              f'{n_k} kills) <= lease + {FAILOVER_SLACK_S:.0f} s',
                    'value': f['max_s'] if f else None, 'limit': limit,
                    'holds': f['max_s'] <= limit if f else None})
        d = res['drain_handover']
        out.append({'target': f'{tag}: drain (SIGTERM to every partition acknowledged elsewhere, {n_d} drains) '
                              f'max <= lease', 'value': d['max_s'] if d else None, 'limit': lease / 1000,
                    'holds': d['max_s'] <= lease / 1000 if d else None})
        r = res['records']
        out.append({'target': f'{tag}: acknowledged records lost (read back at their offsets)',
                    'value': r['lost'] if r else None, 'limit': 0, 'holds': r['lost'] == 0 if r else False})
        out.append({'target': f'{tag}: duplicates (idempotent producer)', 'value': r['duplicates'] if r else None,
                    'limit': 0, 'holds': r['duplicates'] == 0 if r else False})
        fails = (r or {}).get('failed_deliveries', 0) + (r or {}).get('unflushed', 0)
        out.append({'target': f'{tag}: fatal client errors, failed or undelivered records',
                    'value': len(res['events']) + fails, 'limit': 0,
                    'holds': not res['events'] and not fails,
                    **({'why': res['events'][0]['fatal'][:300]} if res['events'] else {})})
    return out


def report_lines(cluster):
    """Plain-text lines for stdout."""
    lines = []
    for res in cluster['leases']:
        f, fc, rj, de, dh, r = (res['failover'], res['failover_clean'], res['rejoin'], res['drain_exit'],
                                res['drain_handover'], res['records'] or {})
        s = lambda x: (f'p50 {x["p50_s"]:.2f} s, p90 {x["p90_s"]:.2f} s, max {x["max_s"]:.2f} s (n={x["count"]})'
                       if x else '-')
        lines.append(f'lease {res["lease_ttl_ms"]} ms:')
        lines.append(f'  failover (kill -9)           {s(f)}')
        lines.append(f'  Metadata names new leaders   {s(res.get("metadata_moved"))}')
        if fc and f and fc['count'] != f['count']:
            lines.append(f'  failover, no client restart  {s(fc)}')
        lines.append(f'  restarted node leads again   {s(rj)}')
        lines.append(f'  drain: SIGTERM to exit       {s(de)}')
        lines.append(f'  drain: acknowledged elsewhere {s(dh)}')
        lines.append(f'  records: {r.get("sent")} sent, {r.get("acknowledged")} acknowledged, {r.get("read_back")} '
                     f'read back, lost {r.get("lost")}, duplicates {r.get("duplicates")}, fatal client errors '
                     f'{len(res["events"])}')
        every = ', '.join(format(k['failover_s'], '.2f') for k in res['kills'])
        lines.append(f'  every failover: {every}')
    return lines


def markdown(cluster, command, machine, load):
    """The cluster section of docs/BENCHMARKS.md."""
    st = cluster['settings']
    lines = [f'Measured {cluster["started_at"]} with `{command}` ({cluster["duration_s"]:.0f} s), commit '
             f'{machine["commit"]}, broker binary `{st["broker_binary"]}`, librdkafka {machine["librdkafka"]}.', '',
             f'Machine: {machine["cpu"]}, {machine["cores"]} cores, {machine["memory_gib"]} GiB RAM. Load average '
             f'{load[0][0]:.1f} at the start and {load[1][0]:.1f} at the end. Three brokers, etcd, Swift and the '
             'producer share these cores.', '',
             f'Settings: {st["brokers"]} brokers, {st["partitions"]} partitions, {st["streams"]} streams, idempotent '
             f'producer at {st["rate_per_s"]} records/s of {st["record_bytes"]} B (topic.metadata.refresh.interval.ms '
             f'{st["producer"]["topic.metadata.refresh.interval.ms"]}, retry.backoff.ms '
             f'{st["producer"]["retry.backoff.ms"]}), S3 flush 250 ms (default).', '',
             '| lease TTL | kill -9 failover p50 / p90 / max | Metadata names new leaders p50 / p90 / max | '
             'restarted node leads again p50 / max | SIGTERM exit p50 / max | SIGTERM acked elsewhere p50 / p90 / '
             'max | acknowledged | lost | duplicates | fatal client errors |',
             '| ---: | --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: |']

    def t(x, keys):
        return ' / '.join(f'{x[k]:.2f}' for k in keys) + f' s (n={x["count"]})' if x else '-'
    for res in cluster['leases']:
        r = res['records'] or {}
        lines.append(f'| {res["lease_ttl_ms"]} ms | {t(res["failover"], ("p50_s", "p90_s", "max_s"))} | '
                     f'{t(res.get("metadata_moved"), ("p50_s", "p90_s", "max_s"))} | '
                     f'{t(res["rejoin"], ("p50_s", "max_s"))} | {t(res["drain_exit"], ("p50_s", "max_s"))} | '
                     f'{t(res["drain_handover"], ("p50_s", "p90_s", "max_s"))} | {r.get("acknowledged", "-")} | '
                     f'{r.get("lost", "-")} | {r.get("duplicates", "-")} | {len(res["events"])} |')
    lines += ['', 'Every failover (s), in kill order (nodes 0, 1, 2 in turn):', '']
    for res in cluster['leases']:
        lines.append(f'- lease {res["lease_ttl_ms"]} ms: ' +
                     ', '.join(f'{k["failover_s"]:.2f}' for k in res['kills']))
    lines += ['', 'Targets:', '', '| | target | value | limit |', '| --- | --- | ---: | ---: |']
    for x in cluster['targets']:
        state = {True: 'holds', False: '**missed**', None: 'n/a'}[x['holds']]
        why = f' ({x["why"]})' if x.get('why') else ''
        v = x['value']
        lines.append(f'| {state} | {x["target"]}{why} | {v if isinstance(v, int) else format(v, ".2f") if v is not None else "-"} | '
                     f'{x["limit"] if isinstance(x["limit"], int) else format(x["limit"], ".2f")} |')
    for res in cluster['leases']:
        for e in res['events']:
            lines.append(f'\nNote (lease {res["lease_ttl_ms"]} ms): fatal client error during {e["at"]}: {e["fatal"]}')
    for n in cluster['notes']:
        lines.append(f'\nNote: {n}')
    return '\n'.join(lines) + '\n'
