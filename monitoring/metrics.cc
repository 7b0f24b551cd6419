#include "monitoring/metrics.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace gemma::monitoring {
namespace {

void AtomicAdd(std::atomic<double>& target, double amount) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + amount, std::memory_order_relaxed)) {
  }
}

bool ValidName(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void Die(const std::string& message) {
  std::fprintf(stderr, "metrics registry: %s (a bug in the caller)\n", message.c_str());
  std::abort();
}

// Shortest text that parses back to the same double; +Inf / -Inf / NaN as Prometheus spells them.
std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  std::string text = absl::StrFormat("%.15g", value);
  if (std::strtod(text.c_str(), nullptr) != value) text = absl::StrFormat("%.17g", value);
  return text;
}

// Backslash and newline are escaped in help text; label values also escape the double quote.
std::string Escape(const std::string& text, bool quotes) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

// {a="x",b="y"} (with an extra trailing pair when `extra` is set), or "" without labels.
std::string LabelSet(const std::vector<std::string>& names, const std::vector<std::string>& values,
                     const std::string& extra = "") {
  if (names.empty() && extra.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ",";
    absl::StrAppend(&out, names[i], "=\"", Escape(values[i], /*quotes=*/true), "\"");
  }
  if (!extra.empty()) absl::StrAppend(&out, names.empty() ? "" : ",", extra);
  return out + "}";
}

template <typename Child>
void Header(const Family<Child>& family, const char* type, std::string* out) {
  absl::StrAppend(out, "# HELP ", family.name(), " ", Escape(family.help(), /*quotes=*/false), "\n");
  absl::StrAppend(out, "# TYPE ", family.name(), " ", type, "\n");
}

}  // namespace

void Counter::Increment(double amount) {
  if (amount > 0) AtomicAdd(value_, amount);
}

void Gauge::Add(double amount) { AtomicAdd(value_, amount); }

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), buckets_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds->size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  size_t bucket = 0;
  while (bucket < bounds_->size() && value > (*bounds_)[bucket]) ++bucket;
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, value);
}

std::vector<uint64_t> Histogram::bucket_counts() const {
  std::vector<uint64_t> counts(bounds_->size() + 1);
  for (size_t i = 0; i < counts.size(); ++i) counts[i] = buckets_[i].load(std::memory_order_relaxed);
  return counts;
}

uint64_t Histogram::count() const {
  uint64_t total = 0;
  for (uint64_t c : bucket_counts()) total += c;
  return total;
}

template <typename Child>
Family<Child>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                      std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {}

template <typename Child>
Child* Family<Child>::WithLabels(const std::vector<std::string>& values) {
  if (values.size() != label_names_.size()) {
    Die(absl::StrCat(name_, ": ", values.size(), " label values for ", label_names_.size(),
                     " labels"));
  }
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Child>& child = children_[values];
  if (child == nullptr) {
    if constexpr (std::is_same_v<Child, Histogram>) {
      child = std::make_unique<Histogram>(&bounds_);
    } else {
      child = std::make_unique<Child>();
    }
  }
  return child.get();
}

template <typename Child>
std::vector<std::pair<std::vector<std::string>, const Child*>> Family<Child>::Children() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<std::vector<std::string>, const Child*>> out;
  for (const auto& [values, child] : children_) out.emplace_back(values, child.get());
  return out;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

void Registry::CheckNewName(const std::string& name) {
  if (!ValidName(name)) Die(absl::StrCat("invalid metric name \"", name, "\""));
  auto taken = [&](const auto& families) {
    for (const auto& f : families) {
      if (f->name() == name) return true;
    }
    return false;
  };
  if (taken(counters_) || taken(gauges_) || taken(histograms_)) {
    Die(absl::StrCat("metric ", name, " registered twice"));
  }
}

CounterFamily* Registry::AddCounter(const std::string& name, const std::string& help,
                                    std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  CheckNewName(name);
  if (name.size() < 6 || name.compare(name.size() - 6, 6, "_total") != 0) {
    Die(absl::StrCat("counter ", name, " must end in _total"));
  }
  counters_.push_back(std::make_unique<CounterFamily>(name, help, std::move(label_names)));
  order_.emplace_back(MetricType::kCounter, counters_.size() - 1);
  return counters_.back().get();
}

GaugeFamily* Registry::AddGauge(const std::string& name, const std::string& help,
                                std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  CheckNewName(name);
  gauges_.push_back(std::make_unique<GaugeFamily>(name, help, std::move(label_names)));
  order_.emplace_back(MetricType::kGauge, gauges_.size() - 1);
  return gauges_.back().get();
}

HistogramFamily* Registry::AddHistogram(const std::string& name, const std::string& help,
                                        std::vector<std::string> label_names,
                                        std::vector<double> bounds) {
  absl::MutexLock lock(&mu_);
  CheckNewName(name);
  for (size_t i = 1; i < bounds.size(); ++i) {
    if (!(bounds[i] > bounds[i - 1])) Die(absl::StrCat(name, ": bucket bounds must increase"));
  }
  for (const std::string& label : label_names) {
    if (label == "le") Die(absl::StrCat(name, ": \"le\" is reserved for buckets"));
  }
  histograms_.push_back(std::make_unique<HistogramFamily>(name, help, std::move(label_names),
                                                          std::move(bounds)));
  order_.emplace_back(MetricType::kHistogram, histograms_.size() - 1);
  return histograms_.back().get();
}

std::string Registry::Exposition() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& [type, index] : order_) {
    switch (type) {
      case MetricType::kCounter: {
        const CounterFamily& f = *counters_[index];
        Header(f, "counter", &out);
        for (const auto& [values, child] : f.Children()) {
          absl::StrAppend(&out, f.name(), LabelSet(f.label_names(), values), " ",
                          FormatValue(child->value()), "\n");
        }
        break;
      }
      case MetricType::kGauge: {
        const GaugeFamily& f = *gauges_[index];
        Header(f, "gauge", &out);
        for (const auto& [values, child] : f.Children()) {
          absl::StrAppend(&out, f.name(), LabelSet(f.label_names(), values), " ",
                          FormatValue(child->value()), "\n");
        }
        break;
      }
      case MetricType::kHistogram: {
        const HistogramFamily& f = *histograms_[index];
        Header(f, "histogram", &out);
        for (const auto& [values, child] : f.Children()) {
          const std::vector<uint64_t> counts = child->bucket_counts();
          uint64_t cumulative = 0;
          for (size_t b = 0; b < counts.size(); ++b) {
            cumulative += counts[b];
            const std::string le =
                b < child->bounds().size() ? FormatValue(child->bounds()[b]) : "+Inf";
            absl::StrAppend(&out, f.name(), "_bucket",
                            LabelSet(f.label_names(), values, absl::StrCat("le=\"", le, "\"")),
                            " ", cumulative, "\n");
          }
          absl::StrAppend(&out, f.name(), "_sum", LabelSet(f.label_names(), values), " ",
                          FormatValue(child->sum()), "\n");
          absl::StrAppend(&out, f.name(), "_count", LabelSet(f.label_names(), values), " ",
                          cumulative, "\n");
        }
        break;
      }
    }
  }
  return out;
}

std::vector<double> TimeToFirstTokenBuckets() {
  return {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
          2.5,   5.0,   7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
}

std::vector<double> InterTokenLatencyBuckets() {
  return {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75,
          1.0,  2.5,   5.0,  7.5,   10.0, 20.0, 40.0, 80.0};
}

std::vector<double> RequestLatencyBuckets() {
  return {0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
          40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
}

}  // namespace gemma::monitoring
