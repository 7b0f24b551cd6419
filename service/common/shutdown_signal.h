// Turns SIGTERM and SIGINT into an event main() can wait for.
//
// Construct it first thing in main(), before any thread exists (gRPC starts threads when a server
// or channel is built): the constructor blocks both signals in the calling thread, every thread
// created later inherits the mask, and only Wait() receives them. Thread-safe.
#ifndef GEMMA_SERVICE_COMMON_SHUTDOWN_SIGNAL_H_
#define GEMMA_SERVICE_COMMON_SHUTDOWN_SIGNAL_H_

#include <atomic>

namespace gemma {

class ShutdownSignal {
 public:
  ShutdownSignal();
  ShutdownSignal(const ShutdownSignal&) = delete;
  ShutdownSignal& operator=(const ShutdownSignal&) = delete;

  // Blocks until SIGTERM or SIGINT arrives, or Notify() is called. Returns the signal number, or
  // 0 for Notify().
  int Wait();
  // Wakes Wait() (within about 100 ms) as if a signal had arrived.
  void Notify();

 private:
  std::atomic<bool> notified_{false};
};

}  // namespace gemma

#endif  // GEMMA_SERVICE_COMMON_SHUTDOWN_SIGNAL_H_
