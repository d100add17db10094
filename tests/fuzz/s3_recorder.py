"""A recording reverse proxy for S3: forwards every request unchanged (the Host header too, so SigV4
signatures stay valid) and keeps each XML answer as a seed of the s3_xml fuzz target.

    s3_recorder.py UPSTREAM_URL OUT_DIR    # prints the proxy's URL, serves until killed
"""
import hashlib
import http.client
import http.server
import re
import sys
import urllib.parse
from pathlib import Path

PER_KIND = 3  # seeds kept per (method, root element)


def main():
    upstream = urllib.parse.urlsplit(sys.argv[1])
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    kept = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def log_message(self, *args):
            pass

        def forward(self):
            body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
            conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
            conn.request(self.command, self.path, body=body, headers=dict(self.headers.items()))
            r = conn.getresponse()
            data = r.read()
            self.send_response(r.status, r.reason)
            for k, v in r.getheaders():
                if k.lower() not in ('transfer-encoding', 'content-length', 'connection'):
                    self.send_header(k, v)
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            if self.command != 'HEAD':
                self.wfile.write(data)
            conn.close()
            m = re.search(rb'<([A-Za-z]+)[ >]', data[:400])
            if m and self.command != 'GET' or m and data.lstrip().startswith(b'<?xml'):
                kind = f'{self.command}-{m.group(1).decode()}-{r.status}'
                n = kept.get(kind, 0)
                if n < PER_KIND:
                    kept[kind] = n + 1
                    digest = hashlib.sha1(data).hexdigest()[:8]
                    (out / f'{kind}-{digest}').write_bytes(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    print(f'http://127.0.0.1:{server.server_address[1]}', flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main()
