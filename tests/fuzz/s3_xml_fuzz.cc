// libFuzzer target: S3's XML answers as the S3 backend reads them (objstore/s3_responses.h: error
// bodies, ListObjectsV2 pages, CreateMultipartUpload, DeleteObjects / CompleteMultipartUpload
// errors) and the XML helpers under them. The whole input is the body; every reader runs on it.
// Nothing may crash; what a page yields must respect its limit.
#include <cstdint>
#include <string_view>

#include "common/assert.h"
#include "objstore/aws_text.h"
#include "objstore/s3_responses.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ks::objstore;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  (void)s3::parse_error(body);
  constexpr std::size_t kMax = 64;
  auto page = s3::parse_list_page(body, kMax);
  if (page.ok())
    KS_ASSERT(page->entries.size() <= kMax, "{} entries from a page limited to {}", page->entries.size(),
              kMax);
  (void)s3::parse_upload_id(body);
  auto errors = s3::parse_key_errors(body);
  KS_ASSERT((errors.count == 0) == !errors.first, "{} errors but first {}", errors.count,
            errors.first.has_value());
  // Escaping then unescaping gives the text back.
  KS_ASSERT(aws::xml_unescape(aws::xml_escape(body)) == body, "xml_unescape(xml_escape(x)) != x");
  (void)aws::parse_iso8601(body);
  return 0;
}
