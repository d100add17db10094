"""ACLs and the authorizer with real clients.

One broker with a SASL_PLAINTEXT listener (SCRAM-SHA-256), `--authorizer true` and `super.users=User:admin`.
`admin` manages ACLs with kafka-python's KafkaAdminClient (CreateAcls / DescribeAcls / DeleteAcls);
`alice` has no rights but those the tests grant her, and drives the broker with confluent-kafka-python
(librdkafka), whose errors must name Kafka's TOPIC_/GROUP_AUTHORIZATION_FAILED.

Every test uses its own topic and group names, so the ACLs of one test do not open another's resources.
"""
import socket
import subprocess
import time
import uuid

import confluent_kafka
import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType,
                         KafkaAdminClient, ResourcePattern, ResourcePatternFilter, ResourceType)
from kafka.errors import ClusterAuthorizationFailedError, NoError, SecurityDisabledError

import kafka_helpers
from kafka_helpers import node_script
from backends import backend_broker_factory, services, unique_prefix  # noqa: F401 (fixtures)
from conftest import BROKER_BIN
from test_security import add_scram_user

pytestmark = pytest.mark.librdkafka

TIMEOUT_S = 30
MECHANISM = 'SCRAM-SHA-256'
PASSWORDS = {'admin': 'admin-secret', 'alice': 'alice-secret'}


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def acl_broker(broker_factory):
    # A fixed port: the restart test reconnects to the same address.
    b = broker_factory([
        '--listeners', f'SASL_PLAINTEXT://127.0.0.1:{free_port()}', '--sasl.enabled.mechanisms', MECHANISM,
        '--authorizer', 'true', '--super.users', 'User:admin'
    ], name='acls')
    b.data_dir.mkdir(parents=True, exist_ok=True)
    for user, password in PASSWORDS.items():
        add_scram_user(b.data_dir, user, MECHANISM, password)
    b.start()
    return b


def conf(broker, user):
    return {'bootstrap.servers': broker.listeners['SASL_PLAINTEXT'], 'security.protocol': 'SASL_PLAINTEXT',
            'sasl.mechanism': MECHANISM, 'sasl.username': user, 'sasl.password': PASSWORDS[user],
            'log_level': 3}


def acl_admin(broker, user='admin'):
    return KafkaAdminClient(bootstrap_servers=broker.listeners['SASL_PLAINTEXT'],
                            security_protocol='SASL_PLAINTEXT', sasl_mechanism=MECHANISM,
                            sasl_plain_username=user, sasl_plain_password=PASSWORDS[user],
                            request_timeout_ms=TIMEOUT_S * 1000)


def name(prefix):
    return f'{prefix}-{uuid.uuid4().hex[:8]}'


def acl(resource_type, resource, operation, permission=ACLPermissionType.ALLOW, principal='User:alice',
        pattern=ACLResourcePatternType.LITERAL):
    return ACL(principal=principal, host='*', operation=operation, permission_type=permission,
               resource_pattern=ResourcePattern(resource_type, resource, pattern))


def grant(broker, *acls):
    admin = acl_admin(broker)
    try:
        result = admin.create_acls(list(acls))
        assert not result['failed'], result['failed']
        assert len(result['succeeded']) == len(acls)
    finally:
        admin.close()


def revoke(broker, resource_type, resource, pattern=ACLResourcePatternType.LITERAL):
    admin = acl_admin(broker)
    try:
        f = ACLFilter(principal=None, host=None, operation=ACLOperation.ANY, permission_type=ACLPermissionType.ANY,
                      resource_pattern=ResourcePatternFilter(resource_type, resource, pattern))
        return admin.delete_acls([f])
    finally:
        admin.close()


def create_topic(broker, topic, user='admin', partitions=1):
    admin = AdminClient(conf(broker, user))  # kept alive until the result is in
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)],
                                  operation_timeout=TIMEOUT_S)
    futures[topic].result(timeout=TIMEOUT_S)


