#include "parallel/gloo_communicator.h"

#include <exception>
#include <vector>

#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/transport/tcp/device.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "parallel/rendezvous.h"

namespace gemma::parallel {
namespace {

// Gloo reports failures by throwing; nothing is allowed to escape to the caller.
template <typename Fn>
absl::Status Guarded(const char* what, int rank, Fn&& fn) {
  try {
    fn();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("rank ", rank, ": ", what, " failed: ", e.what()));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<GlooCommunicator>> GlooCommunicator::Connect(
    const GlooOptions& options) {
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", options.rank, " of world size ",
                                                   options.world_size, " is out of range"));
  }
  std::shared_ptr<gloo::rendezvous::Context> context;
  absl::Status status = Guarded("rendezvous", options.rank, [&] {
    std::unique_ptr<gloo::rendezvous::Store> store_owner;
    if (!options.store_address.empty()) {
      store_owner = std::make_unique<GrpcStore>(options.store_address, options.group,
                                                options.timeout);
    } else {
      store_owner = std::make_unique<gloo::rendezvous::FileStore>(options.store_dir);
    }
    gloo::rendezvous::Store& store = *store_owner;
    store.set(absl::StrCat("gemma/present/", options.rank), {'1'});
    // Wait for every peer by name so that a missing one can be reported.
    const auto deadline = std::chrono::steady_clock::now() + options.timeout;
    for (int peer = 0; peer < options.world_size; ++peer) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      try {
        store.wait({absl::StrCat("gemma/present/", peer)},
                   std::max(left, std::chrono::milliseconds(1)));
      } catch (const std::exception&) {
        throw std::runtime_error(absl::StrCat("rank ", peer, " did not join within ",
                                              options.timeout.count(), " ms"));
      }
    }
    gloo::transport::tcp::attr attr;
    attr.hostname = options.hostname;
    std::shared_ptr<gloo::transport::Device> device = gloo::transport::tcp::CreateDevice(attr);
    context = std::make_shared<gloo::rendezvous::Context>(options.rank, options.world_size);
    context->setTimeout(options.timeout);
    context->connectFullMesh(store, device);
  });
  if (!status.ok()) return status;
  return std::unique_ptr<GlooCommunicator>(
      new GlooCommunicator(options.rank, options.world_size, options.timeout, context));
}

GlooCommunicator::GlooCommunicator(int rank, int world_size, std::chrono::milliseconds timeout,
                                   std::shared_ptr<gloo::Context> context)
    : rank_(rank), world_size_(world_size), timeout_(timeout), context_(std::move(context)) {}

GlooCommunicator::~GlooCommunicator() = default;

absl::Status GlooCommunicator::AllReduceSum(float* data, size_t count) {
  return Guarded("all-reduce", rank_, [&] {
    gloo::AllreduceOptions options(context_);
    options.setOutput(data, count);
    options.setReduceFunction(
        static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<float>));
    options.setTimeout(timeout_);
    gloo::allreduce(options);
  });
}

absl::Status GlooCommunicator::AllGather(const float* input, size_t count, float* output) {
  return Guarded("all-gather", rank_, [&] {
    gloo::AllgatherOptions options(context_);
    options.setInput(const_cast<float*>(input), count);
    options.setOutput(output, count * world_size_);
    options.setTimeout(timeout_);
    gloo::allgather(options);
  });
}

absl::Status GlooCommunicator::Broadcast(float* data, size_t count, int root) {
  if (root < 0 || root >= world_size_) {
    return absl::InvalidArgumentError(absl::StrCat("broadcast root ", root, " out of range"));
  }
  return Guarded("broadcast", rank_, [&] {
    gloo::BroadcastOptions options(context_);
    options.setOutput(data, count);
    options.setRoot(root);
    options.setTimeout(timeout_);
    gloo::broadcast(options);
  });
}

absl::Status GlooCommunicator::Barrier() {
  return Guarded("barrier", rank_, [&] {
    gloo::BarrierOptions options(context_);
    options.setTimeout(timeout_);
    gloo::barrier(options);
  });
}

}  // namespace gemma::parallel
