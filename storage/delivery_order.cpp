#include "storage/delivery_order.hpp"

#include <algorithm>

namespace parley {

delivery_order::step delivery_order::on_message(published p, bool reading) {
  step out;
  if (!synced_ || reading) {
    wait_for_gap(std::move(p));
    return out;
  }
  if (p.epoch != epoch_) {
    // Published into a log this channel has not read yet: read it.
    wait_for_gap(std::move(p));
    out.read_needed = true;
    return out;
  }
  if (p.seq <= last_) return out;
  if (p.seq == last_ + 1) {
    deliver(std::move(p), out);
    drain(out);
    return out;
  }
  wait_for_gap(std::move(p));
  out.read_needed = true;
  return out;
}

void delivery_order::wait_for_gap(published p) {
  if (waiting_.size() >= max_waiting_) {
    // Of the current epoch or not, what is dropped is in the stream: the
    // reads go on until they have passed it.
    for (const auto& [seq, w] : waiting_) dropped_up_to_ = std::max(dropped_up_to_, seq);
    dropped_up_to_ = std::max(dropped_up_to_, p.seq);
    waiting_.clear();
    return;
  }
  waiting_.emplace(p.seq, std::move(p));
}

delivery_order::step delivery_order::on_read(const std::string& epoch, std::int64_t head,
                                             std::vector<published> events) {
  step out;
  if (!synced_) {
    synced_ = true;
    epoch_ = epoch;
    last_ = head;
  } else if (epoch != epoch_) {
    epoch_ = epoch;
    last_ = 0;
    dropped_up_to_ = 0;
    out.read_needed = true;
    return out;
  } else {
    for (auto& ev : events)
      if (ev.seq == last_ + 1) deliver(std::move(ev), out);
  }
  drain(out);
  if (dropped_up_to_ <= last_) dropped_up_to_ = 0;
  out.read_needed = !waiting_.empty() || head > last_ || dropped_up_to_ > last_;
  return out;
}

void delivery_order::deliver(published p, step& out) {
  last_ = p.seq;
  out.deliver.push_back(std::move(p));
}

void delivery_order::drain(step& out) {
  while (!waiting_.empty()) {
    auto first = waiting_.begin();
    if (first->second.epoch != epoch_ || first->first <= last_) {
      waiting_.erase(first);
      continue;
    }
    if (first->first != last_ + 1) break;
    published p = std::move(first->second);
    waiting_.erase(first);
    deliver(std::move(p), out);
  }
}

}  // namespace parley
