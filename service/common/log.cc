#include "service/common/log.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace gemma {

void LogLine(LogLevel level, absl::string_view source, absl::string_view message) {
  static constexpr char kLevelChar[] = {'I', 'W', 'E'};
  std::string line = absl::StrCat(
      std::string(1, kLevelChar[static_cast<int>(level)]),
      absl::FormatTime("%m%d %H:%M:%E6S", absl::Now(), absl::LocalTimeZone()), " ", source, "] ",
      message, "\n");
  // A single write keeps concurrent lines whole.
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace gemma
