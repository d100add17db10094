"""Schema model: parses and validates the src/protocol/messages/*.json declarations."""

import json
import os
import re

MAX_VERSION = 32767
RESERVE_CAP = 1024  # upper bound for vector::reserve from an untrusted array length

# type -> (C++ type, fixed wire size, Reader/Writer suffix)
PRIMITIVES = {
    "int8": ("int8_t", 1, "i8"),
    "int16": ("int16_t", 2, "i16"),
    "int32": ("int32_t", 4, "i32"),
    "int64": ("int64_t", 8, "i64"),
    "uint16": ("uint16_t", 2, "u16"),
    "float64": ("double", 8, "f64"),
    "bool": ("bool", 1, "bool"),
    "uuid": ("Uuid", 16, "uuid"),
}
INT_RANGES = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint16": (0, 2**16 - 1),
}
VARIABLE = ("string", "bytes", "records")
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
CAMEL = re.compile(r"^[A-Z][A-Za-z0-9]*$")


class SchemaError(Exception):
    pass


def parse_range(text, where):
    """ "3+" -> (3, MAX), "0-4" -> (0, 4), "5" -> (5, 5), "none" -> None."""
    if text == "none":
        return None
    m = re.fullmatch(r"(\d+)\+", text)
    if m:
        return (int(m.group(1)), MAX_VERSION)
    m = re.fullmatch(r"(\d+)-(\d+)", text)
    if m and int(m.group(1)) <= int(m.group(2)):
        return (int(m.group(1)), int(m.group(2)))
    m = re.fullmatch(r"\d+", text)
    if m:
        return (int(text), int(text))
    raise SchemaError(f"{where}: bad version range {text!r}")


def snake_case(camel):
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", camel).lower()


def vset(rng, api):
    """Versions of `rng` inside the API's declared range, as a set."""
    if rng is None:
        return set()
    lo, hi = max(rng[0], api.lo), min(rng[1], api.hi)
    return set(range(lo, hi + 1))



class Struct:
    def __init__(self, name, qual, fields):
        self.name = name  # C++ name inside its parent ("TopicProduceData")
        self.qual = qual  # fully qualified ("ProduceRequest::TopicProduceData")
        self.fields = fields
        self.children = [f.struct for f in fields if f.struct]


class Field:
    pass


class Api:
    pass


def parse_field(d, parent_qual, api, where):
    f = Field()
    unknown = set(d) - {"name", "type", "versions", "nullable", "default", "tag", "tagged", "fields", "comment"}
    if unknown:
        raise SchemaError(f"{where}: unknown keys {sorted(unknown)}")
    f.name = d.get("name", "")
    if not SNAKE.match(f.name):
        raise SchemaError(f"{where}: field name {f.name!r} must be snake_case")
    where = f"{where}.{f.name}"
    t = d.get("type")
    if not isinstance(t, str):
        raise SchemaError(f"{where}: missing type")
    f.is_array = t.startswith("[]")
    base = t[2:] if f.is_array else t
    f.base = base
    f.struct = None
    if base in PRIMITIVES or base in VARIABLE:
        if "fields" in d:
            raise SchemaError(f"{where}: primitive type {base} cannot have fields")
        if f.is_array and base == "records":
            raise SchemaError(f"{where}: arrays of records are not supported")
    elif CAMEL.match(base):
        if "fields" not in d:
            raise SchemaError(f"{where}: struct type {base} needs fields")
        qual = f"{parent_qual}::{base}"
        fields = [parse_field(x, qual, api, where) for x in d["fields"]]
        f.struct = Struct(base, qual, fields)
    else:
        raise SchemaError(f"{where}: unknown type {t!r}")
    f.versions = parse_range(d.get("versions", "0+"), where)
    if f.versions is None:
        raise SchemaError(f"{where}: versions cannot be none")
    f.nullable = parse_range(d["nullable"], where) if "nullable" in d else None
    if f.nullable and not (f.is_array or base in VARIABLE or f.struct):
        raise SchemaError(f"{where}: only strings, bytes, records, arrays and structs can be nullable")
    f.tag = d.get("tag")
    f.tagged = parse_range(d["tagged"], where) if "tagged" in d else None
    if (f.tag is None) != (f.tagged is None):
        raise SchemaError(f"{where}: tag and tagged go together")
    if f.tagged:
        if api.flexible is None or f.tagged[0] < api.flexible:
            raise SchemaError(f"{where}: tagged versions must be flexible versions")
        if not vset(f.tagged, api) <= vset(f.versions, api):
            raise SchemaError(f"{where}: tagged versions must lie within the field's versions")
        if base == "records":
            raise SchemaError(f"{where}: tagged records are not supported")
    f.has_default = "default" in d
    f.default = d.get("default")
    check_default(f, where)
    # Version sets inside the API's range.
    f.present = vset(f.versions, api)
    f.as_tagged = vset(f.tagged, api)
    f.regular = f.present - f.as_tagged
    f.null_ok = vset(f.nullable, api) & f.present
    if not f.present:
        raise SchemaError(f"{where}: field is absent from every declared version")
    if f.struct and not f.is_array and f.nullable:
        # A nullable struct (int8 -1 = null, 1 = present, then its fields):
        # nullable wherever present, never tagged.
        if f.null_ok != f.present or f.as_tagged:
            raise SchemaError(f"{where}: a nullable struct must be nullable in all its versions and untagged")
    return f


