#include "broker/cli.h"

int main(int argc, char** argv) { return ks::broker::cli_main(argc, argv); }
