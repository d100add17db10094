"""GROUP config resources (KIP-848): consumer.session.timeout.ms and consumer.heartbeat.interval.ms per group.

Kafka's behaviour: any group name (existing or not) can be described and altered; explicit values show with
source GROUP_CONFIG (8), the others fall back to the broker's group.consumer.* values; values are checked
against group.consumer.min/max.* and the heartbeat interval must stay below the session timeout
(INVALID_CONFIG with Kafka's message); an empty group name is INVALID_REQUEST. A consumer group's members are
told the group's heartbeat interval from their next heartbeat.

Requests are hand-built (flexible versions): the installed confluent-kafka-python (1.7) has no
IncrementalAlterConfigs, and its ConfigSource enum has no GROUP_CONFIG.
"""
import uuid

from test_groups_kip848 import Reader, call, carray, cstr, uvarint  # noqa: F401 (Reader: the answers)

BROKER_ARGS = ['--auto-create-topics=false']

GROUP = 32
INVALID_CONFIG = 40
INVALID_REQUEST = 42
SOURCE_GROUP = 8
SOURCE_DEFAULT = 5
SET, DELETE, APPEND = 0, 1, 2


def incremental_alter(bootstrap, resources, validate_only=False):
    """resources: [(type, name, [(config, op, value)])] -> [(error, message)]"""
    def config(c):
        name, op, value = c
        return cstr(name) + bytes([op]) + (uvarint(0) if value is None else cstr(value)) + uvarint(0)

    def resource(r):
        rtype, name, configs = r
        return bytes([rtype]) + cstr(name) + carray([config(c) for c in configs]) + uvarint(0)
    body = carray([resource(r) for r in resources]) + bytes([1 if validate_only else 0]) + uvarint(0)
    r = call(bootstrap, 44, 1, body)
    r.i32()

    def response():
        out = (r.i16(), r.cstr())
        r.i8()
        r.cstr()
        r.tags()
        return out
    return r.array(response)


def describe(bootstrap, name, synonyms=True, rtype=GROUP):
    """DescribeConfigs v4 of one resource (a GROUP unless rtype says otherwise)
    -> (error, message, {config: (value, source, [(synonym, value, source)])})"""
    body = carray([bytes([rtype]) + cstr(name) + uvarint(0) + uvarint(0)]) + bytes([1 if synonyms else 0, 0])
    r = call(bootstrap, 32, 4, body + uvarint(0))
    r.i32()

    def synonym():
        s = (r.cstr(), r.cstr(), r.i8())
        r.tags()
        return s

    def config():
        name, value, _read_only, source, _sensitive = r.cstr(), r.cstr(), r.i8(), r.i8(), r.i8()
        syns = r.array(synonym)
        r.i8()  # config type
        r.cstr()  # documentation
        r.tags()
        return name, (value, source, syns)

    def result():
        error, message = r.i16(), r.cstr()
        r.i8()
        r.cstr()
        configs = dict(r.array(config))
        r.tags()
        return error, message, configs
    [res] = r.array(result)
    return res


def heartbeat_join(bootstrap, group):
    """ConsumerGroupHeartbeat v1: joins with no subscription -> (error, heartbeat interval ms); then leaves."""
    member = uuid.uuid4().hex[:22]

    def hb(epoch):
        body = (cstr(group) + cstr(member) + epoch.to_bytes(4, 'big', signed=True) + uvarint(0) + uvarint(0) +
                (30000).to_bytes(4, 'big') + carray([]) + uvarint(0) + uvarint(0) + carray([]) + uvarint(0))
        r = call(bootstrap, 68, 1, body)
        r.i32()
        error, _message, _member, _epoch, interval = r.i16(), r.cstr(), r.cstr(), r.i32(), r.i32()
        return error, interval
    joined = hb(0)
    hb(-1)
    return joined


def test_describe_group_configs_defaults(broker):
    error, _, configs = describe(broker.bootstrap, 'no-such-group-yet')
    assert error == 0
    assert set(configs) == {'consumer.session.timeout.ms', 'consumer.heartbeat.interval.ms'}
    value, source, syns = configs['consumer.session.timeout.ms']
    assert (value, source) == ('45000', SOURCE_DEFAULT)
    assert syns == [('group.consumer.session.timeout.ms', '45000', SOURCE_DEFAULT)]
    assert configs['consumer.heartbeat.interval.ms'][:2] == ('5000', SOURCE_DEFAULT)
    # Synonyms only when asked for.
    assert describe(broker.bootstrap, 'no-such-group-yet', synonyms=False)[2]['consumer.session.timeout.ms'][2] == []
    error, message, _ = describe(broker.bootstrap, '')
    assert (error, message) == (INVALID_REQUEST, 'Group name must not be empty')


