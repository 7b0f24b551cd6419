#include "service/common/shutdown_signal.h"

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <ctime>

namespace gemma {
namespace {

sigset_t ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

ShutdownSignal::ShutdownSignal() {
  sigset_t set = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int ShutdownSignal::Wait() {
  sigset_t set = ShutdownSignals();
  const timespec poll = {0, 100 * 1000 * 1000};
  while (!notified_.load(std::memory_order_acquire)) {
    int signal = sigtimedwait(&set, nullptr, &poll);
    if (signal > 0) return signal;
    // EAGAIN: timed out; EINTR: another signal. Either way, re-check notified_.
  }
  return 0;
}

void ShutdownSignal::Notify() { notified_.store(true, std::memory_order_release); }

}  // namespace gemma
