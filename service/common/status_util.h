// The one place where absl::Status and grpc::Status meet. Codes map one to one (both follow
// google.rpc.Code); messages pass through unchanged.
#ifndef GEMMA_SERVICE_COMMON_STATUS_UTIL_H_
#define GEMMA_SERVICE_COMMON_STATUS_UTIL_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace gemma {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace gemma

#endif  // GEMMA_SERVICE_COMMON_STATUS_UTIL_H_
