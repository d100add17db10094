"""Every client family against a cluster of brokers (real etcd and Swift), through one address.

- Each family (kafka-python, kafkajs, kcat, @platformatic/kafka, confluent-kafka) is given ONE
  broker's address of a 3-broker cluster and must find the others from Metadata: it creates or
  describes a topic whose partitions are led by all three brokers, produces, consumes in a group
  that commits (every record exactly once) and sees the committed offsets afterwards.
- A kafka-python and a kafkajs group keep consuming while their coordinator is drained (SIGTERM):
  committed offsets never go backwards, no acknowledged commit is lost, every record is consumed.
- 1 -> 3 -> 1 brokers under idempotent load with a confluent-kafka group: added brokers lead
  partitions within seconds, drained ones hand everything back; every acknowledged record is read
  back once, in order, at its offset.
"""
import json
import re
import subprocess
import threading
import time
from collections import Counter

import pytest
from confluent_kafka.admin import AdminClient
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.structs import OffsetAndMetadata, TopicPartition

import kafka_helpers
from backends import backend_broker_factory, services  # noqa: F401 (fixtures)
from conftest import NODE_DIR, describe_exit, timing_bound
from kafka_helpers import create_topic, kcat, node_script, produce_ok, read_all, wait_for, watermarks
from test_cluster import (PARTITIONS, Producer, add_broker, bootstrap, check_read_back, committed,
                          coordinator_of, leaders, start_cluster)
from test_groups_confluent import split_between, workers  # noqa: F401 (fixture)
from test_groups_protocol import Conn, fetch_offsets, i8, string

# Short sessions allowed (the confluent-kafka members ask for 2 s); members started together share
# the first generation.
GROUP_ARGS = ['--group-min-session-timeout-ms=500', '--group-initial-rebalance-delay-ms=1000']
WAIT_S = 30
RECORDS = 240  # per family test: 20 a partition
NEW_BROKER_LEADS_BOUND_S = timing_bound(15)  # an added broker leads partitions within this (figure printed)
DRAIN_BOUND_S = timing_bound(10)  # a drained broker's partitions are led by the others within this


# ------------------------------------------------------------------------------------ helpers


@pytest.fixture
def watch():
    """watch(brokers): the test fails at once, with the log, if one of them dies unasked."""
    watched = []

    def check():
        for b in watched:
            if b.running and not b.alive:
                raise AssertionError(f'broker {b.prefix} {b.args[-1]} died '
                                     f'({describe_exit(b.proc.returncode)}):\n{b.log_tail()}')

    kafka_helpers.liveness_checks.append(check)
    try:
        yield watched.extend
    finally:
        kafka_helpers.liveness_checks.remove(check)


@pytest.fixture(scope='module')
def cluster(services, backend_broker_factory):  # noqa: F811
    """Three brokers shared by the family tests (which stop none of them)."""
    return start_cluster(services, backend_broker_factory, args=GROUP_ARGS)


@pytest.fixture
def one(cluster, watch):
    """The only address the clients are given: broker 1's."""
    watch(cluster)
    assert all(b.alive for b in cluster)
    return cluster[1].kafka


def create_spread_topic(brokers, boot, topic, nodes=(0, 1, 2)):
    """create_topic through `boot`, then wait_spread; a failure shows Metadata and the broker logs."""
    try:
        create_topic(boot, topic, partitions=PARTITIONS)
        return wait_spread(boot, topic, nodes)
    except Exception as e:  # also concurrent.futures.TimeoutError from the admin client
        try:
            md = kcat(boot, '-L', '-J', '-m', 10, check=False, timeout=20).stdout.decode()[:1500]
        except AssertionError as k:
            md = str(k)
        logs = '\n'.join(f'--- broker {i}:\n{b.log_tail()}' for i, b in enumerate(brokers))
        raise AssertionError(f'creating {topic} through {boot}: {type(e).__name__} {e}\n'
                             f'kcat -L: {md}\n{logs}') from None


def wait_spread(boot, topic, nodes=(0, 1, 2)):
    """Waits until Metadata (through `boot`) lists exactly `nodes` and each leads partitions."""
    def spread():
        lead, live = leaders(boot, topic)
        return live == sorted(nodes) and set(lead.values()) == set(nodes) and lead
    return wait_for(spread, WAIT_S, f'{topic} led by brokers {list(nodes)}')


def values_for(n):
    return [f'r{i:05d}' for i in range(n)]


