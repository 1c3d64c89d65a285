// The webhook sender against an outbox kept in memory (the engines' own
// outbox is tested by the engine contract) and a transport the test answers.
#include "protocol/webhook_signature.hpp"
#include "server/webhook_sender.hpp"
#include "storage/clock.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>

#include <map>
#include <set>

using namespace parley;
namespace net = boost::asio;

namespace {

// The outbox contract, simply: queues in order of their entries, leases per engagement.
class memory_outbox : public webhook_outbox {
 public:
  std::vector<webhook_entry> entries;
  std::map<std::string, std::pair<std::string, std::int64_t>> leases;  // eng -> owner, until
  int claims = 0;

  void add(std::string id, std::string eng) {
    webhook_entry e;
    e.id = std::move(id);
    e.eng = std::move(eng);
    e.type = "engagement.phase";
    e.ts = now_ms();
    e.body = R"({"id":")" + e.id + R"(","eng":")" + e.eng + R"("})";
    entries.push_back(std::move(e));
  }
  webhook_entry& at(const std::string& id) {
    for (auto& e : entries)
      if (e.id == id) return e;
    FAIL("no entry " << id);
    throw;
  }

  void enqueue_webhooks(std::vector<webhook_entry> add, std::function<void(result<void>)> done) override {
    for (auto& e : add) entries.push_back(std::move(e));
    done({});
  }
  void claim_webhooks(std::string owner, std::int64_t now, std::int64_t lease_ms, int limit,
                      std::function<void(result<std::vector<webhook_entry>>)> handler) override {
    ++claims;
    std::vector<webhook_entry> out;
    std::set<std::string> seen;
    for (const auto& e : entries) {
      if (e.state != webhook_state::pending || seen.count(e.eng)) continue;
      seen.insert(e.eng);
      auto lease = leases.find(e.eng);
      if (lease != leases.end() && lease->second.first != owner && lease->second.second > now) continue;
      if (e.next_at > now || static_cast<int>(out.size()) >= limit) continue;
      leases[e.eng] = {owner, now + lease_ms};
      out.push_back(e);
    }
    handler(std::move(out));
  }
  void finish_webhook(std::string owner, std::string eng, std::string id, webhook_outcome outcome,
                      std::function<void(result<void>)> done) override {
    auto lease = leases.find(eng);
    if (lease == leases.end() || lease->second.first != owner) return done(make_error(errc::conflict, "lease lost"));
    leases.erase(lease);
    auto& e = at(id);
    ++e.attempts;
    e.last_error = outcome.error;
    if (outcome.kind == webhook_outcome::delivered) e.state = webhook_state::delivered;
    if (outcome.kind == webhook_outcome::failed) e.state = webhook_state::failed;
    if (outcome.kind == webhook_outcome::retry) e.next_at = outcome.next_at;
    done({});
  }
  void list_webhooks(webhook_state, std::string, int, std::function<void(result<webhook_page>)> handler) override {
    handler(webhook_page{});
  }
  void retry_webhook(std::string, std::int64_t, std::function<void(result<webhook_entry>)> handler) override {
    handler(make_error(errc::not_found, "no"));
  }
  void webhook_stats(std::function<void(result<webhook_queue_stats>)> handler) override {
    webhook_queue_stats s;
    for (const auto& e : entries)
      if (e.state == webhook_state::pending) {
        ++s.pending;
        if (!s.oldest_pending_ts || e.ts < s.oldest_pending_ts) s.oldest_pending_ts = e.ts;
      }
    handler(s);
  }

  bool all_settled() const {
    for (const auto& e : entries)
      if (e.state == webhook_state::pending) return false;
    return true;
  }
};

// What the receiver saw, and the answers it is still to give.
struct receiver {
  std::vector<webhook_request> requests;
  std::vector<std::function<void(result<void>)>> unanswered;
};

webhook_sender_settings quick_settings() {
  webhook_sender_settings s;
  s.owner = "instance-a";
  s.secret = "a webhook secret of some length";
  s.idle_poll = std::chrono::milliseconds(10);
  s.min_claim_gap = std::chrono::milliseconds(1);
  s.stats_every = std::chrono::milliseconds(5);
  s.retry.first_delay_ms = 10;
  return s;
}

// Runs the loop until `done` holds, for 10 s at most (a hang fails the test, not the run).
template <class Done>
void run_until(net::io_context& ioc, Done done) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done() && std::chrono::steady_clock::now() < until) {
    ioc.restart();
    ioc.run_for(std::chrono::milliseconds(5));
  }
  REQUIRE(done());
}

}  // namespace

