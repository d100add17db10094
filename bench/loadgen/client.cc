#include "loadgen/client.h"

#include <memory>

namespace ks::bench {

bool set_conf(rd_kafka_conf_t* conf, const std::string& key, const std::string& value, std::string& err) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    err = key + "=" + value + ": " + errstr;
    return false;
  }
  return true;
}

rd_kafka_conf_t* base_conf(const Options& opt, std::string& err) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (!set_conf(conf, "bootstrap.servers", opt.bootstrap, err) ||
      !set_conf(conf, "client.id", "kafscale-loadgen", err)) {
    rd_kafka_conf_destroy(conf);
    return nullptr;
  }
  return conf;
}

bool apply_extra(rd_kafka_conf_t* conf, const Options& opt, std::string& err) {
  for (const auto& [k, v] : opt.extra) {
    if (!set_conf(conf, k, v, err)) return false;
  }
  return true;
}

std::string create_topic(const Options& opt) {
  std::string err;
  rd_kafka_conf_t* conf = base_conf(opt, err);
  if (!conf) return err;
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!rk) return errstr;
  rd_kafka_NewTopic_t* nt =
      rd_kafka_NewTopic_new(opt.topic.c_str(), opt.partitions, 1, errstr, sizeof(errstr));
  if (!nt) {
    rd_kafka_destroy(rk);
    return errstr;
  }
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(ao, 60000, errstr, sizeof(errstr));
  rd_kafka_AdminOptions_set_request_timeout(ao, 90000, errstr, sizeof(errstr));
  rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
  // 1,000 partitions take a while on a busy machine; the request timeout above bounds it.
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 100000);
  if (!ev) {
    err = "CreateTopics: no answer";
  } else if (rd_kafka_event_error(ev)) {
    err = std::string("CreateTopics: ") + rd_kafka_event_error_string(ev);
  } else {
    const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n; ++i) {
      rd_kafka_resp_err_t e = rd_kafka_topic_result_error(topics[i]);
      if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        const char* s = rd_kafka_topic_result_error_string(topics[i]);
        err = std::string("CreateTopics: ") + (s ? s : rd_kafka_err2str(e));
      }
    }
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(ao);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  return err;
}

}  // namespace ks::bench
