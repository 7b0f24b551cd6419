// A small Prometheus metrics registry: counters, gauges and histograms, each a family with a
// fixed list of label names and a child per label-value tuple.
//
// Hot paths stay lock-free: look a child up once (WithLabels takes the family's mutex) and keep
// the pointer; Increment/Set/Observe on a child are atomic operations only. Children live as long
// as their registry. Names follow Prometheus rules ([a-zA-Z_:][a-zA-Z0-9_:]*; counters end in
// "_total"); the registry checks them when a family is created (a programming error aborts).
// Thread-safe.
#ifndef GEMMA_MONITORING_METRICS_H_
#define GEMMA_MONITORING_METRICS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace gemma::monitoring {

class Counter {
 public:
  void Increment(double amount = 1.0);  // amount >= 0
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double amount);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  // `bounds`: increasing upper bounds; +Inf is implicit.
  explicit Histogram(const std::vector<double>* bounds);
  void Observe(double value);

  const std::vector<double>& bounds() const { return *bounds_; }
  // Per-bucket counts (not cumulative); the last is the +Inf bucket.
  std::vector<uint64_t> bucket_counts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t count() const;

 private:
  const std::vector<double>* bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0.0};
};

enum class MetricType { kCounter, kGauge, kHistogram };

template <typename Child>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds = {});

  // The child for these label values (created on first use). The number of values must equal
  // the number of label names (a programming error aborts).
  Child* WithLabels(const std::vector<std::string>& values);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Snapshot of (label values, child) pairs in label order.
  std::vector<std::pair<std::vector<std::string>, const Child*>> Children() const;

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;  // Histograms only.
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Child>> children_ ABSL_GUARDED_BY(mu_);
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class Registry {
 public:
  CounterFamily* AddCounter(const std::string& name, const std::string& help,
                            std::vector<std::string> label_names = {});
  GaugeFamily* AddGauge(const std::string& name, const std::string& help,
                        std::vector<std::string> label_names = {});
  HistogramFamily* AddHistogram(const std::string& name, const std::string& help,
                                std::vector<std::string> label_names, std::vector<double> bounds);

  // The Prometheus text exposition format, version 0.0.4, families in registration order.
  std::string Exposition() const;

 private:
  void CheckNewName(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<CounterFamily>> counters_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<GaugeFamily>> gauges_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<HistogramFamily>> histograms_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<MetricType, size_t>> order_ ABSL_GUARDED_BY(mu_);
};

// Bucket sets in vLLM's shapes (seconds).
std::vector<double> TimeToFirstTokenBuckets();
std::vector<double> InterTokenLatencyBuckets();
std::vector<double> RequestLatencyBuckets();

}  // namespace gemma::monitoring

#endif  // GEMMA_MONITORING_METRICS_H_
