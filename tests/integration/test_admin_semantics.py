"""Admin answers that real clients compare with Kafka's: offset commits by the admin client to a
group with members, DescribeConfigs synonyms/documentation only when asked, replica assignments
validated in CreateTopics/CreatePartitions, authorized operations when asked.
"""
import time

import pytest

from confluent_kafka import Consumer

from kafka_helpers import create_topic, node_script, produce_ok, wait_for

BROKER_ARGS = ['--auto-create-topics=false', '--group-initial-rebalance-delay-ms=0']
TIMEOUT_S = 30
UNKNOWN_MEMBER_ID = 25
INVALID_REPLICA_ASSIGNMENT = 39


def platformatic(broker, *steps):
    """Runs @platformatic/kafka steps (node/platformatic.mjs); returns their results."""
    out = node_script('platformatic.mjs', {'brokers': [broker.kafka], 'steps': list(steps)}, timeout=180)
    return out['results']


def api_codes(error):
    """Every Kafka error code an @platformatic/kafka error (and its nested errors) carries."""
    codes = set()
    if error.get('apiCode') is not None:
        codes.add(error['apiCode'])
    for e in error.get('errors', []):
        codes |= api_codes(e)
    response = error.get('response')
    if isinstance(response, dict):
        for t in response.get('topics', []):
            for p in t.get('partitions', []):
                codes.add(p.get('errorCode'))
    return codes


def test_admin_offset_commit_to_a_group_with_members_is_unknown_member(broker, topic):
    create_topic(broker.kafka, topic, partitions=1)
    produce_ok(broker.kafka, topic, [{'value': b'v', 'partition': 0}])
    group = f'{topic}-group'
    c = Consumer({'bootstrap.servers': broker.kafka, 'group.id': group, 'enable.auto.commit': False,
                  'auto.offset.reset': 'earliest', 'session.timeout.ms': 10000, 'log_level': 3})
    alter = {'op': 'alterConsumerGroupOffsets', 'args': {'groupId': group, 'topics': [
        {'name': topic, 'partitionOffsets': [{'partition': 0, 'offset': '1'}]}]}}
    listed = {'op': 'listConsumerGroupOffsets', 'args': {'groups': [group]}}
    try:
        c.subscribe([topic])
        deadline = time.time() + TIMEOUT_S
        while not c.assignment() and time.time() < deadline:
            c.poll(0.2)
        assert c.assignment(), 'the consumer got no assignment'
        # AdminClient-style commit (generation -1, no member id) while the group has a member.
        (refused,) = platformatic(broker, alter)
        assert 'error' in refused, refused
        assert UNKNOWN_MEMBER_ID in api_codes(refused['error']), refused
    finally:
        c.close()
    # The member left: the group is Empty and the same commit is accepted.
    wait_for(lambda: 'ok' in platformatic(broker, alter)[0], TIMEOUT_S, 'admin commit to the empty group')
    (offsets,) = platformatic(broker, listed)
    assert '"committedOffset": "1"' in str(offsets).replace("'", '"'), offsets


def kafkajs_admin(broker, *actions):
    """Runs kafkajs admin actions (node/admin.js); returns their results."""
    return node_script('admin.js', {'brokers': [broker.kafka], 'actions': list(actions)})['results']


def test_describe_configs_synonyms_and_documentation_only_when_asked(broker, topic):
    create_topic(broker.kafka, topic, config={'retention.ms': '3600000'})
    TOPIC = 2
    resource = {'type': TOPIC, 'name': topic}
    plain, with_syn = kafkajs_admin(
        broker,
        {'op': 'describeConfigs', 'args': {'resources': [resource], 'includeSynonyms': False}},
        {'op': 'describeConfigs', 'args': {'resources': [resource], 'includeSynonyms': True}})
    (entries,) = [r['configEntries'] for r in plain['ok']['resources']]
    assert entries and all(e['configSynonyms'] == [] for e in entries), entries
    (entries,) = [r['configEntries'] for r in with_syn['ok']['resources']]
    by_name = {e['configName']: e for e in entries}
    assert [s['configValue'] for s in by_name['retention.ms']['configSynonyms']][0] == '3600000', by_name

    pr = {'resourceType': TOPIC, 'resourceName': topic}
    neither, docs = platformatic(
        broker,
        {'op': 'describeConfigs', 'args': {'resources': [pr]}},
        {'op': 'describeConfigs', 'args': {'resources': [pr], 'includeDocumentation': True}})
    (desc,) = neither['ok']
    assert all(c['documentation'] is None and c['synonyms'] == [] for c in desc['configs']), desc
    (desc,) = docs['ok']
    assert all(c['documentation'] for c in desc['configs']), desc
    assert all(c['synonyms'] == [] for c in desc['configs']), desc


