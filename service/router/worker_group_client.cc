#include "service/router/worker_group_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "service/common/status_util.h"

namespace gemma {
namespace {

// The pools every rank can hold: the minimum over ranks.
worker::v1::KvCacheGeometry CommonPools(const std::vector<worker::v1::KvCacheGeometry>& ranks) {
  worker::v1::KvCacheGeometry geometry = ranks[0];
  for (const worker::v1::KvCacheGeometry& rank : ranks) {
    geometry.set_num_full_blocks(std::min(geometry.num_full_blocks(), rank.num_full_blocks()));
    geometry.set_num_sliding_blocks(
        std::min(geometry.num_sliding_blocks(), rank.num_sliding_blocks()));
  }
  return geometry;
}

}  // namespace

WorkerGroupClient::WorkerGroupClient(const std::vector<std::string>& addresses) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(256 << 20);
  arguments.SetMaxSendMessageSize(256 << 20);
  for (const std::string& address : addresses) {
    stubs_.push_back(worker::v1::Worker::NewStub(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), arguments)));
  }
}

template <typename Call>
absl::Status WorkerGroupClient::OnEveryRank(Call call) {
  std::vector<absl::Status> statuses(stubs_.size());
  std::vector<std::thread> threads;
  for (size_t r = 1; r < stubs_.size(); ++r) {
    threads.emplace_back([&, r] { statuses[r] = call(static_cast<int>(r), *stubs_[r]); });
  }
  statuses[0] = call(0, *stubs_[0]);
  for (std::thread& t : threads) t.join();
  for (size_t r = 0; r < statuses.size(); ++r) {
    if (!statuses[r].ok()) {
      return absl::Status(statuses[r].code(), absl::StrCat("worker rank ", r, ": ",
                                                           statuses[r].message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<worker::v1::KvCacheGeometry> WorkerGroupClient::Warmup(
    const worker::v1::WarmupRequest& request) {
  warmup_ = request;
  std::vector<worker::v1::WarmupResponse> responses(stubs_.size());
  absl::Status status = OnEveryRank([&](int rank, worker::v1::Worker::Stub& stub) {
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
    return FromGrpcStatus(stub.Warmup(&context, request, &responses[rank]));
  });
  if (!status.ok()) return status;
  std::vector<worker::v1::KvCacheGeometry> pools;
  for (const worker::v1::WarmupResponse& r : responses) pools.push_back(r.kv_cache());
  return CommonPools(pools);
}

absl::StatusOr<worker::v1::InfoResponse> WorkerGroupClient::Info() {
  worker::v1::InfoResponse response;
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(2));
  absl::Status status = FromGrpcStatus(stubs_[0]->Info(&context, worker::v1::InfoRequest(), &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<worker::v1::StepResponse> WorkerGroupClient::Step(
    const worker::v1::StepRequest& request) {
  std::vector<worker::v1::StepResponse> responses(stubs_.size());
  absl::Status status = OnEveryRank([&](int rank, worker::v1::Worker::Stub& stub) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
    return FromGrpcStatus(stub.Step(&context, request, &responses[rank]));
  });
  if (!status.ok()) return status;
  return std::move(responses[0]);
}

absl::Status WorkerGroupClient::Release(const std::vector<uint64_t>& sequence_ids) {
  worker::v1::ReleaseRequest request;
  for (uint64_t id : sequence_ids) request.add_sequence_ids(id);
  return OnEveryRank([&](int, worker::v1::Worker::Stub& stub) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    worker::v1::ReleaseResponse response;
    return FromGrpcStatus(stub.Release(&context, request, &response));
  });
}

absl::StatusOr<worker::v1::KvCacheGeometry> WorkerGroupClient::Recover() {
  constexpr auto kProbe = std::chrono::seconds(2);
  std::vector<worker::v1::InfoResponse> infos(stubs_.size());
  absl::Status status = OnEveryRank([&](int rank, worker::v1::Worker::Stub& stub) {
    grpc::ClientContext context;
    context.set_wait_for_ready(true);  // Reconnect to a restarted rank.
    context.set_deadline(std::chrono::system_clock::now() + kProbe);
    return FromGrpcStatus(stub.Info(&context, worker::v1::InfoRequest(), &infos[rank]));
  });
  if (!status.ok()) return status;
  // Every rank of a group restarts together (their collectives are bound to each other), so
  // one cold rank means a new group: warm them all up.
  if (std::any_of(infos.begin(), infos.end(), [](const auto& i) { return !i.warmed_up(); })) {
    absl::StatusOr<worker::v1::KvCacheGeometry> geometry = Warmup(warmup_);
    if (!geometry.ok()) return geometry.status();
  }
  status = OnEveryRank([&](int, worker::v1::Worker::Stub& stub) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kProbe);
    worker::v1::ClearCacheResponse response;
    return FromGrpcStatus(stub.ClearCache(&context, worker::v1::ClearCacheRequest(), &response));
  });
  if (!status.ok()) return status;
  std::vector<worker::v1::InfoResponse> warmed(stubs_.size());
  status = OnEveryRank([&](int rank, worker::v1::Worker::Stub& stub) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kProbe);
    worker::v1::HealthResponse health;
    absl::Status s = FromGrpcStatus(stub.Health(&context, worker::v1::HealthRequest(), &health));
    if (!s.ok()) return s;
    grpc::ClientContext info_context;
    info_context.set_deadline(std::chrono::system_clock::now() + kProbe);
    return FromGrpcStatus(stub.Info(&info_context, worker::v1::InfoRequest(), &warmed[rank]));
  });
  if (!status.ok()) return status;
  std::vector<worker::v1::KvCacheGeometry> pools;
  for (const worker::v1::InfoResponse& info : warmed) pools.push_back(info.kv_cache());
  return CommonPools(pools);
}

}  // namespace gemma
