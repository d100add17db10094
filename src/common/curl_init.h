// curl_global_init, once per process: every libcurl user (the etcd
// transport, the S3 store, the web identity provider) calls it before its
// first easy handle. Thread-safe.
#pragma once

namespace ks {

void init_curl_once();

}  // namespace ks