def check_default(f, where):
    if not f.has_default:
        return
    v = f.default
    if v is None:
        if not f.nullable:
            raise SchemaError(f"{where}: null default on a non-nullable field")
        return
    if f.is_array or f.struct or f.base in ("records", "uuid"):
        raise SchemaError(f"{where}: only null defaults are allowed for this type")
    if f.base == "bool":
        ok = isinstance(v, bool)
    elif f.base in INT_RANGES:
        lo, hi = INT_RANGES[f.base]
        ok = isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi
    elif f.base == "float64":
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    else:
        ok = isinstance(v, str)
    if not ok:
        raise SchemaError(f"{where}: default {v!r} does not fit {f.base}")


def check_tags(struct, api, where):
    for v in range(api.lo, api.hi + 1):
        seen = {}
        for f in struct.fields:
            if v in f.as_tagged:
                if f.tag in seen:
                    raise SchemaError(f"{where}: tag {f.tag} used by {seen[f.tag]} and {f.name} in v{v}")
                seen[f.tag] = f.name
    names = [f.name for f in struct.fields]
    if len(names) != len(set(names)):
        raise SchemaError(f"{where}: duplicate field names")
    kids = [c.name for c in struct.children]
    if len(kids) != len(set(kids)):
        raise SchemaError(f"{where}: duplicate nested struct names")
    for c in struct.children:
        check_tags(c, api, f"{where}.{c.name}")


def load_api(path):
    where = os.path.basename(path)
    with open(path, encoding="utf-8") as fh:
        d = json.load(fh)
    unknown = set(d) - {"api_key", "name", "versions", "accepted", "flexible", "request", "response", "comment"}
    if unknown:
        raise SchemaError(f"{where}: unknown keys {sorted(unknown)}")
    api = Api()
    api.name = d["name"]
    if not CAMEL.match(api.name) or os.path.basename(path) != api.name + ".json":
        raise SchemaError(f"{where}: name must be CamelCase and match the file name")
    api.key = d["api_key"]
    api.lo, api.hi = parse_range(d["versions"], where)
    acc = parse_range(d.get("accepted", d["versions"]), where)
    if acc[0] < api.lo or acc[1] > api.hi:
        raise SchemaError(f"{where}: accepted range must lie within versions")
    api.acc_lo, api.acc_hi = acc
    flex = parse_range(d["flexible"], where)
    if flex is not None and flex[1] != MAX_VERSION:
        raise SchemaError(f"{where}: flexible must be 'N+' or 'none'")
    api.flexible = flex[0] if flex else None
    api.file = api.name + ".json"
    api.snake = snake_case(api.name)
    for kind in ("request", "response"):
        cls = api.name + kind.capitalize()
        fields = [parse_field(x, cls, api, f"{where}:{kind}") for x in d[kind]]
        s = Struct(cls, cls, fields)
        check_tags(s, api, f"{where}:{kind}")
        setattr(api, kind, s)
    return api