def produce(broker, user, topic, n=3):
    """Produces n records; returns the delivery errors (None for each success)."""
    p = confluent_kafka.Producer({**conf(broker, user), 'message.timeout.ms': 10000, 'linger.ms': 5})
    errors = []
    for i in range(n):
        p.produce(topic, value=f'v{i}'.encode(), on_delivery=lambda err, msg: errors.append(err))
    p.flush(TIMEOUT_S)
    assert len(errors) == n, errors
    return errors


def consume(broker, user, topic, group, want):
    """Reads `want` records in group `group`, or returns the first error the consumer reports."""
    c = confluent_kafka.Consumer({**conf(broker, user), 'group.id': group, 'auto.offset.reset': 'earliest',
                                  'enable.auto.commit': False})
    try:
        c.subscribe([topic])
        got = []
        deadline = time.monotonic() + TIMEOUT_S
        while len(got) < want and time.monotonic() < deadline:
            kafka_helpers.check_brokers()
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                return m.error()
            got.append(m.value())
        assert len(got) == want, got
        c.commit(asynchronous=False)
        return None
    finally:
        c.close()


def visible_topics(broker, user):
    return set(AdminClient(conf(broker, user)).list_topics(timeout=TIMEOUT_S).topics)


# ---- the ACL APIs


def test_acl_apis_create_describe_delete(acl_broker):
    topic = name('api')
    admin = acl_admin(acl_broker)
    try:
        result = admin.create_acls([
            acl(ResourceType.TOPIC, topic, ACLOperation.READ),
            acl(ResourceType.TOPIC, topic, ACLOperation.WRITE, ACLPermissionType.DENY, principal='User:*'),
            acl(ResourceType.GROUP, topic, ACLOperation.READ, pattern=ACLResourcePatternType.PREFIXED),
        ])
        assert not result['failed'] and len(result['succeeded']) == 3
        # Invalid: the CLUSTER resource is only "kafka-cluster".
        bad = admin.create_acls([acl(ResourceType.CLUSTER, 'other', ACLOperation.ALTER)])
        assert len(bad['failed']) == 1 and not bad['succeeded']

        f = ACLFilter(principal=None, host=None, operation=ACLOperation.ANY, permission_type=ACLPermissionType.ANY,
                      resource_pattern=ResourcePatternFilter(ResourceType.TOPIC, topic, ACLResourcePatternType.ANY))
        acls, error = admin.describe_acls(f)
        assert error is NoError
        got = {(a.principal, a.operation, a.permission_type) for a in acls}
        assert got == {('User:alice', ACLOperation.READ, ACLPermissionType.ALLOW),
                       ('User:*', ACLOperation.WRITE, ACLPermissionType.DENY)}
        # MATCH: the prefixed group ACL applies to a group named after it.
        fm = ACLFilter(principal='User:alice', host=None, operation=ACLOperation.ANY,
                       permission_type=ACLPermissionType.ANY,
                       resource_pattern=ResourcePatternFilter(ResourceType.GROUP, topic + '-g',
                                                              ACLResourcePatternType.MATCH))
        acls, _ = admin.describe_acls(fm)
        assert [(a.resource_pattern.resource_name, a.resource_pattern.pattern_type) for a in acls] == [
            (topic, ACLResourcePatternType.PREFIXED)]

        deleted = admin.delete_acls([f])
        assert len(deleted) == 1
        _, matches, error = deleted[0]
        assert error is NoError
        assert len(matches) == 2
        acls, _ = admin.describe_acls(f)
        assert acls == []
    finally:
        admin.close()


def test_normal_user_may_not_manage_acls(acl_broker):
    admin = acl_admin(acl_broker, 'alice')
    try:
        result = admin.create_acls([acl(ResourceType.TOPIC, name('x'), ACLOperation.ALL)])
        assert len(result['failed']) == 1
        assert result['failed'][0][1] is ClusterAuthorizationFailedError
    finally:
        admin.close()


# ---- enforcement


