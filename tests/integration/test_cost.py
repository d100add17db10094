"""Object-store and metadata-store cost depends on the flush rate, not on the partition count.

The broker writes one object and one commit record per flush whatever the number of partitions
in it, so the same byte rate into 1 partition or spread over 1,000 must cost the same PUTs and
metadata keys per second.
"""
import time

from kafka_helpers import check_brokers, create_topic, producer

FLUSH_INTERVAL_MS = 50
# Checkpoints are pushed past the run so that only flushes are measured.
BROKER_ARGS = [
    '--flush-interval-ms', str(FLUSH_INTERVAL_MS), '--checkpoint-interval-ms', '600000',
    '--auto-create-topics=true'
]

BYTES_PER_S = 2_000_000
RECORD_BYTES = 1000
WARMUP_S = 1  # per topic: connections and metadata settle before measuring
# The two topics take turns in short phases, so that load from other work on this small
# machine hits both alike; each gets PHASES / 2 * PHASE_S seconds of measurement.
PHASES = 10
PHASE_S = 2
TOLERANCE = 0.10

COUNTERS = {
    'puts': ('kafscale_objstore_requests_total', {'op': 'put'}),
    'put_bytes': ('kafscale_objstore_bytes_total', {'op': 'put'}),
    'meta_keys': ('kafscale_metastore_keys_written_total', {}),
    'meta_txns': ('kafscale_metastore_txns_total', {}),
    'flushes': ('kafscale_flushes_total', {}),
    'produce_bytes': ('kafscale_produce_bytes_total', {}),
    'produce_requests': ('kafscale_produce_requests_total', {}),
}


def scrape(broker):
    m = broker.metrics()
    return time.monotonic(), {k: m.get(name, **labels) for k, (name, labels) in COUNTERS.items()}


def measure(broker, topics):
    """Produces BYTES_PER_S to each (topic, partitions) in turn; returns per-second rates."""
    p = producer(broker.kafka, **{'compression.type': 'none', 'linger.ms': 5})
    payload = bytes(range(256)) * (RECORD_BYTES // 256) + b'x' * (RECORD_BYTES % 256)
    records_per_s = BYTES_PER_S / RECORD_BYTES
    failures = []
    totals = {t: {'seconds': 0.0, **{k: 0.0 for k in COUNTERS}} for t, _ in topics}

    def on_delivery(err, _msg):
        if err is not None:
            failures.append(err)

    def run_for(topic, partitions, seconds):
        sent = 0
        start = time.monotonic()
        while True:
            elapsed = time.monotonic() - start
            if elapsed >= seconds:
                return
            while sent < int(elapsed * records_per_s):
                p.produce(topic, payload, partition=sent % partitions, on_delivery=on_delivery)
                sent += 1
            p.poll(0.005)  # rate limiting: a bounded wait for delivery reports
            check_brokers()

    try:
        for topic, partitions in topics:
            run_for(topic, partitions, WARMUP_S)
        assert p.flush(30) == 0, 'records left undelivered'
        for phase in range(PHASES):
            topic, partitions = topics[phase % len(topics)]
            t0, before = scrape(broker)
            run_for(topic, partitions, PHASE_S)
            # Wait out this phase's tail so none of its data is counted in the next one.
            assert p.flush(30) == 0, 'records left undelivered'
            t1, after = scrape(broker)
            totals[topic]['seconds'] += t1 - t0
            for k in COUNTERS:
                totals[topic][k] += after[k] - before[k]
        assert p.flush(60) == 0, 'records left undelivered'
        assert not failures, f'{len(failures)} deliveries failed, e.g. {failures[:3]}'
    finally:
        p.purge()
        p = None  # a failed test's traceback must not keep it retrying
    return {t: {k: v[k] / v['seconds'] for k in COUNTERS} for t, v in totals.items()}


def test_flush_cost_independent_of_partition_count(broker, topic_name, capsys):
    one, many = topic_name('p1'), topic_name('p1000')
    create_topic(broker.kafka, one, partitions=1)
    create_topic(broker.kafka, many, partitions=1000, timeout=60)
    by_topic = measure(broker, [(one, 1), (many, 1000)])
    rates = {1: by_topic[one], 1000: by_topic[many]}

    with capsys.disabled():
        print(f'\ncost per second at ~{BYTES_PER_S / 1e6:.1f} MB/s, '
              f'flush interval {FLUSH_INTERVAL_MS} ms:')
        print(f'  {"partitions":>10}' + ''.join(f'{k:>17}' for k in COUNTERS))
        for n, r in rates.items():
            print(f'  {n:>10}' + ''.join(f'{r[k]:>17.1f}' for k in COUNTERS))

    for n, r in rates.items():
        assert r['produce_bytes'] >= 0.5 * BYTES_PER_S, f'{n} partitions: too little was produced'
        assert r['puts'] > 0 and r['meta_keys'] > 0, f'{n} partitions: nothing was flushed'
    for key in ('puts', 'meta_keys'):
        a, b = rates[1][key], rates[1000][key]
        assert abs(a - b) <= TOLERANCE * max(a, b), (
            f'{key}/s differs by more than {TOLERANCE:.0%}: 1 partition {a:.1f}, '
            f'1000 partitions {b:.1f}')