TEST_CASE("the sender delivers each engagement's hooks in order, one at a time, signed", "[server][webhooks]") {
  net::io_context ioc;
  memory_outbox outbox;
  for (int i = 0; i < 3; ++i) {
    outbox.add("a" + std::to_string(i), "eng-a");
    outbox.add("b" + std::to_string(i), "eng-b");
  }
  receiver rx;
  std::map<std::string, int> open_per_eng;
  int most_open = 0;
  metrics stats;
  auto sender = std::make_shared<webhook_sender>(
      ioc.get_executor(), outbox,
      [&](webhook_request r, std::function<void(result<void>)> done) {
        std::string eng = r.event_id.substr(0, 1);
        most_open = std::max(most_open, ++open_per_eng[eng]);
        rx.requests.push_back(std::move(r));
        // Answered later, as a real POST is.
        net::post(ioc, [&, eng, done] {
          --open_per_eng[eng];
          done({});
        });
      },
      quick_settings(), stats);
  sender->start();
  run_until(ioc, [&] { return outbox.all_settled(); });
  sender->stop();

  CHECK(most_open == 1);
  std::vector<std::string> a_order, b_order;
  for (const auto& r : rx.requests) (r.event_id[0] == 'a' ? a_order : b_order).push_back(r.event_id);
  CHECK(a_order == std::vector<std::string>{"a0", "a1", "a2"});
  CHECK(b_order == std::vector<std::string>{"b0", "b1", "b2"});
  for (const auto& r : rx.requests) {
    CHECK(verify_webhook_signature(r.signature, r.body, "a webhook secret of some length", now_ms() / 1000).ok());
    CHECK(r.body == outbox.at(r.event_id).body);
  }
  CHECK(stats.webhooks_delivered.load() == 6);
}

TEST_CASE("a refused hook is retried later, then failed past its budget, and the next one goes", "[server][webhooks]") {
  net::io_context ioc;
  memory_outbox outbox;
  outbox.add("first", "eng-a");
  outbox.add("second", "eng-a");
  metrics stats;
  auto settings = quick_settings();
  settings.retry.budget_ms = 200;
  std::vector<std::int64_t> tried_at;
  auto sender = std::make_shared<webhook_sender>(
      ioc.get_executor(), outbox,
      [&](webhook_request r, std::function<void(result<void>)> done) {
        if (r.event_id == "first") {
          tried_at.push_back(now_ms());
          return done(make_error(errc::unavailable, "HTTP 500"));
        }
        done({});
      },
      settings, stats);
  sender->start();
  run_until(ioc, [&] { return outbox.all_settled(); });
  sender->stop();

  auto& first = outbox.at("first");
  CHECK(first.state == webhook_state::failed);
  CHECK(first.last_error == "HTTP 500");
  CHECK(first.attempts >= 3);
  REQUIRE(tried_at.size() >= 3);
  // Never sooner than half the nominal delay: 5 ms, then 10 ms.
  CHECK(tried_at[1] - tried_at[0] >= 5);
  CHECK(tried_at[2] - tried_at[1] >= 10);
  CHECK(outbox.at("second").state == webhook_state::delivered);
  CHECK(stats.webhooks_failed.load() == 1);
  CHECK(stats.webhooks_retried.load() == static_cast<std::uint64_t>(first.attempts - 1));
}

TEST_CASE("a receiver that never answers holds at most `concurrency` POSTs", "[server][webhooks]") {
  net::io_context ioc;
  memory_outbox outbox;
  for (int i = 0; i < 20; ++i) outbox.add("h" + std::to_string(i), "eng-" + std::to_string(i));
  receiver rx;
  metrics stats;
  auto settings = quick_settings();
  settings.concurrency = 4;
  auto sender = std::make_shared<webhook_sender>(
      ioc.get_executor(), outbox,
      [&](webhook_request r, std::function<void(result<void>)> done) {
        rx.requests.push_back(std::move(r));
        rx.unanswered.push_back(std::move(done));
      },
      settings, stats);
  sender->start();
  run_until(ioc, [&] { return rx.requests.size() == 4; });
  ioc.restart();
  ioc.run_for(std::chrono::milliseconds(100));
  CHECK(rx.requests.size() == 4);
  CHECK(sender->in_flight() == 4);
  CHECK(stats.webhooks_in_flight.load() == 4);

  // One answer frees one place, and one more goes.
  rx.unanswered.front()(result<void>{});
  run_until(ioc, [&] { return rx.requests.size() == 5; });
  CHECK(sender->in_flight() == 4);
  sender->stop();
}

TEST_CASE("a stopped sender records nothing: the entry is sent again after its lease", "[server][webhooks]") {
  net::io_context ioc;
  memory_outbox outbox;
  outbox.add("only", "eng-a");
  receiver rx;
  metrics stats;
  auto sender = std::make_shared<webhook_sender>(
      ioc.get_executor(), outbox,
      [&](webhook_request r, std::function<void(result<void>)> done) {
        rx.requests.push_back(std::move(r));
        rx.unanswered.push_back(std::move(done));
      },
      quick_settings(), stats);
  sender->start();
  run_until(ioc, [&] { return rx.requests.size() == 1; });
  sender->stop();
  rx.unanswered.front()(result<void>{});
  ioc.restart();
  ioc.run_for(std::chrono::milliseconds(50));
  CHECK(outbox.at("only").state == webhook_state::pending);
  CHECK(outbox.at("only").attempts == 0);
  CHECK(outbox.leases.at("eng-a").first == "instance-a");

  // Another instance may take it only once the lease lapsed.
  auto settings = quick_settings();
  settings.owner = "instance-b";
  receiver rx_b;
  auto other = std::make_shared<webhook_sender>(
      ioc.get_executor(), outbox,
      [&](webhook_request r, std::function<void(result<void>)> done) {
        rx_b.requests.push_back(std::move(r));
        done({});
      },
      settings, stats);
  other->start();
  ioc.restart();
  ioc.run_for(std::chrono::milliseconds(50));
  CHECK(rx_b.requests.empty());
  outbox.leases.at("eng-a").second = 0;
  run_until(ioc, [&] { return outbox.all_settled(); });
  other->stop();
  REQUIRE(rx_b.requests.size() == 1);
  CHECK(rx_b.requests[0].event_id == "only");
}
