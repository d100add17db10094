"""Object liveness across brokers: moves + retention + a short grace (real etcd and Swift).

Four brokers share one bucket prefix and one etcd prefix. Streams move while records are produced
(a drain, a kill -9 of a broker that never comes back, a restart), with the controller's cluster
sweep running every second on a 2 s grace. Nothing referenced is ever deleted: every record reads
back once. Nothing unreferenced stays: the dead broker's commit records leave etcd once its streams
were taken over, and once retention drops everything, no log object and no stale stream checkpoint
is left in the bucket, whichever broker wrote it.
"""
import time

from confluent_kafka.admin import ConfigResource

from backends import backend_broker_factory, services, unique_prefix  # noqa: F401 (fixtures)
from kafka_helpers import admin, create_topic, read_all, wait_for
from test_backends_retention import s3  # noqa: F401 (fixture)
from test_cluster import leaders

import confluent_kafka

LEASE_MS = 2000
GRACE_MS = 2000
PARTITIONS = 12
ARGS = ['--auto-create-topics=false', f'--lease-ttl-ms={LEASE_MS}', '--streams=12',
        '--checkpoint-interval-ms', '200', f'--orphan-grace-ms={GRACE_MS}']
GC_TIMEOUT_S = 60


def produce(boot, topic, start, count):
    p = confluent_kafka.Producer({'bootstrap.servers': boot, 'enable.idempotence': True,
                                  'linger.ms': 20, 'log_level': 3})
    for i in range(start, start + count):
        p.produce(topic, value=f'{i:06d}'.encode(), partition=i % PARTITIONS)
        if i % 100 == 99:
            p.flush(60)  # several flushes, so several objects per broker
    assert p.flush(60) == 0


def sweep_passes(brokers):
    total = 0
    for b in brokers:
        if b.alive:
            total += b.metrics().get('kafscale_cluster_sweep_passes_total') or 0
    return total


def test_moves_and_retention_delete_exactly_the_unreferenced(services, backend_broker_factory, s3,  # noqa: F811
                                                             topic):
    prefix = unique_prefix('liveness')
    brokers = [backend_broker_factory(services, ARGS + [f'--node-id={n}'], name=f'n{n}', prefix=prefix)
               for n in range(4)]
    for b in brokers:
        b.start()

    def boot():
        return ','.join(b.kafka for b in brokers if b.alive)

    create_topic(boot(), topic, partitions=PARTITIONS, config={'retention.ms': '3600000'})
    wait_for(lambda: set(leaders(boot(), topic)[0].values()) == {0, 1, 2, 3}, 30, 'leaders on all four')
    produce(boot(), topic, 0, 400)
    assert brokers[2].stop() == 0  # drain: node 2's streams move to the others
    produce(boot(), topic, 400, 400)
    brokers[3].kill()  # node 3 never comes back
    wait_for(lambda: set(leaders(boot(), topic)[0].values()) <= {0, 1}, LEASE_MS / 1000 + 30,
             "node 3's streams taken over")
    produce(boot(), topic, 800, 400)
    brokers[2].start()
    wait_for(lambda: 2 in set(leaders(boot(), topic)[0].values()), 30, 'node 2 leads again')
    produce(boot(), topic, 1200, 400)

    # Let the sweep run a few passes past the grace, then read everything back.
    passes = sweep_passes(brokers)
    wait_for(lambda: sweep_passes(brokers) >= passes + 4, 60, 'four more cluster sweep passes')
    got = read_all(boot(), topic, PARTITIONS)
    values = sorted(r['value'] for r in got)
    assert values == [f'{i:06d}'.encode() for i in range(1600)], f'{len(values)} of 1600 records read back'

    # The dead node's commit records leave etcd once its streams were checkpointed elsewhere.
    dead_commits = f'/{prefix}/ks/brokers/3/commits/'
    wait_for(lambda: not services.etcdctl('get', '--prefix', dead_commits, '--keys-only').strip(),
             GC_TIMEOUT_S, "node 3's commit records deleted")

    objects = s3.list(f'{prefix}/objects/')
    by_node = {}
    for k in objects:
        by_node.setdefault(k.split('/')[2], 0)
        by_node[k.split('/')[2]] += 1
    print(f'liveness: {len(objects)} log objects before retention, by node {by_node}')
    assert '3' in by_node, 'node 3 wrote objects that are still referenced'

    # Retention drops everything: every object goes, whichever broker wrote it.
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={'retention.ms': '1'})
    a = admin(boot())
    a.alter_configs([res], request_timeout=30)[res].result(30)
    t0 = time.monotonic()
    wait_for(lambda: not [k for k in s3.list(f'{prefix}/objects/') if k.endswith('.kso')], GC_TIMEOUT_S,
             'every log object deleted from the bucket')
    freed_s = time.monotonic() - t0

    # Stale stream checkpoints go too: at most one current checkpoint per stream is left.
    def checkpoints_settled():
        ks = [k for k in s3.list(f'{prefix}/streams/') if k.endswith('.ksc')]
        return len(ks) <= 12 and not [k for k in ks if k.split('/')[3] == '3'] and ks
    left = wait_for(checkpoints_settled, GC_TIMEOUT_S, 'stale stream checkpoints deleted')
    print(f'liveness: all {len(objects)} objects freed {freed_s:.1f} s after retention.ms=1; '
          f'{len(left)} stream checkpoints left')
