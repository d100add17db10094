"""The Kubernetes manifests in deploy/, checked offline (no cluster, no container runtime here).

- every overlay renders with `kubectl kustomize` of kubectl 1.32 (kustomize v5, on the PATH) and of
  kubectl 1.27 (the Google Cloud SDK's versioned binary), with no warning on stderr;
- every rendered object validates against the JSON schemas of Kubernetes 1.27 and 1.34 (npm
  kubernetes-models 4.3.1 and 5.1.0) and prometheus-operator (@kubernetes-models/prometheus-operator),
  with unknown fields rejected (tests/integration/kubernetes/validate.mjs);
- policies: selectors match the pods they are meant for, the PDB, HPA and ServiceMonitor target what
  exists, probes use the broker's HTTP port and paths, the container's command, arguments and
  environment pass `kafscale broker --check-config`, the grace period covers preStop plus the drain,
  the memory limit covers cache plus buffered bytes plus headroom, no secret is inline;
- `promtool check rules` and `promtool test rules` (deploy/tests/alerts_test.yaml) on the alert rules.

Tools that cannot be installed from our registries (kubectl and its versioned binaries) fail the tests
with a message saying so; scripts/install-deps.sh --test installs the rest (promtool, the schemas).
"""
import copy
import json
import os
import re
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import pytest
import yaml

from conftest import BROKER_BIN, REPO_ROOT

DEPLOY = REPO_ROOT / 'deploy'
SCHEMA_DIR = Path(__file__).resolve().parent / 'kubernetes'
OVERLAYS = ('dev', 'production')
SCHEMA_VERSIONS = ('1.27', '1.34')
KUBECTL_VERSIONS = ('1.32', '1.27')
CMD_TIMEOUT_S = 120

# The broker's own bounds on a SIGTERM drain (src/broker/broker.cc): kStreamDrainTimeout (hand the streams
# to other brokers) + kDrainTimeout (clients get their last answers). Measured under a producer with
# three brokers on loopback etcd and Swift (test_cluster.py::test_sigterm_hands_streams_over_at_once,
# 2026-12-03): 0.56 s from SIGTERM to exit, the streams served elsewhere after 0.59 s.
DRAIN_BOUND_S = 15 + 10
MEASURED_DRAIN_S = 0.56
# Memory beyond the read cache and the produce buffer: the process, connections, request buffers.
MEMORY_HEADROOM = 256 << 20
BROKER_HTTP_PATHS = {'startupProbe': '/livez', 'livenessProbe': '/livez', 'readinessProbe': '/readyz'}
SECRET_NAME = re.compile(r'(SECRET|PASSWORD|TOKEN|CREDENTIAL|PRIVATE|_KEY$)', re.IGNORECASE)
AWS_KEY_ID = re.compile(r'\b(AKIA|ASIA)[0-9A-Z]{16}\b')


# ---------------------------------------------------------------------------------------------------
# Tools


def kubectl_binary(version):
    """kubectl of the given minor version: 1.32 is the one on the PATH, others the SDK's kubectl.1.NN."""
    if version == '1.32':
        path = shutil.which('kubectl')
        if not path:
            pytest.fail('kubectl is not on the PATH: these tests need kubectl 1.32 with kustomize v5 (the '
                        'machine image ships it; it cannot be installed from our registries)', pytrace=False)
        out = subprocess.run([path, 'version', '--client', '-o', 'json'], capture_output=True, text=True,
                             timeout=CMD_TIMEOUT_S)
        info = json.loads(out.stdout or '{}')
        got = info.get('clientVersion', {}).get('gitVersion', '?')
        kustomize = info.get('kustomizeVersion', '?')
        if not got.startswith('v1.32.') or not kustomize.startswith('v5.'):
            pytest.fail(f'kubectl on the PATH is {got} with kustomize {kustomize}; expected v1.32 with '
                        'kustomize v5', pytrace=False)
        return path
    name = f'kubectl.{version}'
    candidates = [shutil.which(name)]
    try:
        listed = subprocess.run(['dpkg', '-L', 'kubectl'], capture_output=True, text=True,
                                timeout=CMD_TIMEOUT_S).stdout.split()
        candidates += [p for p in listed if p.endswith('/' + name)]
    except (OSError, subprocess.TimeoutExpired):
        pass
    candidates.append(f'/usr/lib/google-cloud-sdk/bin/{name}')
    for c in candidates:
        if c and os.access(c, os.X_OK):
            return c
    pytest.fail(f'{name} not found (on the PATH or in the kubectl package\'s files, `dpkg -L kubectl`): '
                'the machine image ships it; it cannot be installed from our registries', pytrace=False)


