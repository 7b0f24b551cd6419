#include "service/router/waiting_queue.h"

#include <algorithm>
#include <limits>

namespace gemma {

void WaitingQueue::Arrive(std::shared_ptr<ScheduledRequest> request) {
  Tenant& tenant = tenants_[request->tenant];
  if (tenant.in_flight++ == 0) {
    double lowest = std::numeric_limits<double>::infinity();
    for (const auto& [name, other] : tenants_) {
      if (&other != &tenant && other.in_flight > 0) lowest = std::min(lowest, other.service);
    }
    tenant.service = lowest == std::numeric_limits<double>::infinity() ? 0 : lowest;
  }
  request->arrival_order = next_arrival_++;
  waiting_.push_back(std::move(request));
}

void WaitingQueue::Requeue(std::shared_ptr<ScheduledRequest> request) {
  waiting_.push_back(std::move(request));
}

void WaitingQueue::Leave(const ScheduledRequest& request) {
  auto it = tenants_.find(request.tenant);
  if (it != tenants_.end() && --it->second.in_flight <= 0) tenants_.erase(it);
}

void WaitingQueue::Charge(const ScheduledRequest& request, double tokens) {
  auto it = tenants_.find(request.tenant);
  if (it != tenants_.end()) it->second.service += tokens;
}

double WaitingQueue::service(const std::string& tenant) const {
  auto it = tenants_.find(tenant);
  return it == tenants_.end() ? 0 : it->second.service;
}

bool WaitingQueue::Before(const ScheduledRequest& a, const ScheduledRequest& b) const {
  if (a.priority != b.priority) return a.priority < b.priority;
  if (a.tenant != b.tenant) {
    const double sa = service(a.tenant), sb = service(b.tenant);
    if (sa != sb) return sa < sb;
  }
  return a.arrival_order < b.arrival_order;
}

const std::shared_ptr<ScheduledRequest>& WaitingQueue::Next() const {
  static const std::shared_ptr<ScheduledRequest> kNone;
  if (waiting_.empty()) return kNone;
  auto best = waiting_.begin();
  for (auto it = std::next(best); it != waiting_.end(); ++it) {
    if (Before(**it, **best)) best = it;
  }
  return *best;
}

void WaitingQueue::PopNext() {
  const std::shared_ptr<ScheduledRequest> next = Next();
  waiting_.erase(std::find(waiting_.begin(), waiting_.end(), next));
}

std::vector<std::shared_ptr<ScheduledRequest>> WaitingQueue::RemoveIf(
    const std::function<bool(const ScheduledRequest&)>& predicate) {
  std::vector<std::shared_ptr<ScheduledRequest>> removed;
  auto keep = std::stable_partition(waiting_.begin(), waiting_.end(),
                                    [&](const auto& r) { return !predicate(*r); });
  removed.assign(keep, waiting_.end());
  waiting_.erase(keep, waiting_.end());
  return removed;
}

}  // namespace gemma
