#!/usr/bin/python3
"""Stand-in for `kafscale broker`, used only to check the test harness itself.

It serves the Kafka protocol through librdkafka's built-in mock cluster and a
tiny HTTP endpoint with fake counters, and writes the same ready file as the
real broker. It keeps nothing on disk and cannot bind a requested port, so the
durability, admin and cost tests are expected to fail against it. Usage:
  KAFSCALE_BIN=tests/integration/mock/fake_kafscale.py tests/run-integration.sh
"""
import argparse
import http.server
import json
import os
import signal
import sys
import threading

import confluent_kafka

COUNTER_NAMES = [
    'kafscale_metastore_txns_total', 'kafscale_metastore_keys_written_total',
    'kafscale_produce_requests_total', 'kafscale_produce_bytes_total',
    'kafscale_fetch_requests_total', 'kafscale_fetch_bytes_total',
    'kafscale_flushes_total'
]


class Handler(http.server.BaseHTTPRequestHandler):

    def do_GET(self):
        if self.path in ('/livez', '/readyz'):
            body = b'ok\n'
        elif self.path == '/metrics':
            lines = []
            for op in ('put', 'get', 'list', 'delete'):
                lines.append(f'kafscale_objstore_requests_total{{op="{op}"}} 0')
            for op in ('put', 'get'):
                lines.append(f'kafscale_objstore_bytes_total{{op="{op}"}} 0')
            for name in COUNTER_NAMES:
                lines += [f'# TYPE {name} counter', f'{name} 0']
            body = ('\n'.join(lines) + '\n').encode()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('command')
    parser.add_argument('--ready-file', required=True)
    args, _ = parser.parse_known_args()
    if args.command != 'broker':
        sys.exit('only "broker" is supported')

    client = confluent_kafka.Producer({'test.mock.num.brokers': 1, 'log_level': 3})
    brokers = client.list_topics(timeout=10).brokers
    kafka = f'{brokers[min(brokers)].host}:{brokers[min(brokers)].port}'
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    tmp = args.ready_file + '.tmp'
    with open(tmp, 'w') as f:
        json.dump({'kafka': kafka, 'http': f'127.0.0.1:{server.server_port}'}, f)
    os.rename(tmp, args.ready_file)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.2):
        client.poll(0)
    sys.exit(0)


if __name__ == '__main__':
    main()