class GroupLog:
    """What a group member reported: records consumed and commits acknowledged, with times."""

    def __init__(self):
        self.lock = threading.Lock()
        self.msgs = []  # (monotonic time, partition, offset, value)
        self.commits = []  # (monotonic time the ack was seen, partition, offset)
        self.errors = []

    def msg(self, p, o, v):
        with self.lock:
            self.msgs.append((time.monotonic(), p, o, v))

    def commit(self, p, o):
        with self.lock:
            self.commits.append((time.monotonic(), p, o))

    def error(self, what):
        with self.lock:
            self.errors.append((time.monotonic(), what))

    def values(self):
        with self.lock:
            return [v for _, _, _, v in self.msgs]

    def commits_after(self, t):
        with self.lock:
            return [c for c in self.commits if c[0] > t]


class CommitWatcher(threading.Thread):
    """Samples a group's committed offsets (OffsetFetch v1 at the coordinator) ~5 times a second.

    Only answers without error are kept: a broker that is no longer the coordinator must say so
    (NOT_COORDINATOR), never answer with what it had.
    """

    def __init__(self, brokers, group, topic):
        super().__init__(daemon=True)
        self.brokers, self.group, self.topic = brokers, group, topic  # brokers: a list that may grow
        self.stop_event = threading.Event()
        self.samples = []  # (monotonic time the request was sent, coordinator node, {p: offset})
        self.errors = Counter()

    def _find(self):
        for b in list(self.brokers):
            if not b.alive:
                continue
            c = Conn(b.kafka)
            try:
                r = c.call(10, 1, string(self.group) + i8(0))
                r.i32()
                error, _, node, host, port = r.i16(), r.string(), r.i32(), r.string(), r.i32()
            finally:
                c.close()
            if error == 0:
                return node, f'{host}:{port}'
            self.errors[f'FindCoordinator error {error}'] += 1
        return None, None

    def run(self):
        conn = node = None
        while not self.stop_event.wait(0.2):
            try:
                if conn is None:
                    node, addr = self._find()
                    if addr is None:
                        continue
                    conn = Conn(addr)
                sent = time.monotonic()
                got = fetch_offsets(conn, self.group, self.topic, range(PARTITIONS))
                errors = {e for _, _, e in got.values() if e}
                if errors:
                    self.errors[f'OffsetFetch errors {sorted(errors)} from {node}'] += 1
                    conn.close()
                    conn = None
                    continue
                self.samples.append((sent, node, {p: o for p, (o, _, _) in got.items()}))
            except (OSError, AssertionError) as e:
                self.errors[f'{type(e).__name__} from {node}'] += 1
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def latest(self):
        return self.samples[-1][2] if self.samples else {}

    def backwards(self):
        """(partition, earlier sample, later sample) where a committed offset decreased."""
        out, best = [], {}
        for t, node, offs in list(self.samples):
            for p, o in offs.items():
                if o < best.get(p, (-1,))[0]:
                    out.append((p, best[p], (o, node, round(t, 2))))
                if o >= best.get(p, (-1,))[0]:
                    best[p] = (o, node, round(t, 2))
        return out

    def lost(self, commits):
        """Acknowledged commits that a sample sent after the acknowledgement did not show."""
        commits = sorted(commits)
        out, acked, i = [], {}, 0
        for t, node, offs in list(self.samples):
            while i < len(commits) and commits[i][0] < t:
                _, p, o = commits[i]
                acked[p] = max(acked.get(p, -1), o)
                i += 1
            out += [(p, o, offs.get(p), node) for p, o in acked.items() if offs.get(p, -1) < o]
        return out

    def stop(self):
        self.stop_event.set()
        self.join(WAIT_S)


def failed_deliveries(prod):
    parts = sorted({int(v) % PARTITIONS for v, _ in prod.failed})
    return f'{prod.unflushed} undelivered, {len(prod.failed)} failed on partitions {parts}: {prod.failed[:3]}'


def log_ends(prod):
    """{partition: log end offset} after a Producer that stopped with everything acknowledged."""
    ends = {p: 0 for p in range(PARTITIONS)}
    with prod.lock:
        for p, o, _, _ in prod.acked:
            ends[p] = max(ends[p], o + 1)
    return ends


# ----------------------------------------------------- 1. every family through one address


