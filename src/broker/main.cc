#include "broker/cli.h"
#include "common/log_sink.h"

int main(int argc, char** argv) {
  ks::install_escaping_logger();
  return ks::broker::cli_main(argc, argv);
}