def need(tool, hint):
    path = shutil.which(tool)
    if not path:
        pytest.fail(f'{tool} is not installed ({hint})', pytrace=False)
    return path


def run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=CMD_TIMEOUT_S, **kw)


def kustomize(kubectl, directory):
    """Rendered objects of a kustomization; a warning on stderr fails like an error."""
    r = run([kubectl, 'kustomize', directory])
    assert r.returncode == 0, f'{kubectl} kustomize {directory} failed:\n{r.stderr}'
    assert not r.stderr.strip(), f'{kubectl} kustomize {directory} warned:\n{r.stderr}'
    return [d for d in yaml.safe_load_all(r.stdout) if d]


_renders = {}


def render(overlay, kubectl_version='1.32'):
    key = (overlay, kubectl_version)
    if key not in _renders:
        _renders[key] = kustomize(kubectl_binary(kubectl_version), DEPLOY / 'overlays' / overlay)
    return copy.deepcopy(_renders[key])


def validate(objects, schemas):
    """Problems (dicts) that validate.mjs finds in `objects` with the Kubernetes `schemas` version."""
    node = need('node', 'scripts/install-deps.sh --test')
    for pkg in ('kubernetes-models', 'kubernetes-models-1.27', '@kubernetes-models/prometheus-operator'):
        if not (SCHEMA_DIR / 'node_modules' / pkg).is_dir():
            pytest.fail(f'{pkg} is not installed in {SCHEMA_DIR} (scripts/install-deps.sh --test)',
                        pytrace=False)
    r = run([node, SCHEMA_DIR / 'validate.mjs', schemas], input=json.dumps(objects), cwd=SCHEMA_DIR)
    assert r.returncode == 0, f'validate.mjs failed:\n{r.stderr}'
    return json.loads(r.stdout)


# ---------------------------------------------------------------------------------------------------
# Helpers over rendered objects


def by_kind(objects, kind):
    return [o for o in objects if o['kind'] == kind]


def one(objects, kind, name):
    found = [o for o in objects if o['kind'] == kind and o['metadata']['name'] == name]
    assert len(found) == 1, f'expected one {kind} {name}, found {len(found)}'
    return found[0]


def broker_deployment(objects):
    return one(objects, 'Deployment', 'kafscale')


def broker_container(objects):
    spec = broker_deployment(objects)['spec']['template']['spec']
    return next(c for c in spec['containers'] if c['name'] == 'broker')


def workloads(objects):
    """(kind/name, pod template labels) of every object that makes pods."""
    return [(f"{o['kind']}/{o['metadata']['name']}", o['spec']['template']['metadata'].get('labels', {}))
            for o in objects if o['kind'] in ('Deployment', 'StatefulSet', 'DaemonSet', 'Job')]


