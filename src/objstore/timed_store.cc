#include "objstore/timed_store.h"

namespace ks::objstore {
namespace {

constexpr const char* kName = "kafscale_objstore_request_seconds";
constexpr const char* kHelp = "Object store request latency in seconds";

// Observes the time from construction to destruction.
class Timer {
 public:
  explicit Timer(metrics::Histogram& h) : h_(h), start_(std::chrono::steady_clock::now()) {}
  ~Timer() { h_.observe(std::chrono::steady_clock::now() - start_); }

 private:
  metrics::Histogram& h_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

TimedObjectStore::TimedObjectStore(std::shared_ptr<ObjectStore> inner, metrics::Registry& registry)
    : ForwardingObjectStore(std::move(inner)),
      put_(registry.histogram(kName, kHelp, {{"op", "put"}})),
      get_(registry.histogram(kName, kHelp, {{"op", "get"}})),
      list_(registry.histogram(kName, kHelp, {{"op", "list"}})),
      remove_(registry.histogram(kName, kHelp, {{"op", "delete"}})) {}

Status TimedObjectStore::put(std::string_view key, std::string_view data) {
  Timer t(put_);
  return inner_->put(key, data);
}

Result<std::string> TimedObjectStore::get(std::string_view key, std::optional<ByteRange> range) {
  Timer t(get_);
  return inner_->get(key, range);
}

Result<std::vector<ObjectInfo>> TimedObjectStore::list(std::string_view prefix) {
  Timer t(list_);
  return inner_->list(prefix);
}

Status TimedObjectStore::remove(std::string_view key) {
  Timer t(remove_);
  return inner_->remove(key);
}

}  // namespace ks::objstore
