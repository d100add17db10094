// Status and Result<T>: the error model of the data plane (no exceptions there).
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ks {

// Error categories shared by the storage interfaces and the broker core.
enum class Errc : unsigned char {
  ok = 0,
  not_found,         // key/object does not exist
  already_exists,    // create-if-absent lost
  invalid_argument,  // caller passed something malformed (bad key, bad range)
  io_error,          // the operation failed and is known NOT to have taken effect
  unavailable,       // backend unreachable; known not applied
  timeout,           // outcome unknown: the operation may or may not have applied
  corrupt,           // data failed a checksum or format check
  limit_exceeded,    // an explicit limit (ops per txn, request size, ...) was hit
  compacted,         // requested revision was compacted away
  fenced,            // a newer owner took over
  nospace,           // backend quota exhausted
  cancelled,         // shutting down
};

std::string_view errc_name(Errc e);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Errc code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok_status() { return {}; }

  bool ok() const { return code_ == Errc::ok; }
  Errc code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string to_string() const;

 private:
  Errc code_ = Errc::ok;
  std::string message_;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) { assert(!std::get<1>(v_).ok()); }  // NOLINT
  Result(Errc code, std::string message) : v_(Status(code, std::move(message))) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Status& status() const { assert(!ok()); return std::get<1>(v_); }
  Errc code() const { return ok() ? Errc::ok : status().code(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace ks
