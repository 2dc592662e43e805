// embedrec: the whole recommendation platform in one binary.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "app/config.h"
#include "app/platform.h"
#include "common/build_info.h"
#include "common/log.h"
#include "common/random.h"

namespace {

int Serve(const embedrec::app::ServeConfig& config) {
  embedrec::Status s = embedrec::InitLogging(config.log_level, config.log_format);
  if (!s.ok()) {
    std::fprintf(stderr, "embedrec: %s\n", s.message().c_str());
    return 2;
  }
  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto platform = embedrec::app::Platform::Start(config);
  if (!platform.ok()) {
    std::fprintf(stderr, "embedrec: cannot start: %s\n", platform.status().message().c_str());
    return 1;
  }
  int sig = 0;
  sigwait(&stop, &sig);
  (*platform)->Shutdown();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  embedrec::InitCrypto();
  CLI::App app{"embedrec — a multi-tenant recommendation platform in one binary"};
  app.require_subcommand(1);

  embedrec::app::ServeConfig config;
  auto* serve = app.add_subcommand(
      "serve", "Start the platform (gateway :8000, ML engine :8001, data pipeline :8002)");
  embedrec::app::AddServeFlags(*serve, config);
  auto* version = app.add_subcommand("version", "Print the version and exit");

  CLI11_PARSE(app, argc, argv);
  if (*version) {
    std::printf("embedrec %s (%s)\n", embedrec::kVersion, embedrec::kGitSha);
    return 0;
  }
  if (*serve) return Serve(config);
  return 0;
}
