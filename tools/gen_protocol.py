#!/usr/bin/python3
"""Generates KafScale's Kafka protocol codecs from src/protocol/messages/*.json.

Each JSON file declares one API (our own format, see docs in src/protocol/messages/README.md):

  {"api_key": 0, "name": "Produce", "versions": "0-11", "accepted": "3-11", "flexible": "9+",
   "request": [fields], "response": [fields]}

A field is {"name", "type", "versions"?, "nullable"?, "default"?, "tag"?, "tagged"?, "fields"?}.
Types: int8 int16 int32 int64 uint16 float64 bool string bytes records uuid, "[]T" for arrays of a
primitive or of a struct T (with "fields"), or a struct name T (with "fields") for a single struct.

Output (in --out): <api>.h/.cc per API (structs <Name>Request/<Name>Response with decode/encode),
api_table.h (kApis, find_api, visit_api) and samples.h (fill_sample(), used by tests).
Only the standard library is used. This is the entry point; the generator itself lives in
tools/protocol_gen/ (see tools/README.md).
"""

import argparse
import os
import sys

from protocol_gen.emit import gen_api_table, gen_header, gen_samples, gen_source, write_if_changed
from protocol_gen.schema import SchemaError, load_api


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", required=True, help="directory of <Name>.json declarations")
    ap.add_argument("--out", required=True, help="output directory (…/src/protocol/generated)")
    args = ap.parse_args()
    try:
        files = sorted(p for p in os.listdir(args.messages) if p.endswith(".json"))
        apis = [load_api(os.path.join(args.messages, p)) for p in files]
    except (SchemaError, KeyError, ValueError) as e:
        print(f"gen_protocol: {e}", file=sys.stderr)
        return 1
    keys = [a.key for a in apis]
    if len(keys) != len(set(keys)):
        print("gen_protocol: duplicate api_key", file=sys.stderr)
        return 1
    apis.sort(key=lambda a: a.key)
    os.makedirs(args.out, exist_ok=True)
    for a in apis:
        write_if_changed(os.path.join(args.out, a.snake + ".h"), gen_header(a))
        write_if_changed(os.path.join(args.out, a.snake + ".cc"), gen_source(a))
    write_if_changed(os.path.join(args.out, "api_table.h"), gen_api_table(apis))
    write_if_changed(os.path.join(args.out, "samples.h"), gen_samples(apis))
    return 0


if __name__ == "__main__":
    sys.exit(main())
