"""KIP-951 leader discovery with librdkafka 2.15: a client follows the leader our NOT_LEADER_OR_FOLLOWER names.

One broker serves a topic; a producer and a consumer know only that broker. Both hold still while a
second broker joins and the controller moves half the partitions to it, then go on with their old
metadata: broker 0 answers their Produce (v10+) and Fetch (v12+) requests for a moved partition with
NOT_LEADER_OR_FOLLOWER, the new leader, its epoch and its address. librdkafka 2.15 applies that
before any metadata refresh and logs "updated with leader N and epoch E" (debug context `metadata`).
The test asserts both clients applied hints naming broker 1 for moved partitions only, with the
epoch Metadata reports, and that every acknowledged record is read back once, in order.

(Holding still makes it deterministic: a request that arrives between the release by broker 0 and
the takeover by broker 1 is answered without a leader, as Kafka answers during an election, and the
client then finds the leader through Metadata instead.) Runs in the librdkafka 2.15 pass only.
"""
import logging
import re
import threading
import time

import confluent_kafka
import pytest

from backends import backend_broker_factory, services  # noqa: F401 (fixtures)
from kafka_helpers import create_topic, wait_for
from test_cluster import PARTITIONS, Producer, add_broker, check_read_back, leaders, start_cluster

pytestmark = pytest.mark.librdkafka_2_15

WAIT_S = 30
# librdkafka's rd_kafka_metadata_update_op (the KIP-951 path) logs this once it applied a hint.
HINT_APPLIED = re.compile(r'Partition (?P<topic>[^(\s]+)\([^)]*\)\[(?P<partition>\d+)\]: '
                          r'updated with leader (?P<leader>-?\d+) and epoch (?P<epoch>-?\d+)')

# ... and this for each partition of a Metadata answer.
METADATA_PARTITION = re.compile(r'Topic (?P<topic>\S+) \[(?P<partition>\d+)\] Leader (?P<leader>-?\d+) '
                                r'Epoch (?P<epoch>-?\d+)')


