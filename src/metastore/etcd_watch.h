// etcd watches, internal to the etcd backend: each runs on its own thread
// over one streaming POST /v3/watch. A broken stream reconnects (next
// endpoint, from the revision after the last event delivered) for up to the
// request timeout, then the callback gets unavailable.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "metastore/etcd_codec.h"
#include "metastore/etcd_transport.h"
#include "metastore/metadata_store.h"

namespace ks::metastore::etcd {

// Watches [key, end) (both already prefixed; an empty end = the one key)
// from start_revision (0 = from now); events reach `cb` with `keys.prefix`
// stripped. Blocks until etcd confirmed the watch, so every later write is
// seen, or returns the error that prevented it. `on_close` runs when the
// returned Watch is destroyed (not when starting fails).
Result<std::unique_ptr<Watch>> start_watch(std::shared_ptr<Transport> transport, KeyPrefix keys,
                                           std::string key, std::string end, std::int64_t start_revision,
                                           WatchCallback cb, std::function<void()> on_close);

}  // namespace ks::metastore::etcd
