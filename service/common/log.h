// Minimal leveled logging to stderr: "I1127 22:30:01.123456 server.cc] message".
// Thread-safe (one write(2) per line). Abseil 2022 (Debian) predates absl/log, hence this file.
#ifndef GEMMA_SERVICE_COMMON_LOG_H_
#define GEMMA_SERVICE_COMMON_LOG_H_

#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace gemma {

enum class LogLevel { kInfo, kWarning, kError };

// Writes one line. `source` is a short origin tag (file or component name).
void LogLine(LogLevel level, absl::string_view source, absl::string_view message);

template <typename... Args>
void LogInfo(absl::string_view source, const absl::FormatSpec<Args...>& format,
             const Args&... args) {
  LogLine(LogLevel::kInfo, source, absl::StrFormat(format, args...));
}

template <typename... Args>
void LogWarning(absl::string_view source, const absl::FormatSpec<Args...>& format,
                const Args&... args) {
  LogLine(LogLevel::kWarning, source, absl::StrFormat(format, args...));
}

template <typename... Args>
void LogError(absl::string_view source, const absl::FormatSpec<Args...>& format,
              const Args&... args) {
  LogLine(LogLevel::kError, source, absl::StrFormat(format, args...));
}

}  // namespace gemma

#endif  // GEMMA_SERVICE_COMMON_LOG_H_