def test_kafka_python_through_one_broker(one, cluster, topic):
    admin = KafkaAdminClient(bootstrap_servers=one, request_timeout_ms=WAIT_S * 1000)
    try:
        admin.create_topics([NewTopic(topic, PARTITIONS, 1)], timeout_ms=WAIT_S * 1000)
        lead = wait_spread(one, topic)
        (described,) = admin.describe_topics([topic])
        assert {p['partition']: p['leader'] for p in described['partitions']} == lead
        assert sorted(b['node_id'] for b in admin.describe_cluster()['brokers']) == [0, 1, 2]

        producer = KafkaProducer(bootstrap_servers=one, acks='all', linger_ms=5,
                                 max_block_ms=WAIT_S * 1000, request_timeout_ms=WAIT_S * 1000)
        values = values_for(RECORDS)
        try:
            futures = [producer.send(topic, value=v.encode(), partition=i % PARTITIONS)
                       for i, v in enumerate(values)]
            producer.flush(timeout=WAIT_S)
            acked = [(m.partition, m.offset) for m in (f.get(timeout=WAIT_S) for f in futures)]
        finally:
            producer.close(timeout=WAIT_S)
        per = RECORDS // PARTITIONS
        assert sorted(acked) == [(p, o) for p in range(PARTITIONS) for o in range(per)]

        # Two members; the records are produced before they start, so consumption races the join:
        # a member commits each record before its next poll, so a rebalance re-delivers nothing.
        group = f'{topic}-g'
        log = GroupLog()
        stop = threading.Event()
        assigned = [set(), set()]

        def member(i):
            try:
                c = KafkaConsumer(topic, bootstrap_servers=one, group_id=group, client_id=f'kp-{i}',
                                  auto_offset_reset='earliest', enable_auto_commit=False,
                                  session_timeout_ms=6000, heartbeat_interval_ms=200)
                try:
                    while not stop.is_set():
                        batch = c.poll(timeout_ms=100)
                        assigned[i] = {tp.partition for tp in c.assignment()}
                        for records in batch.values():
                            for r in records:
                                log.msg(r.partition, r.offset, r.value.decode())
                                c.commit({TopicPartition(topic, r.partition):
                                          OffsetAndMetadata(r.offset + 1, '')})
                finally:
                    c.close(autocommit=False)
            except Exception as e:  # reported by the test thread
                log.error(repr(e))

        threads = [threading.Thread(target=member, args=(i,), daemon=True) for i in range(2)]
        for t in threads:
            t.start()
        try:
            wait_for(lambda: log.errors or len(log.values()) >= RECORDS, WAIT_S, 'every record consumed')
            wait_for(lambda: log.errors or (assigned[0] and assigned[1]), WAIT_S, 'both members assigned')
            assert not log.errors, log.errors
            assert sorted(log.values()) == values, 'a record was lost or consumed twice'
            info = admin.describe_consumer_groups([group])[0]
            assert info.state == 'Stable' and len(info.members) == 2, info
        finally:
            stop.set()
            for t in threads:
                t.join(WAIT_S)
        assert not log.errors, log.errors
        offsets = admin.list_consumer_group_offsets(group)
        assert {tp.partition: om.offset for tp, om in offsets.items()} == {p: per for p in range(PARTITIONS)}
    finally:
        admin.close()
    # Visible through another broker and another client too.
    assert committed(cluster[2].kafka, group, topic) == {p: per for p in range(PARTITIONS)}
    # ListOffsets, sent by kafka-python to each partition's leader.
    c = KafkaConsumer(bootstrap_servers=one)
    try:
        ends = c.end_offsets([TopicPartition(topic, p) for p in range(PARTITIONS)])
    finally:
        c.close()
    assert {tp.partition: o for tp, o in ends.items()} == {p: per for p in range(PARTITIONS)}
    print(f'kafka-python via {one}: leaders {sorted(Counter(lead.values()).items())}, '
          f'{RECORDS} records produced, consumed once by a 2-member group, commits at the end')


@pytest.fixture
def _needs_node(node_bin):
    pass