class Lines(logging.Handler):
    """Keeps every message a client logs (librdkafka's log goes through a logging.Logger)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.mutex = threading.Lock()  # not `lock`: logging.Handler holds that one around emit()
        self.lines = []

    def emit(self, record):
        with self.mutex:
            self.lines.append(record.getMessage())

    def about_leaders(self, last=40):
        with self.mutex:
            return '\n'.join([line for line in self.lines if 'leader' in line.lower()][-last:])

    def metadata_epochs(self, topic):
        """{partition: (leader, epoch)} of the last Metadata answer the client logged."""
        with self.mutex:
            found = [METADATA_PARTITION.search(line) for line in self.lines]
        return {int(m['partition']): (int(m['leader']), int(m['epoch']))
                for m in found if m and m['topic'] == topic}

    def hints(self, topic):
        """(partition, leader, epoch) of every applied leader hint for `topic`."""
        with self.mutex:
            found = [HINT_APPLIED.search(line) for line in self.lines]
        return [(int(m['partition']), int(m['leader']), int(m['epoch']))
                for m in found if m and m['topic'] == topic]


def client_logger(name):
    lines = Lines()
    logger = logging.getLogger(name)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(lines)
    return logger, lines


# No periodic refresh during the test: a moved partition is found through the hint, or through the
# refresh librdkafka starts on NOT_LEADER_OR_FOLLOWER (the hint is applied first; both are fine for
# the records, only the hint is what this test looks for).
QUIET_METADATA = {'topic.metadata.refresh.interval.ms': 600000, 'debug': 'metadata', 'log_level': 7}


class Reader(threading.Thread):
    """A group-less consumer assigned every partition from the start, polling until stopped.

    hold(True) pauses every partition (from this thread, between polls) and waits for it."""

    def __init__(self, boot, topic, logger):
        super().__init__(daemon=True)
        self.stop_event = threading.Event()
        self.want_hold = threading.Event()
        self.held = threading.Event()
        self.lock = threading.Lock()
        self.got = {}  # (partition, offset) -> value
        self.errors = []
        self.partitions = [confluent_kafka.TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING)
                           for p in range(PARTITIONS)]
        self.consumer = confluent_kafka.Consumer({
            'bootstrap.servers': boot, 'group.id': f'{topic}-reader', 'enable.auto.commit': False,
            'fetch.wait.max.ms': 100, 'reconnect.backoff.ms': 20, 'reconnect.backoff.max.ms': 500,
            'logger': logger, **QUIET_METADATA})
        self.consumer.assign(self.partitions)

    def hold(self, held):
        (self.want_hold.set if held else self.want_hold.clear)()
        wait_for(lambda: self.held.is_set() == held, WAIT_S, f'consumer {"paused" if held else "resumed"}')

    def run(self):
        try:
            while not self.stop_event.is_set():
                if self.want_hold.is_set() != self.held.is_set():
                    if self.want_hold.is_set():
                        self.consumer.pause(self.partitions)
                        self.held.set()
                    else:
                        self.consumer.resume(self.partitions)
                        self.held.clear()
                msg = self.consumer.poll(0.1)
                if msg is None:
                    continue
                with self.lock:
                    if msg.error():
                        self.errors.append(str(msg.error()))
                    else:
                        self.got[(msg.partition(), msg.offset())] = msg.value()
        finally:
            self.consumer.close()

    def count(self):
        with self.lock:
            return len(self.got)

    def has(self, acked):
        with self.lock:
            return all(self.got.get(k) == v for k, v in acked.items())


def test_clients_follow_the_leader_named_in_not_leader_answers(services, backend_broker_factory,  # noqa: F811
                                                               topic):
    assert confluent_kafka.libversion()[1] >= 0x020F0000, confluent_kafka.libversion()
    brokers = start_cluster(services, backend_broker_factory, n=1)
    first = brokers[0].kafka  # the clients' only address
    create_topic(first, topic, partitions=PARTITIONS)
    wait_for(lambda: set(leaders(first, topic)[0].values()) == {0}, WAIT_S, 'every partition on broker 0')

    prod_logger, prod_lines = client_logger(f'producer-{topic}')
    cons_logger, cons_lines = client_logger(f'consumer-{topic}')
    prod = Producer(first, topic, conf={'logger': prod_logger, **QUIET_METADATA})
    reader = Reader(first, topic, cons_logger)
    prod.start()
    reader.start()
    try:
        wait_for(lambda: len(prod.acked) > 300 and reader.count() > 300, WAIT_S,
                 'records produced and consumed through broker 0')
        prod.hold(True)
        reader.hold(True)
        joined_at = time.monotonic()
        brokers.append(add_broker(services, backend_broker_factory, brokers[0].prefix, 1))
        moved = wait_for(lambda: {p for p, n in leaders(first, topic)[0].items() if n == 1}, WAIT_S,
                         'partitions moved to broker 1')
        moved_s = time.monotonic() - joined_at
        # Holding still until the move is over (every partition has a leader again).
        wait_for(lambda: -1 not in leaders(first, topic)[0].values(), WAIT_S, 'every partition led')
        lead, _ = leaders(first, topic)
        moved = {p for p, n in lead.items() if n == 1}
        t1 = time.monotonic()
        prod.hold(False)
        reader.hold(False)
        try:
            wait_for(lambda: {p for p, n, _ in prod_lines.hints(topic) if n == 1} and
                     {p for p, n, _ in cons_lines.hints(topic) if n == 1}, WAIT_S,
                     'leader hints for broker 1 applied by the producer and the consumer')
        except AssertionError as e:
            raise AssertionError(f'{e}; moved {sorted(moved)}\nproducer log:\n{prod_lines.about_leaders()}\n'
                                 f'consumer log:\n{cons_lines.about_leaders()}') from None
        wait_for(lambda: prod.acks_on(moved, t1), WAIT_S, 'acks on the moved partitions')
        ack_s = min(prod.acks_on(moved, t1)) - t1
        time.sleep(1)  # a little more load on two brokers (nothing to wait for)
    finally:
        prod.stop_event.set()
        prod.join(150)
    assert prod.unflushed == 0 and not prod.failed, prod.failed[:3]
    lost, dups, out_of_order, n_acked = check_read_back(first, topic, prod)
    with prod.lock:
        acked = {(p, o): v for p, o, v, _ in prod.acked}
    try:
        wait_for(lambda: reader.has(acked), WAIT_S, 'every acknowledged record read by the consumer')
    finally:
        reader.stop_event.set()
        reader.join(30)
    current = prod_lines.metadata_epochs(topic)
    prod_hints = [h for h in prod_lines.hints(topic) if h[1] == 1]
    cons_hints = [h for h in cons_lines.hints(topic) if h[1] == 1]
    print(f'KIP-951: {len(moved)} of {PARTITIONS} partitions moved to broker 1 {moved_s:.2f} s after it started; '
          f'after going on, first ack from broker 1 in {ack_s:.2f} s; hints applied: producer '
          f'{sorted({h[0] for h in prod_hints})}, consumer {sorted({h[0] for h in cons_hints})}; '
          f'{n_acked} acknowledged, lost {len(lost)}, duplicates {dups}; consumer errors {reader.errors[:3]}')
    # A hint is only for a partition that moved, and names the epoch broker 1 leads it with.
    assert {h[0] for h in prod_hints + cons_hints} <= moved, (prod_hints, cons_hints, moved)
    wrong_epoch = [h for h in prod_hints + cons_hints if current.get(h[0]) != (1, h[2])]
    assert not wrong_epoch, (wrong_epoch, current)
    assert not lost and dups == 0 and not out_of_order, (lost[:5], dups, out_of_order)
