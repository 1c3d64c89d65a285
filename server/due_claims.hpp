#pragma once
// The server's side of the shared due index (engine::set_due, claim_due):
// the watchers mirror their engagements' dues into it (due_timer), and every
// second this instance claims the keys that are due, whoever set them, and
// hands each to the watcher of its prefix, which looks at the engagement
// (loading it if need be) and sets its next due. So no instance loads every
// engagement at start: start-up time and memory do not grow with their
// number, and an engagement whose instance died is taken over within a lease.
//
// An index that was never complete (a database from before it) is filled
// once, by the first instance that finds it so: every engagement is loaded
// one at a time (the watchers mirror what they schedule), then the index is
// marked complete.
#include "server/due_timer.hpp"
#include "server/engagements.hpp"
#include "storage/engine.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace parley {

class due_claims {
 public:
  // What a watcher does with an engagement whose due was claimed.
  using look_fn = std::function<void(const std::string& eng)>;

  due_claims(boost::asio::io_context& ioc, engine& storage, engagements& book);

  // A watcher: the prefix of its keys ("s", "d"), and its look. Before start().
  void add_watcher(char prefix, look_fn look) { looks_[prefix] = std::move(look); }
  // What a watcher's due_timer mirrors: `eng`'s due under the watcher's prefix.
  due_timer::mirror_fn mirror_for(char prefix);

  void start();
  void stop();

  // The key of `eng` for the watcher of `prefix`, and back.
  static std::string key_of(char prefix, const std::string& eng) { return std::string(1, prefix) + ":" + eng; }

 private:
  void check_complete();
  // Runs `step` of the filling again after a pause (storage unreachable).
  void fill_later(std::function<void()> step);
  void fill(std::string after);
  void fill_page(std::shared_ptr<std::vector<std::string>> ids, std::size_t i, std::optional<std::string> next);
  void mark_complete();
  void claim();
  void claim_soon(std::chrono::milliseconds delay);

  boost::asio::io_context& ioc_;
  engine& storage_;
  engagements& book_;
  boost::asio::steady_timer timer_;       // the next claim
  boost::asio::steady_timer fill_timer_;  // the filling's next try
  std::map<char, look_fn> looks_;
  bool stopped_ = false;
};

}  // namespace parley
