"""Idempotent producers (librdkafka, kafkajs) while the broker is SIGKILLed and restarted.

Afterwards every acknowledged record is in the log exactly once, at the offset its
acknowledgement gave, and each partition holds the producer's records in the order sent.
"""
import json
import os
import random
import subprocess
import threading
import time

import confluent_kafka
import pytest

from kafka_helpers import NODE_DIR, create_topic, read_all, wait_for

BROKER_ARGS = ['--auto-create-topics=false']

PARTITIONS = 3
PRODUCE_SECONDS = 20
KILLS = 4
RATE_PER_S = 300
PROGRESS_TIMEOUT_S = 30


def check_log(broker, topic, acked, sent_values):
    """acked: [(partition, offset, value)]. Returns the log as {(p, o): value}."""
    got = {}
    per_partition = {}
    for r in read_all(broker.kafka, topic, PARTITIONS, timeout=60):
        got[(r['partition'], r['offset'])] = r['value']
        per_partition.setdefault(r['partition'], []).append(r['value'])
    # Offset None: acknowledged implicitly by librdkafka (a later sequence was accepted): present somewhere.
    present = {(p, v) for (p, _), v in got.items()}
    wrong = [(p, o, v) for p, o, v in acked if (got.get((p, o)) != v if o is not None else (p, v) not in present)]
    assert not wrong, f'{len(wrong)} of {len(acked)} acknowledged records are not at their offset: {wrong[:5]}'
    values = list(got.values())
    dupes = len(values) - len(set(values))
    assert dupes == 0, f'{dupes} duplicated records in the log'
    assert set(values) <= set(sent_values), 'the log holds records nobody sent'
    for p, vs in per_partition.items():
        assert vs == sorted(vs), f'partition {p} is out of order'
    return got


class IdempotentProducer(threading.Thread):
    def __init__(self, bootstrap, topic):
        super().__init__(daemon=True)
        self.topic = topic
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.acked = []
        self.failed = []
        self.sent = []
        self.crash = None
        self.unflushed = None
        self.producer = confluent_kafka.Producer({
            'bootstrap.servers': bootstrap,
            'enable.idempotence': True,  # acks=all, max.in.flight 5, retries
            'linger.ms': 5,
            'message.timeout.ms': 120000,
            'retry.backoff.ms': 100,
            'reconnect.backoff.ms': 20,
            'reconnect.backoff.max.ms': 500,
            'socket.timeout.ms': 10000,
            'log_level': 3,
        })

    def on_delivery(self, err, msg):
        with self.lock:
            if err is None:
                self.acked.append((msg.partition(), msg.offset(), msg.value()))
            else:
                self.failed.append((msg.value(), err))

    def ack_count(self):
        with self.lock:
            return len(self.acked)

    def run(self):
        try:
            start = time.monotonic()
            n = 0
            while not self.stop_event.is_set():
                due = int((time.monotonic() - start) * RATE_PER_S)
                while n < due:
                    value = f'{n:09d}'.encode()
                    try:
                        self.producer.produce(self.topic, value=value, partition=n % PARTITIONS,
                                              on_delivery=self.on_delivery)
                    except BufferError:
                        break
                    self.sent.append(value)
                    n += 1
                self.producer.poll(0.01)
            self.unflushed = self.producer.flush(100)
        except Exception as e:  # reported by the test thread
            self.crash = e


def kill_restart_during(broker, rng, seconds, progress, start):
    kill_at = sorted(rng.uniform(2, seconds - 3) for _ in range(KILLS))
    for n, at in enumerate(kill_at, 1):
        before = progress()
        wait_for(lambda: progress() > before, PROGRESS_TIMEOUT_S, f'progress before kill {n}')
        wait_for(lambda: time.monotonic() - start >= at, seconds, f'kill time {n}')
        broker.kill()
        broker.start()
        print(f'kill {n} at {time.monotonic() - start:.1f}s')


@pytest.mark.librdkafka  # runs with librdkafka 2.0.2 and 2.15 (tests/run-integration.sh)
def test_librdkafka_idempotent_producer_survives_sigkills(broker, topic):
    seed = int(os.environ.get('KAFSCALE_TEST_SEED', time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    print(f'seed {seed}')
    create_topic(broker.kafka, topic, partitions=PARTITIONS)
    prod = IdempotentProducer(broker.kafka, topic)
    start = time.monotonic()
    prod.start()
    try:
        kill_restart_during(broker, rng, PRODUCE_SECONDS, prod.ack_count, start)
        before = prod.ack_count()
        wait_for(lambda: prod.ack_count() > before, PROGRESS_TIMEOUT_S, 'progress after the last restart')
        wait_for(lambda: time.monotonic() - start >= PRODUCE_SECONDS, PRODUCE_SECONDS, 'the end')
    finally:
        prod.stop_event.set()
        prod.join(150)
    assert not prod.is_alive()
    assert prod.crash is None, prod.crash
    assert prod.unflushed == 0, f'{prod.unflushed} records never delivered'
    assert not prod.failed, f'{len(prod.failed)} deliveries failed, e.g. {prod.failed[:3]} (seed {seed})'
    assert len(prod.acked) == len(prod.sent)
    got = check_log(broker, topic, prod.acked, prod.sent)
    # Exactly once: nothing but the acknowledged records.
    assert len(got) == len(prod.acked), f'{len(got)} records in the log, {len(prod.acked)} acknowledged'
    print(f'librdkafka: {len(prod.acked)} records acknowledged exactly once across {KILLS} kills')


def test_kafkajs_idempotent_producer_survives_sigkills(broker, topic, node_bin, tmp_path):
    seed = int(os.environ.get('KAFSCALE_TEST_SEED', time.time_ns() % 1_000_000)) + 1
    rng = random.Random(seed)
    create_topic(broker.kafka, topic, partitions=PARTITIONS)
    payload = {'brokers': [broker.kafka], 'topic': topic, 'partitions': PARTITIONS,
               'seconds': PRODUCE_SECONDS, 'batch': 20}
    stdin = tmp_path / 'input.json'
    stdin.write_text(json.dumps(payload))
    with open(stdin, 'rb') as f:
        proc = subprocess.Popen([node_bin, 'idempotent_produce.js'], cwd=NODE_DIR, stdin=f,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    start = time.monotonic()
    try:
        # No progress probe into node: kill on schedule, at least 2 s apart.
        kill_at = sorted(rng.uniform(2, PRODUCE_SECONDS - 3) for _ in range(KILLS))
        last = 0
        for n, at in enumerate(kill_at, 1):
            at = max(at, last + 2)
            wait_for(lambda: time.monotonic() - start >= at, PRODUCE_SECONDS, f'kill time {n}')
            broker.kill()
            broker.start()
            last = time.monotonic() - start
        out, err = proc.communicate(timeout=PRODUCE_SECONDS + 120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err.decode(errors='replace')[-3000:]
    result = json.loads(out)
    assert not result['failed'], f"{len(result['failed'])} sends failed, e.g. {result['failed'][:2]}"
    acked = [(a['partition'], int(a['offset']), a['value'].encode()) for a in result['acked']]
    assert len(acked) == result['sent'] > 0
    sent = [v for _, _, v in acked]
    got = check_log(broker, topic, acked, sent)
    assert len(got) == len(acked), f'{len(got)} records in the log, {len(acked)} acknowledged'
    print(f'kafkajs: {len(acked)} records acknowledged exactly once across {KILLS} kills')
