"""Consumer groups with kafka-python and kafkajs, the admin round trips, and lag in /metrics."""
import os
import threading
import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.structs import OffsetAndMetadata, TopicPartition

from kafka_helpers import create_topic, node_script, produce_ok, wait_for

GROUP_ENV = {
    'KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS': '500',
    'KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS': '1000',
}
WAIT_S = 30


@pytest.fixture(scope='module', autouse=True)
def group_env():
    saved = {k: os.environ.get(k) for k in GROUP_ENV}
    os.environ.update(GROUP_ENV)
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def test_kafka_python_group_and_admin(broker, topic):
    create_topic(broker.bootstrap, topic, partitions=4)
    values = [f'r{i}' for i in range(200)]
    produce_ok(broker.bootstrap, topic, [{'value': v.encode(), 'partition': i % 4} for i, v in enumerate(values)])
    group = f'g-{topic}'
    consumed = [[], []]
    assigned = [set(), set()]
    stop = threading.Event()
    errors = []

    def run(i):
        try:
            c = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, group_id=group, client_id=f'kp-{i}',
                              auto_offset_reset='earliest', enable_auto_commit=False,
                              session_timeout_ms=6000, heartbeat_interval_ms=200)
            try:
                while not stop.is_set():
                    batch = c.poll(timeout_ms=100)
                    assigned[i] = {tp.partition for tp in c.assignment()}
                    for records in batch.values():
                        for r in records:
                            consumed[i].append(r.value.decode())
                            # Before the next poll, so a rebalance never re-delivers it.
                            c.commit({TopicPartition(topic, r.partition): OffsetAndMetadata(r.offset + 1, '')})
            finally:
                c.close()
        except Exception as e:  # reported by the test thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(2)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: errors or len(consumed[0]) + len(consumed[1]) >= 200, WAIT_S, 'every record consumed')
        assert not errors, errors
        wait_for(lambda: assigned[0] and assigned[1], WAIT_S, 'both consumers assigned')
        assert assigned[0].isdisjoint(assigned[1]) and assigned[0] | assigned[1] == {0, 1, 2, 3}
        assert sorted(consumed[0] + consumed[1]) == sorted(values)

        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        try:
            assert (group, 'consumer') in admin.list_consumer_groups()
            info = admin.describe_consumer_groups([group])[0]
            assert info.state == 'Stable' and info.protocol_type == 'consumer'
            assert sorted(m.client_id for m in info.members) == ['kp-0', 'kp-1']
            offsets = admin.list_consumer_group_offsets(group)
            assert {tp.partition: om.offset for tp, om in offsets.items()} == {p: 50 for p in range(4)}
            stop.set()
            for t in threads:
                t.join(WAIT_S)
            wait_for(lambda: admin.describe_consumer_groups([group])[0].state == 'Empty', WAIT_S,
                     'the group empty after both consumers left')
            assert admin.delete_consumer_groups([group]) == [(group, _no_error())]
            assert group not in [g for g, _ in admin.list_consumer_groups()]
            assert admin.list_consumer_group_offsets(group) == {}
        finally:
            admin.close()
    finally:
        stop.set()


def _no_error():
    from kafka.errors import NoError
    return NoError


def test_kafkajs_group_split_and_admin(broker, topic):
    create_topic(broker.bootstrap, topic, partitions=6)
    out = node_script('consumer_group.js', {
        'brokers': [broker.bootstrap],
        'topic': topic,
        'groupId': f'g-{topic}',
        'consumers': 3,
        'records': 300,
        'partitions': 6,
        'sessionTimeout': 6000,
    })
    values = sorted(m['value'] for m in out['consumed'])
    assert values == sorted(f'r{i}' for i in range(300)), 'a record was lost or consumed twice'
    owners = {}
    for m in out['consumed']:
        owners.setdefault(m['partition'], set()).add(m['consumer'])
    assert all(len(o) == 1 for o in owners.values()), f'a partition was consumed by two members: {owners}'
    parts = [p for a in out['assignments'] for p in a]
    assert sorted(parts) == list(range(6))
    assert out['describe'] == {'state': 'Stable', 'protocol': 'RoundRobinAssigner', 'members': 3}
    assert sorted((o['partition'], o['offset']) for o in out['offsets']) == [(p, '50') for p in range(6)]
    assert out['listed'] and not out['listedAfterDelete']


def test_lag_per_group_and_topic_in_metrics(broker, topic):
    create_topic(broker.bootstrap, topic, partitions=2)
    produce_ok(broker.bootstrap, topic, [{'value': b'x', 'partition': i % 2} for i in range(50)])
    group = f'lag-{topic}'
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=group, enable_auto_commit=False)
    try:
        # A simple (non-group) commit: 25 - 10 + 25 - 0 = 40 records behind.
        c.commit({TopicPartition(topic, 0): OffsetAndMetadata(10, ''), TopicPartition(topic, 1): OffsetAndMetadata(0, '')})
    finally:
        c.close()

    def lag():
        m = broker.metrics()
        # The family appears with its first series (the lag is refreshed every 2 s).
        return m.get('kafscale_group_lag', group=group, topic=topic) if m.has('kafscale_group_lag') else None

    wait_for(lambda: lag() == 40, WAIT_S, 'lag of 40 in /metrics')
    produce_ok(broker.bootstrap, topic, [{'value': b'y', 'partition': 0} for _ in range(5)])
    wait_for(lambda: lag() == 45, WAIT_S, 'lag following the high watermark')
    m = broker.metrics()
    assert m.get('kafscale_group_store_txns_total') > 0
    assert m.get('kafscale_groups', state='Empty') >= 1
