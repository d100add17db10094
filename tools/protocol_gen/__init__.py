"""Kafka protocol codec generator, driven by tools/gen_protocol.py.

schema  JSON declarations -> Api/Struct/Field model, with validation
cpp     C++ expression and type helpers shared by the generators
decode  read_fields() generation
encode  write_fields() generation
emit    <api>.h/.cc, api_table.h and samples.h text, write_if_changed()
"""
