"""Brokers without --node-id (an autoscaled Deployment): each takes a free id from etcd.

A dead broker's id is retired while a stream still names it as owner (its lease may be gone,
its streams not yet taken over) and reused only after the takeover. Metadata lists exactly the
live brokers, and a topic produced through the changing cluster reads back whole.
"""
import subprocess
import time

import confluent_kafka
from confluent_kafka.admin import AdminClient

from backends import backend_broker_factory, services, unique_prefix  # noqa: F401 (fixtures)
from conftest import BROKER_BIN
from kafka_helpers import create_topic, read_all, wait_for

LEASE_MS = 6000  # long enough that a broker started right after a kill -9 sees the dead id's lease
PARTITIONS = 6
ARGS = ['--node-id=auto', f'--lease-ttl-ms={LEASE_MS}', '--streams=6']


def metadata(brokers, topic):
    boot = ','.join(b.kafka for b in brokers if b.alive)
    md = AdminClient({'bootstrap.servers': boot, 'log_level': 3}).list_topics(topic, timeout=10)
    listed = {n: f'{m.host}:{m.port}' for n, m in md.brokers.items()}
    leaders = {p.id: p.leader for p in md.topics[topic].partitions.values()}
    return listed, leaders


def ids(brokers, topic):
    """node id of each live broker, from the addresses Metadata lists."""
    listed, _ = metadata(brokers, topic)
    by_addr = {addr: n for n, addr in listed.items()}
    return {b.name: by_addr.get(b.kafka) for b in brokers if b.alive}


def produce(brokers, topic, start, count):
    p = confluent_kafka.Producer({'bootstrap.servers': ','.join(b.kafka for b in brokers if b.alive),
                                  'enable.idempotence': True, 'log_level': 3})
    for i in range(start, start + count):
        p.produce(topic, value=f'{i:06d}'.encode(), partition=i % PARTITIONS)
    assert p.flush(60) == 0


def test_brokers_take_free_ids_and_reuse_a_dead_id_only_after_its_takeover(services,  # noqa: F811
                                                                            backend_broker_factory, topic):
    prefix = unique_prefix('ids')

    def start(name):
        b = backend_broker_factory(services, ARGS, name=name, prefix=prefix)
        b.name = name
        b.start()
        return b

    brokers = [start('a'), start('b'), start('c')]
    boot = ','.join(b.kafka for b in brokers)
    create_topic(boot, topic, partitions=PARTITIONS)
    wait_for(lambda: set(metadata(brokers, topic)[1].values()) == {0, 1, 2}, 30, 'leaders on all three')
    first = ids(brokers, topic)
    assert sorted(first.values()) == [0, 1, 2], first
    produce(brokers, topic, 0, 600)

    # kill -9 the broker with id 1 and start another at once: id 1 is still registered (its
    # lease runs) and still owns streams, so the newcomer takes 3.
    victim = next(b for b in brokers if first[b.name] == 1)
    victim.kill()
    killed_at = time.monotonic()
    brokers.append(start('d'))
    assert time.monotonic() - killed_at < LEASE_MS / 1000, 'd started after the dead lease expired'
    # The dead id's streams go to live brokers; Metadata then lists exactly the live ones.
    def settled():
        listed, leaders = metadata(brokers, topic)
        return sorted(listed) == [0, 2, 3] and set(leaders.values()) <= {0, 2, 3} and -1 not in leaders.values()
    wait_for(settled, LEASE_MS / 1000 + 20, 'the dead broker gone from Metadata, its partitions led elsewhere')
    second = ids(brokers, topic)
    assert second['d'] == 3, second
    produce(brokers, topic, 600, 600)

    # Its streams taken over, id 1 is free again: the next broker reuses it.
    brokers.append(start('e'))
    third = ids(brokers, topic)
    assert third['e'] == 1, third
    wait_for(lambda: sorted(metadata(brokers, topic)[0]) == [0, 1, 2, 3], 30, 'four live brokers listed')
    # A drained broker frees its id at once (lease revoked, streams released).
    d = brokers[3]
    assert d.stop() == 0
    brokers.append(start('f'))
    assert ids(brokers, topic)['f'] == 3
    produce(brokers, topic, 1200, 600)

    # `kafscale inspect placement` shows the same cluster from etcd.
    out = subprocess.run([BROKER_BIN, 'inspect', 'placement', '--metadata', services.metadata_url(prefix)],
                         capture_output=True, timeout=30, text=True)
    assert out.returncode == 0, out.stderr
    print(out.stdout)
    assert 'brokers: 4' in out.stdout and 'controller: node ' in out.stdout, out.stdout
    stream_lines = [line for line in out.stdout.splitlines() if line.strip().startswith('stream ')]
    assert len(stream_lines) == 6, out.stdout
    assert all('owned term' in line and 'checkpoint by node' in line for line in stream_lines), out.stdout

    got = read_all(','.join(b.kafka for b in brokers if b.alive), topic, PARTITIONS)
    values = sorted(r['value'] for r in got)
    assert values == [f'{i:06d}'.encode() for i in range(1800)], f'{len(values)} records read back'
    print(f'ids: first {first}, after kill -9 of 1 + start of d: {second}, then e={third["e"]}, f=3')