def test_produce_refused_until_write_is_granted(acl_broker):
    topic = name('prod')
    create_topic(acl_broker, topic)
    errors = produce(acl_broker, 'alice', topic)
    assert all(e is not None and e.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED for e in errors), errors
    grant(acl_broker, acl(ResourceType.TOPIC, topic, ACLOperation.WRITE))
    assert produce(acl_broker, 'alice', topic) == [None] * 3
    # Deleting the ACL takes the right away again.
    deleted = revoke(acl_broker, ResourceType.TOPIC, topic)
    assert len(deleted[0][1]) == 1
    errors = produce(acl_broker, 'alice', topic)
    assert all(e is not None and e.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED for e in errors), errors


def test_consume_needs_read_on_group_and_topic(acl_broker):
    topic, group = name('cons'), name('grp')
    create_topic(acl_broker, topic)
    assert produce(acl_broker, 'admin', topic) == [None] * 3
    err = consume(acl_broker, 'alice', topic, group, 3)
    assert err is not None and err.code() == KafkaError.GROUP_AUTHORIZATION_FAILED, err
    grant(acl_broker, acl(ResourceType.GROUP, group, ACLOperation.READ))
    err = consume(acl_broker, 'alice', topic, group, 3)
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, err
    grant(acl_broker, acl(ResourceType.TOPIC, topic, ACLOperation.READ))
    assert consume(acl_broker, 'alice', topic, group, 3) is None


def test_create_topics_with_a_prefixed_acl(acl_broker):
    prefix = name('pre') + '-'
    with pytest.raises(KafkaException) as e:
        create_topic(acl_broker, prefix + 'a', user='alice')
    assert e.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    grant(acl_broker, acl(ResourceType.TOPIC, prefix, ACLOperation.CREATE, pattern=ACLResourcePatternType.PREFIXED))
    create_topic(acl_broker, prefix + 'a', user='alice')
    with pytest.raises(KafkaException) as e:
        create_topic(acl_broker, name('other'), user='alice')
    assert e.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_deny_overrides_allow(acl_broker):
    prefix = name('deny') + '-'
    open_topic, secret = prefix + 'open', prefix + 'secret'
    for t in (open_topic, secret):
        create_topic(acl_broker, t)
    grant(acl_broker,
          acl(ResourceType.TOPIC, prefix, ACLOperation.WRITE, pattern=ACLResourcePatternType.PREFIXED),
          acl(ResourceType.TOPIC, secret, ACLOperation.ALL, ACLPermissionType.DENY))
    assert produce(acl_broker, 'alice', open_topic) == [None] * 3
    errors = produce(acl_broker, 'alice', secret)
    assert all(e is not None and e.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED for e in errors), errors


def test_metadata_lists_only_describable_topics(acl_broker):
    mine, hidden = name('mine'), name('hidden')
    for t in (mine, hidden):
        create_topic(acl_broker, t)
    assert mine not in visible_topics(acl_broker, 'alice')
    grant(acl_broker, acl(ResourceType.TOPIC, mine, ACLOperation.DESCRIBE))
    seen = visible_topics(acl_broker, 'alice')
    assert mine in seen and hidden not in seen
    assert {mine, hidden} <= visible_topics(acl_broker, 'admin')  # a super user sees everything


def test_acls_persist_across_a_restart(acl_broker):
    topic = name('restart')
    create_topic(acl_broker, topic)
    grant(acl_broker, acl(ResourceType.TOPIC, topic, ACLOperation.WRITE))
    acl_broker.restart()
    assert produce(acl_broker, 'alice', topic) == [None] * 3
    other = name('restart-other')
    create_topic(acl_broker, other)
    errors = produce(acl_broker, 'alice', other)
    assert all(e is not None and e.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED for e in errors), errors