def matches(selector, labels):
    """A label selector (matchLabels/matchExpressions, or a Service's plain map) against labels."""
    if 'matchLabels' not in selector and 'matchExpressions' not in selector:
        selector = {'matchLabels': selector}
    if not selector.get('matchLabels') and not selector.get('matchExpressions'):
        return True
    for k, v in (selector.get('matchLabels') or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get('matchExpressions') or []:
        present, value = e['key'] in labels, labels.get(e['key'])
        if e['operator'] == 'In' and value not in e['values']:
            return False
        if e['operator'] == 'NotIn' and present and value in e['values']:
            return False
        if e['operator'] == 'Exists' and not present:
            return False
        if e['operator'] == 'DoesNotExist' and present:
            return False
    return True


def selected(objects, selector):
    return [name for name, labels in workloads(objects) if matches(selector, labels)]


def parse_quantity(q):
    """Kubernetes memory quantity ("1280Mi", "3Gi", "512M", "1000") in bytes."""
    m = re.fullmatch(r'(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?', str(q))
    assert m, f'unexpected quantity {q!r}'
    mult = {None: 1, 'Ki': 1 << 10, 'Mi': 1 << 20, 'Gi': 1 << 30, 'Ti': 1 << 40, 'k': 10**3, 'M': 10**6,
            'G': 10**9, 'T': 10**12}[m.group(2)]
    return int(float(m.group(1)) * mult)


def parse_size(s):
    """The broker's SIZE form ("512MiB", "2GiB", "4M", "1024")."""
    m = re.fullmatch(r'(\d+) ?([KMGT]i?B?|[kmgt]i?b?)?', str(s))
    assert m, f'unexpected size {s!r}'
    unit = (m.group(2) or '').upper()[:1]
    return int(m.group(1)) << {'': 0, 'K': 10, 'M': 20, 'G': 30, 'T': 40}[unit]


def broker_settings(objects):
    """The KAFSCALE_* (and other) variables the broker container gets from its ConfigMap."""
    c = broker_container(objects)
    env = {}
    for src in c.get('envFrom', []):
        cm = one(objects, 'ConfigMap', src['configMapRef']['name'])
        env.update(cm.get('data', {}))
    return env


def pod_env(objects, pod_ip='10.1.2.3', secret_value='from-a-secret'):
    """The broker container's environment as the kubelet would build it for a pod with `pod_ip`."""
    env = broker_settings(objects)
    for e in broker_container(objects).get('env', []):
        if 'value' in e:
            env[e['name']] = re.sub(r'\$\(([A-Za-z_][A-Za-z0-9_]*)\)',
                                    lambda m: env.get(m.group(1), m.group(0)), e['value'])
        elif 'fieldRef' in e['valueFrom']:
            field = e['valueFrom']['fieldRef']['fieldPath']
            env[e['name']] = {'status.podIP': pod_ip, 'spec.nodeName': 'node-a',
                              'metadata.name': 'kafscale-0'}[field]
        elif 'secretKeyRef' in e['valueFrom']:
            env[e['name']] = secret_value
        else:
            raise AssertionError(f'unexpected env source {e}')
    return env


def check_config(objects, tmp_path, extra_args=()):
    """Runs the broker container's command with --check-config, its arguments and environment."""
    if not os.access(BROKER_BIN, os.X_OK):
        pytest.fail(f'broker not built: {BROKER_BIN} (make build, or set KAFSCALE_BIN)', pytrace=False)
    c = broker_container(objects)
    assert c['command'] == ['/usr/local/bin/kafscale'], c['command']
    # The rack file the init container writes, at a local path.
    rack = tmp_path / 'rack.yaml'
    rack.write_text('rack: "eu-west-1a"\n')
    args = [str(rack) if a == '/run/kafscale/rack.yaml' else a for a in c['args']]
    assert args[0] == 'broker'
    env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'), 'HOME': str(tmp_path), **pod_env(objects)}
    return run([BROKER_BIN, 'broker', '--check-config', *args[1:], *extra_args], env=env)


# ---------------------------------------------------------------------------------------------------
# Rendering and schemas


@pytest.mark.parametrize('kubectl_version', KUBECTL_VERSIONS)
@pytest.mark.parametrize('overlay', OVERLAYS)
def test_overlay_renders_without_warnings(overlay, kubectl_version):
    objects = render(overlay, kubectl_version)
    assert objects
    if kubectl_version != '1.32':  # kustomize v5 in both: the same objects
        assert objects == render(overlay, '1.32')


def test_base_renders_and_component_adds_the_bytes_in_metric(tmp_path):
    base = kustomize(kubectl_binary('1.32'), DEPLOY / 'base')
    assert broker_deployment(base)
    (tmp_path / 'kustomization.yaml').write_text(yaml.safe_dump({
        'apiVersion': 'kustomize.config.k8s.io/v1beta1', 'kind': 'Kustomization',
        'resources': [os.path.relpath(DEPLOY / 'overlays' / 'production', tmp_path)],
        'components': [os.path.relpath(DEPLOY / 'components' / 'bytes-in-autoscaling', tmp_path)]}))
    objects = kustomize(kubectl_binary('1.32'), tmp_path)
    hpa = one(objects, 'HorizontalPodAutoscaler', 'kafscale')
    names = [m.get('pods', {}).get('metric', {}).get('name') for m in hpa['spec']['metrics']]
    assert names == [None, 'kafscale_produce_bytes_per_second']
    for schemas in SCHEMA_VERSIONS:
        assert validate(objects, schemas) == []


def test_object_kinds_per_overlay():
    kinds = {o: sorted(f"{x['kind']}/{x['metadata']['name']}" for x in render(o)) for o in OVERLAYS}
    shared = ['ClusterRole/kafscale-node-reader', 'ConfigMap/kafscale-grafana-dashboard',
              'Deployment/kafscale', 'NetworkPolicy/kafscale',
              'PodDisruptionBudget/kafscale', 'Service/kafscale', 'Service/kafscale-headless',
              'ServiceAccount/kafscale']
    cm = [k for k in kinds['dev'] if k.startswith('ConfigMap/kafscale-broker-')]
    assert len(cm) == 1  # with its content hash
    assert kinds['dev'] == sorted(shared + cm + [
        'ClusterRoleBinding/kafscale-dev-node-reader', 'Deployment/kafscale-dev-etcd',
        'Deployment/kafscale-dev-s3', 'Job/kafscale-dev-s3-bucket', 'Service/kafscale-dev-etcd',
        'Service/kafscale-dev-s3'])
    cm = [k for k in kinds['production'] if k.startswith('ConfigMap/kafscale-broker-')]
    assert kinds['production'] == sorted(shared + cm + [
        'ClusterRoleBinding/kafscale-node-reader', 'HorizontalPodAutoscaler/kafscale',
        'PrometheusRule/kafscale', 'ServiceMonitor/kafscale'])
    print('object kinds: ' + '; '.join(f'{o}: {", ".join(k)}' for o, k in kinds.items()))


@pytest.mark.parametrize('schemas', SCHEMA_VERSIONS)
@pytest.mark.parametrize('overlay', OVERLAYS)
def test_objects_are_valid_with_no_unknown_field(overlay, schemas):
    problems = validate(render(overlay), schemas)
    assert problems == [], json.dumps(problems, indent=1)


def test_validator_rejects_misspelled_and_mistyped_fields():
    objects = render('production')
    d = broker_deployment(objects)
    pod = d['spec']['template']['spec']
    pod['containers'][0]['readinessProbe']['periodSecond'] = 5
    pod['terminationGracePeriod'] = 45
    d['spec']['replicas'] = 'three'
    pod['containers'][0]['resources']['limits']['example.com/any'] = '1'  # a map: any key is fine
    hpa = one(objects, 'HorizontalPodAutoscaler', 'kafscale')
    hpa['spec']['behavior']['scaleDown']['stabilisationWindowSeconds'] = 600
    one(objects, 'ServiceMonitor', 'kafscale')['spec']['endpoints'][0]['intervall'] = '15s'
    one(objects, 'PrometheusRule', 'kafscale')['spec']['groups'][0]['rules'][0]['fro'] = '2m'
    objects.append({'apiVersion': 'v1', 'kind': 'Pdo', 'metadata': {'name': 'typo'}})
    for schemas in SCHEMA_VERSIONS:
        got = {(p['object'], p['path'], p['message'].split(':')[0]) for p in validate(objects, schemas)}
        assert got == {
            ('Deployment/kafscale', '/spec/template/spec/containers/0/readinessProbe/periodSecond',
             'unknown field'),
            ('Deployment/kafscale', '/spec/template/spec/terminationGracePeriod', 'unknown field'),
            ('Deployment/kafscale', '', 'schema'),  # replicas: a string
            ('HorizontalPodAutoscaler/kafscale', '/spec/behavior/scaleDown/stabilisationWindowSeconds',
             'unknown field'),
            ('ServiceMonitor/kafscale', '/spec/endpoints/0/intervall', 'unknown field'),
            ('PrometheusRule/kafscale', '/spec/groups/0/rules/0/fro', 'unknown field'),
            ('Pdo/typo', '', 'no schema for apiVersion v1 kind Pdo'),
        }, schemas


def test_validator_knows_which_fields_each_version_has():
    # A native sidecar (an init container with restartPolicy: Always) needs Kubernetes 1.28.
    objects = render('production')
    broker_deployment(objects)['spec']['template']['spec']['initContainers'][0]['restartPolicy'] = 'Always'
    assert [p['path'] for p in validate(objects, '1.27')] == [
        '/spec/template/spec/initContainers/0/restartPolicy']
    assert validate(objects, '1.34') == []


# ---------------------------------------------------------------------------------------------------
# Policies


@pytest.mark.parametrize('overlay', OVERLAYS)
def test_selectors_match_the_pods_they_are_for(overlay):
    objects = render(overlay)
    brokers = ['Deployment/kafscale']
    for w in by_kind(objects, 'Deployment') + by_kind(objects, 'Job'):
        if w['kind'] == 'Deployment':
            assert matches(w['spec']['selector'], w['spec']['template']['metadata']['labels']), w['metadata']
    containers = {f"Deployment/{o['metadata']['name']}": c for o in by_kind(objects, 'Deployment')
                  for c in o['spec']['template']['spec']['containers']}
    for svc in by_kind(objects, 'Service'):
        picked = selected(objects, svc['spec']['selector'])
        assert len(picked) == 1, f"Service {svc['metadata']['name']} selects {picked}"
        if svc['metadata']['name'].startswith('kafscale') and picked == brokers:
            ports = {p['name']: p['containerPort'] for p in containers[picked[0]]['ports']}
            for p in svc['spec']['ports']:
                assert p['targetPort'] in ports, \
                    f"Service {svc['metadata']['name']}: no container port {p['targetPort']}"
                assert ports[p['targetPort']] == p['port']
    for kind in ('PodDisruptionBudget', 'NetworkPolicy'):
        for o in by_kind(objects, kind):
            sel = o['spec']['selector'] if kind == 'PodDisruptionBudget' else o['spec']['podSelector']
            assert selected(objects, sel) == brokers, f'{kind} {o["metadata"]["name"]}'
    for hpa in by_kind(objects, 'HorizontalPodAutoscaler'):
        ref = hpa['spec']['scaleTargetRef']
        assert (ref['apiVersion'], ref['kind'], ref['name']) == ('apps/v1', 'Deployment', 'kafscale')
    for sm in by_kind(objects, 'ServiceMonitor'):
        svcs = [s for s in by_kind(objects, 'Service')
                if matches(sm['spec']['selector'], s['metadata']['labels'])]
        assert [s['metadata']['name'] for s in svcs] == ['kafscale-headless']
        svc_ports = {p['name'] for p in svcs[0]['spec']['ports']}
        for ep in sm['spec']['endpoints']:
            assert ep['port'] in svc_ports and ep['path'] == '/metrics'
    # Spread and anti-affinity select the brokers themselves.
    pod = broker_deployment(objects)['spec']['template']
    spread = pod['spec']['topologySpreadConstraints']
    assert {c['topologyKey'] for c in spread} == {'topology.kubernetes.io/zone', 'kubernetes.io/hostname'}
    for c in spread:
        assert matches(c['labelSelector'], pod['metadata']['labels'])
    anti = pod['spec']['affinity']['podAntiAffinity']['preferredDuringSchedulingIgnoredDuringExecution']
    assert matches(anti[0]['podAffinityTerm']['labelSelector'], pod['metadata']['labels'])


@pytest.mark.parametrize('overlay', OVERLAYS)
def test_probes_use_the_brokers_http_port_and_paths(overlay):
    objects = render(overlay)
    c = broker_container(objects)
    settings = pod_env(objects)
    http_port = int(settings['KAFSCALE_HTTP_LISTEN'].rsplit(':', 1)[1])
    kafka_port = int(settings['KAFSCALE_LISTEN'].rsplit(':', 1)[1])
    ports = {p['name']: p['containerPort'] for p in c['ports']}
    assert ports == {'kafka': kafka_port, 'http': http_port}
    for probe, path in BROKER_HTTP_PATHS.items():
        get = c[probe]['httpGet']
        assert get['path'] == path and ports[get['port']] == http_port, probe
    # Start-up: HTTP opens only once the broker serves, up to twice startup-timeout-ms after the start.
    startup_s = c['startupProbe']['periodSeconds'] * c['startupProbe']['failureThreshold']
    assert startup_s > 2 * int(settings['KAFSCALE_STARTUP_TIMEOUT_MS']) / 1000
    # The advertised address is the pod's IP and the Kafka port.
    assert settings['KAFSCALE_ADVERTISE'] == f'10.1.2.3:{kafka_port}'


@pytest.mark.parametrize('overlay', OVERLAYS)
def test_container_arguments_pass_check_config(overlay, tmp_path):
    objects = render(overlay)
    r = check_config(objects, tmp_path)
    assert r.returncode == 0, f'kafscale broker --check-config refused the {overlay} pod:\n{r.stderr}'
    out = r.stdout
    assert 'configuration OK' in out
    assert 'advertise = 10.1.2.3:9092' in out and 'rack = eu-west-1a' in out
    assert 'http-listen = 0.0.0.0:9093' in out
    # The same path refuses what the broker would refuse.
    r = check_config(objects, tmp_path, ['--periodSecond', '5'])
    assert r.returncode == 2 and 'periodSecond' in r.stderr


def test_grace_period_covers_prestop_and_drain():
    for overlay in OVERLAYS:
        pod = broker_deployment(render(overlay))['spec']['template']['spec']
        c = next(c for c in pod['containers'] if c['name'] == 'broker')
        cmd = c['lifecycle']['preStop']['exec']['command']
        assert cmd[0] == '/bin/sleep' and len(cmd) == 2, cmd
        pre_stop_s = int(cmd[1])
        grace = pod['terminationGracePeriodSeconds']
        assert grace >= pre_stop_s + DRAIN_BOUND_S, (grace, pre_stop_s)
        assert grace >= pre_stop_s + MEASURED_DRAIN_S
        strategy = broker_deployment(render(overlay))['spec']['strategy']
        assert strategy['rollingUpdate'] == {'maxSurge': 1, 'maxUnavailable': 0}


@pytest.mark.parametrize('overlay', OVERLAYS)
def test_memory_limit_covers_cache_buffers_and_headroom(overlay):
    objects = render(overlay)
    res = broker_container(objects)['resources']
    limit = parse_quantity(res['limits']['memory'])
    assert parse_quantity(res['requests']['memory']) == limit  # no overcommit of broker memory
    s = broker_settings(objects)
    need_bytes = parse_size(s['KAFSCALE_CACHE_BYTES']) + parse_size(s['KAFSCALE_MAX_BUFFERED_BYTES'])
    assert limit >= need_bytes + MEMORY_HEADROOM, (limit, need_bytes)
    assert 'cpu' not in res['limits']  # no CPU throttling; the HPA scales on the request


@pytest.mark.parametrize('overlay', OVERLAYS)
def test_network_policy_lets_the_broker_reach_its_stores(overlay):
    objects = render(overlay)
    policy = one(objects, 'NetworkPolicy', 'kafscale')
    egress = {(p['port'], p.get('protocol', 'TCP')) for rule in policy['spec']['egress']
              for p in rule['ports'] if not rule.get('to')}
    s = broker_settings(objects)
    hosts = re.split(r'[/?]', s['KAFSCALE_METADATA'].split('://', 1)[1])[0].split(',')
    etcd_ports = {int(h.rsplit(':', 1)[1]) if ':' in h else 2379 for h in hosts}
    assert etcd_ports
    endpoint = re.search(r'[?&]endpoint=([^&]+)', s['KAFSCALE_OBJECT_STORE'])
    if endpoint:
        url = urllib.parse.urlparse(urllib.parse.unquote(endpoint.group(1)))
        s3_port = url.port or (443 if url.scheme == 'https' else 80)
    else:
        s3_port = 443  # AWS S3 and STS
    for port in etcd_ports | {s3_port, 443}:
        assert (port, 'TCP') in egress, f'egress to {port} not allowed: {sorted(egress)}'
    assert (53, 'UDP') in egress and (53, 'TCP') in egress
    ingress = {p['port'] for rule in policy['spec']['ingress'] for p in rule['ports']}
    assert ingress == {'kafka', 'http'}


@pytest.mark.parametrize('overlay', OVERLAYS)
def test_no_inline_secrets(overlay):
    objects = render(overlay)
    assert not by_kind(objects, 'Secret')
    assert not AWS_KEY_ID.search(json.dumps(objects))
    for cm in by_kind(objects, 'ConfigMap'):
        bad = [k for k in cm.get('data', {}) if SECRET_NAME.search(k)]
        assert not bad, f'ConfigMap {cm["metadata"]["name"]} holds {bad}'
    for w in objects:
        if w['kind'] not in ('Deployment', 'Job'):
            continue
        spec = w['spec']['template']['spec']
        for c in spec.get('initContainers', []) + spec['containers']:
            for e in c.get('env', []):
                if SECRET_NAME.search(e['name']):
                    assert 'secretKeyRef' in e.get('valueFrom', {}), \
                        f"{w['metadata']['name']}: {e['name']} is inline"


@pytest.mark.parametrize('overlay', OVERLAYS)
def test_pods_are_locked_down_and_only_the_rack_reader_has_a_token(overlay):
    objects = render(overlay)
    sa = one(objects, 'ServiceAccount', 'kafscale')
    assert sa['automountServiceAccountToken'] is False
    pod = broker_deployment(objects)['spec']['template']['spec']
    assert pod['serviceAccountName'] == 'kafscale' and pod['automountServiceAccountToken'] is False
    assert pod['securityContext']['runAsNonRoot'] is True
    for w in by_kind(objects, 'Deployment') + by_kind(objects, 'Job'):
        spec = w['spec']['template']['spec']
        for c in spec.get('initContainers', []) + spec['containers']:
            sc = c['securityContext']
            assert sc['readOnlyRootFilesystem'] is True and sc['allowPrivilegeEscalation'] is False
            assert sc['capabilities']['drop'] == ['ALL']
            assert 'memory' in c['resources']['limits'], f"{w['metadata']['name']}/{c['name']}"
    mounts = {c['name']: {m['name'] for m in c.get('volumeMounts', [])}
              for c in pod['initContainers'] + pod['containers']}
    assert 'node-reader-token' in mounts['rack'] and 'node-reader-token' not in mounts['broker']
    # The token may read Node objects and nothing else.
    role = one(objects, 'ClusterRole', 'kafscale-node-reader')
    assert role['rules'] == [{'apiGroups': [''], 'resources': ['nodes'], 'verbs': ['get']}]
    binding = by_kind(objects, 'ClusterRoleBinding')
    assert len(binding) == 1 and binding[0]['roleRef']['name'] == 'kafscale-node-reader'
    ns = sa['metadata']['namespace']
    assert binding[0]['subjects'] == [{'kind': 'ServiceAccount', 'name': 'kafscale', 'namespace': ns}]


def test_production_uses_irsa_etcd_tls_and_slow_scale_down():
    objects = render('production')
    sa = one(objects, 'ServiceAccount', 'kafscale')
    assert sa['metadata']['annotations']['eks.amazonaws.com/role-arn'].startswith('arn:aws:iam::')
    s = broker_settings(objects)
    assert s['KAFSCALE_OBJECT_STORE'].startswith('s3://') and 'endpoint=' not in s['KAFSCALE_OBJECT_STORE']
    url = s['KAFSCALE_METADATA']
    assert url.startswith('etcds://')
    mounts = {m['name']: m['mountPath'] for m in broker_container(objects)['volumeMounts']}
    volumes = {v['name']: v for v in broker_deployment(objects)['spec']['template']['spec']['volumes']}
    assert volumes['etcd-tls']['secret']['secretName'] == 'kafscale-etcd-client-tls'
    for param in ('cacert', 'cert', 'key'):
        path = re.search(rf'[?&]{param}=([^&]+)', url).group(1)
        assert path.startswith(mounts['etcd-tls'] + '/'), (param, path)
    hpa = one(objects, 'HorizontalPodAutoscaler', 'kafscale')
    down = hpa['spec']['behavior']['scaleDown']
    assert down['stabilizationWindowSeconds'] >= 600
    assert all(p['type'] == 'Pods' and p['value'] == 1 for p in down['policies'])
    assert hpa['spec']['minReplicas'] >= 3 and hpa['spec']['maxReplicas'] > hpa['spec']['minReplicas']
    assert one(objects, 'PodDisruptionBudget', 'kafscale')['spec']['maxUnavailable'] == 1


# ---------------------------------------------------------------------------------------------------
# Alert rules


def test_alert_rules_pass_promtool(tmp_path):
    promtool = need('promtool', 'Debian package prometheus: scripts/install-deps.sh --test')
    rule = one(render('production'), 'PrometheusRule', 'kafscale')
    (tmp_path / 'kafscale-rules.yaml').write_text(yaml.safe_dump(rule['spec'], sort_keys=False))
    shutil.copy(DEPLOY / 'tests' / 'alerts_test.yaml', tmp_path / 'alerts_test.yaml')
    r = run([promtool, 'check', 'rules', 'kafscale-rules.yaml'], cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run([promtool, 'test', 'rules', 'alerts_test.yaml'], cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    # Every alert has a unit test.
    tested = set(re.findall(r'alertname: (\w+)', (DEPLOY / 'tests' / 'alerts_test.yaml').read_text()))
    alerts = {r['alert'] for g in rule['spec']['groups'] for r in g['rules'] if 'alert' in r}
    assert alerts - tested == set(), 'alerts without a promtool unit test'
