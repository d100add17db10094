"""Admin answers that real clients compare with Kafka's: offset commits by the admin client to a
group with members, DescribeConfigs synonyms/documentation only when asked, replica assignments
validated in CreateTopics/CreatePartitions, authorized operations when asked.
"""
import time

from confluent_kafka import Consumer

from kafka_helpers import create_topic, node_script, produce_ok, wait_for

BROKER_ARGS = ['--auto-create-topics=false', '--group-initial-rebalance-delay-ms=0']
TIMEOUT_S = 30
UNKNOWN_MEMBER_ID = 25


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
