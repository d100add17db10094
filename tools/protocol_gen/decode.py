"""Generates read_fields() for each struct: the decoders."""

from .cpp import array_elem_min, cond_expr, flex_expr, is_optional, wrap_cond
from .schema import PRIMITIVES, RESERVE_CAP


def read_scalar(f, api, target, ind, err, elem=False):
    """Statements reading one non-array value of field f into `target`.

    elem: `target` is an array element. Nullability then belongs to the array, so
    the elements themselves are plain (Kafka has no arrays of nullable strings).
    """
    L = []
    if f.struct:
        if is_optional(f) and not elem:
            L.append(f"{ind}if (r.read_i8() < 0) {{  // nullable struct")
            L.append(f"{ind}  {target}.reset();")
            L.append(f"{ind}}} else if (!r.ok() || !{target}.emplace().decode(r, version)) {{")
            L.append(f"{ind}  return r.field_error({err});")
            L.append(f"{ind}}}")
            L.append(f"{ind}if (!r.ok()) return r.field_error({err});")
            return L
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
