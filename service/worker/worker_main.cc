// One tensor-parallel rank of a worker group (gemma.worker.v1.Worker).
//   worker --model=DIR|FILE.gguf [--drafter=DIR] [--backend=cpu|cuda] [--rank=R --world_size=N
//          (--rendezvous=HOST:PORT [--group=NAME] | --rendezvous_dir=DIR)] [--port=...]
// Health is NOT_SERVING until Warmup. Usually started by worker_launcher.
#include <grpcpp/grpcpp.h>

#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "parallel/gloo_communicator.h"
#include "parallel/rendezvous.h"
#include "service/common/grpc_server.h"
#include "service/common/log.h"
#include "service/common/shutdown_signal.h"
#include "service/worker/backend_factory.h"
#include "service/worker/worker_service.h"

ABSL_FLAG(std::string, model, "", "HF model directory or .gguf file");
ABSL_FLAG(std::string, model_name, "gemma-4-12b", "Served model name");
ABSL_FLAG(std::string, drafter, "", "MTP drafter directory or GGUF (optional)");
ABSL_FLAG(std::string, backend, "cpu",
          "cpu (the CPU engine) or cuda (one GPU; only in the worker_cuda binary)");
ABSL_FLAG(int, rank, 0, "This process's tensor-parallel rank");
ABSL_FLAG(int, world_size, 1, "Tensor-parallel size");
ABSL_FLAG(std::string, rendezvous, "", "host:port of the group's rendezvous store");
ABSL_FLAG(std::string, rendezvous_dir, "", "Or a directory shared by the ranks (one machine)");
ABSL_FLAG(std::string, group, "default", "Rendezvous namespace of this worker group");
ABSL_FLAG(std::string, listen_host, "127.0.0.1", "Address peers reach this rank's collectives on");
ABSL_FLAG(int64_t, collective_timeout_ms, 30000,
          "Rendezvous and collective timeout: a dead peer turns into UNAVAILABLE after this");
ABSL_FLAG(int64_t, kv_cache_mb, 256, "KV cache memory when Warmup names no pool sizes");
ABSL_FLAG(int, block_size, 16, "Tokens per KV block");
ABSL_FLAG(int, serve_rendezvous_port, 0,
          "Also serve the group's rendezvous store on this port of --host (rank 0 of a group whose "
          "ranks are in different pods; the others point --rendezvous at it)");

int main(int argc, char** argv) {
  gemma::ShutdownSignal shutdown_signal;
  absl::SetProgramUsageMessage("gemma-serve worker: one tensor-parallel rank.");
  absl::ParseCommandLine(argc, argv);
  const int rank = absl::GetFlag(FLAGS_rank), world = absl::GetFlag(FLAGS_world_size);
  const std::string name = absl::StrCat("worker ", rank, "/", world);

  absl::StatusOr<gemma::ServerOptions> options = gemma::ServerOptionsFromFlags(50060 + rank);
  if (!options.ok()) {
    gemma::LogError(name, "%s", options.status().ToString());
    return EXIT_FAILURE;
  }
  // The store outlives the communicator: peers that connect late still find the keys.
  gemma::parallel::RendezvousService rendezvous;
  std::unique_ptr<grpc::Server> store;
  if (absl::GetFlag(FLAGS_serve_rendezvous_port) > 0) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(
        absl::StrCat(options->host, ":", absl::GetFlag(FLAGS_serve_rendezvous_port)),
        grpc::InsecureServerCredentials());
    builder.RegisterService(&rendezvous);
    store = builder.BuildAndStart();
    if (store == nullptr) {
      gemma::LogError(name, "cannot serve the rendezvous store on port %d",
                      absl::GetFlag(FLAGS_serve_rendezvous_port));
      return EXIT_FAILURE;
    }
  }
  // CPU ranks talk over Gloo; GPU ranks over NCCL, connected by the backend factory.
  const std::string backend_kind = absl::GetFlag(FLAGS_backend);
  std::unique_ptr<gemma::parallel::GlooCommunicator> communicator;
  if (world > 1 && backend_kind == "cpu") {
    gemma::parallel::GlooOptions gloo;
    gloo.rank = rank;
    gloo.world_size = world;
    gloo.store_address = absl::GetFlag(FLAGS_rendezvous);
    gloo.store_dir = absl::GetFlag(FLAGS_rendezvous_dir);
    gloo.group = absl::GetFlag(FLAGS_group);
    gloo.hostname = absl::GetFlag(FLAGS_listen_host);
    gloo.timeout = std::chrono::milliseconds(absl::GetFlag(FLAGS_collective_timeout_ms));
    auto connected = gemma::parallel::GlooCommunicator::Connect(gloo);
    if (!connected.ok()) {
      gemma::LogError(name, "%s", connected.status().ToString());
      return EXIT_FAILURE;
    }
    communicator = *std::move(connected);
  }
  gemma::BackendSpec spec;
  spec.kind = backend_kind;
  spec.model = absl::GetFlag(FLAGS_model);
  spec.drafter = absl::GetFlag(FLAGS_drafter);
  spec.tp = {rank, world, communicator.get()};
  spec.store_address = absl::GetFlag(FLAGS_rendezvous);
  spec.group = absl::GetFlag(FLAGS_group);
  spec.timeout = std::chrono::milliseconds(absl::GetFlag(FLAGS_collective_timeout_ms));
  absl::StatusOr<std::unique_ptr<gemma::ModelBackend>> backend = gemma::LoadBackend(spec);
  if (!backend.ok()) {
    gemma::LogError(name, "%s", backend.status().ToString());
    return EXIT_FAILURE;
  }
  gemma::WorkerOptions worker;
  worker.model_name = absl::GetFlag(FLAGS_model_name);
  worker.drafter_name = absl::GetFlag(FLAGS_drafter);
  worker.kv_cache_bytes = absl::GetFlag(FLAGS_kv_cache_mb) << 20;
  worker.block_size = absl::GetFlag(FLAGS_block_size);
  gemma::GrpcServer* server_ptr = nullptr;
  worker.set_serving = [&server_ptr](bool serving) {
    if (server_ptr != nullptr) server_ptr->SetServing(serving);
  };
  gemma::monitoring::Registry registry;
  gemma::WorkerService service(**backend, worker, &registry);
  absl::StatusOr<std::unique_ptr<gemma::GrpcServer>> server = gemma::GrpcServer::Start(
      *options, {{&service, gemma::worker::v1::Worker::service_full_name()}}, /*serving=*/false,
      &registry);
  if (!server.ok()) {
    gemma::LogError(name, "%s", server.status().ToString());
    return EXIT_FAILURE;
  }
  server_ptr = server->get();
  gemma::LogInfo(name, "serving %s (model %s); NOT_SERVING until Warmup", (*server)->address(),
                 absl::GetFlag(FLAGS_model));
  const int signal = shutdown_signal.Wait();
  gemma::LogInfo(name, "signal %d: shutting down", signal);
  (*server)->Shutdown();
  return EXIT_SUCCESS;
}