def test_kafkajs_through_one_broker(one, cluster, topic, _needs_node):
    created, metadata = node_script('admin.js', {'brokers': [one], 'actions': [
        {'op': 'createTopics', 'args': {'topics': [{'topic': topic, 'numPartitions': PARTITIONS}],
                                        'waitForLeaders': True, 'timeout': WAIT_S * 1000}},
        {'op': 'fetchTopicMetadata', 'args': {'topics': [topic]}},
    ]})['results']
    assert created == {'ok': True}, created
    lead = wait_spread(one, topic)
    (t,) = metadata['ok']['topics']
    js_leaders = {p['partitionId']: p['leader'] for p in t['partitions']}
    # kafkajs may have asked before the placement settled: every leader it saw is a live broker.
    assert sorted(js_leaders) == list(range(PARTITIONS)) and set(js_leaders.values()) <= {0, 1, 2}

    out = node_script('consumer_group.js', {
        'brokers': [one], 'topic': topic, 'groupId': f'{topic}-g', 'consumers': 2,
        'records': RECORDS, 'partitions': PARTITIONS, 'sessionTimeout': 6000,
    })
    values = sorted(m['value'] for m in out['consumed'])
    assert values == sorted(f'r{i}' for i in range(RECORDS)), 'a record was lost or consumed twice'
    assert sorted(p for a in out['assignments'] for p in a) == list(range(PARTITIONS))
    assert out['describe'] == {'state': 'Stable', 'protocol': 'RoundRobinAssigner', 'members': 2}
    per = RECORDS // PARTITIONS
    # Committed offsets, read back after both members left (then the group is deleted).
    assert sorted((o['partition'], o['offset']) for o in out['offsets']) == [
        (p, str(per)) for p in range(PARTITIONS)]
    assert out['listed'] and not out['listedAfterDelete']

    (offsets,) = node_script('admin.js', {'brokers': [one], 'actions': [
        {'op': 'fetchTopicOffsets', 'args': topic}]})['results']
    assert sorted((int(o['partition']), o['low'], o['high']) for o in offsets['ok']) == [
        (p, '0', str(per)) for p in range(PARTITIONS)], offsets
    got = read_all(cluster[0].kafka, topic, PARTITIONS)
    assert sorted(r['value'].decode() for r in got) == values
    print(f'kafkajs via {one}: leaders {sorted(Counter(lead.values()).items())}, {RECORDS} records '
          f'consumed once by a 2-member group, committed {per} a partition')


def test_kcat_through_one_broker(one, cluster, topic, kcat_bin):
    create_topic(one, topic, partitions=PARTITIONS)
    lead = wait_spread(one, topic)
    md = json.loads(kcat(one, '-L', '-J', '-t', topic, '-m', 15).stdout)
    assert sorted((b['id'], b['name'].split('/')[0]) for b in md['brokers']) == sorted(
        (i, b.kafka) for i, b in enumerate(cluster)), md['brokers']
    (t,) = md['topics']
    assert {p['partition']: p['leader'] for p in t['partitions']} == lead

    # Keyed records: librdkafka's partitioner spreads them over the partitions.
    keys = [f'k{i}' for i in range(RECORDS)]
    kcat(one, '-P', '-t', topic, '-K', '\t', input=''.join(f'{k}\tv-{k}\n' for k in keys).encode())

    # A balanced consumer group (-G) that stops at the end of every partition and commits on close.
    group = f'{topic}-g'
    proc = kcat(one, '-G', group, '-X', 'auto.offset.reset=earliest', '-e', '-J', topic, timeout=90)
    got = [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()]
    assert sorted(m['key'] for m in got) == sorted(keys), 'a record was lost or consumed twice'
    assert all(m['payload'] == f'v-{m["key"]}' for m in got)
    # Each record was fetched from its partition's leader.
    assert all(m['broker'] == lead[m['partition']] for m in got), \
        [(m['partition'], m['broker']) for m in got if m['broker'] != lead[m['partition']]][:5]
    counts = Counter(m['partition'] for m in got)
    assert len(counts) > PARTITIONS // 2, counts
    ends = {p: counts.get(p, 0) for p in range(PARTITIONS)}
    assert {p: watermarks(one, topic, p)[1] for p in range(PARTITIONS)} == ends
    # Committed offsets: the end of every partition that got records (no commit where none).
    assert committed(cluster[0].kafka, group, topic) == {p: (n if n else -1001) for p, n in ends.items()}
    # ListOffsets by time (kcat -Q), each partition asked at its leader: a time before the first
    # record gives offset 0, one after the last gives the end of the log.
    def offsets_for(ts):
        q = kcat(one, '-Q', *[a for p in counts for a in ('-t', f'{topic}:{p}:{ts}')]).stdout.decode()
        return {int(p): int(o) for p, o in re.findall(r'\[(\d+)\] offset (-?\d+)', q)}
    assert offsets_for(1) == {p: 0 for p in counts}
    assert offsets_for(int(time.time() * 1000) + 3_600_000) == {p: -1 for p in counts}
    print(f'kcat via {one}: leaders {sorted(Counter(lead.values()).items())}, {RECORDS} keyed records '
          f'over {len(counts)} partitions, a -G group consumed each once from its leader and committed')


