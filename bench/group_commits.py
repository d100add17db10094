#!/usr/bin/python3
"""Offset commits per second, and the metadata-store transactions they cost, for N committing consumers.

Each consumer (confluent-kafka / librdkafka, one thread each, its own group) commits offsets for every
partition of one topic synchronously in a loop. The coordinator batches commits that arrive together into
one metadata transaction, so transactions per second should grow far slower than commits per second.

  /usr/bin/python3 bench/group_commits.py --build build-bench [--consumers 1,10,50] [--seconds 8]
      [--partitions 16] [--metadata etcd://127.0.0.1:2379/bench]

Prints one line per N: commits/s, partitions committed/s, metadata txns/s, commits per txn, commit
latency p50/p99 seen by the client, and the metadata txn p99 from the broker's histogram.
"""
import argparse
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_bench as rb  # noqa: E402
from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402


def committer(bootstrap, topic, partitions, group, deadline, out):
    c = Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'enable.auto.commit': False,
                  'api.version.request': True})
    latencies = []
    n = 0
    try:
        while time.monotonic() < deadline:
            n += 1
            offsets = [TopicPartition(topic, p, n) for p in range(partitions)]
            t0 = time.monotonic()
            res = c.commit(offsets=offsets, asynchronous=False)
            latencies.append(time.monotonic() - t0)
            bad = [tp for tp in res if tp.error is not None]
            if bad:
                raise RuntimeError(f'commit failed: {bad[0].error}')
        # The last commit must be readable back: the figures count durable commits only.
        got = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
        if any(tp.offset != n for tp in got):
            raise RuntimeError(f'committed offsets read back {[tp.offset for tp in got]}, expected {n}')
    finally:
        c.close()
    out.append(latencies)


def run(server, topic, partitions, consumers, seconds):
    results = []
    m0 = server.metrics()
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=committer, args=(server.kafka, topic, partitions,
                                                        f'bench-{uuid.uuid4().hex[:8]}', deadline, results))
               for _ in range(consumers)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    m1 = server.metrics()
    if len(results) != consumers:
        raise RuntimeError(f'{consumers - len(results)} committers failed; broker log:\n{server.log_tail()}')
    lat = sorted(x for r in results for x in r)
    commits = len(lat)
    txns = (rb.metric(m1, 'kafscale_metastore_txn_seconds_count') -
            rb.metric(m0, 'kafscale_metastore_txn_seconds_count'))
    txn_p99 = rb.histogram_quantile(rb.diff_hist(m1, m0, 'kafscale_metastore_txn_seconds'),
                                    'kafscale_metastore_txn_seconds', 0.99)
    return {
        'consumers': consumers, 'commits_per_s': commits / wall, 'partitions_per_s': commits * partitions / wall,
        'txns_per_s': txns / wall, 'commits_per_txn': commits / txns if txns else float('nan'),
        'p50_ms': statistics.median(lat) * 1e3, 'p99_ms': lat[int(0.99 * (len(lat) - 1))] * 1e3,
        'txn_p99_ms': txn_p99 * 1e3 if txn_p99 is not None else float('nan'),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--build', default=str(rb.REPO / 'build'))
    ap.add_argument('--consumers', default='1,10,50')
    ap.add_argument('--partitions', type=int, default=16)
    ap.add_argument('--seconds', type=float, default=8.0)
    ap.add_argument('--metadata', default=None, help='metadata store URL (default: embedded)')
    args = ap.parse_args()
    work = Path(args.build).resolve() / 'bench-groups'
    subprocess.run(['rm', '-rf', str(work)], check=True)
    work.mkdir(parents=True)
    argv = [str(Path(args.build).resolve() / 'kafscale'), 'broker', '--listen', '127.0.0.1:0', '--http-listen',
            '127.0.0.1:0', '--data-dir', str(work / 'data'), '--log-level', 'warn']
    if args.metadata:
        argv += ['--metadata', args.metadata]
    server = rb.Server('broker', argv, work).start()
    try:
        topic = 'commits'
        admin = AdminClient({'bootstrap.servers': server.kafka})
        admin.create_topics([NewTopic(topic, args.partitions, 1)])[topic].result(30)
        del admin  # idle admin connections would log their disconnect when the broker stops
        print(f'{"consumers":>9} {"commits/s":>10} {"partitions/s":>12} {"txns/s":>8} {"commits/txn":>11} '
              f'{"p50 ms":>7} {"p99 ms":>7} {"txn p99 ms":>10}')
        for n in (int(x) for x in args.consumers.split(',')):
            r = run(server, topic, args.partitions, n, args.seconds)
            print(f'{r["consumers"]:>9} {r["commits_per_s"]:>10.0f} {r["partitions_per_s"]:>12.0f} '
                  f'{r["txns_per_s"]:>8.0f} {r["commits_per_txn"]:>11.1f} {r["p50_ms"]:>7.1f} '
                  f'{r["p99_ms"]:>7.1f} {r["txn_p99_ms"]:>10.1f}', flush=True)
    finally:
        server.stop()


if __name__ == '__main__':
    main()