def test_without_the_authorizer_acl_apis_answer_security_disabled(broker):
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=TIMEOUT_S * 1000)
    try:
        result = admin.create_acls([acl(ResourceType.TOPIC, 't', ACLOperation.READ)])
        assert len(result['failed']) == 1
        assert result['failed'][0][1] is SecurityDisabledError
        f = ACLFilter(principal=None, host=None, operation=ACLOperation.ANY, permission_type=ACLPermissionType.ANY,
                      resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY))
        with pytest.raises(SecurityDisabledError):
            admin.describe_acls(f)
    finally:
        admin.close()


def test_idempotent_producer_needs_only_write_on_a_topic(acl_broker):
    # InitProducerId: IDEMPOTENT_WRITE on the cluster, or WRITE on some topic (Kafka 2.8+).
    topic = name('idem')
    create_topic(acl_broker, topic)
    grant(acl_broker, acl(ResourceType.TOPIC, topic, ACLOperation.WRITE))
    p = confluent_kafka.Producer({**conf(acl_broker, 'alice'), 'enable.idempotence': True,
                                  'message.timeout.ms': 10000})
    errors = []
    for i in range(5):
        p.produce(topic, value=f'v{i}'.encode(), on_delivery=lambda err, msg: errors.append(err))
    p.flush(TIMEOUT_S)
    assert errors == [None] * 5


def test_list_groups_shows_only_describable_groups(acl_broker):
    topic, mine, other = name('lg'), name('lg-mine'), name('lg-other')
    create_topic(acl_broker, topic)
    assert produce(acl_broker, 'admin', topic) == [None] * 3
    grant(acl_broker, acl(ResourceType.GROUP, mine, ACLOperation.READ),
          acl(ResourceType.TOPIC, topic, ACLOperation.READ))
    assert consume(acl_broker, 'alice', topic, mine, 3) is None
    assert consume(acl_broker, 'admin', topic, other, 3) is None

    def groups(user):
        admin = AdminClient(conf(acl_broker, user))
        return {g.id for g in admin.list_groups(timeout=TIMEOUT_S)}

    seen = groups('alice')
    assert mine in seen and other not in seen
    assert {mine, other} <= groups('admin')


def test_describe_configs_needs_describe_configs(acl_broker):
    topic = name('cfg')
    create_topic(acl_broker, topic)
    admin = AdminClient(conf(acl_broker, 'alice'))
    resource = confluent_kafka.admin.ConfigResource('topic', topic)
    with pytest.raises(KafkaException) as e:
        admin.describe_configs([resource], request_timeout=TIMEOUT_S)[resource].result(timeout=TIMEOUT_S)
    assert e.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # ALTER_CONFIGS implies DESCRIBE_CONFIGS.
    grant(acl_broker, acl(ResourceType.TOPIC, topic, ACLOperation.ALTER_CONFIGS))
    configs = admin.describe_configs([resource], request_timeout=TIMEOUT_S)[resource].result(timeout=TIMEOUT_S)
    assert 'retention.ms' in configs


def kafkajs_admin(broker, user, actions):
    out = node_script('admin.js', {
        'brokers': [broker.listeners['SASL_PLAINTEXT']],
        'sasl': {'mechanism': MECHANISM.lower(), 'username': user, 'password': PASSWORDS[user]},
        'actions': actions,
    })
    return out['results']


def test_kafkajs_acl_admin(acl_broker, node_bin):
    topic = name('js')
    # kafkajs's ACL enums are Kafka's codes: TOPIC 2, LITERAL 3, READ 3, ALLOW 3, ANY 1.
    entry = {'resourceType': 2, 'resourceName': topic, 'resourcePatternType': 3, 'principal': 'User:alice',
             'host': '*', 'operation': 3, 'permissionType': 3}
    flt = {'resourceType': 2, 'resourceName': topic, 'resourcePatternType': 3, 'operation': 1, 'permissionType': 1}
    refused = kafkajs_admin(acl_broker, 'alice', [{'op': 'createAcls', 'args': {'acl': [entry]}}])
    assert refused[0].get('error', {}).get('type') == 'CLUSTER_AUTHORIZATION_FAILED', refused
    results = kafkajs_admin(acl_broker, 'admin', [
        {'op': 'createAcls', 'args': {'acl': [entry]}},
        {'op': 'describeAcls', 'args': flt},
        {'op': 'deleteAcls', 'args': {'filters': [flt]}},
        {'op': 'describeAcls', 'args': flt},
    ])
    assert all('ok' in r for r in results), results
    described = results[1]['ok']['resources']
    assert [(r['resourceName'], [a['principal'] for a in r['acls']]) for r in described] == [(topic, ['User:alice'])]
    assert len(results[2]['ok']['filterResponses'][0]['matchingAcls']) == 1
    assert results[3]['ok']['resources'] == []


