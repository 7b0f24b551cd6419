// A stand-in for libFuzzer's main when the targets are built without it (gcc, the sanitizer
// test configurations): runs every seed file named on the command line (directories are
// walked), then pseudo-random mutations of the seeds until -max_total_time seconds pass.
//   target [-max_total_time=SECONDS] [-seed=N] SEED_FILE_OR_DIR...
// Any crash or sanitizer report fails the run, as under libFuzzer.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void Collect(const std::string& path, std::vector<std::string>* seeds) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0) return;
  if (S_ISDIR(info.st_mode)) {
    DIR* dir = opendir(path.c_str());
    if (dir == nullptr) return;
    std::vector<std::string> names;
    while (dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') names.push_back(entry->d_name);
    }
    closedir(dir);
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) Collect(path + "/" + name, seeds);
    return;
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  seeds->push_back(buffer.str());
}

void Run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

std::string Mutate(std::string input, std::mt19937_64& rng) {
  const int edits = 1 + rng() % 8;
  for (int e = 0; e < edits; ++e) {
    const size_t size = input.size();
    switch (rng() % 6) {
      case 0:  // Flip a bit.
        if (size) input[rng() % size] ^= static_cast<char>(1 << (rng() % 8));
        break;
      case 1:  // Set a byte to an interesting value.
        if (size) {
          static const uint8_t kValues[] = {0, 1, 0x7f, 0x80, 0xff, 0xfe, 0x10, 0x40};
          input[rng() % size] = static_cast<char>(kValues[rng() % sizeof(kValues)]);
        }
        break;
      case 2:  // Truncate.
        if (size) input.resize(rng() % size);
        break;
      case 3:  // Insert random bytes.
        input.insert(size ? rng() % size : 0, std::string(1 + rng() % 16, static_cast<char>(rng())));
        break;
      case 4:  // Duplicate a chunk.
        if (size) {
          const size_t at = rng() % size, length = 1 + rng() % std::min<size_t>(size - at, 64);
          input.insert(rng() % size, input.substr(at, length));
        }
        break;
      default:  // Overwrite 4 bytes with a random (often large) integer.
        if (size >= 4) {
          const uint32_t value = static_cast<uint32_t>(rng());
          std::memcpy(&input[rng() % (size - 3)], &value, 4);
        }
        break;
    }
  }
  return input;
}

}  // namespace

int main(int argc, char** argv) {
  double max_seconds = 10;
  uint64_t seed = 1;
  std::vector<std::string> seeds;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("-max_total_time=", 0) == 0) {
      max_seconds = std::atof(arg.c_str() + 16);
    } else if (arg.rfind("-seed=", 0) == 0) {
      seed = std::strtoull(arg.c_str() + 6, nullptr, 10);
    } else if (arg[0] != '-') {
      Collect(arg, &seeds);
    }
  }
  if (seeds.empty()) seeds.push_back("");
  for (const std::string& input : seeds) Run(input);
  std::mt19937_64 rng(seed);
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(max_seconds * 1000));
  uint64_t runs = seeds.size();
  while (std::chrono::steady_clock::now() < deadline) {
    Run(Mutate(seeds[rng() % seeds.size()], rng));
    ++runs;
  }
  std::printf("fuzz_driver: %llu inputs (%zu seeds) in %.0f s, no crash\n",
              static_cast<unsigned long long>(runs), seeds.size(), max_seconds);
  return 0;
}
