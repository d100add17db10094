// The small AWS text helpers the S3 backend and the credential chain share: percent-encoding,
// minimal XML reading, ISO 8601 times. Pure functions: no I/O (the fuzz targets link them).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ks::objstore {

namespace aws {

// RFC 3986 percent-encoding of everything but unreserved characters
// (A-Za-z0-9-._~); '/' too unless keep_slash.
std::string uri_encode(std::string_view s, bool keep_slash = false);
// Inverse of uri_encode; nullopt on a malformed escape.
std::optional<std::string> uri_decode(std::string_view s);

// Minimal XML reading for S3/STS responses: no namespaces prefixes, DTDs or
// CDATA, which these responses do not use.
// Raw contents of every <tag>...</tag> (also <tag attr="..">) in document
// order, nested elements included verbatim.
std::vector<std::string_view> xml_elements(std::string_view xml, std::string_view tag);
// Unescaped text of the first <tag> element; nullopt when absent.
std::optional<std::string> xml_text(std::string_view xml, std::string_view tag);
// Replaces the five predefined entities and numeric character references.
std::string xml_unescape(std::string_view s);
std::string xml_escape(std::string_view s);

// Parses "2019-11-09T13:34:41Z" (fractional seconds allowed).
std::optional<std::chrono::system_clock::time_point> parse_iso8601(std::string_view s);

}  // namespace aws
}  // namespace ks::objstore
