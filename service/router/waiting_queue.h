// The requests waiting for admission, and which one is admitted next: the best (lowest) priority
// first; among equal priorities the tenant that has been served least; then arrival order.
//
// Fairness between tenants is a virtual token counter (VTC, Sheng et al., "Fairness in Serving
// Large Language Models", OSDI 2024): every token the workers compute for a tenant's requests
// (prefill positions and generated tokens) is charged to the tenant, and the least-charged tenant
// with a waiting request goes next. A tenant that becomes active (its first request in the
// system) starts at the lowest counter of the active tenants, so being idle banks no credit.
// Counters of tenants with no request in the system are dropped: the ledger is bounded by the
// requests in flight.
//
// Thread-compatible: the scheduling thread owns it.
#ifndef GEMMA_SERVICE_ROUTER_WAITING_QUEUE_H_
#define GEMMA_SERVICE_ROUTER_WAITING_QUEUE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "service/router/scheduled_request.h"

namespace gemma {

class WaitingQueue {
 public:
  // A new request enters the system (it counts as in flight for its tenant until Leave).
  void Arrive(std::shared_ptr<ScheduledRequest> request);
  // A preempted request waits again, keeping its place in arrival order.
  void Requeue(std::shared_ptr<ScheduledRequest> request);
  // The request left the system (finished, failed or aborted), wherever it was.
  void Leave(const ScheduledRequest& request);
  // Charges `tokens` of work to the request's tenant.
  void Charge(const ScheduledRequest& request, double tokens);

  bool empty() const { return waiting_.empty(); }
  int size() const { return static_cast<int>(waiting_.size()); }
  // The request to admit next (nullptr when empty), and its removal.
  const std::shared_ptr<ScheduledRequest>& Next() const;
  void PopNext();
  // Removes and returns every waiting request for which `predicate` holds.
  std::vector<std::shared_ptr<ScheduledRequest>> RemoveIf(
      const std::function<bool(const ScheduledRequest&)>& predicate);

  // The tenant's counter (0 for a tenant with no request in the system).
  double service(const std::string& tenant) const;

 private:
  struct Tenant {
    int in_flight = 0;
    double service = 0;
  };
  // Whether `a` goes before `b`.
  bool Before(const ScheduledRequest& a, const ScheduledRequest& b) const;

  std::vector<std::shared_ptr<ScheduledRequest>> waiting_;
  std::map<std::string, Tenant> tenants_;
  uint64_t next_arrival_ = 1;
};

}  // namespace gemma

#endif  // GEMMA_SERVICE_ROUTER_WAITING_QUEUE_H_
