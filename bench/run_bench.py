#!/usr/bin/python3
"""make bench: throughput, latency, CPU and request-cost benchmarks of a KafScale broker.

Starts the broker (embedded: local-directory object store + embedded metadata store; then, when
scripts/swift-test.sh and scripts/etcd-test.sh exist, S3 on a local Swift + etcd), runs the matrix of the
chosen profile with bench/loadgen (librdkafka), measures the same traffic against the null sink/source and
memcpy/CRC32C on this machine; then the cluster phase (bench/cluster.py: three brokers over etcd + Swift,
kill -9 and SIGTERM failover times under an idempotent producer); stops everything, and writes:

  <out>/results.json   every figure (fields: docs/BENCHMARKS.md)
  <out>/*.png          latency CDF; throughput and CPU/GiB vs partitions
  stdout               a table and the targets

Usage: /usr/bin/python3 bench/run_bench.py [--profile quick|full] [--build build] [--out build/bench]
         [--kafscale-bin PATH] [--no-s3] [--no-cluster | --only-cluster] [--update-doc]
"""
import argparse
import ctypes
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import cluster

REPO = Path(__file__).resolve().parents[1]
GIB = 1 << 30
MIB = 1 << 20
CLK_TCK = os.sysconf('SC_CLK_TCK')
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 60

# Broker settings every backend shares. The cache holds a whole produce run, so "consume from cache"
# really reads from memory; checkpoints are pushed past the run so that only flushes are counted.
CACHE_BYTES = 1 * GIB
MAX_BUFFERED_BYTES = 512 * MIB
COMMON_BROKER_ARGS = ['--cache-bytes', str(CACHE_BYTES), '--max-buffered-bytes', str(MAX_BUFFERED_BYTES),
                      '--checkpoint-interval-ms', '600000', '--log-level', 'warn']
# The null source reads at least this much per run so its CPU time is well above the 10 ms tick.
NULL_SOURCE_BYTES = 1 * GIB
# RSS allowance above buffer + cache: code, allocator slack, per-connection buffers, index.
RSS_OVERHEAD_BYTES = 256 * MIB

PROFILES = {
    # ~3 minutes on 2 cores (+ ~3 for the cluster phase): 1 KiB records at 1, 100 and 1,000 partitions, every
    # phase, plus references.
    'quick': {
        'sizes': [1024],
        'partitions': [1, 100, 1000],
        'produce_s': 5.0,
        'e2e_s': 6.0,
        'e2e_mb_s': 4.0,
        'max_run_bytes': 384 * MIB,
        's3_partitions': [100],
        'micro_min_time': 0.1,
        # cluster phase (bench/cluster.py): per lease TTL, kill -9 and SIGTERM of one of three brokers
        'cluster_leases': [6000, 2000],
        'cluster_kills': 5,
        'cluster_drains': 2,
        'cluster_rate': 1000,
    },
    # The whole matrix.
    'full': {
        'sizes': [100, 1024, 16384],
        'partitions': [1, 100, 1000],
        'produce_s': 15.0,
        'e2e_s': 15.0,
        'e2e_mb_s': 8.0,
        'max_run_bytes': 768 * MIB,
        's3_partitions': [1, 100, 1000],
        'micro_min_time': 0.5,
        'cluster_leases': [6000, 2000],
        'cluster_kills': 20,
        'cluster_drains': 5,
        'cluster_rate': 1000,
    },
}


