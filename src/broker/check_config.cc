#include "broker/check_config.h"

#include "broker/stores.h"
#include "objstore/aws_credentials.h"
#include "objstore/s3_store.h"

namespace ks::broker {
namespace {

Status check_object_store(const std::string& url, const EnvLookup& env) {
  if (url.starts_with("file://")) {
    if (url.size() == 7) return Status(Errc::invalid_argument, "object-store: file:// needs a path");
    return {};
  }
  if (url.starts_with("s3://")) {
    auto loc = objstore::parse_s3_url(url);
    if (!loc.ok()) return Status(Errc::invalid_argument, "object-store: " + loc.status().message());
    auto creds = objstore::default_credentials_provider(env);
    if (!creds.ok() && creds.code() == Errc::invalid_argument) {
      return Status(Errc::invalid_argument, "object-store: " + creds.status().message());
    }
    return {};
  }
  return Status(Errc::invalid_argument, "object-store: unsupported URL '" + url +
                                            "' (this build supports file:///path and s3://...)");
}

Status check_metadata(const std::string& url, const EnvLookup& env) {
  if (url.starts_with("embedded://")) {
    if (url.size() == 11) return Status(Errc::invalid_argument, "metadata: embedded:// needs a path");
    return {};
  }
  if (url.starts_with("etcd://") || url.starts_with("etcds://")) {
    auto o = etcd_options(url, env);
    if (!o.ok()) return o.status();
    return {};
  }
  return Status(Errc::invalid_argument,
                "metadata: unsupported URL '" + url +
                    "' (this build supports embedded:///path and etcd://HOST:PORT/...)");
}

}  // namespace

int check_config(const Config& cfg, const EnvLookup& env, std::ostream& out, std::ostream& err) {
  for (const Status& st : {check_object_store(cfg.object_store, env), check_metadata(cfg.metadata, env)}) {
    if (!st.ok()) {
      err << "kafscale broker: " << st.message() << "\n";
      return 2;
    }
  }
  out << "configuration OK\n" << describe(cfg);
  return 0;
}

}  // namespace ks::broker
