"""C++ expression and type helpers shared by the decode, encode and emit generators."""

from .schema import INT_RANGES, PRIMITIVES, VARIABLE


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
        if is_optional(f):
            return f"!{m}.has_value()"
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
        return 1 if is_optional(f) else struct_min_size(f.struct, v, api)
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


def flex_expr(api):
    return "false" if api.flexible is None else f"version >= {api.flexible}"