def test_platformatic_through_one_broker(one, cluster, topic, _needs_node):
    if not (NODE_DIR / 'node_modules' / '@platformatic' / 'kafka').is_dir():
        pytest.fail('@platformatic/kafka is not installed (scripts/install-deps.sh --test)', pytrace=False)

    def run(*steps):
        out = node_script('platformatic.mjs', {'brokers': [one], 'steps': list(steps)}, timeout=180)
        for s, r in zip(steps, out['results']):
            assert 'ok' in r, (s['op'], r)
        return [r['ok'] for r in out['results']]

    created, cluster_info = run(
        {'op': 'createTopics', 'args': {'topics': [topic], 'partitions': PARTITIONS, 'replicas': 1}},
        {'op': 'describeCluster'})
    assert created[0]['partitions'] == PARTITIONS
    assert sorted((b['brokerId'], f'{b["host"]}:{b["port"]}') for b in cluster_info['brokers']) == sorted(
        (i, b.kafka) for i, b in enumerate(cluster)), cluster_info
    lead = wait_spread(one, topic)

    group = f'{topic}-g'
    per = RECORDS // PARTITIONS
    messages = [{'topic': topic, 'partition': i % PARTITIONS, 'value': v} for i, v in enumerate(values_for(RECORDS))]
    produced, consumed, offsets, listed = run(
        {'op': 'send', 'args': {'messages': messages}},
        {'op': 'consume', 'args': {'topics': [topic], 'count': RECORDS, 'groupId': group, 'commit': True}},
        {'op': 'listConsumerGroupOffsets', 'args': {'groups': [group]}},
        {'op': 'listOffsets', 'args': {'topics': [{'name': topic, 'partitions': [
            {'partitionIndex': p, 'timestamp': '-1'} for p in range(PARTITIONS)]}]}})
    assert sorted((o['partition'], int(o['offset'])) for o in produced['offsets']) == [
        (p, 0) for p in range(PARTITIONS)]
    assert sorted(m['value'] for m in consumed) == values_for(RECORDS), 'a record was lost or consumed twice'
    assert all(int(m['offset']) == i // PARTITIONS for i, m in enumerate(
        sorted(consumed, key=lambda m: m['value'])))
    (g,) = offsets
    (t,) = g['topics']
    assert sorted((p['partitionIndex'], int(p['committedOffset'])) for p in t['partitions']) == [
        (p, per) for p in range(PARTITIONS)], offsets
    (lt,) = listed
    assert sorted((p['partitionIndex'], int(p['offset'])) for p in lt['partitions']) == [
        (p, per) for p in range(PARTITIONS)], listed
    assert committed(cluster[2].kafka, group, topic) == {p: per for p in range(PARTITIONS)}
    print(f'platformatic via {one}: leaders {sorted(Counter(lead.values()).items())}, {RECORDS} records '
          f'consumed by group {group}, committed {per} a partition')


def test_confluent_group_through_one_broker(one, cluster, topic, workers):  # noqa: F811
    create_topic(one, topic, partitions=PARTITIONS)
    lead = wait_spread(one, topic)
    group = f'{topic}-g'
    ws = [workers(one, group, topic) for _ in range(2)]
    try:
        wait_for(lambda: split_between(ws, PARTITIONS), WAIT_S, 'two members splitting the partitions')
    except AssertionError as e:
        raise AssertionError(f'{e}; members reported {[w.snapshot()[-10:] for w in ws]}')
    values = values_for(RECORDS)
    acked = produce_ok(one, topic, [{'value': v.encode(), 'partition': i % PARTITIONS}
                                    for i, v in enumerate(values)])
    per = RECORDS // PARTITIONS
    assert sorted(acked) == [(p, o) for p in range(PARTITIONS) for o in range(per)]
    wait_for(lambda: sum(len(w.values()) for w in ws) >= RECORDS, WAIT_S, 'every record consumed')
    assert sorted(v for w in ws for v in w.values()) == values, 'a record was lost or consumed twice'
    for w in ws:
        w.stop()
        assert w.snapshot()[-1] == ['CLOSED']
        assert not [e for e in w.snapshot() if e[0] == 'ERROR'], w.snapshot()
    assert committed(cluster[0].kafka, group, topic) == {p: per for p in range(PARTITIONS)}
    assert {p: watermarks(one, topic, p) for p in range(PARTITIONS)} == {p: (0, per) for p in range(PARTITIONS)}
    print(f'confluent-kafka via {one}: leaders {sorted(Counter(lead.values()).items())}, {RECORDS} records '
          f'consumed once by a 2-member group, committed {per} a partition')


# ---------------------------------------------------- 2. groups through a coordinator move


