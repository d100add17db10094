#!/usr/bin/python3
"""Broker CPU per GiB produced vs the null sink's, for one record size and partition count: the produce
phase of run_bench.py alone (same broker flags and client settings), for profiling the produce path.

  /usr/bin/python3 bench/produce_cpu.py --build build-bench --partitions 100 [--seconds 8] [--perf out.data]

With --perf, `perf record -e cpu-clock -g` samples the broker during the measured run (not the null sink).
"""
import argparse
import subprocess
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_bench as rb  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--build', default=str(rb.REPO / 'build'))
    ap.add_argument('--partitions', type=int, default=100)
    ap.add_argument('--size', type=int, default=1024)
    ap.add_argument('--seconds', type=float, default=8.0)
    ap.add_argument('--max-bytes', type=int, default=384 * rb.MIB)
    ap.add_argument('--perf', default=None, help='write a perf profile of the broker run here')
    ap.add_argument('--no-null', action='store_true', help='skip the null sink run')
    ap.add_argument('--cold', action='store_true',
                    help='then restart the broker and read everything back cold: GETs per object and per 4 MiB')
    ap.add_argument('--e2e', type=float, default=0, metavar='MB_S',
                    help='instead of a saturated run: produce at this rate with a consumer reading along, and '
                         'check produce-ack p99 <= flush interval (10 ms) + PUT p99 + commit p99 + 5 ms')
    ap.add_argument('--env', action='append', default=[], help='KEY=VALUE for the broker\'s environment')
    ap.add_argument('--cache-bytes', type=int, default=rb.CACHE_BYTES,
                    help='broker read cache; below the bytes produced it shows the steady state of a long-running '
                         'broker (the cache evicts as much as each flush adds) rather than a cache filling up')
    args = ap.parse_args()
    rb.COMMON_BROKER_ARGS[rb.COMMON_BROKER_ARGS.index('--cache-bytes') + 1] = str(args.cache_bytes)
    args.out = str(Path(args.build) / 'bench-produce')
    args.keep_work = False
    bench = rb.Bench(args, dict(rb.PROFILES['quick'], produce_s=args.seconds))
    bench.out.mkdir(parents=True, exist_ok=True)
    work = bench.out / 'work'
    subprocess.run(['rm', '-rf', str(work)])
    work.mkdir(parents=True)
    size, parts = args.size, args.partitions
    results = {}

    env = dict(rb.os.environ, **dict(e.split('=', 1) for e in args.env)) if args.env else None
    server = bench.broker_server('broker', work, [], env).start()
    try:
        topic = f'prof-{uuid.uuid4().hex[:6]}-p{parts}'
        bench.loadgen(server.kafka, topic, parts, size, create=True, produce_messages=1)
        perf = None
        if args.perf:
            perf = subprocess.Popen(['perf', 'record', '-e', 'cpu-clock'] + (['--call-graph', 'dwarf,16384', '-F', '500'] if rb.os.environ.get('KS_PERF_DWARF') else ['-g']) + [ '-o', args.perf, '-p',
                                     str(server.proc.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if args.e2e:
            lg, usage, m0, m1 = bench.measure(server, lambda: bench.loadgen(
                server.kafka, topic, parts, size, produce_s=args.seconds, consume=True,
                rate=args.e2e * 1e6 / size, cdf=True))
        else:
            lg, usage, m0, m1 = bench.measure(server, lambda: bench.loadgen(
                server.kafka, topic, parts, size, produce_s=args.seconds, produce_messages=args.max_bytes // size,
                warmup_s=0))
        if perf:
            perf.send_signal(rb.signal.SIGINT)
            perf.wait()
        if args.e2e:
            lat = bench.broker_latencies(m0, m1)
            p99 = lg['produce']['ack_latency']['p99_us'] / 1000
            if lat['put_p99'] is None or lat['commit_p99'] is None:
                print(f'e2e: ack p99 {p99:.1f} ms; the broker exports no PUT/commit histograms')
            else:
                limit = 10 + lat['put_p99'] + lat['commit_p99'] + 5
                print(f'e2e at {args.e2e} MB/s: ack p50 {lg["produce"]["ack_latency"]["p50_us"] / 1000:.1f} ms, '
                      f'p99 {p99:.1f} ms; limit 10 + PUT p99 {lat["put_p99"]:.1f} + commit p99 '
                      f'{lat["commit_p99"]:.1f} + 5 = {limit:.1f} ms: {"HOLDS" if p99 <= limit else "MISSED"}')
            return
        costs = bench.request_costs(m0, m1, usage['wall_s'], lg['produce']['bytes'], 0)
        run = bench.record('embedded', 'produce', size, parts, lg, usage, costs)
        results['broker'] = run['server']['cpu_s_per_gib_in']
        lat = bench.broker_latencies(m0, m1)
        print(f'broker: {lg["produce"]["mb_per_s"]:.1f} MB/s, {usage["cpu_s"]:.2f} CPU s, '
              f'{results["broker"]:.3f} CPU s/GiB, PUTs {costs["puts"]:.0f} (avg {rb.fmt((costs["avg_put_bytes"] or 0) / rb.MIB, ".2f")} MiB), '
              f'PUT p99 {rb.fmt(lat.get("put_p99"))} ms, commit p99 {rb.fmt(lat.get("commit_p99"))} ms, '
              f'ack p99 {lg["produce"]["ack_latency"]["p99_us"] / 1000:.1f} ms')
        if args.cold:
            n = lg['produce']['messages'] + 1
            server.stop()
            server.start()
            lg2, usage2, m0, m1 = bench.measure(server, lambda: bench.loadgen(
                server.kafka, topic, parts, size, consume_messages=n))
            c2 = bench.request_costs(m0, m1, usage2['wall_s'], 0, lg2['consume']['bytes'])
            read = c2['fetch_wire_bytes'] or lg2['consume']['bytes']
            obj = costs['avg_put_bytes']
            print(f'cold read: {lg2["consume"]["mb_per_s"]:.1f} MB/s, {c2["gets"]:.0f} GETs for '
                  f'{read / rb.MIB:.0f} MiB = {c2["gets"] / (read / (4 * rb.MIB)):.2f} GETs per 4 MiB, '
                  f'{c2["gets"] / (read / obj):.2f} GETs per object read (objects avg {obj / rb.MIB:.2f} MiB), '
                  f'{usage2["cpu_s"] / (lg2["consume"]["bytes"] / rb.GIB):.2f} CPU s/GiB')
    finally:
        server.stop()
        subprocess.run(['rm', '-rf', str(work / 'data')])
    if not args.no_null:
        null = rb.Server('nullbroker', [str(bench.bin['nullbroker']), '--listen', '127.0.0.1:0',
                                        '--source-message-bytes', str(size)], work).start()
        try:
            lg, usage, _, _ = bench.measure(null, lambda: bench.loadgen(
                null.kafka, f'null-s{size}-p{parts}', parts, size, produce_s=args.seconds, warmup_s=0))
            run = bench.record('null', 'null-sink', size, parts, lg, usage)
            results['null'] = run['server']['cpu_s_per_gib_in']
            print(f'null sink: {lg["produce"]["mb_per_s"]:.1f} MB/s, {usage["cpu_s"]:.2f} CPU s, '
                  f'{results["null"]:.3f} CPU s/GiB')
        finally:
            null.stop()
        print(f'ratio: {results["broker"] / results["null"]:.2f} x null sink')


if __name__ == '__main__':
    main()
