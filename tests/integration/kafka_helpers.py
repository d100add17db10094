"""Client-side helpers shared by the integration tests (confluent-kafka, kcat, node)."""
import json
import subprocess
import time
from pathlib import Path

import confluent_kafka
from confluent_kafka import KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

NODE_DIR = Path(__file__).resolve().parent / 'node'
DEFAULT_TIMEOUT_S = 30


# Functions that raise when a broker a test relies on has died (registered by conftest), so a
# crash fails the test at once instead of after a client timeout.
liveness_checks = []


def check_brokers():
    for check in liveness_checks:
        check()


def wait_for(condition, timeout, what, interval=0.05):
    """Polls `condition` until it returns a truthy value; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        check_brokers()
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out after {timeout}s waiting for {what}')
        time.sleep(interval)


def admin(bootstrap):
    return AdminClient({'bootstrap.servers': bootstrap, 'log_level': 3})


def list_topics(bootstrap, timeout=DEFAULT_TIMEOUT_S):
    """{topic: partition count} from a Metadata request for all topics (never auto-creates)."""
    md = admin(bootstrap).list_topics(timeout=timeout)
    return {name: len(t.partitions) for name, t in md.topics.items() if t.error is None}


def create_topic(bootstrap, name, partitions=1, config=None, timeout=DEFAULT_TIMEOUT_S):
    """Creates a topic through CreateTopics and waits until Metadata shows every partition."""
    a = admin(bootstrap)  # must outlive the future, or the request is cancelled
    fut = a.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
        operation_timeout=timeout,
        request_timeout=timeout)[name]
    fut.result(timeout=timeout)
    wait_for(lambda: list_topics(bootstrap).get(name) == partitions, timeout,
             f'topic {name} with {partitions} partitions in metadata')


def producer(bootstrap, **conf):
    base = {
        'bootstrap.servers': bootstrap,
        'acks': 'all',
        'linger.ms': 5,
        'message.timeout.ms': 30000,
        'log_level': 3,
    }
    base.update(conf)
    return confluent_kafka.Producer(base)


def produce(bootstrap, topic, records, conf=None, timeout=DEFAULT_TIMEOUT_S, flush_every=None):
    """Produces `records` (dicts: value, key, headers, partition, timestamp) and waits for all.

    Returns one (partition, offset, error) per record, in record order.
    """
    p = producer(bootstrap, **(conf or {}))
    results = [None] * len(records)

    def on_delivery(index):

        def cb(err, msg):
            results[index] = (msg.partition(), msg.offset(), err)

        return cb

    try:
        for i, r in enumerate(records):
            kwargs = {'value': r.get('value'), 'on_delivery': on_delivery(i)}
            for field in ('key', 'headers', 'partition', 'timestamp'):
                if r.get(field) is not None:
                    kwargs[field] = r[field]
            p.produce(topic, **kwargs)
            p.poll(0)
            if flush_every and (i + 1) % flush_every == 0:
                p.flush(timeout)
        deadline = time.monotonic() + timeout
        while p.flush(0.2) > 0 and time.monotonic() < deadline:
            check_brokers()
        left = len(p)
        assert left == 0, f'{left} records still undelivered after {timeout}s'
    finally:
        # Drop what is left and the handle itself now: a failed test's traceback keeps this
        # frame, and a live producer would go on retrying (and logging) until exit.
        p.purge()
        p.poll(0)
        p = None
    return results


def produce_ok(bootstrap, topic, records, **kw):
    """Like produce() but every record must be acknowledged; returns [(partition, offset)]."""
    results = produce(bootstrap, topic, records, **kw)
    errors = [(i, r[2]) for i, r in enumerate(results) if r[2] is not None]
    assert not errors, f'{len(errors)} deliveries failed, first: {errors[:3]}'
    return [(p, o) for p, o, _ in results]


def consumer(bootstrap, **conf):
    base = {
        'bootstrap.servers': bootstrap,
        'group.id': 'kafscale-it',  # set, but nothing is ever committed
        'enable.auto.commit': False,
        'enable.auto.offset.store': False,
        'enable.partition.eof': True,
        'auto.offset.reset': 'error',  # an out-of-range explicit offset is a bug here
        'log_level': 3,
    }
    base.update(conf)
    return confluent_kafka.Consumer(base)


def as_record(msg):
    return {
        'partition': msg.partition(),
        'offset': msg.offset(),
        'key': msg.key(),
        'value': msg.value(),
        'headers': msg.headers() or [],
        'timestamp': msg.timestamp()[1],
    }


def read(bootstrap, topic, starts, timeout=DEFAULT_TIMEOUT_S, conf=None):
    """Reads partitions from explicit offsets ({partition: offset}) up to their end.

    Returns the records in arrival order; fails on any consumer error.
    """
    c = consumer(bootstrap, **(conf or {}))
    try:
        c.assign([TopicPartition(topic, p, o) for p, o in starts.items()])
        pending = set(starts)
        out = []
        other_errors = []  # not about these partitions (e.g. group coordinator lookups)
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise AssertionError(f'reading {topic}: partitions {sorted(pending)[:20]} did not '
                                     f'reach their end within {timeout}s ({len(out)} records '
                                     f'read; other consumer errors: {other_errors[:5]})')
            msg = c.poll(0.2)
            if msg is None:
                check_brokers()
                continue
            err = msg.error()
            if err:
                if err.code() == KafkaError._PARTITION_EOF:
                    pending.discard(msg.partition())
                elif err.fatal() or msg.topic() == topic:
                    raise AssertionError(f'consumer error on {topic}: {err}')
                else:
                    other_errors.append(err)
                continue
            pending.add(msg.partition())  # more may follow before the end
            out.append(as_record(msg))
        return out
    finally:
        c.close()


def read_all(bootstrap, topic, partitions, **kw):
    return read(bootstrap, topic, {p: 0 for p in range(partitions)}, **kw)


def watermarks(bootstrap, topic, partition, timeout=10):
    c = consumer(bootstrap)
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
    finally:
        c.close()


def run(cmd, input=None, timeout=60, check=True, cwd=None):
    """Runs a client process; fails with its output if it exits non-zero or hangs."""
    try:
        proc = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f'{cmd[0]} hung for {timeout}s: {cmd}\nstderr: '
                             f'{(e.stderr or b"").decode(errors="replace")[-3000:]}')
    if check and proc.returncode != 0:
        raise AssertionError(f'{cmd} exited with {proc.returncode}\n'
                             f'stdout: {proc.stdout.decode(errors="replace")[-3000:]}\n'
                             f'stderr: {proc.stderr.decode(errors="replace")[-3000:]}')
    return proc


def kcat(bootstrap, *args, input=None, timeout=60, check=True):
    cmd = ['kcat', '-b', bootstrap, '-X', 'log_level=3']
    if '-P' in args:  # give up well before `timeout`, so a failure shows kcat's own error
        cmd += ['-X', 'message.timeout.ms=30000']
    cmd += [str(a) for a in args]
    return run(cmd, input=input, timeout=timeout, check=check)


def kcat_consume(bootstrap, topic, partition, offset='beginning', timeout=60):
    """kcat -C -e from `offset` on one partition; returns the JSON envelopes."""
    out = kcat(bootstrap, '-C', '-t', topic, '-p', partition, '-o', offset, '-e', '-J',
               timeout=timeout).stdout.decode()
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def node_script(script, payload, timeout=120):
    """Runs node/<script> with a JSON payload on stdin and returns its JSON stdout."""
    proc = run(['node', script], input=json.dumps(payload).encode(), timeout=timeout, cwd=NODE_DIR)
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f'node {script} printed no JSON:\n{proc.stdout[-2000:]!r}\n'
                             f'stderr: {proc.stderr.decode(errors="replace")[-2000:]}')
