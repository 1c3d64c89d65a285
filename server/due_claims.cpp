#include "server/due_claims.hpp"

#include "storage/clock.hpp"
#include "storage/log.hpp"

#include <boost/asio/post.hpp>

namespace parley {
namespace net = boost::asio;

namespace {
// How often the index is asked for what is due: the lateness of an
// engagement no instance holds, at most.
constexpr std::chrono::milliseconds claim_interval{1000};
// A claimed key comes back this long after a claim its watcher never
// answered (the instance died looking).
constexpr std::int64_t lease_ms = 30'000;
constexpr int claim_batch = 100;
constexpr int fill_page_size = 100;
}  // namespace

due_claims::due_claims(net::io_context& ioc, engine& storage, engagements& book)
    : ioc_(ioc), storage_(storage), book_(book), timer_(ioc), fill_timer_(ioc) {}

due_timer::mirror_fn due_claims::mirror_for(char prefix) {
  return [this, prefix](const std::string& eng, std::optional<std::int64_t> due) {
    storage_.set_due(key_of(prefix, eng), due);
  };
}

void due_claims::start() {
  check_complete();
  claim();
}

// Storage may not be reachable yet (Redis still connecting): asked again.
void due_claims::check_complete() {
  storage_.due_index_complete([this](result<bool> complete) {
    net::post(ioc_, [this, complete] {
      if (stopped_) return;
      if (!complete) return fill_later([this] { check_complete(); });
      if (!*complete) fill("");
    });
  });
}

void due_claims::fill_later(std::function<void()> step) {
  fill_timer_.expires_after(claim_interval);
  fill_timer_.async_wait([this, step = std::move(step)](boost::system::error_code ec) {
    if (!ec && !stopped_) step();
  });
}

void due_claims::stop() {
  net::post(ioc_, [this] {
    stopped_ = true;
    timer_.cancel();
    fill_timer_.cancel();
  });
}

// One page of engagements at a time, one engagement at a time: loading one
// has the watchers schedule (and mirror) its dues; the book's capacity bounds
// what stays in memory.
void due_claims::fill(std::string after) {
  if (after.empty()) log_event(log_level::info, "due_index_filling", {});
  storage_.list_engagements_after(after, fill_page_size, [this, after](result<engagement_ids_page> page) {
    net::post(ioc_, [this, after, page = std::move(page)]() mutable {
      if (stopped_) return;
      if (!page) {
        log_event(log_level::warn, "due_index_not_filled", {{"reason", page.err().message}});
        return fill_later([this, after] { fill(after); });
      }
      fill_page(std::make_shared<std::vector<std::string>>(std::move(page->ids)), 0, std::move(page->next));
    });
  });
}

void due_claims::fill_page(std::shared_ptr<std::vector<std::string>> ids, std::size_t i,
                           std::optional<std::string> next) {
  if (stopped_) return;
  if (i < ids->size()) {
    book_.with_state((*ids)[i], false, [this, ids, i, next](const result<engagements::snapshot>&) {
      net::post(ioc_, [this, ids, i, next] { fill_page(ids, i + 1, next); });
    });
    return;
  }
  if (next) return fill(*next);
  mark_complete();
}

void due_claims::mark_complete() {
  storage_.mark_due_index_complete([this](result<void> marked) {
    net::post(ioc_, [this, marked] {
      if (marked) return log_event(log_level::info, "due_index_filled", {});
      log_event(log_level::warn, "due_index_not_filled", {{"reason", marked.err().message}});
      fill_later([this] { mark_complete(); });
    });
  });
}

void due_claims::claim() {
  if (stopped_) return;
  storage_.claim_due(now_ms(), lease_ms, claim_batch, [this](result<std::vector<std::string>> keys) {
    net::post(ioc_, [this, keys = std::move(keys)] {
      if (stopped_) return;
      if (!keys) {
        log_event(log_level::warn, "due_claim_failed", {{"reason", keys.err().message}});
        return claim_soon(claim_interval);
      }
      for (const auto& key : *keys) {
        auto look = key.size() > 2 && key[1] == ':' ? looks_.find(key[0]) : looks_.end();
        if (look == looks_.end()) {
          storage_.set_due(key, std::nullopt);  // nobody here would ever look at it
          continue;
        }
        look->second(key.substr(2));
      }
      // A full batch: more may be due already.
      claim_soon(static_cast<int>(keys->size()) >= claim_batch ? std::chrono::milliseconds(0) : claim_interval);
    });
  });
}

void due_claims::claim_soon(std::chrono::milliseconds delay) {
  timer_.expires_after(delay);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) claim();
  });
}

}  // namespace parley
