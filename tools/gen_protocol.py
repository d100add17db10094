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
Only the standard library is used.
"""

import argparse
import json
import os
import re
import sys

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


# ------------------------------------------------------------------ schema model


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
    if f.nullable and not (f.is_array or base in VARIABLE):
        raise SchemaError(f"{where}: only strings, bytes, records and arrays can be nullable")
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


# ------------------------------------------------------------------ C++ helpers


def cond_expr(versions, api):
    """C++ condition on `version` for a version set; '' = always, None = never."""
    if not versions:
        return None
    if versions == set(range(api.lo, api.hi + 1)):
        return ""
    vs = sorted(versions)
    ranges = []
    start = prev = vs[0]
    for v in vs[1:]:
        if v != prev + 1:
            ranges.append((start, prev))
            start = v
        prev = v
    ranges.append((start, prev))
    parts = []
    for lo, hi in ranges:
        c = []
        if lo > api.lo:
            c.append(f"version >= {lo}")
        if hi < api.hi:
            c.append(f"version <= {hi}")
        parts.append(" && ".join(c))
    if len(parts) == 1:
        return parts[0]
    return " || ".join(f"({p})" for p in parts)


def wrap_cond(cond, body_lines, ind):
    """Emits body under `if (cond)` unless cond is '' (always)."""
    if cond is None:
        return []
    if cond == "":
        return body_lines
    return [f"{ind}if ({cond}) {{"] + ["  " + b for b in body_lines] + [f"{ind}}}"]


def int_literal(value, base):
    lo, hi = INT_RANGES[base]
    ctype = PRIMITIVES[base][0]
    if value == lo and base != "uint16":
        return f"std::numeric_limits<{ctype}>::min()"
    if base == "int64" and abs(value) > 2**31:
        return f"int64_t{{{value}LL}}"
    return str(value)


def cpp_string_literal(s):
    out = '"'
    for ch in s:
        if ch in '"\\':
            out += "\\" + ch
        elif 32 <= ord(ch) < 127:
            out += ch
        else:
            out += "\\x%02x" % ord(ch) + '""'
    return out + '"'


def elem_type(f):
    if f.struct:
        return f.struct.name
    if f.base in ("string", "bytes"):
        return "std::string"
    return PRIMITIVES[f.base][0]


def is_optional(f):
    """Nullable strings/bytes/arrays are std::optional; records carry their own null flag."""
    return bool(f.null_ok) and f.base != "records"


def cpp_type(f):
    if f.is_array:
        t = f"std::vector<{elem_type(f)}>"
    elif f.base == "records":
        t = "Records"
    else:
        t = elem_type(f)
    return f"std::optional<{t}>" if is_optional(f) else t


def member_init(f):
    """Default member initializer (Kafka's default for the field)."""
    if f.struct and not f.is_array:
        return ""
    if f.is_array:
        if is_optional(f) and not (f.has_default and f.default is None):
            return f" = {elem_vector(f)}{{}}"
        return ""
    if f.base in ("string", "bytes"):
        if is_optional(f):
            if f.has_default and f.default is None:
                return ""
            return f" = std::string({cpp_string_literal(f.default)})" if f.default else " = std::string()"
        return f" = {cpp_string_literal(f.default)}" if f.default else ""
    if f.base in ("records", "uuid"):
        return ""
    if f.base == "bool":
        return " = true" if f.default else " = false"
    if f.base == "float64":
        return f" = {float(f.default or 0)!r}"
    return f" = {int_literal(f.default or 0, f.base)}"


def elem_vector(f):
    return f"std::vector<{elem_type(f)}>"


def is_default_expr(f, m):
    """C++ expression: field `m` holds its default (tagged fields are then omitted)."""
    if f.struct and not f.is_array:
        return f"{m} == {f.struct.qual}{{}}"
    if f.is_array:
        if is_optional(f):
            if f.has_default and f.default is None:
                return f"!{m}.has_value()"
            return f"({m}.has_value() && {m}->empty())"
        return f"{m}.empty()"
    if f.base in ("string", "bytes"):
        lit = cpp_string_literal(f.default or "")
        if is_optional(f):
            if f.has_default and f.default is None:
                return f"!{m}.has_value()"
            return f"({m}.has_value() && *{m} == {lit})"
        return f"{m} == {lit}"
    if f.base == "uuid":
        return f"{m}.is_zero()"
    if f.base == "bool":
        return f"{m} == {'true' if f.default else 'false'}"
    if f.base == "float64":
        return f"{m} == {float(f.default or 0)!r}"
    return f"{m} == {int_literal(f.default or 0, f.base)}"


def min_size(f, v, api):
    flex = api.flexible is not None and v >= api.flexible
    if f.is_array:
        return 1 if flex else 4
    if f.struct:
        return struct_min_size(f.struct, v, api)
    if f.base == "string":
        return 1 if flex else 2
    if f.base in ("bytes", "records"):
        return 1 if flex else 4
    return PRIMITIVES[f.base][1]


def struct_min_size(s, v, api):
    flex = api.flexible is not None and v >= api.flexible
    total = sum(min_size(f, v, api) for f in s.fields if v in f.regular)
    return total + (1 if flex else 0)


def array_elem_min(f, api):
    """Smallest encoded element over all versions: bounds hostile array lengths."""
    if f.struct:
        return max(1, min(struct_min_size(f.struct, v, api) for v in range(api.lo, api.hi + 1)))
    if f.base in VARIABLE:
        return 1
    return PRIMITIVES[f.base][1]


# ------------------------------------------------------------------ decode


def read_scalar(f, api, target, ind, err, elem=False):
    """Statements reading one non-array value of field f into `target`.

    elem: `target` is an array element. Nullability then belongs to the array, so
    the elements themselves are plain (Kafka has no arrays of nullable strings).
    """
    L = []
    if f.struct:
        L.append(f"{ind}if (!{target}.decode(r, version)) return r.field_error({err});")
        return L
    if f.base in ("string", "bytes"):
        kind = f.base
        if is_optional(f) and not elem:
            L.append(f"{ind}{target} = r.read_nullable_{kind}(flex);")
            L.append(f"{ind}if (!r.ok()) return r.field_error({err});")
            nc = cond_expr(f.null_ok, api)
            if f.null_ok != f.present:
                L.append(f"{ind}if (!{target}.has_value() && !({nc})) {{")
                L.append(f'{ind}  r.fail_at(fstart, "null {kind} in a non-nullable version");')
                L.append(f"{ind}  return r.field_error({err});")
                L.append(f"{ind}}}")
        else:
            L.append(f"{ind}{target} = r.read_{kind}(flex);")
            L.append(f"{ind}if (!r.ok()) return r.field_error({err});")
        return L
    if f.base == "records":
        L.append(f"{ind}{target} = r.read_records(flex);")
        L.append(f"{ind}if (!r.ok()) return r.field_error({err});")
        if f.null_ok != f.present:
            nc = cond_expr(f.null_ok, api)
            test = "" if nc is None else f" && !({nc})"
            L.append(f"{ind}if ({target}.is_null{test}) {{")
            L.append(f'{ind}  r.fail_at(fstart, "null records in a non-nullable version");')
            L.append(f"{ind}  return r.field_error({err});")
            L.append(f"{ind}}}")
        return L
    suffix = PRIMITIVES[f.base][2]
    L.append(f"{ind}{target} = r.read_{suffix}();")
    L.append(f"{ind}if (!r.ok()) return r.field_error({err});")
    return L


def read_field(f, api, ind):
    """Statements decoding field f (whole value, including arrays) into m.<name>."""
    name = f'"{f.name}"'
    L = [f"{ind}{{", f"{ind}  [[maybe_unused]] const size_t fstart = r.position();"]
    i2 = ind + "  "
    if not f.is_array:
        L += read_scalar(f, api, f"m.{f.name}", i2, name)
        L.append(f"{ind}}}")
        return L
    L.append(f"{i2}const int32_t n = r.read_array_length(flex, {array_elem_min(f, api)});")
    L.append(f"{i2}if (!r.ok()) return r.field_error({name});")
    L.append(f"{i2}if (n < 0) {{")
    if is_optional(f):
        if f.null_ok != f.present:
            L.append(f"{i2}  if (!({cond_expr(f.null_ok, api)})) {{")
            L.append(f'{i2}    r.fail_at(fstart, "null array in a non-nullable version");')
            L.append(f"{i2}    return r.field_error({name});")
            L.append(f"{i2}  }}")
        L.append(f"{i2}  m.{f.name}.reset();")
    else:
        L.append(f'{i2}  r.fail_at(fstart, "null array in a non-nullable field");')
        L.append(f"{i2}  return r.field_error({name});")
    L.append(f"{i2}}} else {{")
    vec = f"m.{f.name}.emplace()" if is_optional(f) else f"m.{f.name}"
    L.append(f"{i2}  auto& v = {vec};")
    L.append(f"{i2}  v.clear();")
    L.append(f"{i2}  v.reserve(static_cast<size_t>(std::min<int32_t>(n, {RESERVE_CAP})));")
    L.append(f"{i2}  for (int32_t i = 0; i < n; ++i) {{")
    err = f'"{f.name}[" + std::to_string(i) + "]"'
    L += read_scalar(f, api, "v.emplace_back()", i2 + "    ", err, elem=True)
    L.append(f"{i2}  }}")
    L.append(f"{i2}}}")
    L.append(f"{ind}}}")
    return L


def gen_read_fields(s, api):
    L = [f"bool read_fields({s.qual}& m, Reader& r, int16_t version) {{"]
    L.append(f"  [[maybe_unused]] const bool flex = {flex_expr(api)};")
    for f in s.fields:
        L += wrap_cond(cond_expr(f.regular, api), read_field(f, api, "  "), "  ")
    tagged = sorted((f for f in s.fields if f.as_tagged), key=lambda f: f.tag)
    if api.flexible is not None:
        L.append("  if (flex) {")
        if not tagged:
            L.append("    r.skip_tagged_fields();")
            L.append('    if (!r.ok()) return r.field_error("<tagged fields>");')
        else:
            L += [
                "    const uint32_t num_tags = r.read_uvarint();",
                '    if (!r.ok()) return r.field_error("<tagged fields>");',
                "    for (uint32_t t = 0; t < num_tags; ++t) {",
                "      const uint32_t tag = r.read_uvarint();",
                "      const uint32_t size = r.read_uvarint();",
                '      if (!r.ok()) return r.field_error("<tagged fields>");',
                "      const size_t start = r.position();",
                "      if (size > r.remaining()) {",
                '        r.fail_at(start, "tagged field size exceeds the remaining bytes");',
                '        return r.field_error("<tagged fields>");',
                "      }",
            ]
            first = True
            for f in tagged:
                c = cond_expr(f.as_tagged, api)
                test = f"tag == {f.tag}" + (f" && ({c})" if c else "")
                L.append(f"      {'if' if first else '} else if'} ({test}) {{")
                L += read_field(f, api, "        ")
                first = False
            L += [
                "      } else {",
                "        r.skip(size);  // unknown tag: ignore",
                "        continue;",
                "      }",
                "      if (r.position() - start != size) {",
                '        r.fail_at(start, "tagged field size mismatch");',
                '        return r.field_error("tag " + std::to_string(tag));',
                "      }",
                "    }",
            ]
        L.append("  }")
    L.append("  return true;")
    L.append("}")
    return L


def flex_expr(api):
    return "false" if api.flexible is None else f"version >= {api.flexible}"


# ------------------------------------------------------------------ encode


def write_scalar(f, api, value, ind, wn="w", elem=False):
    """Statements writing one non-array value; elem as in read_scalar."""
    if f.struct:
        return [f"{ind}write_fields({value}, {wn}, version);"]
    if f.base in ("string", "bytes"):
        kind = f.base
        if elem or not is_optional(f):
            return [f"{ind}{wn}.write_{kind}({value}, flex);"]
        nc = cond_expr(f.null_ok, api)
        fallback = f"{wn}.write_{kind}({value} ? std::string_view(*{value}) : std::string_view(), flex);"
        if f.null_ok == f.present:
            return [f"{ind}{wn}.write_nullable_{kind}({value}, flex);"]
        # Null in a version that cannot carry it: written as empty.
        return [
            f"{ind}if ({nc}) {{",
            f"{ind}  {wn}.write_nullable_{kind}({value}, flex);",
            f"{ind}}} else {{",
            f"{ind}  {fallback}",
            f"{ind}}}",
        ]
    if f.base == "records":
        if f.null_ok == f.present:
            nullable = "true"
        elif not f.null_ok:
            nullable = "false"
        else:
            nullable = cond_expr(f.null_ok, api)
        return [f"{ind}{wn}.write_records({value}, flex, {nullable});"]
    return [f"{ind}{wn}.write_{PRIMITIVES[f.base][2]}({value});"]


def write_field(f, api, ind, member, wn="w"):
    if not f.is_array:
        return write_scalar(f, api, member, ind, wn)
    L = []
    i2 = ind
    if is_optional(f):
        L.append(f"{ind}if (!{member}.has_value()) {{")
        if f.null_ok == f.present:
            L.append(f"{ind}  {wn}.write_null_array(flex);")
        else:
            L.append(f"{ind}  if ({cond_expr(f.null_ok, api)}) {{")
            L.append(f"{ind}    {wn}.write_null_array(flex);")
            L.append(f"{ind}  }} else {{")
            L.append(f"{ind}    {wn}.write_array_length(0, flex);  // null where null is not allowed")
            L.append(f"{ind}  }}")
        L.append(f"{ind}}} else {{")
        i2 = ind + "  "
        vec = f"(*{member})"
    else:
        vec = member
    L.append(f"{i2}{wn}.write_array_length({vec}.size(), flex);")
    L.append(f"{i2}for (const auto& e : {vec}) {{")
    L += write_scalar(f, api, "e", i2 + "  ", wn, elem=True)
    L.append(f"{i2}}}")
    if is_optional(f):
        L.append(f"{ind}}}")
    return L


def gen_write_fields(s, api):
    L = [f"void write_fields(const {s.qual}& m, Writer& w, int16_t version) {{"]
    L.append(f"  [[maybe_unused]] const bool flex = {flex_expr(api)};")
    for f in s.fields:
        body = write_field(f, api, "  ", f"m.{f.name}")
        L += wrap_cond(cond_expr(f.regular, api), body, "  ")
    tagged = sorted((f for f in s.fields if f.as_tagged), key=lambda f: f.tag)
    if api.flexible is not None:
        L.append("  if (flex) {")
        if not tagged:
            L.append("    w.write_uvarint(0);  // no tagged fields")
        else:
            L.append("    uint32_t num_tags = 0;")
            for f in tagged:
                c = cond_expr(f.as_tagged, api)
                test = (f"({c}) && " if c else "") + f"!({is_default_expr(f, 'm.' + f.name)})"
                L.append(f"    const bool has_{f.name} = {test};")
                L.append(f"    if (has_{f.name}) ++num_tags;")
            L.append("    w.write_uvarint(num_tags);")
            for f in tagged:
                L.append(f"    if (has_{f.name}) {{")
                L.append("      Writer t(w.references_records());")
                L += write_field(f, api, "      ", f"m.{f.name}", "t")
                L.append(f"      w.write_uvarint({f.tag});")
                L.append("      w.write_uvarint(static_cast<uint32_t>(t.size()));")
                L.append("      w.append(std::move(t));")
                L.append("    }")
        L.append("  }")
    L.append("}")
    return L


# ------------------------------------------------------------------ emit files


def post_order(s):
    for c in s.children:
        yield from post_order(c)
    yield s


def struct_decl(s, api, kind, ind):
    L = []
    top = s.qual == s.name
    L.append(f"{ind}struct {s.name} {{")
    i2 = ind + "  "
    if top:
        other = api.name + ("Response" if kind == "request" else "Request")
        flex = -1 if api.flexible is None else api.flexible
        L += [
            f"{i2}static constexpr int16_t kApiKey = {api.key};",
            f'{i2}static constexpr std::string_view kApiName = "{api.name}";',
            f"{i2}static constexpr int16_t kMinVersion = {api.lo};",
            f"{i2}static constexpr int16_t kMaxVersion = {api.hi};",
            f"{i2}static constexpr int16_t kFirstFlexible = {flex};  // -1 = never",
            f"{i2}using {'ResponseType' if kind == 'request' else 'RequestType'} = {other};",
            "",
        ]
    for c in s.children:
        L += struct_decl(c, api, kind, i2)
        L.append("")
    for f in s.fields:
        ver = f"v{f.versions[0]}+" if f.versions[1] == MAX_VERSION else f"v{f.versions[0]}-{f.versions[1]}"
        notes = [ver]
        if f.nullable:
            n = f.nullable
            notes.append("nullable " + (f"v{n[0]}+" if n[1] == MAX_VERSION else f"v{n[0]}-{n[1]}"))
        if f.tagged:
            notes.append(f"tag {f.tag}")
        L.append(f"{i2}{cpp_type(f)} {f.name}{member_init(f)};  // {', '.join(notes)}")
    L += [
        "",
        f"{i2}// false on malformed input; the Reader then holds the error and its byte position.",
        f"{i2}bool decode(Reader& r, int16_t version);",
        f"{i2}void encode(Writer& w, int16_t version) const;",
        f"{i2}bool operator==(const {s.name}&) const = default;",
        f"{ind}}};",
    ]
    return L


def gen_header(api):
    guard_note = f"// Generated by tools/gen_protocol.py from src/protocol/messages/{api.file}. Do not edit."
    L = [
        guard_note,
        "#pragma once",
        "",
        "#include <cstdint>",
        "#include <limits>",
        "#include <optional>",
        "#include <string>",
        "#include <string_view>",
        "#include <vector>",
        "",
        '#include "protocol/wire.h"',
        "",
        "namespace ks::protocol {",
        "",
        f"struct {api.name}Request;",
        f"struct {api.name}Response;",
        "",
    ]
    L += struct_decl(api.request, api, "request", "")
    L.append("")
    L += struct_decl(api.response, api, "response", "")
    L += ["", "}  // namespace ks::protocol", ""]
    return "\n".join(L)


def gen_source(api):
    L = [
        f"// Generated by tools/gen_protocol.py from src/protocol/messages/{api.file}. Do not edit.",
        f'#include "protocol/generated/{api.snake}.h"',
        "",
        "#include <algorithm>",
        "#include <cassert>",
        "#include <limits>",
        "",
        "namespace ks::protocol {",
        "namespace {",
        "",
    ]
    for kind in ("request", "response"):
        for s in post_order(getattr(api, kind)):
            L += gen_read_fields(s, api)
            L.append("")
            L += gen_write_fields(s, api)
            L.append("")
    L += ["}  // namespace", ""]
    for kind in ("request", "response"):
        top = getattr(api, kind)
        for s in post_order(top):
            if s is top:
                L += [
                    f"bool {s.qual}::decode(Reader& r, int16_t version) {{",
                    f"  *this = {s.name}{{}};",
                    "  if (version < kMinVersion || version > kMaxVersion) {",
                    '    r.fail("unsupported version");',
                    "  } else if (read_fields(*this, r, version)) {",
                    "    return true;",
                    "  }",
                    f'  r.set_context("{api.name} v" + std::to_string(version) + " {kind}");',
                    "  return false;",
                    "}",
                    "",
                    f"void {s.qual}::encode(Writer& w, int16_t version) const {{",
                    "  assert(version >= kMinVersion && version <= kMaxVersion);",
                    "  write_fields(*this, w, version);",
                    "}",
                    "",
                ]
            else:
                L += [
                    f"bool {s.qual}::decode(Reader& r, int16_t version) {{ return read_fields(*this, r, version); }}",
                    "",
                    f"void {s.qual}::encode(Writer& w, int16_t version) const {{ write_fields(*this, w, version); }}",
                    "",
                ]
    L += ["}  // namespace ks::protocol", ""]
    return "\n".join(L)


def gen_api_table(apis):
    L = [
        "// Generated by tools/gen_protocol.py from src/protocol/messages/*.json. Do not edit.",
        "#pragma once",
        "",
        "#include <array>",
        "#include <cstdint>",
        "#include <string_view>",
        "",
    ]
    L += [f'#include "protocol/generated/{a.snake}.h"' for a in apis]
    L += [
        "",
        "namespace ks::protocol {",
        "",
        "struct ApiSpec {",
        "  int16_t key;",
        "  std::string_view name;",
        "  int16_t min_version, max_version;    // advertised in ApiVersions",
        "  int16_t min_accepted, max_accepted;  // served; others get UNSUPPORTED_VERSION",
        "  int16_t first_flexible;              // -1 = never",
        "",
        "  constexpr bool advertised(int16_t v) const { return v >= min_version && v <= max_version; }",
        "  constexpr bool accepted(int16_t v) const { return v >= min_accepted && v <= max_accepted; }",
        "  constexpr bool flexible(int16_t v) const { return first_flexible >= 0 && v >= first_flexible; }",
        "};",
        "",
        f"inline constexpr std::array<ApiSpec, {len(apis)}> kApis = {{{{",
    ]
    for a in apis:
        flex = -1 if a.flexible is None else a.flexible
        L.append(f'    {{{a.key}, "{a.name}", {a.lo}, {a.hi}, {a.acc_lo}, {a.acc_hi}, {flex}}},')
    L += [
        "}};",
        "",
        "// nullptr for keys we do not declare.",
        "inline const ApiSpec* find_api(int16_t key) {",
        "  for (const ApiSpec& a : kApis) {",
        "    if (a.key == key) return &a;",
        "  }",
        "  return nullptr;",
        "}",
        "",
        "// Calls v.template operator()<XRequest, XResponse>() for the API with this key; false for",
        "// unknown keys. A generic lambda works: [&]<class Req, class Resp>() { ... }.",
        "template <class V>",
        "bool visit_api(int16_t key, V&& v) {",
        "  switch (key) {",
    ]
    for a in apis:
        L += [
            f"    case {a.key}:",
            f"      v.template operator()<{a.name}Request, {a.name}Response>();",
            "      return true;",
        ]
    L += ["    default:", "      return false;", "  }", "}", "", "}  // namespace ks::protocol", ""]
    return "\n".join(L)


def sample_value(f, seed_expr):
    """C++ expression for a non-default sample value of one element of f."""
    if f.base in INT_RANGES:
        d = f.default if isinstance(f.default, int) and not isinstance(f.default, bool) else 0
        v = d - 3 if d > 0 else d + 3
        ctype = PRIMITIVES[f.base][0]
        return f"static_cast<{ctype}>({v} + {seed_expr})"
    if f.base == "bool":
        return "false" if f.default else "true"
    if f.base == "float64":
        return f"(1.5 + {seed_expr})"
    if f.base == "uuid":
        return f"sample_uuid({seed_expr})"
    if f.base == "string":
        return f'"{f.name}-" + std::to_string({seed_expr})'
    if f.base == "bytes":
        return f'std::string("\\x00\\x01\\xff", 3) + std::to_string({seed_expr})'
    if f.base == "records":
        return f"Records::view(sample_records({seed_expr}))"
    raise AssertionError(f.base)


def gen_samples(apis):
    L = [
        "// Generated by tools/gen_protocol.py. Test support: fills every field present in a version",
        "// (every field when version < 0) with a non-default value. Do not edit.",
        "#pragma once",
        "",
        "#include <string>",
        "#include <string_view>",
        "",
    ]
    L += [f'#include "protocol/generated/{a.snake}.h"' for a in apis]
    L += [
        "",
        "namespace ks::protocol::samples {",
        "",
        "inline Uuid sample_uuid(int seed) {",
        "  Uuid u;",
        "  for (size_t i = 0; i < u.bytes.size(); ++i) u.bytes[i] = static_cast<uint8_t>(seed * 31 + i + 1);",
        "  return u;",
        "}",
        "",
        "inline std::string_view sample_records(int seed) {",
        '  static constexpr std::string_view kBytes = "\\x01record-batch-bytes\\x00\\xff-0123456789";',
        "  return kBytes.substr(static_cast<size_t>(seed) % 7);",
        "}",
        "",
    ]
    for a in apis:
        for kind in ("request", "response"):
            for s in post_order(getattr(a, kind)):
                L.append(f"inline void fill_sample({s.qual}& m, int16_t version, int seed) {{")
                for f in s.fields:
                    c = cond_expr(f.present, a)
                    test = "true" if c == "" else f"version < 0 || ({c})"
                    L.append(f"  if ({test}) {{")
                    if f.is_array:
                        vec = f"m.{f.name}.emplace()" if is_optional(f) else f"m.{f.name}"
                        L.append(f"    auto& v = {vec};")
                        L.append("    v.clear();")
                        L.append("    for (int i = 0; i < 2; ++i) {")
                        if f.struct:
                            L.append("      fill_sample(v.emplace_back(), version, seed * 3 + i + 1);")
                        else:
                            L.append(f"      v.push_back({sample_value(f, 'seed + i')});")
                        L.append("    }")
                    elif f.struct:
                        L.append(f"    fill_sample(m.{f.name}, version, seed + 1);")
                    else:
                        L.append(f"    m.{f.name} = {sample_value(f, 'seed')};")
                    L.append("  }")
                L.append("}")
                L.append("")
    L += ["}  // namespace ks::protocol::samples", ""]
    return "\n".join(L)


def write_if_changed(path, text):
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() == text:
                os.utime(path)  # keep the build tool from re-running us
                return
    except FileNotFoundError:
        pass
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


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