def log(msg):
    print(f'[bench {time.strftime("%H:%M:%S")}] {msg}', file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- processes

def proc_cpu_seconds(pid):
    """utime + stime of every thread of the process, in seconds."""
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def proc_status_bytes(pid, key):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak_rss(pid):
    """Resets VmHWM (Linux >= 4.0) so the next reading is the peak of one run; False if not allowed."""
    try:
        with open(f'/proc/{pid}/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def wait_ready_file(path, proc, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f'{what} exited with code {proc.returncode} before it was ready')
        try:
            return json.loads(Path(path).read_text())
        except (OSError, ValueError):
            time.sleep(0.05)
    raise RuntimeError(f'{what} not ready after {timeout} s')


def stop_process(proc, what):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log(f'{what} did not stop within {STOP_TIMEOUT_S} s; killing it')
            proc.kill()
            proc.wait()
    return proc.returncode


class Server:
    """A broker or the null broker: a process with a ready file, CPU and RSS readings, and /metrics."""

    def __init__(self, name, argv, workdir, env=None):
        self.name, self.argv, self.workdir, self.env = name, argv, Path(workdir), env
        self.proc = None
        self.kafka = self.http = None
        self.log_path = self.workdir / f'{name}.log'

    def start(self):
        ready = self.workdir / f'{self.name}.ready'
        ready.unlink(missing_ok=True)
        logf = open(self.log_path, 'ab')
        self.proc = subprocess.Popen(self.argv + ['--ready-file', str(ready)], stdout=logf, stderr=logf,
                                     env=self.env, cwd=self.workdir)
        logf.close()
        try:
            info = wait_ready_file(ready, self.proc, START_TIMEOUT_S, self.name)
        except RuntimeError as e:
            raise RuntimeError(f'{e}; log tail:\n{self.log_tail()}') from None
        self.kafka, self.http = info['kafka'], info.get('http')
        return self

    def stop(self):
        if self.proc is not None:
            code = stop_process(self.proc, self.name)
            if code not in (0, -signal.SIGTERM):
                log(f'{self.name} exited with code {code}; log tail:\n{self.log_tail()}')
            self.proc = None

    def log_tail(self, n=3000):
        try:
            return self.log_path.read_bytes()[-n:].decode('utf-8', 'replace')
        except OSError:
            return '(no log)'

    def cpu(self):
        return proc_cpu_seconds(self.proc.pid)

    def metrics(self):
        if not self.http:
            return {}
        with urllib.request.urlopen(f'http://{self.http}/metrics', timeout=10) as r:
            return parse_metrics(r.read().decode())


def parse_metrics(text):
    """Prometheus text -> {(name, frozenset(labels)): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith('#'):
            continue
        head, _, value = line.rpartition(' ')
        name, labels = head, frozenset()
        if '{' in head:
            name, rest = head.split('{', 1)
            pairs = [p for p in rest.rstrip('}').split(',') if '=' in p]
            labels = frozenset((k.strip(), v.strip().strip('"')) for k, v in (p.split('=', 1) for p in pairs))
        try:
            out[(name.strip(), labels)] = float(value)
        except ValueError:
            pass
    return out


def metric(m, name, **labels):
    want = set(labels.items())
    return sum(v for (n, ls), v in m.items() if n == name and want <= ls)


def histogram_quantile(m, name, q, **labels):
    """Quantile q from a Prometheus histogram's cumulative buckets (upper bound of the bucket); None if
    the broker does not export that histogram or it is empty."""
    want = set(labels.items())
    buckets = {}
    for (n, ls), v in m.items():
        if n == name + '_bucket' and want <= set((k, x) for k, x in ls if k != 'le'):
            le = dict(ls)['le']
            bound = float("inf") if le == "+Inf" else float(le)
            buckets[bound] = buckets.get(bound, 0) + v
    if not buckets:
        return None
    total = buckets.get(float('inf'), max(buckets.values()))
    if total <= 0:
        return None
    for le in sorted(buckets):
        if buckets[le] >= q * total:
            return le
    return None


def diff_hist(after, before, name):
    """A histogram over one run: the bucket counts of `after` minus those of `before`."""
    out = {}
    for key, v in after.items():
        if key[0] == name + '_bucket':
            out[key] = v - before.get(key, 0)
    return out


# ---------------------------------------------------------------------------------------------- runs

class Bench:
    def __init__(self, args, profile):
        self.args = args
        self.profile = profile
        self.build = Path(args.build).resolve()
        self.out = Path(args.out).resolve()
        self.bin = {
            'kafscale': Path(args.kafscale_bin).resolve() if args.kafscale_bin else self.build / 'kafscale',
            'loadgen': self.build / 'bench' / 'kafscale-loadgen',
            'nullbroker': self.build / 'bench' / 'kafscale-nullbroker',
            'micro': self.build / 'bench' / 'kafscale-microbench',
        }
        if args.only_cluster:  # the cluster phase needs the broker only
            self.bin = {'kafscale': self.bin['kafscale']}
        self.runs = []
        self.idempotence = True
        self.notes = []
        self.loadgen_extra = []  # extra librdkafka settings (--set KEY=VALUE) for the current backend

    # -- load generator

    def loadgen(self, bootstrap, topic, partitions, size, *, create=False, produce_s=0, produce_messages=0,
                consume_messages=0, consume=False, rate=0, cdf=False, warmup_s=1.0):
        argv = [str(self.bin['loadgen']), '--bootstrap', bootstrap, '--topic', topic, '--partitions',
                str(partitions), '--message-bytes', str(size), '--acks', 'all', '--idempotence',
                'true' if self.idempotence else 'false', '--compression', 'none', '--linger-ms', '5']
        if create:
            argv.append('--create-topic')
        if produce_s:
            argv += ['--produce-seconds', str(produce_s)]
        if produce_messages:
            argv += ['--produce-messages', str(produce_messages)]
        if consume or consume_messages:
            argv.append('--consume')
        if consume_messages:
            argv += ['--consume-messages', str(consume_messages)]
        if rate:
            argv += ['--rate', str(rate)]
        if cdf:
            argv.append('--cdf')
        argv += ['--warmup-s', str(warmup_s)]
        for kv in self.loadgen_extra:
            argv += ['--set', kv]
        timeout = 120 + produce_s * 4
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        try:
            result = json.loads(p.stdout)
        except ValueError:
            raise RuntimeError(f'loadgen failed (code {p.returncode}): {p.stderr[-2000:]}') from None
        if result.get('error'):
            raise RuntimeError(f'loadgen: {result["error"]}; stderr: {p.stderr[-1500:]}')
        return result

    def measure(self, server, fn):
        """Runs fn() and returns (its result, the server's CPU seconds, peak RSS, metrics before/after)."""
        rss_reset = reset_peak_rss(server.proc.pid)
        m0, c0, t0 = server.metrics(), server.cpu(), time.monotonic()
        try:
            result = fn()
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            if server.proc.poll() is not None:
                raise RuntimeError(f'{server.name} died (exit {server.proc.returncode}) during the run: {e}; '
                                   f'its log ends:\n{server.log_tail(1500)}') from None
            raise
        t1, c1, m1 = time.monotonic(), server.cpu(), server.metrics()
        peak = proc_status_bytes(server.proc.pid, 'VmHWM')
        return result, {'cpu_s': c1 - c0, 'wall_s': t1 - t0, 'peak_rss_bytes': peak,
                        'peak_rss_scope': 'run' if rss_reset else 'process'}, m0, m1

    @staticmethod
    def request_costs(m0, m1, seconds, bytes_in, bytes_out):
        d = {
            'puts': metric(m1, 'kafscale_objstore_requests_total', op='put') -
                    metric(m0, 'kafscale_objstore_requests_total', op='put'),
            'gets': metric(m1, 'kafscale_objstore_requests_total', op='get') -
                    metric(m0, 'kafscale_objstore_requests_total', op='get'),
            'put_bytes': metric(m1, 'kafscale_objstore_bytes_total', op='put') -
                         metric(m0, 'kafscale_objstore_bytes_total', op='put'),
            'get_bytes': metric(m1, 'kafscale_objstore_bytes_total', op='get') -
                         metric(m0, 'kafscale_objstore_bytes_total', op='get'),
            'meta_txns': metric(m1, 'kafscale_metastore_txns_total') - metric(m0, 'kafscale_metastore_txns_total'),
            'meta_keys_written': metric(m1, 'kafscale_metastore_keys_written_total') -
                                 metric(m0, 'kafscale_metastore_keys_written_total'),
            'flushes': metric(m1, 'kafscale_flushes_total') - metric(m0, 'kafscale_flushes_total'),
            'produce_wire_bytes': metric(m1, 'kafscale_produce_bytes_total') -
                                  metric(m0, 'kafscale_produce_bytes_total'),
            'fetch_wire_bytes': metric(m1, 'kafscale_fetch_bytes_total') - metric(m0, 'kafscale_fetch_bytes_total'),
        }
        s = max(seconds, 1e-9)
        d['puts_per_s'] = d['puts'] / s
        d['meta_txns_per_s'] = d['meta_txns'] / s
        d['meta_keys_per_s'] = d['meta_keys_written'] / s
        d['puts_per_gib_in'] = d['puts'] / (bytes_in / GIB) if bytes_in else None
        d['gets_per_gib_out'] = d['gets'] / (bytes_out / GIB) if bytes_out else None
        d['avg_put_bytes'] = d['put_bytes'] / d['puts'] if d['puts'] else None
        return d

    def record(self, backend, phase, size, partitions, lg, usage, costs=None, **extra):
        prod, cons = lg.get('produce'), lg.get('consume')
        bytes_in = prod['bytes'] if prod else 0
        bytes_out = cons['bytes'] if cons else 0
        run = {
            'backend': backend, 'phase': phase, 'message_bytes': size, 'partitions': partitions,
            'acks': 'all', 'idempotence': self.idempotence, 'compression': 'none', 'linger_ms': 5,
            'in': None, 'out': None, 'ack_latency_us': None, 'e2e_latency_us': None,
            'server': dict(usage),
        }
        if prod:
            run['in'] = {'messages': prod['messages'], 'bytes': prod['bytes'], 'seconds': prod['seconds'],
                         'mb_per_s': prod['mb_per_s'], 'records_per_s': prod['records_per_s']}
            run['ack_latency_us'] = prod['ack_latency']
        if cons:
            run['out'] = {'messages': cons['messages'], 'bytes': cons['bytes'], 'seconds': cons['seconds'],
                          'mb_per_s': cons['mb_per_s'], 'records_per_s': cons['records_per_s']}
            if cons['e2e_latency']['count']:
                run['e2e_latency_us'] = cons['e2e_latency']
        cpu = usage['cpu_s']
        run['server']['cpu_s_per_gib_in'] = cpu / (bytes_in / GIB) if bytes_in and not bytes_out else None
        run['server']['cpu_s_per_gib_out'] = cpu / (bytes_out / GIB) if bytes_out and not bytes_in else None
        run['server']['cpu_s_per_gib_total'] = cpu / ((bytes_in + bytes_out) / GIB) if bytes_in + bytes_out else None
        if costs is not None:
            run['requests'] = costs
        run.update(extra)
        self.runs.append(run)
        return run

    # -- references

    def micro(self):
        mt = self.profile['micro_min_time']
        p = subprocess.run([str(self.bin['micro']), '--benchmark_format=json', f'--benchmark_min_time={mt}'],
                           capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise RuntimeError(f'microbench failed: {p.stderr[-2000:]}')
        out = {}
        for b in json.loads(p.stdout)['benchmarks']:
            name, arg = b['name'].split('/')
            key = {'BM_Memcpy': 'memcpy', 'BM_Crc32c': 'crc32c'}[name]
            out.setdefault(key, {})[f'{int(arg) // 1024}KiB'] = b['bytes_per_second'] / GIB
        return out

    def null_runs(self, sizes_parts, runs_by_key):
        """The same client traffic against the null sink and source."""
        work = self.out / 'work' / 'null'
        work.mkdir(parents=True, exist_ok=True)
        results = []
        for size, parts in sizes_parts:
            ref = runs_by_key.get((size, parts))
            server = Server('nullbroker', [str(self.bin['nullbroker']), '--listen', '127.0.0.1:0',
                                           '--source-message-bytes', str(size)], work).start()
            try:
                topic = f'null-s{size}-p{parts}'
                # As long as the broker's produce run (not as many messages: the null sink is faster, and
                # CPU time is read in 10 ms ticks, so it needs enough work to be measured).
                log(f'null sink: {size} B x {parts} partitions')
                lg, usage, _, _ = self.measure(server, lambda: self.loadgen(
                    server.kafka, topic, parts, size, produce_s=self.profile['produce_s'], warmup_s=0))
                results.append(self.record('null', 'null-sink', size, parts, lg, usage))
                n = max(ref['in']['messages'] if ref else 0, NULL_SOURCE_BYTES // size)
                log(f'null source: {size} B x {parts} partitions')
                lg, usage, _, _ = self.measure(
                    server, lambda: self.loadgen(server.kafka, topic, parts, size, consume_messages=n))
                results.append(self.record('null', 'null-source', size, parts, lg, usage))
            finally:
                server.stop()
        return results

    # -- the broker

    def broker_server(self, name, workdir, extra_args, env=None):
        argv = [str(self.bin['kafscale'])] + ['broker', '--listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0',
                                              '--data-dir', str(workdir / 'data')] + COMMON_BROKER_ARGS + extra_args
        return Server(name, argv, workdir, env)

    def probe_idempotence(self, server):
        """Idempotence needs InitProducerId; a broker without it fails the producer fatally."""
        try:
            self.loadgen(server.kafka, f'probe-{uuid.uuid4().hex[:8]}-p1', 1, 100, create=True, produce_messages=10)
        except RuntimeError as e:
            self.idempotence = False
            note = f'idempotence OFF: the broker refused an idempotent producer ({str(e)[:200]})'
            log(note)
            self.notes.append(note)
            self.loadgen(server.kafka, f'probe-{uuid.uuid4().hex[:8]}-p1', 1, 100, create=True, produce_messages=10)

    def broker_matrix(self, backend, extra_args, env=None, partitions=None, sizes=None):
        prof = self.profile
        partitions = partitions or prof['partitions']
        sizes = sizes or prof['sizes']
        work = self.out / 'work' / backend
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        server = self.broker_server('broker', work, extra_args, env).start()
        runs, topics = [], []
        try:
            if backend == 'embedded':
                self.probe_idempotence(server)
            for size in sizes:
                for parts in partitions:
                    topic = f'bench-{backend}-s{size}-{uuid.uuid4().hex[:6]}-p{parts}'
                    log(f'{backend}: {size} B x {parts} partitions: produce')
                    # Creation (1,000 partitions is a metadata transaction of its own) is not measured.
                    self.loadgen(server.kafka, topic, parts, size, create=True, produce_messages=1)
                    cap = prof['max_run_bytes'] // size
                    # Saturated: the client queues far ahead, so every ack is recorded (no warm-up to skip).
                    lg, usage, m0, m1 = self.measure(server, lambda: self.loadgen(
                        server.kafka, topic, parts, size, produce_s=prof['produce_s'], produce_messages=cap,
                        warmup_s=0))
                    costs = self.request_costs(m0, m1, usage['wall_s'], lg['produce']['bytes'], 0)
                    run = self.record(backend, 'produce', size, parts, lg, usage, costs)
                    run['broker_latency_ms'] = self.broker_latencies(m0, m1)
                    runs.append(run)
                    n = lg['produce']['messages'] + 1  # + the creation message
                    topics.append((topic, size, parts, n))
                    log(f'{backend}: {size} B x {parts} partitions: consume from cache')
                    lg, usage, m0, m1 = self.measure(
                        server, lambda: self.loadgen(server.kafka, topic, parts, size, consume_messages=n))
                    costs = self.request_costs(m0, m1, usage['wall_s'], 0, lg['consume']['bytes'])
                    runs.append(self.record(backend, 'consume-cache', size, parts, lg, usage, costs))
                    # End to end at a fixed byte rate, the same for every partition count: latency below
                    # saturation, and PUTs/s and metadata keys/s comparable across partition counts.
                    rate = prof['e2e_mb_s'] * 1e6 / size
                    e2e_topic = f'bench-{backend}-e2e-s{size}-{uuid.uuid4().hex[:6]}-p{parts}'
                    self.loadgen(server.kafka, e2e_topic, parts, size, create=True, produce_messages=1)
                    log(f'{backend}: {size} B x {parts} partitions: end to end at {prof["e2e_mb_s"]} MB/s')
                    lg, usage, m0, m1 = self.measure(server, lambda: self.loadgen(
                        server.kafka, e2e_topic, parts, size, produce_s=prof['e2e_s'], consume=True, rate=rate,
                        cdf=True))
                    costs = self.request_costs(m0, m1, usage['wall_s'], lg['produce']['bytes'],
                                               lg['consume']['bytes'])
                    run = self.record(backend, 'e2e', size, parts, lg, usage, costs, rate_mb_s=prof['e2e_mb_s'])
                    run['broker_latency_ms'] = self.broker_latencies(m0, m1)
                    runs.append(run)
            if backend == 'embedded':
                runs += self.recompress_runs(server)
            # Cold: a restarted broker has an empty cache; every byte comes from the object store.
            log(f'{backend}: restarting the broker for cold reads')
            server.stop()
            server.start()
            for topic, size, parts, n in topics:
                log(f'{backend}: {size} B x {parts} partitions: consume cold')
                lg, usage, m0, m1 = self.measure(
                    server, lambda: self.loadgen(server.kafka, topic, parts, size, consume_messages=n))
                costs = self.request_costs(m0, m1, usage['wall_s'], 0, lg['consume']['bytes'])
                runs.append(self.record(backend, 'consume-cold', size, parts, lg, usage, costs))
        finally:
            server.stop()
            if not self.args.keep_work:
                shutil.rmtree(work / 'data', ignore_errors=True)  # up to GiBs of objects; logs stay
        return runs

    def recompress_runs(self, server, size=1024, parts=100):
        """Broker CPU per GiB when produce recompresses: lz4 batches into a zstd topic (decompress, check every
        record, compress), against the same lz4 batches into a topic that keeps them (compression.type producer)."""
        import confluent_kafka.admin as ck_admin
        prof = self.profile
        runs = []
        for topic_codec in ('producer', 'zstd'):
            topic = f'bench-recompress-{topic_codec}-{uuid.uuid4().hex[:6]}-p{parts}'
            a = ck_admin.AdminClient({'bootstrap.servers': server.kafka})
            a.create_topics([ck_admin.NewTopic(topic, parts, 1, config={'compression.type': topic_codec})]
                            )[topic].result(60)
            log(f'embedded: {size} B x {parts} partitions: lz4 batches into a compression.type={topic_codec} topic')
            self.loadgen_extra = ['compression.codec=lz4']
            try:
                lg, usage, m0, m1 = self.measure(server, lambda: self.loadgen(
                    server.kafka, topic, parts, size, produce_s=prof['produce_s'],
                    produce_messages=prof['max_run_bytes'] // size, warmup_s=0))
            finally:
                self.loadgen_extra = []
            recompressed = (metric(m1, 'kafscale_produce_recompressed_bytes_total') -
                            metric(m0, 'kafscale_produce_recompressed_bytes_total'))
            run = self.record('embedded', f'produce-lz4-into-{topic_codec}', size, parts, lg, usage,
                              producer_compression='lz4', topic_compression=topic_codec,
                              recompressed_wire_bytes=recompressed)
            run['compression'] = 'lz4'
            runs.append(run)
        return runs

    @staticmethod
    def broker_latencies(m0, m1):
        """p99 of object PUTs and metadata commits over one run, when the broker exports histograms."""
        out = {}
        for key, name, labels in (('put_p99', 'kafscale_objstore_request_seconds', {'op': 'put'}),
                                  ('commit_p99', 'kafscale_metastore_txn_seconds', {})):
            v = histogram_quantile(diff_hist(m1, m0, name), name, 0.99, **labels)
            out[key] = v * 1000 if v is not None else None
        return out

    # -- S3 + etcd

    def s3_etcd(self):
        swift, etcd = REPO / 'scripts' / 'swift-test.sh', REPO / 'scripts' / 'etcd-test.sh'
        if not (swift.exists() and etcd.exists()):
            return None, 'skipped: scripts/swift-test.sh or scripts/etcd-test.sh is missing'
        env = dict(os.environ, KAFSCALE_SWIFT_DIR=str(Path(tempfile.gettempdir()) / 'kafscale-bench-swift'),
                   KAFSCALE_ETCD_DIR=f'/dev/shm/kafscale-bench-etcd-{os.getuid()}')
        try:
            log('S3 + etcd: starting Swift and etcd (own instances, stopped afterwards)')
            p = subprocess.run(['bash', str(swift), 'start'], capture_output=True, text=True, env=env, timeout=600)
            if p.returncode != 0:
                return None, f'skipped: swift-test.sh start failed: {p.stderr[-500:]}'
            s3 = {}
            for line in p.stdout.splitlines():
                if line.startswith('export ') and '=' in line:
                    k, v = line[len('export '):].split('=', 1)
                    s3[k] = v
            p = subprocess.run(['bash', str(etcd), 'start'], capture_output=True, text=True, env=env, timeout=120)
            if p.returncode != 0:
                return None, f'skipped: etcd-test.sh start failed: {p.stderr[-500:]}'
            etcd_url = p.stdout.strip().splitlines()[-1]
            run_id = uuid.uuid4().hex[:8]
            endpoint = urllib.parse.quote(s3['KAFSCALE_TEST_S3_ENDPOINT'], safe='')
            object_store = (f's3://{s3["KAFSCALE_TEST_S3_BUCKET"]}/bench-{run_id}?endpoint={endpoint}'
                            f'&region={s3.get("KAFSCALE_TEST_S3_REGION", "us-east-1")}')
            metadata = 'etcd://' + etcd_url.split('://', 1)[1].rstrip('/') + f'/bench-{run_id}'
            broker_env = dict(os.environ, AWS_ACCESS_KEY_ID=s3['KAFSCALE_TEST_S3_ACCESS_KEY'],
                              AWS_SECRET_ACCESS_KEY=s3['KAFSCALE_TEST_S3_SECRET'])
            args = ['--object-store', object_store, '--metadata', metadata]
            # librdkafka's idempotent producer keeps one ProduceRequest in flight per partition, and on S3 each
            # waits for a 250 ms flush: one partition takes ~4 MB/s. A 64 MiB local queue (instead of 1 GiB)
            # makes the generator wait for the broker rather than time messages out after 120 s.
            self.loadgen_extra = ['queue.buffering.max.kbytes=65536']
            try:
                runs = self.broker_matrix('s3_etcd', args, broker_env, partitions=self.profile['s3_partitions'],
                                          sizes=[1024])
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                return None, f'skipped: the broker could not run on S3 + etcd: {str(e)[:800]}'
            finally:
                self.loadgen_extra = []
            return runs, {'object_store': object_store, 'metadata': metadata}
        finally:
            for script in (swift, etcd):
                subprocess.run(['bash', str(script), 'stop'], capture_output=True, env=env, timeout=120)


# ---------------------------------------------------------------------------------------------- report

def ms(us):
    return f'{us / 1000:.1f}' if us else '-'


def fmt(v, spec='.1f'):
    return format(v, spec) if isinstance(v, (int, float)) else '-'


def table(runs):
    head = ['backend', 'phase', 'size', 'parts', 'in MB/s', 'in rec/s', 'out MB/s', 'out rec/s', 'ack p50',
            'ack p99', 'ack p99.9', 'e2e p50', 'e2e p99', 'PUT p99', 'txn p99', 'CPU s/GiB', 'RSS MiB', 'PUT/GiB',
            'GET/GiB', 'txn/s']
    rows = []
    for r in runs:
        s, q, a, e = r['server'], r.get('requests') or {}, r['ack_latency_us'] or {}, r['e2e_latency_us'] or {}
        bl = r.get('broker_latency_ms') or {}
        cpu = s['cpu_s_per_gib_in'] if s['cpu_s_per_gib_in'] is not None else s['cpu_s_per_gib_out']
        if cpu is None:
            cpu = s['cpu_s_per_gib_total']
        rows.append([r['backend'], r['phase'], str(r['message_bytes']), str(r['partitions']),
                     fmt((r['in'] or {}).get('mb_per_s')), fmt((r['in'] or {}).get('records_per_s'), '.0f'),
                     fmt((r['out'] or {}).get('mb_per_s')), fmt((r['out'] or {}).get('records_per_s'), '.0f'),
                     ms(a.get('p50_us')), ms(a.get('p99_us')), ms(a.get('p999_us')), ms(e.get('p50_us')),
                     ms(e.get('p99_us')), fmt(bl.get('put_p99')), fmt(bl.get('commit_p99')), fmt(cpu, '.2f'), fmt(s['peak_rss_bytes'] / MIB, '.0f'),
                     fmt(q.get('puts_per_gib_in'), '.0f'), fmt(q.get('gets_per_gib_out'), '.0f'),
                     fmt(q.get('meta_txns_per_s'), '.1f')])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)] if rows else []
    lines = ['  '.join(h.rjust(w) for h, w in zip(head, widths))]
    lines += ['  '.join(c.rjust(w) for c, w in zip(row, widths)) for row in rows]
    return '\n'.join(lines)


def find(runs, backend, phase, size, parts):
    for r in runs:
        if (r['backend'], r['phase'], r['message_bytes'], r['partitions']) == (backend, phase, size, parts):
            return r
    return None


def ratios_and_targets(runs, refs, flush_interval_ms):
    ratios, targets = [], []
    sizes = sorted({r['message_bytes'] for r in runs if r['backend'] != 'null'})
    parts_all = sorted({r['partitions'] for r in runs if r['backend'] != 'null'})
    memcpy = refs.get('memcpy', {}).get('4096KiB')
    crc = refs.get('crc32c', {}).get('4096KiB')
    for backend in ('embedded', 's3_etcd'):
        for size in sizes:
            for parts in parts_all:
                for phase, null_phase, key in (('produce', 'null-sink', 'cpu_s_per_gib_in'),
                                               ('consume-cache', 'null-source', 'cpu_s_per_gib_out'),
                                               ('consume-cold', 'null-source', 'cpu_s_per_gib_out')):
                    r, n = find(runs, backend, phase, size, parts), find(runs, 'null', null_phase, size, parts)
                    if not r or r['server'][key] is None:
                        continue
                    ours = r['server'][key]
                    ref = n['server'][key] if n else None
                    entry = {'backend': backend, 'phase': phase, 'message_bytes': size, 'partitions': parts,
                             'cpu_s_per_gib': ours, 'null_cpu_s_per_gib': ref,
                             'ratio_to_null': ours / ref if ref else None,
                             # CPU per GiB expressed as full passes of memcpy / CRC32C over the data.
                             'memcpy_passes': ours * memcpy if memcpy else None,
                             'crc32c_passes': ours * crc if crc else None}
                    ratios.append(entry)
                    if size == 1024 and phase in ('produce', 'consume-cache'):
                        targets.append({
                            'target': f'{backend}: CPU/GiB {"produced" if phase == "produce" else "consumed from cache"}'
                                      f' <= 2 x null {"sink" if phase == "produce" else "source"} ({parts} partitions)',
                            'value': entry['ratio_to_null'], 'limit': 2.0,
                            'holds': entry['ratio_to_null'] is not None and entry['ratio_to_null'] <= 2.0})
        # Produce-ack p99 within flush interval + PUT p99 + commit p99 + 5 ms, for the e2e (unsaturated) runs.
        for r in runs:
            if r['backend'] != backend or r['phase'] != 'e2e' or not r['ack_latency_us']:
                continue
            lat = r.get('broker_latency_ms') or {}
            p99 = r['ack_latency_us']['p99_us'] / 1000
            if lat.get('put_p99') is None or lat.get('commit_p99') is None:
                targets.append({'target': f'{backend}: produce-ack p99 <= flush + PUT p99 + commit p99 + 5 ms '
                                          f'({r["message_bytes"]} B, {r["partitions"]} partitions)',
                                'value': p99, 'limit': None, 'holds': None,
                                'why': 'the broker exports no PUT/commit latency histograms'})
                continue
            flush = flush_interval_ms.get(backend, 0)
            limit = flush + lat['put_p99'] + lat['commit_p99'] + 5
            # The histograms' p99 is a bucket's upper bound (buckets 1-1.5-2-3-5-7 per decade): at most 50 % high.
            targets.append({'target': f'{backend}: produce-ack p99 <= flush + PUT p99 + commit p99 + 5 ms '
                                      f'({r["message_bytes"]} B, {r["partitions"]} partitions; flush {flush} ms, '
                                      f'PUT p99 {lat["put_p99"]:.1f} ms, commit p99 {lat["commit_p99"]:.1f} ms)',
                            'value': p99, 'limit': limit, 'holds': p99 <= limit})
        # PUTs/s and metadata keys/s independent of partition count at the same byte rate (e2e runs).
        for size in sizes:
            e2e = {r['partitions']: r for r in runs
                   if r['backend'] == backend and r['phase'] == 'e2e' and r['message_bytes'] == size}
            if 1 in e2e and max(e2e) > 1:
                hi = max(e2e)
                for key in ('puts_per_s', 'meta_keys_per_s'):
                    a, b = e2e[1]['requests'][key], e2e[hi]['requests'][key]
                    v = b / a if a else None
                    targets.append({'target': f'{backend}: {key} at {hi} partitions <= 1.1 x at 1 ({size} B, '
                                              f'same byte rate)', 'value': v, 'limit': 1.1,
                                    'holds': v is not None and v <= 1.1})
        # Cold reads: GETs per 4 MiB consumed, when the objects read are full-size (flush bytes reached). The
        # objects here may be a little smaller than --flush-bytes, so GETs per object read is shown as well.
        for r in runs:
            if r['backend'] == backend and r['phase'] == 'consume-cold' and r.get('requests'):
                g = r['requests']['gets_per_gib_out']
                per4 = g / 256 if g is not None else None
                prod = find(runs, backend, 'produce', r['message_bytes'], r['partitions'])
                obj = (prod or {}).get('requests', {}).get('avg_put_bytes')
                read = r['requests']['fetch_wire_bytes'] or (r['out'] or {}).get('bytes')
                per_obj = r['requests']['gets'] / (read / obj) if obj and read else None
                r['requests']['avg_object_bytes_read'] = obj
                r['requests']['gets_per_object'] = per_obj
                # With full-size objects (flush bytes reached) one GET per object is one GET per 4 MiB; the
                # objects of a run are often smaller (the flush interval seals them first), so the target is
                # checked per object read (5 % slack: the last objects are partly read) and the raw per-4-MiB
                # figure is shown alongside.
                targets.append({'target': f'{backend}: cold consumer <= 1 GET per full-size object (= per 4 MiB) '
                                          f'({r["message_bytes"]} B, {r["partitions"]} partitions; objects avg '
                                          f'{fmt((obj or 0) / MIB, ".1f")} MiB, {fmt(per4, ".2f")} GETs per 4 MiB read)',
                                'value': per_obj, 'limit': 1.0, 'holds': per_obj is not None and per_obj <= 1.05})
        # Peak RSS bounded by buffer + cache limits.
        peaks = [r['server']['peak_rss_bytes'] for r in runs if r['backend'] == backend]
        if peaks:
            limit = MAX_BUFFERED_BYTES + CACHE_BYTES + RSS_OVERHEAD_BYTES
            targets.append({'target': f'{backend}: peak RSS <= max-buffered-bytes ({MAX_BUFFERED_BYTES // MIB} MiB) '
                                      f'+ cache-bytes ({CACHE_BYTES // MIB} MiB) + {RSS_OVERHEAD_BYTES // MIB} MiB',
                            'value': max(peaks) / MIB, 'limit': limit / MIB, 'holds': max(peaks) <= limit})
    return ratios, targets


def markdown(results):
    """The results section of docs/BENCHMARKS.md."""
    m, refs = results['machine'], results['references']
    la = results['load_average']
    lines = [f'Measured {results["started_at"]} with `{results["command"]}` (profile {results["profile"]}, '
             f'{results["duration_s"]:.0f} s), commit {m["commit"]}, librdkafka {m["librdkafka"]}.', '',
             f'Machine: {m["cpu"]}, {m["cores"]} cores, {m["memory_gib"]} GiB RAM, Linux {m["kernel"]}. '
             f'Load average {la["start"][0]:.1f} at the start and {la["end"][0]:.1f} at the end '
             '(anything above ~0.3 means other work shared the cores and the figures are noisy).', '',
             f'References measured in the same run: memcpy {refs["memcpy_gib_per_s"]["4096KiB"]:.1f} GiB/s, '
             f'CRC32C {refs["crc32c_gib_per_s"]["4096KiB"]:.1f} GiB/s (4 MiB buffers; '
             f'{refs["memcpy_gib_per_s"]["64KiB"]:.1f} and {refs["crc32c_gib_per_s"]["64KiB"]:.1f} GiB/s in cache).',
             '', '```', table(results['runs']), '```', '', 'CPU per GiB against the references:', '',
             '| backend | phase | size | partitions | CPU s/GiB | null s/GiB | ratio | memcpy passes | CRC32C passes |',
             '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    for r in results['ratios']:
        lines.append(f'| {r["backend"]} | {r["phase"]} | {r["message_bytes"]} | {r["partitions"]} | '
                     f'{r["cpu_s_per_gib"]:.2f} | {fmt(r["null_cpu_s_per_gib"], ".2f")} | '
                     f'{fmt(r["ratio_to_null"], ".2f")} | {fmt(r["memcpy_passes"], ".1f")} | '
                     f'{fmt(r["crc32c_passes"], ".1f")} |')
    lines += ['', 'Targets:', '', '| | target | value | limit |', '| --- | --- | ---: | ---: |']
    for t in results['targets']:
        state = {True: 'holds', False: '**missed**', None: 'n/a'}[t['holds']]
        why = f' ({t["why"]})' if t.get('why') else ''
        lines.append(f'| {state} | {t["target"]}{why} | {fmt(t["value"], ".2f")} | {fmt(t["limit"], ".2f")} |')
    rec = {r['topic_compression']: r for r in results['runs'] if r.get('topic_compression')}
    if len(rec) == 2:
        keep, zstd = rec['producer']['server']['cpu_s_per_gib_in'], rec['zstd']['server']['cpu_s_per_gib_in']
        lines += ['', f'Recompression (topic `compression.type`): lz4 batches of 1 KiB records from the load '
                  f'generator over {rec["zstd"]["partitions"]} partitions cost {fmt(keep, ".2f")} broker CPU s/GiB '
                  f'into a topic that keeps them and {fmt(zstd, ".2f")} s/GiB into a zstd topic (decompress, every '
                  f'record checked, compress): {fmt(zstd - keep if keep and zstd else None, ".2f")} s of CPU per '
                  'GiB of record bytes for recompression. The load generator\'s values are highly compressible '
                  '(a header and repeated filler); real data costs more per GiB.']
    if results['notes']:
        lines += [''] + [f'Note: {n}' for n in results['notes']]
    lines += ['', '![latency CDF](benchmarks/latency_cdf.png)', '',
              '![throughput vs partitions](benchmarks/throughput_vs_partitions.png)', '',
              '![CPU per GiB vs partitions](benchmarks/cpu_per_gib_vs_partitions.png)']
    return '\n'.join(lines) + '\n'


def replace_section(doc, name, body):
    """Replaces the text between <!-- name:begin --> and <!-- name:end --> of `doc` with `body`."""
    begin, end = f'<!-- {name}:begin -->', f'<!-- {name}:end -->'
    text = doc.read_text()
    if begin not in text or end not in text:
        sys.exit(f'{doc} has no {begin} ... {end} section')
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    doc.write_text(head + begin + '\n' + body + end + tail)


def update_doc(doc, results, out):
    """Replaces the text between the results markers of `doc` and copies the plots next to it."""
    begin, end = '<!-- results:begin -->', '<!-- results:end -->'
    text = doc.read_text()
    if begin not in text or end not in text:
        sys.exit(f'{doc} has no {begin} ... {end} section')
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    doc.write_text(head + begin + '\n' + markdown(results) + end + tail)
    (doc.parent / 'benchmarks').mkdir(exist_ok=True)
    for name in results['plots']:
        shutil.copy(out / name, doc.parent / 'benchmarks' / name)


def plots(results, out):
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return ['plots skipped: python3-matplotlib is not installed (apt-get install python3-matplotlib)']
    runs = results['runs']
    made = []

    def finish(fig, ax, name, xlabel, ylabel, title):
        """Log-scale x axis, labels, legend; saves the figure as `name` and records it."""
        ax.set_xscale('log')
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which='both', alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        made.append(name)

    # Latency CDF of the end-to-end runs (produce ack and end to end), log scale.
    fig, ax = plt.subplots(figsize=(8, 5))
    for r in runs:
        if r['phase'] != 'e2e':
            continue
        label = f'{r["backend"]} {r["message_bytes"]} B x {r["partitions"]}p'
        for key, style in (('ack_latency_us', '-'), ('e2e_latency_us', '--')):
            h = r.get(key)
            if h and h.get('cdf'):
                xs = [p[0] / 1000 for p in h['cdf']]
                ys = [p[1] for p in h['cdf']]
                ax.plot(xs, ys, style, label=f'{label} {"ack" if key.startswith("ack") else "e2e"}')
    finish(fig, ax, 'latency_cdf.png', 'latency (ms)', 'fraction of messages', 'Latency CDF at a fixed rate (solid: produce ack, dashed: end to end)')

    def by_partitions(phase, value, backend):
        series = {}
        for r in runs:
            if r['phase'] == phase and r['backend'] == backend:
                v = value(r)
                if v is not None:
                    series.setdefault(r['message_bytes'], []).append((r['partitions'], v))
        return {k: sorted(v) for k, v in series.items()}

    fig, ax = plt.subplots(figsize=(8, 5))
    for backend in ('embedded', 's3_etcd'):
        for phase, side in (('produce', 'in'), ('consume-cache', 'out'), ('consume-cold', 'out')):
            for size, pts in by_partitions(phase, lambda r: (r[side] or {}).get('mb_per_s'), backend).items():
                ax.plot([p for p, _ in pts], [v for _, v in pts], marker='o', label=f'{backend} {phase} {size} B')
    finish(fig, ax, 'throughput_vs_partitions.png', 'partitions', 'MB/s', 'Throughput vs partitions')

    fig, ax = plt.subplots(figsize=(8, 5))
    for backend in ('embedded', 's3_etcd', 'null'):
        for phase, key in (('produce', 'cpu_s_per_gib_in'), ('consume-cache', 'cpu_s_per_gib_out'),
                           ('consume-cold', 'cpu_s_per_gib_out'), ('null-sink', 'cpu_s_per_gib_in'),
                           ('null-source', 'cpu_s_per_gib_out')):
            for size, pts in by_partitions(phase, lambda r: r['server'][key], backend).items():
                ax.plot([p for p, _ in pts], [v for _, v in pts], marker='o',
                        linestyle=':' if backend == 'null' else '-', label=f'{backend} {phase} {size} B')
    finish(fig, ax, 'cpu_per_gib_vs_partitions.png', 'partitions', 'server CPU core-seconds per GiB', 'CPU per GiB vs partitions (dotted: null sink/source)')
    return made


def machine_info():
    cpu = ''
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    mem = proc_meminfo_total()
    commit = subprocess.run(['git', '-C', str(REPO), 'rev-parse', '--short', 'HEAD'], capture_output=True,
                            text=True).stdout.strip()
    dirty = bool(subprocess.run(['git', '-C', str(REPO), 'status', '--porcelain'], capture_output=True,
                                text=True).stdout.strip())
    rdkafka = librdkafka_version()
    return {'cpu': cpu, 'cores': os.cpu_count(), 'memory_gib': round(mem / GIB, 1) if mem else None,
            'kernel': platform.release(), 'os': platform.platform(), 'commit': commit + ('+dirty' if dirty else ''),
            'librdkafka': rdkafka}


def librdkafka_version():
    """The librdkafka the load generator loads at run time (LD_LIBRARY_PATH may pick 2.15, see the Makefile)."""
    try:
        lib = ctypes.CDLL('librdkafka.so.1')
        lib.rd_kafka_version_str.restype = ctypes.c_char_p
        return lib.rd_kafka_version_str().decode()
    except OSError as e:
        return f'unknown ({e})'


def proc_meminfo_total():
    try:
        for line in open('/proc/meminfo'):
            if line.startswith('MemTotal:'):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def ensure_binaries(bench):
    missing = [k for k, p in bench.bin.items() if not p.exists()]
    if not missing:
        return
    if 'kafscale' in missing and bench.args.kafscale_bin:
        sys.exit(f'bench: --kafscale-bin {bench.args.kafscale_bin} does not exist')
    log(f'building {", ".join(missing)} in {bench.build}')
    if not (bench.build / 'build.ninja').exists() or missing != ['kafscale']:
        subprocess.run(['cmake', '-S', str(REPO), '-B', str(bench.build), '-G', 'Ninja',
                        '-DCMAKE_BUILD_TYPE=RelWithDebInfo'], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(['cmake', '--build', str(bench.build), '--target',
                    'kafscale' if missing == ['kafscale'] else 'bench-tools'], check=True)
    still = [k for k, p in bench.bin.items() if not p.exists()]
    if still:
        sys.exit(f'bench: cannot build {", ".join(still)} (is librdkafka-dev / libbenchmark-dev installed? '
                 'run bash bench/install-deps.sh)')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--profile', choices=sorted(PROFILES), default='quick')
    ap.add_argument('--build', default=str(REPO / 'build'))
    ap.add_argument('--out', default=None, help='default: <build>/bench')
    ap.add_argument('--no-s3', action='store_true', help='skip the S3 + etcd run')
    ap.add_argument('--kafscale-bin', default=None, help='broker binary (default: <build>/kafscale)')
    phase = ap.add_mutually_exclusive_group()
    phase.add_argument('--no-cluster', action='store_true', help='skip the cluster (failover) phase')
    phase.add_argument('--only-cluster', action='store_true',
                       help='run the cluster (failover) phase only; needs only the broker binary')
    ap.add_argument('--keep-work', action='store_true', help='keep the brokers\' data directories')
    ap.add_argument('--update-doc', action='store_true',
                    help='also write the results into docs/BENCHMARKS.md and its plots into docs/benchmarks/')
    args = ap.parse_args()
    args.out = args.out or str(Path(args.build) / 'bench')
    profile = PROFILES[args.profile]
    bench = Bench(args, profile)
    ensure_binaries(bench)
    bench.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    load_start = os.getloadavg()
    command = (f'make bench PROFILE={args.profile}' if os.environ.get('MAKELEVEL') else
               ' '.join(['/usr/bin/python3'] + [os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:]))

    refs = {}
    s3_info = 'skipped: --only-cluster' if args.only_cluster else 'skipped: --no-s3'
    flush_ms = {'embedded': 10, 's3_etcd': 250}  # the broker's defaults for file:// and other stores
    if not args.only_cluster:
        log(f'profile {args.profile}: references (memcpy, CRC32C)')
        refs = bench.micro()
        log('embedded broker (local directory + embedded metadata)')
        try:
            bench.broker_matrix('embedded', [])
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            # Keep what was measured; the report says where it stopped.
            note = f'embedded run stopped early: {str(e)[:1500]}'
            log(note)
            bench.notes.append(note)
        by_key = {(r['message_bytes'], r['partitions']): r for r in bench.runs
                  if r['backend'] == 'embedded' and r['phase'] == 'produce'}
        log('null sink / null source with the same traffic')
        bench.null_runs(sorted(by_key), by_key)
        if not args.no_s3:
            s3_runs, s3_info = bench.s3_etcd()
            if s3_runs is None:
                log(f'S3 + etcd run {s3_info}')
                bench.notes.append(f'S3 + etcd run {s3_info}')
    ratios, targets = ratios_and_targets(bench.runs, refs, flush_ms)
    cluster_results = None
    if not args.no_cluster:
        log(f'cluster phase: 3 brokers over etcd + Swift, leases {profile["cluster_leases"]} ms, '
            f'{profile["cluster_kills"]} kill -9 and {profile["cluster_drains"]} SIGTERM each')
        c_started, c_load = time.time(), os.getloadavg()
        cluster_results = cluster.run(bench.bin['kafscale'], profile, bench.out / 'work' / 'cluster')
        cluster_results['started_at'] = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(c_started))
        cluster_results['duration_s'] = round(time.time() - c_started, 1)
        cluster_results['load_average'] = {'start': c_load, 'end': os.getloadavg()}
        targets += cluster_results['targets']
        bench.notes += cluster_results['notes']
    load_end = os.getloadavg()
    results = {
        'schema': 1,
        'profile': args.profile,
        'command': command,
        'started_at': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(started)),
        'duration_s': round(time.time() - started, 1),
        'machine': machine_info(),
        'load_average': {'start': load_start, 'end': load_end},
        'broker_settings': {'common_args': COMMON_BROKER_ARGS, 'flush_interval_ms': flush_ms,
                            'cache_bytes': CACHE_BYTES, 'max_buffered_bytes': MAX_BUFFERED_BYTES,
                            's3_etcd': s3_info},
        'profile_settings': profile,
        'references': {'memcpy_gib_per_s': refs.get('memcpy'), 'crc32c_gib_per_s': refs.get('crc32c')},
        'runs': bench.runs,
        'ratios': ratios,
        'targets': targets,
        'notes': bench.notes,
        'cluster': cluster_results,
    }
    results['plots'] = plots(results, bench.out) if bench.runs else []
    (bench.out / 'results.json').write_text(json.dumps(results, indent=1))
    md = markdown(results) if bench.runs else ''
    cluster_md = (cluster.markdown(cluster_results, command, results['machine'],
                                   (cluster_results['load_average']['start'], cluster_results['load_average']['end']))
                  if cluster_results and cluster_results['leases'] else '')
    (bench.out / 'results.md').write_text(md + ('\n## Cluster failover\n\n' + cluster_md if cluster_md else ''))
    if args.update_doc:
        doc = REPO / 'docs' / 'BENCHMARKS.md'
        if bench.runs:
            update_doc(doc, results, bench.out)
        if cluster_md:
            replace_section(doc, 'cluster-results', cluster_md)

    print(f'\nKafScale benchmark, profile {args.profile}: {results["machine"]["cpu"]}, '
          f'{results["machine"]["cores"]} cores; load average {load_start[0]:.1f} at start, {load_end[0]:.1f} at end')
    if refs:
        print(f'references: memcpy {refs["memcpy"]["4096KiB"]:.1f} GiB/s, CRC32C {refs["crc32c"]["4096KiB"]:.1f} '
              'GiB/s (4 MiB buffers)\n')
    if bench.runs:
        print(table(bench.runs))
        print('\nCPU per GiB, ratio to the null sink/source (and as memcpy / CRC32C passes over the data):')
    for r in ratios:
        print(f'  {r["backend"]:8} {r["phase"]:14} {r["message_bytes"]:>6} B {r["partitions"]:>5}p: '
              f'{r["cpu_s_per_gib"]:.2f} s/GiB = {fmt(r["ratio_to_null"], ".2f")} x null, '
              f'{fmt(r["memcpy_passes"], ".1f")} memcpy, {fmt(r["crc32c_passes"], ".1f")} CRC32C')
    if cluster_results:
        missed = [t for t in cluster_results['targets'] if t['holds'] is False]
        alone = (f'/usr/bin/python3 bench/run_bench.py --profile {args.profile} --only-cluster --build {args.build}'
                 + (f' --kafscale-bin {args.kafscale_bin}' if args.kafscale_bin else ''))
        print(f'\ncluster phase (3 brokers over etcd + Swift; reproduce with: {command}'
              f'{"" if args.only_cluster else f"; this phase alone: {alone}"}): '
              f'{"FAIL" if missed or not cluster_results["leases"] else "PASS"}')
        for line in cluster.report_lines(cluster_results):
            print('  ' + line)
    print('\ntargets:')
    for t in targets:
        state = {True: 'HOLDS', False: 'MISSED', None: 'n/a'}[t['holds']]
        extra = f' ({t["why"]})' if t.get('why') else ''
        print(f'  {state:6} {t["target"]}: {fmt(t["value"], ".2f")} (limit {fmt(t["limit"], ".2f")}){extra}')
    for n in bench.notes:
        print(f'note: {n}')
    print(f'\nresults: {bench.out / "results.json"}; plots: {", ".join(results["plots"])}; '
          f'{results["duration_s"]:.0f} s')


if __name__ == '__main__':
    main()
