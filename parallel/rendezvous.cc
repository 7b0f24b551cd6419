#include "parallel/rendezvous.h"

#include <grpcpp/grpcpp.h>

#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace gemma::parallel {

grpc::Status RendezvousService::Set(grpc::ServerContext*,
                                    const worker::v1::RendezvousSetRequest* request,
                                    worker::v1::RendezvousSetResponse*) {
  if (request->key().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "key: empty"};
  absl::MutexLock lock(&mutex_);
  values_[request->key()] = request->value();
  changed_.SignalAll();
  return grpc::Status::OK;
}

grpc::Status RendezvousService::Get(grpc::ServerContext* context,
                                    const worker::v1::RendezvousGetRequest* request,
                                    worker::v1::RendezvousGetResponse* response) {
  const absl::Time deadline = absl::Now() + absl::Milliseconds(request->timeout_ms());
  absl::MutexLock lock(&mutex_);
  while (true) {
    std::vector<std::string> missing;
    for (const std::string& key : request->keys()) {
      if (values_.find(key) == values_.end()) missing.push_back(key);
    }
    if (missing.empty()) break;
    if (absl::Now() >= deadline || context->IsCancelled()) {
      return {grpc::StatusCode::DEADLINE_EXCEEDED,
              absl::StrCat("keys not set within ", request->timeout_ms(),
                           " ms: ", absl::StrJoin(missing, ", "))};
    }
    // Wake up regularly to notice a cancelled call.
    changed_.WaitWithDeadline(&mutex_, std::min(deadline, absl::Now() + absl::Milliseconds(200)));
  }
  for (const std::string& key : request->keys()) response->add_values(values_[key]);
  return grpc::Status::OK;
}

GrpcStore::GrpcStore(const std::string& address, std::string group,
                     std::chrono::milliseconds timeout)
    : stub_(worker::v1::Rendezvous::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))),
      group_(std::move(group)),
      timeout_(timeout) {}

void GrpcStore::set(const std::string& key, const std::vector<char>& data) {
  worker::v1::RendezvousSetRequest request;
  request.set_key(group_ + "/" + key);
  request.set_value(std::string(data.begin(), data.end()));
  worker::v1::RendezvousSetResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout_);
  context.set_wait_for_ready(true);  // The store may still be starting.
  const grpc::Status status = stub_->Set(&context, request, &response);
  if (!status.ok()) {
    throw std::runtime_error(absl::StrCat("rendezvous set ", key, ": ", status.error_message()));
  }
}

std::vector<std::string> GrpcStore::Fetch(const std::vector<std::string>& keys,
                                          std::chrono::milliseconds timeout) {
  worker::v1::RendezvousGetRequest request;
  for (const std::string& key : keys) request.add_keys(group_ + "/" + key);
  request.set_timeout_ms(static_cast<uint32_t>(timeout.count()));
  worker::v1::RendezvousGetResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout + std::chrono::seconds(5));
  context.set_wait_for_ready(true);
  const grpc::Status status = stub_->Get(&context, request, &response);
  if (!status.ok()) throw std::runtime_error(absl::StrCat("rendezvous: ", status.error_message()));
  return {response.values().begin(), response.values().end()};
}

std::vector<char> GrpcStore::get(const std::string& key) {
  const std::string value = Fetch({key}, timeout_)[0];
  return std::vector<char>(value.begin(), value.end());
}

void GrpcStore::wait(const std::vector<std::string>& keys) { wait(keys, timeout_); }

void GrpcStore::wait(const std::vector<std::string>& keys,
                     const std::chrono::milliseconds& timeout) {
  Fetch(keys, timeout);
}

}  // namespace gemma::parallel