def test_alter_group_configs_reach_heartbeats(broker, topic):
    group = f'g-{topic}'
    assert heartbeat_join(broker.bootstrap, group) == (0, 5000)
    # validate_only changes nothing.
    [(error, _)] = incremental_alter(broker.bootstrap, [(GROUP, group, [('consumer.heartbeat.interval.ms', SET, '7000')])],
                                     validate_only=True)
    assert error == 0
    assert describe(broker.bootstrap, group)[2]['consumer.heartbeat.interval.ms'][:2] == ('5000', SOURCE_DEFAULT)

    [(error, message)] = incremental_alter(broker.bootstrap, [(GROUP, group, [
        ('consumer.heartbeat.interval.ms', SET, '7000'), ('consumer.session.timeout.ms', SET, '50000')])])
    assert (error, message) == (0, None)
    _, _, configs = describe(broker.bootstrap, group)
    value, source, syns = configs['consumer.heartbeat.interval.ms']
    assert (value, source) == ('7000', SOURCE_GROUP)
    assert syns[0] == ('consumer.heartbeat.interval.ms', '7000', SOURCE_GROUP)
    assert syns[-1] == ('group.consumer.heartbeat.interval.ms', '5000', SOURCE_DEFAULT)
    assert configs['consumer.session.timeout.ms'][:2] == ('50000', SOURCE_GROUP)
    # The group's members are told its interval; other groups keep the broker's.
    assert heartbeat_join(broker.bootstrap, group) == (0, 7000)
    assert heartbeat_join(broker.bootstrap, f'other-{group}') == (0, 5000)

    [(error, _)] = incremental_alter(broker.bootstrap, [(GROUP, group, [('consumer.heartbeat.interval.ms', DELETE,
                                                                         None)])])
    assert error == 0
    _, _, configs = describe(broker.bootstrap, group)
    assert configs['consumer.heartbeat.interval.ms'][:2] == ('5000', SOURCE_DEFAULT)
    assert configs['consumer.session.timeout.ms'][:2] == ('50000', SOURCE_GROUP)
    assert heartbeat_join(broker.bootstrap, group) == (0, 5000)


def test_alter_group_configs_refused_as_kafka_does(broker, topic):
    group = f'g-{topic}'
    cases = [
        ([('consumer.nope.ms', SET, '1')], INVALID_CONFIG, 'Unknown group config name: consumer.nope.ms'),
        ([('consumer.session.timeout.ms', SET, 'abc')], INVALID_CONFIG,
         'Invalid value abc for configuration consumer.session.timeout.ms: Not a number of type INT'),
        ([('consumer.session.timeout.ms', SET, '1000')], INVALID_CONFIG,
         'consumer.session.timeout.ms must be greater than or equal to group.consumer.min.session.timeout.ms'),
        ([('consumer.session.timeout.ms', SET, '70000')], INVALID_CONFIG,
         'consumer.session.timeout.ms must be less than or equal to group.consumer.max.session.timeout.ms'),
        ([('consumer.heartbeat.interval.ms', SET, '4000')], INVALID_CONFIG,
         'consumer.heartbeat.interval.ms must be greater than or equal to group.consumer.min.heartbeat.interval.ms'),
        ([('consumer.heartbeat.interval.ms', APPEND, '6000')], INVALID_CONFIG,
         'Config value append is not allowed for config key: consumer.heartbeat.interval.ms'),
    ]
    for configs, want_error, want_message in cases:
        [(error, message)] = incremental_alter(broker.bootstrap, [(GROUP, group, configs)])
        assert (error, message) == (want_error, want_message), configs
    [(error, message)] = incremental_alter(broker.bootstrap, [(GROUP, '', [('consumer.session.timeout.ms', SET,
                                                                            '50000')])])
    assert (error, message) == (INVALID_REQUEST, 'Group name must not be empty')
    # Nothing was stored by the refused requests.
    _, _, configs = describe(broker.bootstrap, group)
    assert all(source == SOURCE_DEFAULT for _, source, _ in configs.values()), configs


def test_group_configs_survive_a_restart(broker, topic):
    group = f'g-{topic}'
    [(error, _)] = incremental_alter(broker.bootstrap, [(GROUP, group, [('consumer.heartbeat.interval.ms', SET,
                                                                         '9000')])])
    assert error == 0
    broker.stop()
    broker.start()
    assert describe(broker.bootstrap, group)[2]['consumer.heartbeat.interval.ms'][:2] == ('9000', SOURCE_GROUP)
    assert heartbeat_join(broker.bootstrap, group) == (0, 9000)
