#include "server/due_timer.hpp"

#include "storage/clock.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

namespace parley {
namespace {
// The timer never sleeps longer, so that a wall-clock jump is noticed.
constexpr std::int64_t max_sleep_ms = 60'000;
}  // namespace

due_timer::due_timer(boost::asio::io_context& ioc, std::function<void(const std::string& key)> fire,
                     mirror_fn mirror)
    : timer_(ioc), fire_(std::move(fire)), mirror_(std::move(mirror)) {}

void due_timer::set(const std::string& key, std::int64_t due) {
  if (!heap_.set(key, due)) return;
  if (mirror_) mirror_(key, due);
  arm();
}

void due_timer::clear(const std::string& key) {
  heap_.remove(key);
  if (mirror_) mirror_(key, std::nullopt);
}

void due_timer::arm() {
  auto top = heap_.top();
  if (!top) return;
  auto wait = std::clamp<std::int64_t>(*top - now_ms(), 0, max_sleep_ms);
  timer_.expires_after(std::chrono::milliseconds(wait));
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) on_timer();
  });
}

void due_timer::on_timer() {
  for (const auto& key : heap_.take_due(now_ms())) fire_(key);
  arm();
}

}  // namespace parley
