#include "protocol/errors.h"

namespace ks::protocol {

std::string_view error_name(ErrorCode e) {
  switch (e) {
#define KS_KAFKA_ERROR_NAME(id, code, name, retriable) \
  case ErrorCode::id:                                  \
    return name;
    KS_KAFKA_ERRORS(KS_KAFKA_ERROR_NAME)
#undef KS_KAFKA_ERROR_NAME
  }
  return "UNKNOWN_ERROR_CODE";
}

bool is_retriable(ErrorCode e) {
  switch (e) {
#define KS_KAFKA_ERROR_RETRIABLE(id, code, name, retriable) \
  case ErrorCode::id:                                       \
    return retriable;
    KS_KAFKA_ERRORS(KS_KAFKA_ERROR_RETRIABLE)
#undef KS_KAFKA_ERROR_RETRIABLE
  }
  return false;
}

}  // namespace ks::protocol
