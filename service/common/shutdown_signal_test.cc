#include "service/common/shutdown_signal.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "gtest/gtest.h"

namespace gemma {
namespace {

TEST(ShutdownSignalTest, SigtermFromAnotherThreadWakesWait) {
  ShutdownSignal shutdown_signal;  // Blocks SIGTERM before the thread below exists.
  std::thread sender([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    kill(getpid(), SIGTERM);  // Would kill the test if it were not blocked and waited for.
  });
  EXPECT_EQ(shutdown_signal.Wait(), SIGTERM);
  sender.join();
}

TEST(ShutdownSignalTest, SigintWakesWait) {
  ShutdownSignal shutdown_signal;
  kill(getpid(), SIGINT);
  EXPECT_EQ(shutdown_signal.Wait(), SIGINT);
}

TEST(ShutdownSignalTest, NotifyWakesWaitWithZero) {
  ShutdownSignal shutdown_signal;
  std::thread notifier([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    shutdown_signal.Notify();
  });
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(shutdown_signal.Wait(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  notifier.join();
}

}  // namespace
}  // namespace gemma
