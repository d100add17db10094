// librdkafka configuration helpers shared by the producer, the consumer and topic creation.
#pragma once

#include <librdkafka/rdkafka.h>

#include <string>

#include "loadgen/loadgen.h"

namespace ks::bench {

// Sets one property; false (and `err`) on an unknown key or bad value.
bool set_conf(rd_kafka_conf_t* conf, const std::string& key, const std::string& value, std::string& err);
// bootstrap.servers and client settings common to every handle; null (and `err`) on failure.
rd_kafka_conf_t* base_conf(const Options& opt, std::string& err);
// The user's raw --set KEY=VALUE settings, applied last.
bool apply_extra(rd_kafka_conf_t* conf, const Options& opt, std::string& err);

}  // namespace ks::bench