# ---- two brokers over one etcd prefix


def add_scram_user_at(metadata_url, user, password):
    proc = subprocess.run([BROKER_BIN, 'user', 'add', user, '--mechanism', MECHANISM, '--password-file', '-',
                           '--metadata', metadata_url], input=(password + '\n').encode(), capture_output=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()


def test_an_acl_created_through_one_broker_applies_on_every_broker(services, backend_broker_factory):  # noqa: F811
    prefix = unique_prefix('acls')
    for user, password in PASSWORDS.items():
        add_scram_user_at(services.metadata_url(prefix), user, password)
    brokers = []
    for node in (0, 1):
        b = backend_broker_factory(services, [
            f'--node-id={node}', '--streams=8', '--listeners', 'SASL_PLAINTEXT://127.0.0.1:0',
            '--sasl.enabled.mechanisms', MECHANISM, '--authorizer', 'true', '--super.users', 'User:admin'
        ], name=f'acl-node{node}', prefix=prefix)
        b.start()
        brokers.append(b)
    boot = ','.join(b.listeners['SASL_PLAINTEXT'] for b in brokers)
    admin_conf = {**conf(brokers[0], 'admin'), 'bootstrap.servers': boot}
    alice_conf = {**conf(brokers[0], 'alice'), 'bootstrap.servers': boot}
    topic = name('cluster')
    admin = AdminClient(admin_conf)
    admin.create_topics([NewTopic(topic, num_partitions=8, replication_factor=1)],
                        operation_timeout=TIMEOUT_S)[topic].result(timeout=TIMEOUT_S)

    def leaders():
        t = admin.list_topics(topic, timeout=TIMEOUT_S).topics[topic]
        return {p.leader for p in t.partitions.values()}

    # Partitions led by both brokers: a produce to all of them is checked by both.
    kafka_helpers.wait_for(lambda: leaders() == {0, 1}, TIMEOUT_S, 'partitions led by both brokers')

    def produce_all():
        p = confluent_kafka.Producer({**alice_conf, 'message.timeout.ms': 10000})
        errors = []
        for part in range(8):
            p.produce(topic, value=b'v', partition=part, on_delivery=lambda err, msg: errors.append(err))
        p.flush(TIMEOUT_S)
        return errors

    errors = produce_all()
    assert len(errors) == 8
    assert all(e is not None and e.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED for e in errors), errors
    # Created through one broker (bootstrapped at node 1); the other learns it from its watch.
    grant_admin = KafkaAdminClient(bootstrap_servers=brokers[1].listeners['SASL_PLAINTEXT'],
                                   security_protocol='SASL_PLAINTEXT', sasl_mechanism=MECHANISM,
                                   sasl_plain_username='admin', sasl_plain_password=PASSWORDS['admin'])
    try:
        result = grant_admin.create_acls([acl(ResourceType.TOPIC, topic, ACLOperation.WRITE)])
        assert not result['failed'], result['failed']
    finally:
        grant_admin.close()
    kafka_helpers.wait_for(lambda: produce_all() == [None] * 8, 10, 'alice produces to every partition')
    for b in brokers:  # each broker's ACL watch says its stream to etcd is open
        m = b.metrics()
        assert m.get('kafscale_watch_up', watch='acls') == 1
        assert m.get('kafscale_watch_down_seconds', watch='acls') == 0
        assert m.get('kafscale_acls') == 1