class KafkaPythonMember(threading.Thread):
    """A kafka-python group member that commits after each poll's records (at least once)."""

    def __init__(self, boot, group, topic, log):
        super().__init__(daemon=True)
        self.boot, self.group, self.topic, self.log = boot, group, topic, log
        self.stop_event = threading.Event()

    def run(self):
        try:
            c = KafkaConsumer(self.topic, bootstrap_servers=self.boot, group_id=self.group,
                              auto_offset_reset='earliest', enable_auto_commit=False,
                              session_timeout_ms=6000, heartbeat_interval_ms=300,
                              metadata_max_age_ms=2000, request_timeout_ms=15000)
        except Exception as e:
            self.log.error(f'start: {e!r}')
            return
        try:
            while not self.stop_event.is_set():
                try:
                    batch = c.poll(timeout_ms=100)
                except Exception as e:
                    self.log.error(f'poll: {e!r}')
                    continue
                offsets = {}
                for tp, records in batch.items():
                    for r in records:
                        self.log.msg(r.partition, r.offset, r.value.decode())
                    offsets[tp] = OffsetAndMetadata(records[-1].offset + 1, '')
                if not offsets:
                    continue
                try:
                    c.commit(offsets)
                except Exception as e:  # the next commit of the partition covers these records
                    self.log.error(f'commit: {e!r}')
                    continue
                for tp, om in offsets.items():
                    self.log.commit(tp.partition, om.offset)
        finally:
            c.close(autocommit=False)

    def stop(self):
        self.stop_event.set()
        self.join(WAIT_S)


class KafkajsMember:
    """node/group_consume.js: a kafkajs group member reporting what it consumes and commits."""

    def __init__(self, boot, group, topic, log):
        self.log = log
        conf = {'brokers': [boot], 'topic': topic, 'groupId': group, 'sessionTimeout': 6000}
        self.proc = subprocess.Popen(['node', 'group_consume.js', json.dumps(conf)], cwd=NODE_DIR,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.stderr = []
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.err_reader = threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True)
        self.err_reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip('\n'))
            e = line.split()
            if not e:
                continue
            if e[0] == 'MSG':
                self.log.msg(int(e[1]), int(e[2]), e[3])
            elif e[0] == 'COMMIT':
                self.log.commit(int(e[1]), int(e[2]))
            elif e[0] == 'ERROR':
                self.log.error(line.strip())

    def stop(self):
        """Closes its stdin (the script disconnects and exits); killed if it does not within WAIT_S."""
        self.stuck = False
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(WAIT_S)
            except subprocess.TimeoutExpired:
                self.stuck = True
                self.proc.kill()
                self.proc.wait(10)
        self.reader.join(WAIT_S)
        self.err_reader.join(WAIT_S)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def metadata_views(brokers, topic):
    """Each live broker's Metadata for `topic`: {partition: (leader, error)}, asked of it alone."""
    out = []
    for i, b in enumerate(brokers):
        if not b.alive:
            continue
        try:
            md = AdminClient({'bootstrap.servers': b.kafka, 'log_level': 0}).list_topics(topic, timeout=5)
            t = md.topics[topic]
            view = {p: (t.partitions[p].leader, str(t.partitions[p].error or '')) for p in sorted(t.partitions)}
            out.append(f'broker {i} says: brokers {sorted(md.brokers)}, leaders {view}')
        except Exception as e:
            out.append(f'broker {i}: Metadata failed: {e!r}')
    return '\n'.join(out)


def diagnosis(brokers, watcher, log=None, member=None):
    """What a failed cluster test shows besides its assertion: clients' errors, each broker's
    Metadata and the broker logs."""
    out = [f'offset samples: {len(watcher.samples)}, last {watcher.samples[-1:]}, '
           f'sampler errors {dict(watcher.errors)}', metadata_views(brokers, watcher.topic)]
    if log is not None:
        with log.lock:
            out.append(f'client: {len(log.msgs)} records, {len(log.commits)} commits (last '
                       f'{log.commits[-3:]}), errors {log.errors[-10:]}')
    if isinstance(member, KafkajsMember):
        out.append('group_consume.js stdout (end):\n' + '\n'.join(member.lines[-15:]))
        out.append('group_consume.js stderr (end):\n' + ''.join(member.stderr)[-4000:])
    for i, b in enumerate(brokers):
        out.append(f'--- broker {i} ({"up" if b.alive else describe_exit(b.proc.returncode)}):\n'
                   f'{b.log_tail()}')
    return '\n'.join(out)


