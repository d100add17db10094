#!/usr/bin/env bash
# Captures real answers of etcd's JSON gateway and of the S3 API server (Swift s3api) as seeds of the
# etcd_json and s3_xml fuzz targets (S3: the objstore tests' requests through tests/fuzz/s3_recorder.py). Run inside tests/with-services.sh (it exports where they are):
#   bash tests/with-services.sh bash tests/fuzz/capture_backends.sh
# etcd seeds start with the byte that etcd_json_fuzz.cc maps to the decoder of that answer.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${KAFSCALE_TEST_ETCD:?run inside tests/with-services.sh}" "${KAFSCALE_TEST_S3_ENDPOINT:?}"
etcd_out=tests/fuzz/corpus/etcd_json
s3_out=tests/fuzz/corpus/s3_xml
mkdir -p "$etcd_out" "$s3_out"
b64() { printf '%s' "$1" | base64 -w0; }
# seed FILE DECODER_BYTE PATH BODY [curl args]: the answer to POST PATH, prefixed by the decoder byte.
seed() {
  local file=$1 mode=$2 path=$3 body=$4
  shift 4
  { printf "\\x$(printf %02x "$mode")"; curl -sS "$@" -X POST "$KAFSCALE_TEST_ETCD$path" -d "$body"; } >"$etcd_out/$file"
}
k=$(b64 /fuzz/a) v=$(b64 value-1)
seed put 3 /v3/kv/put "{\"key\":\"$k\",\"value\":\"$v\"}"
seed put2 3 /v3/kv/put "{\"key\":\"$(b64 /fuzz/b)\",\"value\":\"$(b64 '{"json":1}')\"}"
seed range 0 /v3/kv/range "{\"key\":\"$(b64 /fuzz/)\",\"range_end\":\"$(b64 /fuzz0)\"}"
seed range-prefixed 128 /v3/kv/range "{\"key\":\"$(b64 /fuzz/)\",\"range_end\":\"$(b64 /fuzz0)\",\"limit\":1}"
seed range-count 0 /v3/kv/range "{\"key\":\"$(b64 /fuzz/)\",\"range_end\":\"$(b64 /fuzz0)\",\"count_only\":true}"
seed txn 1 /v3/kv/txn "{\"compare\":[{\"key\":\"$k\",\"target\":\"MOD\",\"result\":\"GREATER\",\"mod_revision\":\"0\"}],\"success\":[{\"request_range\":{\"key\":\"$k\"}},{\"request_put\":{\"key\":\"$k\",\"value\":\"$v\"}}],\"failure\":[]}"
seed txn-failed 1 /v3/kv/txn "{\"compare\":[{\"key\":\"$k\",\"target\":\"VERSION\",\"result\":\"EQUAL\",\"version\":\"0\"}],\"success\":[],\"failure\":[{\"request_range\":{\"key\":\"$k\"}}]}"
seed deleterange 3 /v3/kv/deleterange "{\"key\":\"$(b64 /fuzz/b)\"}"
seed lease-grant 4 /v3/lease/grant '{"TTL":"5"}'
lease=$(tail -c +2 "$etcd_out/lease-grant" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["ID"])')
seed lease-keepalive 5 /v3/lease/keepalive "{\"ID\":\"$lease\"}"
seed lease-keepalive-unknown 5 /v3/lease/keepalive '{"ID":"1"}'
seed status 7 /v3/maintenance/status '{}'
seed auth-disabled 6 /v3/auth/authenticate '{"name":"u","password":"p"}'
seed error-body 9 /v3/kv/range '{"key": 5}'
seed http-error 10 /v3/kv/compaction '{"revision":"999999999"}'
seed watch 8 /v3/watch "{\"create_request\":{\"key\":\"$(b64 /fuzz/)\",\"range_end\":\"$(b64 /fuzz0)\",\"start_revision\":\"1\"}}" --max-time 1 || true
# The stream's messages one per seed (the decoder takes one message).
n=0
while IFS= read -r line; do
  [[ -n $line ]] && { printf '\x08'; printf '%s' "$line"; } >"$etcd_out/watch-$((n++))"
done < <(tail -c +2 "$etcd_out/watch")
rm "$etcd_out/watch"
# A kv object alone (decode_kv), cut from the range answer.
{ printf '\x02'; tail -c +2 "$etcd_out/range" | /usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["kvs"][0]))'; } >"$etcd_out/kv"

# S3: the backend's own conformance tests against Swift, through a proxy that records the answers.
rm -rf "$s3_out" && mkdir -p "$s3_out"
exec 3< <(/usr/bin/python3 tests/fuzz/s3_recorder.py "$KAFSCALE_TEST_S3_ENDPOINT" "$s3_out")
read -r proxy <&3
KAFSCALE_TEST_S3_ENDPOINT=$proxy "${BUILD:-build}"/src/objstore/ks_objstore_tests --gtest_filter='S3Swift*' >/dev/null
kill %% 2>/dev/null || pkill -f s3_recorder.py || true
echo "capture: $(ls "$etcd_out" | wc -l) etcd answers in $etcd_out, $(ls "$s3_out" | wc -l) S3 answers in $s3_out"
