// Catch2's main, in its own translation unit so the tests recompile quickly.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <csignal>

int main(int argc, char** argv) {
  // As in the server: the Redis tests kill redis-server while hiredis writes
  // to it with plain send(), which must fail with EPIPE, not end the run.
  std::signal(SIGPIPE, SIG_IGN);
  return Catch::Session().run(argc, argv);
}