@pytest.mark.parametrize('client', ['kafka-python', 'kafkajs'])
def test_group_keeps_consuming_through_a_coordinator_drain(services, backend_broker_factory,  # noqa: F811
                                                         watch, topic, client, request):
    if client == 'kafkajs':
        request.getfixturevalue('node_bin')
    brokers = start_cluster(services, backend_broker_factory, args=GROUP_ARGS)
    watch(brokers)
    group = f'{topic}-g'
    victim_id = coordinator_of(bootstrap(brokers), group)
    victim = brokers[victim_id]
    # The clients' only address: a broker that stays.
    one = brokers[(victim_id + 1) % len(brokers)].kafka
    lead = create_spread_topic(brokers, one, topic)

    log = GroupLog()
    watcher = CommitWatcher(brokers, group, topic)
    prod = Producer(one, topic)
    member = (KafkaPythonMember(one, group, topic, log) if client == 'kafka-python'
              else KafkajsMember(one, group, topic, log))
    if client == 'kafka-python':
        member.start()
    watcher.start()
    prod.start()
    code = None
    try:
        try:
            wait_for(lambda: len(log.commits) >= 10 and len(log.values()) >= 300, WAIT_S,
                     'the group consuming and committing')
            assert coordinator_of(one, group) == victim_id  # the slot did not move meanwhile
            t0 = time.monotonic()
            code = victim.stop()  # checked at the end, after what the clients saw
            exit_s = time.monotonic() - t0
            new_coordinator = coordinator_of(bootstrap(brokers), group)
            assert new_coordinator != victim_id
            exited = t0 + exit_s
            wait_for(lambda: log.commits_after(exited), WAIT_S, 'a commit acknowledged by the new coordinator')
            commits_resumed_s = min(t for t, _, _ in log.commits_after(exited)) - t0
            # Keep the load on a while longer, consumed and committed through the new coordinator.
            acked_at = len(prod.acked)
            wait_for(lambda: len(prod.acked) >= acked_at + 600, WAIT_S, 'more acknowledgements after the drain')
        finally:
            prod.stop_event.set()
            prod.join(150)
        assert prod.unflushed == 0 and not prod.failed, failed_deliveries(prod)
        with prod.lock:
            acked = {(p, o): v.decode() for p, o, v, _ in prod.acked}
        want = set(acked.values())
        wait_for(lambda: want <= set(log.values()), 60, 'every acknowledged record consumed')
        ends = log_ends(prod)
        wait_for(lambda: watcher.latest() == ends, WAIT_S, 'committed offsets at the end of the log')
    except AssertionError as e:
        raise AssertionError(f'{e}\n{diagnosis(brokers, watcher, log, member)}') from None
    finally:
        member.stop()
        watcher.stop()
    with log.lock:
        msgs = list(log.msgs)
        commits = list(log.commits)
        errors = list(log.errors)
    wrong = [(p, o, v) for _, p, o, v in msgs if acked.get((p, o)) != v]
    dups = len(msgs) - len({v for _, _, _, v in msgs})
    backwards = watcher.backwards()
    lost = watcher.lost(commits)
    print(f'{client}: coordinator {victim_id} drained (exit after {exit_s:.2f} s) -> {new_coordinator}; '
          f'commits acknowledged again {commits_resumed_s:.2f} s after the SIGTERM; {len(acked)} records, '
          f'{len(msgs)} deliveries ({dups} re-deliveries), {len(commits)} commits, '
          f'{len(watcher.samples)} offset samples, sampler errors {dict(watcher.errors)}, '
          f'client errors {len(errors)} {[e for _, e in errors][:3]}; leaders {sorted(Counter(lead.values()).items())}')
    assert not wrong, f'{len(wrong)} records consumed at the wrong place, e.g. {wrong[:5]}'
    assert not backwards, f'committed offsets went backwards: {backwards[:5]}'
    assert not lost, f'acknowledged commits not visible later: {lost[:5]}'
    assert watcher.samples[-1][1] != victim_id
    assert code == 0, f'the drained coordinator exited with {describe_exit(code)}:\n{victim.log_tail()}'
    assert not getattr(member, 'stuck', False), 'group_consume.js did not disconnect within {WAIT_S} s'


# ---------------------------------------------------------------------- 3. scale 1 -> 3 -> 1