def test_replica_assignments_are_validated(broker, topic):
    from confluent_kafka.admin import NewTopic
    from kafka import KafkaAdminClient
    from kafka.admin import NewPartitions as KpNewPartitions
    from kafka.admin import NewTopic as KpNewTopic
    from kafka.errors import KafkaError

    from kafka_helpers import admin, list_topics

    a = KafkaAdminClient(bootstrap_servers=broker.kafka, request_timeout_ms=TIMEOUT_S * 1000)
    try:
        # The only broker is 0 (single node): broker 5 does not exist, 0 twice is a duplicate,
        # partitions must be 0..n-1.
        for bad in ({0: [5]}, {0: [0, 0]}, {0: [0], 2: [0]}):
            with pytest.raises(KafkaError) as e:
                a.create_topics([KpNewTopic(topic, -1, -1, replica_assignments=bad)])
            assert e.value.errno == INVALID_REPLICA_ASSIGNMENT, (bad, e.value)
            assert 'manual partition assignment' in str(e.value) or 'consecutive' in str(e.value), e.value
        assert topic not in list_topics(broker.kafka)
        a.create_topics([KpNewTopic(topic, -1, -1, replica_assignments={0: [0], 1: [0]})])
        wait_for(lambda: list_topics(broker.kafka).get(topic) == 2, TIMEOUT_S, 'two partitions')
        # One list per new partition, known brokers, one replica (the topic's replication factor).
        for count, bad in ((4, [[0]]), (3, [[7]]), (3, [[0, 0]])):
            with pytest.raises(KafkaError) as e:
                a.create_partitions({topic: KpNewPartitions(count, bad)})
            assert e.value.errno == INVALID_REPLICA_ASSIGNMENT, (count, bad, e.value)
        a.create_partitions({topic: KpNewPartitions(3, [[0]])})
    finally:
        a.close()
    wait_for(lambda: list_topics(broker.kafka).get(topic) == 3, TIMEOUT_S, 'three partitions')

    # librdkafka: replica_assignment (replication factor -1).
    other = f'{topic}-rd'
    rd = admin(broker.kafka)
    fs = rd.create_topics([NewTopic(other, 2, replica_assignment=[[0], [0]])], request_timeout=TIMEOUT_S)
    fs[other].result(TIMEOUT_S)
    fs = rd.create_topics([NewTopic(f'{other}2', 1, replica_assignment=[[3]])], request_timeout=TIMEOUT_S)
    err = fs[f'{other}2'].exception(TIMEOUT_S)
    assert err is not None and 'INVALID_REPLICA_ASSIGNMENT' in str(err), err


# Kafka's AclOperation bit sets (AclEntry.supportedOperations); no authorizer: all of them.
TOPIC_OPS = sum(1 << op for op in (3, 4, 5, 6, 7, 8, 10, 11))
GROUP_OPS = sum(1 << op for op in (3, 6, 8, 10, 11))
CLUSTER_OPS = sum(1 << op for op in (5, 7, 8, 9, 10, 11, 12))
NOT_REQUESTED = -2147483648


def describe_cluster_ops(broker, include):
    """DescribeCluster v0 by hand: the cluster_authorized_operations field."""
    from test_admin import flexible_call
    from test_idempotence_protocol import Conn
    c = Conn(broker)
    try:
        r = flexible_call(c, 60, 0, (b'\x01' if include else b'\x00') + b'\x00')
        r.take('>i')  # throttle
        assert r.take('>h') == 0
        r.compact_string()  # error message
        r.compact_string()  # cluster id
        r.take('>i')  # controller
        for _ in range(r.uvarint() - 1):
            r.take('>i')
            r.compact_string()
            r.take('>i')
            r.compact_string()  # rack
            assert r.uvarint() == 0  # tags
        return r.take('>i')
    finally:
        c.close()


def test_authorized_operations_only_when_asked(broker, topic):
    create_topic(broker.kafka, topic, partitions=1)
    assert describe_cluster_ops(broker, True) == CLUSTER_OPS
    assert describe_cluster_ops(broker, False) == NOT_REQUESTED

    group = f'{topic}-group'
    c = Consumer({'bootstrap.servers': broker.kafka, 'group.id': group, 'enable.auto.commit': False,
                  'session.timeout.ms': 10000, 'log_level': 3})
    try:
        c.subscribe([topic])
        deadline = time.time() + TIMEOUT_S
        while not c.assignment() and time.time() < deadline:
            c.poll(0.2)
        asked, not_asked = platformatic(
            broker,
            {'op': 'describeGroups', 'args': {'groups': [group], 'includeAuthorizedOperations': True}},
            {'op': 'describeGroups', 'args': {'groups': [group]}})
    finally:
        c.close()
    assert asked['ok'][group]['authorizedOperations'] == GROUP_OPS, asked
    assert not_asked['ok'][group]['authorizedOperations'] == NOT_REQUESTED, not_asked
