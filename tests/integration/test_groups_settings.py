"""Group settings given as broker flags (Kafka's dotted names and KafScale's own spellings).

Lowered limits must change what the coordinator answers: session timeout bounds, the metadata size
limit, and offsets retention (a small offsets-retention-ms expires offsets of empty groups).
"""
import time

from kafka_helpers import create_topic
from test_groups_protocol import (INVALID_SESSION_TIMEOUT, NONE, OFFSET_METADATA_TOO_LARGE, Conn,
                                  commit, fetch_offsets, join, leave, sync)

RETENTION_MS = 3000
BROKER_ARGS = [
    '--group.min.session.timeout.ms', '500',
    '--group.max.session.timeout.ms', '10000',
    '--group-initial-rebalance-delay-ms', '0',
    '--offsets-retention-ms', str(RETENTION_MS),
    '--offsets-retention-check-interval-ms', '100',
    '--offset.metadata.max.bytes', '16',
]
EXPIRY_DEADLINE_S = 30  # retention + check interval, with plenty of slack for a loaded machine


def test_session_timeout_bounds_from_flags(broker):
    c = Conn(broker.bootstrap)
    try:
        assert join(c, 'st-big', '', session_ms=10_001)['error'] == INVALID_SESSION_TIMEOUT
        assert join(c, 'st-small', '', session_ms=499)['error'] == INVALID_SESSION_TIMEOUT
        j = join(c, 'st-ok', '', session_ms=10_000)
        assert j['error'] == NONE and j['generation'] == 1
        assert leave(c, 'st-ok', j['member_id']) == NONE
    finally:
        c.close()


def test_metadata_limit_from_flags(broker, topic):
    create_topic(broker.bootstrap, topic, partitions=1)
    c = Conn(broker.bootstrap)
    try:
        g = f'md-{topic}'
        assert commit(c, g, -1, '', topic, {0: (1, 'x' * 17)}) == {0: OFFSET_METADATA_TOO_LARGE}
        assert commit(c, g, -1, '', topic, {0: (1, 'x' * 16)}) == {0: NONE}
    finally:
        c.close()


def wait_expired(c, group, topic, committed_at):
    deadline = time.monotonic() + EXPIRY_DEADLINE_S
    while fetch_offsets(c, group, topic, [0]) != {0: (-1, '', NONE)}:
        assert time.monotonic() < deadline, f'offsets of {group} did not expire'
        time.sleep(0.05)  # polling interval, bounded by the deadline
    return time.monotonic() - committed_at


def expired_total(broker):
    m = broker.metrics()  # the counter appears with the first expiry
    return m.get('kafscale_offsets_expired_total') if m.has('kafscale_offsets_expired_total') else 0


def test_offsets_of_empty_groups_expire(broker, topic):
    create_topic(broker.bootstrap, topic, partitions=1)
    expired_before = expired_total(broker)
    c = Conn(broker.bootstrap)
    try:
        # A consumer group that becomes Empty when its only member leaves.
        g = f'ret-{topic}'
        j = join(c, g, '', session_ms=6000, topics=[topic])
        member = j['member_id']
        assert sync(c, g, 1, member, [(member, b'a')])[0] == NONE
        assert commit(c, g, 1, member, topic, {0: (42, 'kept')}) == {0: NONE}
        assert leave(c, g, member) == NONE
        emptied_at = time.monotonic()
        # A simple group (generation -1): expires retention after its commit.
        simple = f'ret-simple-{topic}'
        assert commit(c, simple, -1, '', topic, {0: (7, '')}) == {0: NONE}
        committed_at = time.monotonic()
        assert fetch_offsets(c, g, topic, [0]) == {0: (42, 'kept', NONE)}
        assert fetch_offsets(c, simple, topic, [0]) == {0: (7, '', NONE)}

        # Not before the retention (minus timer granularity), but soon after it.
        assert wait_expired(c, g, topic, emptied_at) >= RETENTION_MS / 1000 - 0.5
        assert wait_expired(c, simple, topic, committed_at) >= RETENTION_MS / 1000 - 0.5
        # The counter moves when the deletion is durable, a transaction after the
        # offsets stopped being served.
        deadline = time.monotonic() + 5
        while expired_total(broker) < expired_before + 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert expired_total(broker) >= expired_before + 2
    finally:
        c.close()