def scale_up_and_down(services, backend_broker_factory, watch, brokers, one, topic, prod, member,  # noqa: F811
                      figures, bad_exits):
    """Under the load of `prod`: brokers 1 and 2 join broker 0, then 2 and 1 are drained (SIGTERM)."""
    try:
        wait_for(lambda: len(prod.acked) > 300 and len(member.values()) > 100, WAIT_S, 'load on one broker')
        for node in (1, 2):
            t0 = time.monotonic()
            b = add_broker(services, backend_broker_factory, brokers[0].prefix, node, GROUP_ARGS)
            brokers.append(b)
            watch([b])
            ready_s = time.monotonic() - t0
            mine = wait_for(lambda: {p for p, n in leaders(one, topic)[0].items() if n == node},
                            NEW_BROKER_LEADS_BOUND_S + 5, f'broker {node} leading partitions')
            leads_s = time.monotonic() - t0
            t1 = time.monotonic()
            wait_for(lambda: prod.acks_on(mine, t1), WAIT_S, f'acknowledgements from broker {node}')
            figures.append(f'+{node}: ready {ready_s:.2f} s, leads {len(mine)} partitions {leads_s:.2f} s '
                           f'after its start, acks from it {time.monotonic() - t0:.2f} s')
            assert leads_s < NEW_BROKER_LEADS_BOUND_S, figures
        lead = wait_spread(one, topic)
        figures.append(f'3 brokers: {sorted(Counter(lead.values()).items())}')
        time.sleep(1)  # some load and commits on three brokers (nothing to wait for)
        for node in (2, 1):
            t0 = time.monotonic()
            code = brokers[node].stop()  # checked at the end, after the records
            exit_s = time.monotonic() - t0
            if code != 0:
                bad_exits.append(f'broker {node} exited with {describe_exit(code)} on SIGTERM (a drain '
                                 f'exits 0):\n{brokers[node].log_tail()}')
            left = tuple(n for n in range(node))
            wait_for(lambda: set(leaders(one, topic)[0].values()) <= set(left), DRAIN_BOUND_S,
                     f'broker {node}\'s partitions led by {left}')
            moved_s = time.monotonic() - t0
            t1 = time.monotonic()
            wait_for(lambda: prod.acks_on(set(range(PARTITIONS)), t1), WAIT_S, 'acks after the drain')
            figures.append(f'-{node}: exit ({code}) {exit_s:.2f} s, partitions led by {list(left)} {moved_s:.2f} s '
                           f'after the SIGTERM')
        acked_at = len(prod.acked)
        wait_for(lambda: len(prod.acked) >= acked_at + 300, WAIT_S, 'load on the last broker')
    finally:
        prod.stop_event.set()
        prod.join(150)


def test_scale_one_to_three_to_one(services, backend_broker_factory, watch, topic, workers):  # noqa: F811
    brokers = start_cluster(services, backend_broker_factory, n=1, args=GROUP_ARGS)
    watch(brokers)
    one = brokers[0].kafka  # stays up throughout: the clients' only address
    create_spread_topic(brokers, one, topic, nodes=(0,))
    group = f'{topic}-g'
    watcher = CommitWatcher(brokers, group, topic)
    prod = Producer(one, topic)
    member = workers(one, group, topic, **{'session.timeout.ms': 6000})
    watcher.start()
    prod.start()
    figures = []
    bad_exits = []
    try:
        scale_up_and_down(services, backend_broker_factory, watch, brokers, one, topic, prod, member,
                          figures, bad_exits)
        assert prod.unflushed == 0 and not prod.failed, failed_deliveries(prod)
        lost, dups, out_of_order, n_acked = check_read_back(one, topic, prod)
        assert not lost, f'{len(lost)} acknowledged records missing, e.g. {lost[:5]}'
        assert dups == 0 and not out_of_order, (dups, out_of_order)
        with prod.lock:
            acked = {(p, o): v.decode() for p, o, v, _ in prod.acked}
        want = set(acked.values())
        wait_for(lambda: want <= set(member.values()), 60, 'every acknowledged record consumed by the group')
        ends = log_ends(prod)
        wait_for(lambda: watcher.latest() == ends, WAIT_S, 'committed offsets at the end of the log')
    except AssertionError as e:
        raise AssertionError(f'{e}\n{"; ".join(figures)}\nmember: {member.snapshot()[-10:]}\n'
                             f'{diagnosis(brokers, watcher)}') from None
    finally:
        prod.stop_event.set()
        member.stop()
        watcher.stop()
    events = member.snapshot()
    msgs = [(int(e[1]), int(e[2]), e[3]) for e in events if e[0] == 'MSG']
    commits = [e for e in events if e[0] == 'COMMIT']
    errors = [e for e in events if e[0] == 'ERROR']
    wrong = [m for m in msgs if acked.get(m[:2]) != m[2]]
    backwards = watcher.backwards()
    print(f'scale 1->3->1: {"; ".join(figures)}; {n_acked} acknowledged, 0 lost, read back in order; '
          f'group: {len(msgs)} deliveries of {len(acked)} records, {len(commits)} commits, '
          f'{len(errors)} client errors {errors[:3]}, {len(watcher.samples)} offset samples, '
          f'sampler errors {dict(watcher.errors)}')
    assert not wrong, f'{len(wrong)} records consumed at the wrong place, e.g. {wrong[:5]}'
    assert not backwards, f'committed offsets went backwards: {backwards[:5]}'
    assert not bad_exits, '\n\n'.join(bad_exits)
