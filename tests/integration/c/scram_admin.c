/* librdkafka's admin API for SCRAM credentials (DescribeUserScramCredentials,
 * AlterUserScramCredentials; librdkafka 2.2+), driven by test_scram_admin.py
 * against the librdkafka 2.15 that scripts/install-deps.sh --test builds.
 *
 *   scram_admin BOOTSTRAP CA_FILE describe [USER...]
 *   scram_admin BOOTSTRAP CA_FILE alter OP...
 *       OP: upsert:USER:MECHANISM:ITERATIONS:PASSWORD | delete:USER:MECHANISM
 *
 * Prints one line per user: "USER ERROR_CODE [MECHANISM:ITERATIONS ...]" for
 * describe, "USER ERROR_CODE" for alter; the request's own error as
 * "request ERROR_CODE MESSAGE". Exit 0 when an answer came, 1 otherwise. */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rd_kafka_ScramMechanism_t mechanism_of(const char* name) {
  if (strcmp(name, "SCRAM-SHA-256") == 0) return RD_KAFKA_SCRAM_MECHANISM_SHA_256;
  if (strcmp(name, "SCRAM-SHA-512") == 0) return RD_KAFKA_SCRAM_MECHANISM_SHA_512;
  return RD_KAFKA_SCRAM_MECHANISM_UNKNOWN;
}

static const char* mechanism_name(rd_kafka_ScramMechanism_t m) {
  switch (m) {
    case RD_KAFKA_SCRAM_MECHANISM_SHA_256:
      return "SCRAM-SHA-256";
    case RD_KAFKA_SCRAM_MECHANISM_SHA_512:
      return "SCRAM-SHA-512";
    default:
      return "UNKNOWN";
  }
}

static int error_code(const rd_kafka_error_t* e) { return e ? (int)rd_kafka_error_code(e) : 0; }

static rd_kafka_t* client(const char* bootstrap, const char* ca) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err) ||
      rd_kafka_conf_set(conf, "security.protocol", "SSL", err, sizeof err) ||
      rd_kafka_conf_set(conf, "ssl.ca.location", ca, err, sizeof err)) {
    fprintf(stderr, "config: %s\n", err);
    exit(1);
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    fprintf(stderr, "rd_kafka_new: %s\n", err);
    exit(1);
  }
  return rk;
}

/* Waits for the admin result event of `type`. */
static rd_kafka_event_t* wait_result(rd_kafka_queue_t* q, rd_kafka_event_type_t type) {
  for (int i = 0; i < 60; ++i) {
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 1000);
    if (!ev) continue;
    if (rd_kafka_event_type(ev) == type) return ev;
    rd_kafka_event_destroy(ev);
  }
  fprintf(stderr, "no answer within 60 s\n");
  exit(1);
}

static int describe(rd_kafka_t* rk, rd_kafka_queue_t* q, const char** users, size_t n) {
  rd_kafka_DescribeUserScramCredentials(rk, users, n, NULL, q);
  rd_kafka_event_t* ev = wait_result(q, RD_KAFKA_EVENT_DESCRIBEUSERSCRAMCREDENTIALS_RESULT);
  if (rd_kafka_event_error(ev)) {
    printf("request %d %s\n", (int)rd_kafka_event_error(ev), rd_kafka_event_error_string(ev));
    rd_kafka_event_destroy(ev);
    return 0;
  }
  const rd_kafka_DescribeUserScramCredentials_result_t* res =
      rd_kafka_event_DescribeUserScramCredentials_result(ev);
  size_t cnt = 0;
  const rd_kafka_UserScramCredentialsDescription_t** d =
      rd_kafka_DescribeUserScramCredentials_result_descriptions(res, &cnt);
  for (size_t i = 0; i < cnt; ++i) {
    printf("%s %d", rd_kafka_UserScramCredentialsDescription_user(d[i]),
           error_code(rd_kafka_UserScramCredentialsDescription_error(d[i])));
    size_t k = rd_kafka_UserScramCredentialsDescription_scramcredentialinfo_count(d[i]);
    for (size_t j = 0; j < k; ++j) {
      const rd_kafka_ScramCredentialInfo_t* info =
          rd_kafka_UserScramCredentialsDescription_scramcredentialinfo(d[i], j);
      printf(" %s:%d", mechanism_name(rd_kafka_ScramCredentialInfo_mechanism(info)),
             (int)rd_kafka_ScramCredentialInfo_iterations(info));
    }
    printf("\n");
  }
  rd_kafka_event_destroy(ev);
  return 0;
}

static int alter(rd_kafka_t* rk, rd_kafka_queue_t* q, char** ops, size_t n) {
  rd_kafka_UserScramCredentialAlteration_t** alts = calloc(n, sizeof *alts);
  for (size_t i = 0; i < n; ++i) {
    char* kind = strtok(ops[i], ":");
    char* user = strtok(NULL, ":");
    char* mech = strtok(NULL, ":");
    if (!kind || !user || !mech) {
      fprintf(stderr, "bad op\n");
      return 1;
    }
    if (strcmp(kind, "delete") == 0) {
      alts[i] = rd_kafka_UserScramCredentialDeletion_new(user, mechanism_of(mech));
    } else {
      char* iterations = strtok(NULL, ":");
      char* password = strtok(NULL, "");
      if (!iterations || !password) {
        fprintf(stderr, "bad upsert\n");
        return 1;
      }
      /* No salt: librdkafka draws one and derives the salted password itself. */
      alts[i] = rd_kafka_UserScramCredentialUpsertion_new(user, mechanism_of(mech), atoi(iterations),
                                                          (const unsigned char*)password, strlen(password),
                                                          NULL, 0);
    }
  }
  rd_kafka_AlterUserScramCredentials(rk, alts, n, NULL, q);
  rd_kafka_UserScramCredentialAlteration_destroy_array(alts, n);
  free(alts);
  rd_kafka_event_t* ev = wait_result(q, RD_KAFKA_EVENT_ALTERUSERSCRAMCREDENTIALS_RESULT);
  if (rd_kafka_event_error(ev)) {
    printf("request %d %s\n", (int)rd_kafka_event_error(ev), rd_kafka_event_error_string(ev));
    rd_kafka_event_destroy(ev);
    return 0;
  }
  const rd_kafka_AlterUserScramCredentials_result_t* res =
      rd_kafka_event_AlterUserScramCredentials_result(ev);
  size_t cnt = 0;
  const rd_kafka_AlterUserScramCredentials_result_response_t** r =
      rd_kafka_AlterUserScramCredentials_result_responses(res, &cnt);
  for (size_t i = 0; i < cnt; ++i) {
    printf("%s %d\n", rd_kafka_AlterUserScramCredentials_result_response_user(r[i]),
           error_code(rd_kafka_AlterUserScramCredentials_result_response_error(r[i])));
  }
  rd_kafka_event_destroy(ev);
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: scram_admin BOOTSTRAP CA_FILE describe [USER...] | alter OP...\n");
    return 1;
  }
  rd_kafka_t* rk = client(argv[1], argv[2]);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  int rc;
  if (strcmp(argv[3], "describe") == 0) {
    rc = describe(rk, q, (const char**)(argv + 4), (size_t)(argc - 4));
  } else if (strcmp(argv[3], "alter") == 0 && argc > 4) {
    rc = alter(rk, q, argv + 4, (size_t)(argc - 4));
  } else {
    fprintf(stderr, "unknown command %s\n", argv[3]);
    rc = 1;
  }
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  fflush(stdout);
  return rc;
}
