"""Generates write_fields() for each struct: the encoders."""

from .cpp import cond_expr, flex_expr, is_default_expr, is_optional, wrap_cond
from .schema import PRIMITIVES


def write_scalar(f, api, value, ind, wn="w", elem=False):
    """Statements writing one non-array value; elem as in read_scalar."""
    if f.struct:
        if is_optional(f) and not elem:
            return [
                f"{ind}{wn}.write_i8({value} ? 1 : -1);  // nullable struct",
                f"{ind}if ({value}) write_fields(*{value}, {wn}, version);",
            ]
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
