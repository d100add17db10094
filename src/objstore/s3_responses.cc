#include "objstore/s3_responses.h"

#include <charconv>

#include "objstore/aws_text.h"

namespace ks::objstore::s3 {

ErrorBody parse_error(std::string_view body) {
  return ErrorBody{aws::xml_text(body, "Code").value_or(""), aws::xml_text(body, "Message").value_or("")};
}

Result<ListPage> parse_list_page(std::string_view body, std::size_t max_entries) {
  ListPage page;
  for (std::string_view contents : aws::xml_elements(body, "Contents")) {
    if (page.entries.size() >= max_entries) {
      return Status(Errc::io_error, "more than " + std::to_string(max_entries) + " <Contents> in one page");
    }
    auto key = aws::xml_text(contents, "Key");
    auto size = aws::xml_text(contents, "Size");
    if (!key || !size) return Status(Errc::io_error, "<Contents> without Key or Size");
    ListEntry e;
    e.key = std::move(*key);
    const char* end = size->data() + size->size();
    auto [p, ec] = std::from_chars(size->data(), end, e.size);
    if (size->empty() || ec != std::errc() || p != end) return Status(Errc::io_error, "bad Size " + *size);
    page.entries.push_back(std::move(e));
  }
  page.truncated = aws::xml_text(body, "IsTruncated").value_or("false") == "true";
  page.next_token = aws::xml_text(body, "NextContinuationToken").value_or("");
  return page;
}

std::optional<std::string> parse_upload_id(std::string_view body) {
  auto id = aws::xml_text(body, "UploadId");
  if (!id || id->empty()) return std::nullopt;
  return id;
}

KeyErrors parse_key_errors(std::string_view body) {
  KeyErrors out;
  auto errors = aws::xml_elements(body, "Error");
  out.count = errors.size();
  if (!errors.empty()) {
    out.first =
        KeyError{aws::xml_text(errors[0], "Key").value_or(""), aws::xml_text(errors[0], "Code").value_or(""),
                 aws::xml_text(errors[0], "Message").value_or("")};
  }
  return out;
}

}  // namespace ks::objstore::s3
