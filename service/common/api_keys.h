// API keys for a gRPC listener: which callers may use it, and which tenant each is bound to.
//
// Keys file (--api_keys_file; Kubernetes mounts it from a Secret), one key per line:
//   <key> <tenant>     the key's calls count for <tenant>, whatever the request says
//   <key> *            a key not bound to a tenant: the request's own tenant field applies
// Blank lines and lines starting with '#' are ignored. Keys are 16..256 printable ASCII
// characters without spaces; tenants match [A-Za-z0-9_.:-]{1,64}.
//
// A call presents its key as metadata `authorization: Bearer <key>` or `x-api-key: <key>`.
// Missing or unknown: UNAUTHENTICATED (the message never echoes the key). Health and reflection
// are not behind keys (Kubernetes probes and tooling use them). Lookups compare every key in
// constant time per key, so the time taken does not reveal how much of a key matched.
// Thread-safe after Load (immutable).
#ifndef GEMMA_SERVICE_COMMON_API_KEYS_H_
#define GEMMA_SERVICE_COMMON_API_KEYS_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"

namespace gemma {

struct Caller {
  std::optional<std::string> tenant;  // Set when the key is bound to one.
};

class ApiKeys {
 public:
  // Parses a keys file; INVALID_ARGUMENT names the line.
  static absl::StatusOr<std::unique_ptr<ApiKeys>> Parse(const std::string& text);
  static absl::StatusOr<std::unique_ptr<ApiKeys>> Load(const std::string& path);

  // The caller behind this call's key, or UNAUTHENTICATED.
  absl::StatusOr<Caller> Authenticate(const grpc::ServerContext& context) const;
  // The same from a presented key (empty: none presented).
  absl::StatusOr<Caller> Check(const std::string& key) const;
  size_t size() const { return keys_.size(); }

 private:
  struct Entry {
    std::string key;
    std::optional<std::string> tenant;
  };
  std::vector<Entry> keys_;
};

}  // namespace gemma

#endif  // GEMMA_SERVICE_COMMON_API_KEYS_H_
