"""The Grafana dashboard and the alert rules against a real Prometheus scraping simulated broker pods.

Two pods of the rendered production Deployment run as local brokers (test_kubernetes_pods.Pod, on the
loopback etcd and Swift); Debian's Prometheus scrapes their /metrics every second with the labels a
ServiceMonitor gives (namespace, pod) and loads the PrometheusRule's groups. After some produce and
consume traffic through a consumer group, every query of deploy/base/grafana/kafscale.json must return
series, every rule must be loaded and evaluate without error, and every metric a rule names must have
series.
"""
import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import confluent_kafka
import pytest
import yaml

from backends import services, unique_prefix  # noqa: F401 (fixture)
from conftest import REPO_ROOT
from kafka_helpers import create_topic, produce_ok, wait_for
from test_kubernetes import broker_deployment, one, render
from test_kubernetes_pods import Pod, free_port

DASHBOARD = REPO_ROOT / 'deploy' / 'base' / 'grafana' / 'kafscale.json'
NAMESPACE = 'kafscale'
PARTITIONS = 16
QUERY_TIMEOUT_S = 90  # a rate needs two scrapes after the first sample; the lag loop runs every 2 s


def prom_query(base, expr):
    url = f'{base}/api/v1/query?' + urllib.parse.urlencode({'query': expr})
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.loads(r.read())
    assert body['status'] == 'success', body
    return body['data']['result']


def dashboard_queries():
    dash = json.loads(DASHBOARD.read_text())
    out = []
    for panel in dash['panels']:
        for t in panel.get('targets', []):
            expr = t['expr'].replace('$__rate_interval', '30s').replace('$namespace', NAMESPACE)
            assert '$' not in expr, f'unknown variable in {t["expr"]}'
            out.append((panel['title'], t.get('legendFormat', ''), expr))
    return out


def test_dashboard_queries_and_rules_return_series(services, tmp_path, topic):  # noqa: F811
    prometheus = shutil.which('prometheus')
    if not prometheus:
        pytest.fail('prometheus is not installed (Debian package prometheus: scripts/install-deps.sh '
                    '--test)', pytrace=False)
    objects = render('production')
    template = broker_deployment(objects)['spec']['template']
    rule = one(objects, 'PrometheusRule', 'kafscale')
    prefix = unique_prefix('k8s-prom')
    pods = [Pod(f'kafscale-{i}', template, objects, services, prefix, tmp_path / f'pod{i}', f'zone-{i}')
            for i in range(2)]
    prom_proc = None
    try:
        for p in pods:
            p.start()
        wait_for(lambda: all(p.ready for p in pods) or any(p.proc.poll() is not None for p in pods), 90,
                 'two ready pods')
        assert all(p.ready for p in pods), '\n'.join(p.log_tail() for p in pods)

        (tmp_path / 'rules.yaml').write_text(yaml.safe_dump(rule['spec'], sort_keys=False))
        config = {
            'global': {'scrape_interval': '1s', 'evaluation_interval': '1s'},
            'rule_files': [str(tmp_path / 'rules.yaml')],
            'scrape_configs': [{
                'job_name': 'kafscale',
                'static_configs': [{'targets': [f'127.0.0.1:{p.http_port}'],
                                    'labels': {'namespace': NAMESPACE, 'pod': p.name}} for p in pods],
            }],
        }
        (tmp_path / 'prometheus.yml').write_text(yaml.safe_dump(config))
        port = free_port()
        base = f'http://127.0.0.1:{port}'
        log = open(tmp_path / 'prometheus.log', 'wb')
        prom_proc = subprocess.Popen([prometheus, f'--config.file={tmp_path / "prometheus.yml"}',
                                      f'--storage.tsdb.path={tmp_path / "tsdb"}',
                                      f'--web.listen-address=127.0.0.1:{port}'],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def prom_ready():
            if prom_proc.poll() is not None:
                raise AssertionError((tmp_path / 'prometheus.log').read_text()[-3000:])
            try:
                with urllib.request.urlopen(f'{base}/-/ready', timeout=2) as r:
                    return r.status == 200
            except (urllib.error.URLError, OSError):
                return False
        wait_for(prom_ready, 60, 'Prometheus ready')

        # Traffic: records produced, then all read and committed by a consumer group, then more produced so
        # that the lag is not zero. All read: a group's lag covers only the partitions its coordinator
        # serves, and a first fetch answer from one broker can hold 1000 records of its partitions alone.
        boot = ','.join(f'127.0.0.1:{p.kafka_port}' for p in pods)
        # 16 partitions over both brokers: a group's lag counts only the partitions its coordinator serves.
        create_topic(boot, topic, partitions=PARTITIONS)
        produce_ok(boot, topic, [{'value': f'{i:06d}'.encode() * 50, 'partition': i % PARTITIONS}
                                 for i in range(2000)])
        c = confluent_kafka.Consumer({'bootstrap.servers': boot, 'group.id': f'prom-{topic}',
                                      'auto.offset.reset': 'earliest', 'enable.auto.commit': False,
                                      'log_level': 3})
        c.subscribe([topic])
        got, deadline = 0, time.monotonic() + 60
        while got < 2000 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got += 1
        assert got == 2000, f'consumed {got} of 2000 records in 60 s'
        c.commit(asynchronous=False)
        c.close()
        produce_ok(boot, topic, [{'value': b'more', 'partition': i % PARTITIONS} for i in range(400)])

        missing = {}
        started = time.monotonic()
        for title, legend, expr in dashboard_queries():
            left = max(1, QUERY_TIMEOUT_S - (time.monotonic() - started))
            try:
                wait_for(lambda: bool(prom_query(base, expr)), left, f'series for {title}')
            except AssertionError:
                missing[f'{title} [{legend}]'] = expr
        assert not missing, f'dashboard queries without series: {json.dumps(missing, indent=1)}'

        # Rules: loaded, evaluated without error, and every metric they name has series.
        def rules_evaluated():
            with urllib.request.urlopen(f'{base}/api/v1/rules', timeout=10) as r:
                groups = json.loads(r.read())['data']['groups']
            rules = [r for g in groups for r in g['rules']]
            done = rules and all(r.get('lastEvaluation', '').startswith('20') for r in rules)
            return rules if done else None
        rules = wait_for(rules_evaluated, 30, 'every rule evaluated')
        names = {r.get('alert') or r.get('record') for g in rule['spec']['groups'] for r in g['rules']}
        assert {r['name'] for r in rules} == names
        bad = [(r['name'], r.get('lastError')) for r in rules if r['health'] != 'ok']
        assert not bad, bad
        metrics = sorted({m for g in rule['spec']['groups'] for r in g['rules']
                          for m in re.findall(r'\bkafscale_[a-z0-9_]+', r['expr'])})
        absent = [m for m in metrics if not prom_query(base, f'count({m}{{namespace="{NAMESPACE}"}})')]
        assert not absent, f'metrics the rules use that no broker exports: {absent}'
        print(f'prometheus: {len(dashboard_queries())} dashboard queries and {len(rules)} rules over '
              f'{len(metrics)} metrics returned series within {time.monotonic() - started:.1f} s')
    finally:
        if prom_proc is not None:
            prom_proc.terminate()
            try:
                prom_proc.wait(30)
            except subprocess.TimeoutExpired:
                prom_proc.kill()
        for p in pods:
            if p.proc is not None:
                p.delete()
        for p in pods:
            if p.term_thread is not None:
                p.term_thread.join(p.grace_s + 15)
            p.stop.set()
    for p in pods:
        assert p.exit_code == 0 and not p.liveness_failures, p.log_tail()
