// The SQLite engine: seq assignment, idempotency, read windows, epochs,
// durability across a killed process, group commit and the decision log.
#include "protocol/decision_log.hpp"
#include "engine_contract.hpp"
#include "storage/error_counts.hpp"
#include "storage/job_queue.hpp"
#include "storage/local_engine.hpp"
#include "storage/sqlite_backup.hpp"

#include <catch2/catch.hpp>

#include <boost/json.hpp>
#include <sqlite3.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace fs = std::filesystem;
using namespace parley;
using namespace parley::testing;

namespace {

// A fresh directory per test, removed at the end.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "parley-engine-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path db() const { return path / "parley.db"; }
};

std::unique_ptr<engine> open_engine(const fs::path& db, int max_batch = 512) {
  local_engine_options options;
  options.db_path = db;
  options.max_batch = max_batch;
  return make_local_engine(options);
}

}  // namespace

TEST_CASE("the first event of a channel gets seq 1 and the following ones follow without gaps", "[storage]") {
  temp_dir dir;
  auto e = open_engine(dir.db());

  for (std::int64_t expected = 1; expected <= 20; ++expected) {
    auto out = append_sync(*e, one(make_event("eng:a", "u1", "hello")));
    REQUIRE(out);
    REQUIRE(out->committed.size() == 1);
    CHECK(out->committed[0].seq == expected);
    CHECK(out->committed[0].ch == "eng:a");
    auto stored = parse_object(*out->committed[0].json);
    CHECK(stored.at("seq").as_int64() == expected);
    CHECK(stored.at("ts").as_int64() == out->committed[0].ts);
  }
  auto r = read_window(*e, "eng:a", std::nullopt, std::nullopt, 1000);
  CHECK(r->head == 20);
  CHECK(seqs_of(r) == range(1, 20));
}

TEST_CASE("each channel counts its own seqs", "[storage]") {
  temp_dir dir;
  auto e = open_engine(dir.db());

  CHECK(append_sync(*e, one(make_event("eng:a", "u1", "1")))->committed[0].seq == 1);
  CHECK(append_sync(*e, one(make_event("eng:b", "u1", "1")))->committed[0].seq == 1);
  CHECK(append_sync(*e, one(make_event("eng:a", "u1", "2")))->committed[0].seq == 2);
  CHECK(append_sync(*e, one(make_event("eng:b", "u1", "2")))->committed[0].seq == 2);
  CHECK(append_sync(*e, one(make_event("eng:b", "u1", "3")))->committed[0].seq == 3);
  CHECK(read_window(*e, "eng:a", std::nullopt, std::nullopt, 50)->head == 2);
  CHECK(read_window(*e, "eng:b", std::nullopt, std::nullopt, 50)->head == 3);
  CHECK(read_window(*e, "eng:never", std::nullopt, std::nullopt, 50)->head == 0);
}

TEST_CASE("events of one request are stored together, across channels, with one ts", "[storage]") {
  temp_dir dir;
  auto e = open_engine(dir.db());
  fill(*e, "support", 3);

  check_request_across_channels(*e);
  CHECK(e->stats().appends == 6);
}

TEST_CASE("ts never goes down within a channel", "[storage]") {
  temp_dir dir;
  auto e = open_engine(dir.db());
  std::int64_t last = 0;
  for (int i = 0; i < 50; ++i) {
    auto out = append_sync(*e, one(make_event("eng:a", "u1", "m")));
    REQUIRE(out);
    CHECK(out->committed[0].ts >= last);
    last = out->committed[0].ts;
  }
  CHECK(last > 1700000000000);  // milliseconds since the epoch, not seconds
}

TEST_CASE("posting the same cid again from the same sender returns the first seq and appends nothing", "[storage]") {
  temp_dir dir;
  auto e = open_engine(dir.db());

  auto first = append_sync(*e, one(make_event("eng:a", "u1", "draft", "c-1")));
  REQUIRE(first);
  CHECK_FALSE(first->duplicate);
  fill(*e, "eng:a", 2);

  auto again = append_sync(*e, one(make_event("eng:a", "u1", "draft, sent twice", "c-1")));
  REQUIRE(again);
  CHECK(again->duplicate);
  REQUIRE(again->committed.size() == 1);
  CHECK(again->committed[0].seq == first->committed[0].seq);
  CHECK(again->committed[0].ts == first->committed[0].ts);
  CHECK(*again->committed[0].json == *first->committed[0].json);

  auto r = read_window(*e, "eng:a", std::nullopt, std::nullopt, 50);
  CHECK(r->head == 3);
  CHECK(e->stats().appends == 3);
  CHECK(e->stats().duplicates == 1);
}

TEST_CASE("the same cid from another sender or in another channel is a new event", "[storage]") {
  temp_dir dir;
  auto e = open_engine(dir.db());

  auto a = append_sync(*e, one(make_event("eng:a", "u1", "x", "c-1")));
  auto b = append_sync(*e, one(make_event("eng:a", "u2", "x", "c-1")));
  auto c = append_sync(*e, one(make_event("eng:b", "u1", "x", "c-1")));
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(c);
  CHECK_FALSE(b->duplicate);
  CHECK_FALSE(c->duplicate);
  CHECK(a->committed[0].seq == 1);
  CHECK(b->committed[0].seq == 2);
  CHECK(c->committed[0].seq == 1);
}

TEST_CASE("a duplicate is recognised after a reopen and is not given to the sink", "[storage]") {
  temp_dir dir;
  {
    auto e = open_engine(dir.db());
    REQUIRE(append_sync(*e, one(make_event("eng:a", "u1", "x", "c-1"))));
  }
  auto e = open_engine(dir.db());
  std::atomic<int> sunk{0};
  e->set_sink([&](const committed_event&) { ++sunk; });
  auto again = append_sync(*e, one(make_event("eng:a", "u1", "x", "c-1")));
  CHECK(again->duplicate);
  CHECK(again->committed.at(0).seq == 1);
  CHECK(sunk == 0);
}

TEST_CASE("reads return the requested window in ascending order", "[storage]") {
  temp_dir dir;
  auto e = open_engine(dir.db());
  check_read_windows(*e);
}

TEST_CASE("a read of more than 1000 events is clamped to 1000", "[storage]") {
  temp_dir dir;
  auto e = open_engine(dir.db());
  check_read_limit(*e);
}

TEST_CASE("the epoch is stable across reopen and differs for another database", "[storage]") {
  temp_dir dir;
  std::string epoch_a, epoch_b;
  {
    auto e = open_engine(dir.db());
    fill(*e, "eng:a", 3);
    epoch_a = read_window(*e, "eng:a", std::nullopt, std::nullopt, 1)->epoch;
    epoch_b = read_window(*e, "eng:b", std::nullopt, std::nullopt, 1)->epoch;
  }
  CHECK(epoch_a.size() == 16);
  CHECK(epoch_a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(epoch_a != epoch_b);
  {
    auto e = open_engine(dir.db());
    auto r = read_window(*e, "eng:a", std::nullopt, std::nullopt, 50);
    CHECK(r->epoch == epoch_a);
    CHECK(r->head == 3);
    CHECK(append_sync(*e, one(make_event("eng:a", "u1", "after reopen")))->committed[0].seq == 4);
  }
  temp_dir other;
  auto e = open_engine(other.db());
  CHECK(read_window(*e, "eng:a", std::nullopt, std::nullopt, 50)->epoch != epoch_a);
}

TEST_CASE("a wiped data directory gives the channels new epochs", "[storage]") {
  temp_dir dir;
  std::string before;
  {
    auto e = open_engine(dir.db());
    fill(*e, "eng:a", 1);
    before = read_window(*e, "eng:a", std::nullopt, std::nullopt, 1)->epoch;
  }
  for (const auto& entry : fs::directory_iterator(dir.path)) fs::remove(entry.path());
  auto e = open_engine(dir.db());
  auto r = read_window(*e, "eng:a", std::nullopt, std::nullopt, 1);
  CHECK(r->head == 0);
  CHECK(r->epoch != before);
}

TEST_CASE("every acknowledged event survives a kill of the process", "[storage]") {
  temp_dir dir;
  int fds[2];
  REQUIRE(::pipe(fds) == 0);

  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The child: append as fast as it can, reporting each acknowledged seq.
    ::close(fds[0]);
    int out = fds[1];
    try {
      auto e = open_engine(dir.db(), 64);
      std::string epoch = read_window(*e, "eng:crash", std::nullopt, std::nullopt, 1)->epoch;
      if (::write(out, epoch.data(), 16) != 16) ::_exit(2);
      std::atomic<int> in_flight{0};
      for (int i = 0; i < 200000; ++i) {
        while (in_flight.load() > 200) std::this_thread::yield();
        ++in_flight;
        e->append(one(make_event("eng:crash", "u1", "m" + std::to_string(i))), [&](result<appended> o) {
          if (o) {
            std::int64_t seq = o->committed[0].seq;
            if (::write(out, &seq, sizeof seq) != sizeof seq) ::_exit(3);
          }
          --in_flight;
        });
      }
      ::pause();
    } catch (...) {
    }
    ::_exit(1);
  }

  ::close(fds[1]);
  char epoch_buf[16];
  REQUIRE(::read(fds[0], epoch_buf, 16) == 16);
  std::string epoch(epoch_buf, 16);

  // Kill it mid-traffic, once it has been acknowledged a good number of times.
  std::vector<std::int64_t> acked;
  std::int64_t seq = 0;
  while (acked.size() < 2000 && ::read(fds[0], &seq, sizeof seq) == sizeof seq) acked.push_back(seq);
  ::kill(child, SIGKILL);
  while (::read(fds[0], &seq, sizeof seq) == sizeof seq) acked.push_back(seq);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(WTERMSIG(status) == SIGKILL);
  REQUIRE(acked.size() >= 2000);

  auto e = open_engine(dir.db());
  std::int64_t max_acked = *std::max_element(acked.begin(), acked.end());
  std::vector<std::int64_t> stored;
  std::int64_t head = 0;
  for (std::int64_t after = 0;;) {
    auto r = read_window(*e, "eng:crash", after, std::nullopt, 1000);
    REQUIRE(r);
    CHECK(r->epoch == epoch);
    head = r->head;
    if (r->events.empty()) break;
    for (const auto& ev : r->events) stored.push_back(ev.seq);
    after = r->events.back().seq;
  }
  CHECK(head >= max_acked);
  CHECK(stored == range(1, head));
  std::set<std::int64_t> stored_set(stored.begin(), stored.end());
  for (auto s : acked) REQUIRE(stored_set.count(s) == 1);

  auto next = append_sync(*e, one(make_event("eng:crash", "u1", "after the crash")));
  REQUIRE(next);
  CHECK(next->committed[0].seq == head + 1);
}

TEST_CASE("concurrent appends are group-committed with gap-free seqs per channel", "[storage]") {
  temp_dir dir;
  auto e = open_engine(dir.db());

  std::mutex sink_mutex;
  std::map<std::string, std::vector<std::int64_t>> sunk;
  e->set_sink([&](const committed_event& ev) {
    std::lock_guard lock(sink_mutex);
    sunk[ev.ch].push_back(ev.seq);
  });

  constexpr int threads = 6;
  constexpr int per_thread = 1500;
  const std::vector<std::string> channels{"eng:a", "eng:b", "eng:c"};
  std::atomic<int> acked{0}, failed{0};
  std::mutex acked_mutex;
  std::map<std::string, std::vector<std::int64_t>> acked_seqs;
  std::promise<void> all_done;
  constexpr int total = threads * per_thread;

  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const std::string& ch = channels[(t + i) % channels.size()];
        e->append(one(make_event(ch, "u" + std::to_string(t), "m", "c" + std::to_string(i))),
                  [&](result<appended> out) {
                    if (!out || out->duplicate) {
                      ++failed;
                    } else {
                      std::lock_guard lock(acked_mutex);
                      acked_seqs[out->committed[0].ch].push_back(out->committed[0].seq);
                    }
                    if (++acked == total) all_done.set_value();
                  });
      }
    });
  }
  for (auto& w : workers) w.join();
  REQUIRE(all_done.get_future().wait_for(std::chrono::seconds(60)) == std::future_status::ready);

  CHECK(failed == 0);
  std::size_t sum = 0;
  for (const auto& ch : channels) {
    auto seqs = acked_seqs[ch];
    sum += seqs.size();
    std::sort(seqs.begin(), seqs.end());
    CHECK(seqs == range(1, static_cast<std::int64_t>(seqs.size())));
    // The sink saw the channel's events in seq order, each once.
    CHECK(sunk[ch] == range(1, static_cast<std::int64_t>(seqs.size())));
    CHECK(read_window(*e, ch, std::nullopt, std::nullopt, 1)->head == static_cast<std::int64_t>(seqs.size()));
  }
  CHECK(sum == static_cast<std::size_t>(total));

  auto s = e->stats();
  CHECK(s.appends == static_cast<std::uint64_t>(total));
  CHECK(s.transactions * 5 < s.appends);
}

TEST_CASE("the sink and the handler see an event only after it is readable", "[storage]") {
  temp_dir dir;
  auto e = open_engine(dir.db());
  std::atomic<bool> visible{false};
  std::promise<void> checked;
  e->set_sink([&](const committed_event& ev) {
    // The reader's own connection sees committed state only.
    read_query q;
    q.ch = ev.ch;
    e->read(q, [&, seq = ev.seq](result<channel_window> r) {
      visible = r->head >= seq;
      checked.set_value();
    });
  });
  REQUIRE(append_sync(*e, one(make_event("eng:a", "u1", "x"))));
  checked.get_future().wait();
  CHECK(visible);
}

TEST_CASE("a decision record is written with its event and chained to the previous one", "[storage]") {
  temp_dir dir;
  auto e = open_engine(dir.db());
  fill(*e, "eng:42", 4);

  auto decide = [&](std::int64_t proposal_seq, const std::string& topic) {
    append_request req;
    req.events.push_back(make_event("eng:42", "u2", "status first"));
    event decision = make_event("eng:42", "u2", "");
    decision.kind = "decision";
    decision.body = {{"proposal", proposal_seq}, {"verdict", "accepted"}};
    req.events.push_back(std::move(decision));
    record_draft draft;
    draft.fields = {{"eng", "42"},
                    {"ch", "eng:42"},
                    {"topic", topic},
                    {"terms", {{"fee", 1200}}},
                    {"text", "the plan"},
                    {"proposed_by", "u1"},
                    {"accepted_by", {"u2"}},
                    {"proposal_seq", proposal_seq}};
    draft.attach_to = 1;
    req.record = std::move(draft);
    return append_sync(*e, std::move(req));
  };

  auto first = decide(3, "agreement");
  REQUIRE(first);
  REQUIRE(first->committed.size() == 2);
  CHECK(first->committed[1].seq == 6);
  auto body1 = parse_object(*first->committed[1].json).at("body").as_object();
  auto stamp1 = body1.at("record").as_object();
  CHECK(stamp1.at("n").as_int64() == 1);
  CHECK(stamp1.at("prev").as_string() == genesis_prev);
  CHECK(body1.at("verdict").as_string() == "accepted");
  CHECK_FALSE(parse_object(*first->committed[0].json).at("body").as_object().contains("record"));

  auto second = decide(4, "timeline");
  REQUIRE(second);
  auto stamp2 = parse_object(*second->committed[1].json).at("body").as_object().at("record").as_object();
  CHECK(stamp2.at("n").as_int64() == 2);
  CHECK(stamp2.at("prev") == stamp1.at("hash"));

  auto log = records_sync(*e, "42");
  REQUIRE(log);
  REQUIRE(log->records.size() == 2);
  const auto& r1 = log->records[0];
  const auto& r2 = log->records[1];
  CHECK(r1.at("n").as_int64() == 1);
  CHECK(r1.at("decision_seq").as_int64() == 6);
  CHECK(r1.at("proposal_seq").as_int64() == 3);
  CHECK(r1.at("ts").as_int64() == first->committed[1].ts);
  CHECK(r1.at("topic").as_string() == "agreement");
  CHECK(r1.at("hash") == stamp1.at("hash"));
  CHECK(r1.at("hash").as_string() == record_hash(r1));
  CHECK(r2.at("n").as_int64() == 2);
  CHECK(r2.at("decision_seq").as_int64() == 8);
  CHECK(r2.at("prev") == r1.at("hash"));
  CHECK(r2.at("hash").as_string() == record_hash(r2));

  CHECK(records_sync(*e, "other")->records.empty());
}

TEST_CASE("a failing request is rolled back alone and the others commit", "[storage]") {
  temp_dir dir;
  auto e = open_engine(dir.db());

  // The second event carries a record without `eng`: the first event is
  // already inserted when that is found, and must be undone.
  auto bad_request = [] {
    append_request req;
    req.events.push_back(make_event("eng:a", "u1", "one"));
    req.events.push_back(make_event("eng:a", "u1", "two"));
    req.record = record_draft{{{"topic", "agreement"}}, 1};
    return req;
  };

  // Queued together so that they share a transaction.
  std::vector<std::future<result<appended>>> results;
  std::vector<std::shared_ptr<std::promise<result<appended>>>> promises;
  for (int i = 0; i < 9; ++i) {
    auto p = std::make_shared<std::promise<result<appended>>>();
    results.push_back(p->get_future());
    auto req = i % 3 == 1 ? bad_request() : one(make_event("eng:a", "u1", "ok", "c" + std::to_string(i)));
    e->append(std::move(req), [p](result<appended> out) { p->set_value(std::move(out)); });
  }
  std::vector<std::int64_t> good;
  for (int i = 0; i < 9; ++i) {
    auto out = results[i].get();
    if (i % 3 == 1) {
      REQUIRE_FALSE(out);
      CHECK(out.err().code == errc::internal);
    } else {
      REQUIRE(out);
      good.push_back(out->committed[0].seq);
    }
  }
  CHECK(good == range(1, 6));
  auto r = read_window(*e, "eng:a", std::nullopt, std::nullopt, 50);
  CHECK(r->head == 6);
  CHECK(seqs_of(r) == range(1, 6));
  CHECK(append_sync(*e, one(make_event("eng:a", "u1", "next")))->committed[0].seq == 7);
}

TEST_CASE("an append without events or with a record attached to no event is refused", "[storage]") {
  temp_dir dir;
  auto e = open_engine(dir.db());
  auto empty = append_sync(*e, append_request{});
  REQUIRE_FALSE(empty);
  CHECK(empty.err().code == errc::internal);

  auto req = one(make_event("eng:a", "u1", "x"));
  req.record = record_draft{{{"eng", "a"}}, 3};
  auto out = append_sync(*e, std::move(req));
  REQUIRE_FALSE(out);
  CHECK(read_window(*e, "eng:a", std::nullopt, std::nullopt, 50)->head == 0);
}

TEST_CASE("stop answers every pending append and refuses later ones", "[storage]") {
  temp_dir dir;
  constexpr int count = 3000;
  std::atomic<int> ok{0}, answered{0};
  {
    auto e = open_engine(dir.db(), 16);
    for (int i = 0; i < count; ++i)
      e->append(one(make_event("eng:a", "u1", "m")), [&](result<appended> out) {
        if (out) ++ok;
        ++answered;
      });
    e->stop();
    CHECK(answered == count);
    CHECK(ok == count);
    CHECK_FALSE(e->ready());

    auto late = append_sync(*e, one(make_event("eng:a", "u1", "late")));
    REQUIRE_FALSE(late);
    CHECK(late.err().code == errc::unavailable);
    auto late_read = read_window(*e, "eng:a", std::nullopt, std::nullopt, 1);
    REQUIRE_FALSE(late_read);
    CHECK(late_read.err().code == errc::unavailable);
    e->stop();  // a second stop does nothing
  }
  auto e = open_engine(dir.db());
  CHECK(e->ready());
  CHECK(read_window(*e, "eng:a", std::nullopt, std::nullopt, 1)->head == count);
}

TEST_CASE("a read marker keeps the highest seq", "[storage]") {
  temp_dir dir;
  {
    auto e = open_engine(dir.db());
    e->set_read_marker("u1", "eng:a", 5);
    e->set_read_marker("u1", "eng:a", 9);
    e->set_read_marker("u1", "eng:a", 7);
    e->set_read_marker("u2", "eng:a", 2);
  }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(dir.db().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT user, seq FROM read_markers WHERE ch = 'eng:a' ORDER BY user", -1, &st,
                             nullptr) == SQLITE_OK);
  std::vector<std::pair<std::string, std::int64_t>> rows;
  while (sqlite3_step(st) == SQLITE_ROW)
    rows.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), sqlite3_column_int64(st, 1));
  sqlite3_finalize(st);
  sqlite3_close(db);
  CHECK(rows == std::vector<std::pair<std::string, std::int64_t>>{{"u1", 9}, {"u2", 2}});
}

TEST_CASE("opening something that is not a database fails with a clear message", "[storage]") {
  temp_dir dir;
  {
    std::ofstream junk(dir.db());
    junk << std::string(4096, 'x');
  }
  REQUIRE_THROWS_WITH(open_engine(dir.db()), Catch::Contains("parley.db") && Catch::Contains("not a database"));
}

TEST_CASE("opening a database under a path that cannot be created fails with a clear message", "[storage]") {
  temp_dir dir;
  { std::ofstream file(dir.path / "a-file"); }
  REQUIRE_THROWS_WITH(open_engine(dir.path / "a-file" / "parley.db"), Catch::StartsWith("cannot"));
}

TEST_CASE("a second engine on the same database is refused while the first runs", "[storage]") {
  temp_dir dir;
  auto first = open_engine(dir.db());
  REQUIRE_THROWS_WITH(open_engine(dir.db()), Catch::Contains("in use"));
  first->stop();
  auto second = open_engine(dir.db());
  CHECK(second->ready());
}

TEST_CASE("a second engine told to wait opens the database once the first lets go of it, and not before", "[storage]") {
  temp_dir dir;
  auto first = open_engine(dir.db());
  fill(*first, "eng:h", 5);
  local_engine_options options;
  options.db_path = dir.db();
  options.lock_wait = std::chrono::milliseconds(100);
  auto started = std::chrono::steady_clock::now();
  REQUIRE_THROWS_WITH(make_local_engine(options), Catch::Contains("in use"));
  CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(100));

  options.lock_wait = std::chrono::seconds(30);
  auto second = std::async(std::launch::async, [&] { return make_local_engine(options); });
  CHECK(second.wait_for(std::chrono::milliseconds(300)) == std::future_status::timeout);
  first->stop();
  first.reset();
  REQUIRE(second.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  auto taken = second.get();
  CHECK(head_of(*taken, "eng:h")->head == 5);
}

TEST_CASE("the database is kept in WAL mode", "[storage]") {
  temp_dir dir;
  auto e = open_engine(dir.db());
  fill(*e, "eng:a", 1);
  CHECK(fs::exists(dir.path / "parley.db-wal"));
  std::ifstream header(dir.db(), std::ios::binary);
  char bytes[20];
  header.read(bytes, sizeof bytes);
  // File format bytes 18 and 19 are 2 in WAL mode.
  CHECK(bytes[18] == 2);
  CHECK(bytes[19] == 2);
}

TEST_CASE("a read bounded in bytes keeps the oldest events of its window and says it was cut", "[storage]") {
  temp_dir dir;
  auto e = open_engine(dir.db());
  check_bounded_reads(*e);
}

TEST_CASE("the decision log is read a page at a time, with the n to page on from", "[storage]") {
  temp_dir dir;
  auto e = open_engine(dir.db());
  check_records_paging(*e);
}

TEST_CASE("engagements are listed a page at a time in id order", "[storage]") {
  temp_dir dir;
  auto e = open_engine(dir.db());
  check_engagement_pages(*e);
}

TEST_CASE("the due index hands each due key to one claimer per lease", "[storage]") {
  temp_dir dir;
  auto e = open_engine(dir.db());
  check_due_index(*e);
}

TEST_CASE("a snapshot is replaced only by one of a revision at least as high, and survives a restart", "[storage]") {
  temp_dir dir;
  {
    auto e = open_engine(dir.db());
    check_snapshots(*e);
  }
  auto e = open_engine(dir.db());
  CHECK(stored_snapshot(*e, "s1") == "{\"at\":25}");
}

TEST_CASE("the due index and its completeness survive a restart", "[storage]") {
  temp_dir dir;
  {
    auto e = open_engine(dir.db());
    e->set_due("s:kept", 100);
    REQUIRE(mark_due_index_complete_sync(*e));
  }
  auto e = open_engine(dir.db());
  CHECK(claimed_set(*e, 100, 1000, 10) == std::set<std::string>{"s:kept"});
  auto is = due_index_complete_sync(*e);
  REQUIRE(is);
  CHECK(*is);
}

TEST_CASE("an append expecting heads that moved on stores nothing and reports stale state", "[storage]") {
  temp_dir dir;
  auto e = open_engine(dir.db());
  check_expect_heads(*e);
}

TEST_CASE("decision records are signed with the engine's key", "[storage]") {
  temp_dir dir;
  auto signer = test_signer();
  local_engine_options options;
  options.db_path = dir.db();
  options.signer = signer;
  auto e = make_local_engine(options);
  check_signed_records(*e, *signer);
}

TEST_CASE("appends, duplicates, cid lookups and the sink carry the event parsed", "[storage]") {
  temp_dir dir;
  auto e = open_engine(dir.db());
  std::vector<bool> sunk;
  e->set_sink([&](const committed_event& ev) { sunk.push_back(carries_parsed(ev)); });
  check_parsed_events(*e);
  REQUIRE(append_sync(*e, one(make_event("eng:p", "u2", "later")))->committed.size() == 1);
  CHECK(sunk == std::vector<bool>{true, true, true});
}

TEST_CASE("an event can be found by its idempotency key", "[storage]") {
  temp_dir dir;
  auto e = open_engine(dir.db());
  check_find_by_cid(*e);
}

TEST_CASE("appends past the writer queue's cap are answered unavailable at once, and nothing queued is lost",
          "[storage]") {
  temp_dir dir;
  local_engine_options options;
  options.db_path = dir.db();
  options.max_queue = 10;
  auto e = make_local_engine(options);
  // The sink runs on the writer thread: holding it there keeps the queue from draining.
  std::promise<void> release;
  auto released = release.get_future().share();
  std::promise<void> entered;
  std::atomic<bool> first{true};
  e->set_sink([&](const committed_event&) {
    if (first.exchange(false)) {
      entered.set_value();
      released.wait();
    }
  });
  std::atomic<int> ok{0}, busy{0};
  auto count = [&](result<appended> out) {
    if (out) ++ok;
    else if (out.err().code == errc::unavailable) ++busy;
  };
  e->append(one(make_event("eng:q", "u1", "first")), count);
  entered.get_future().wait();
  auto busy_before = storage_errors(storage_error_kind::busy);
  for (int i = 0; i < 25; ++i) e->append(one(make_event("eng:q", "u1", "m" + std::to_string(i))), count);
  CHECK(busy == 15);  // answered without waiting for the writer
  CHECK(storage_errors(storage_error_kind::busy) == busy_before + 15);  // /metrics counts each refusal
  release.set_value();
  e->stop();
  CHECK(ok == 11);
  auto reopened = open_engine(dir.db());
  CHECK(head_of(*reopened, "eng:q")->head == 11);
}

TEST_CASE("reads past the reader queue's cap are answered unavailable at once", "[storage]") {
  temp_dir dir;
  local_engine_options options;
  options.db_path = dir.db();
  options.max_queue = 5;
  auto e = make_local_engine(options);
  fill(*e, "eng:r", 3);
  std::promise<void> release;
  auto released = release.get_future().share();
  std::promise<void> entered;
  // A handler runs on the reader thread: holding it there keeps the queue from draining.
  e->read(read_query{"eng:r", std::nullopt, std::nullopt, 1}, [&](result<channel_window>) {
    entered.set_value();
    released.wait();
  });
  entered.get_future().wait();
  std::atomic<int> ok{0}, busy{0};
  for (int i = 0; i < 12; ++i)
    e->read(read_query{"eng:r", std::nullopt, std::nullopt, 1}, [&](result<channel_window> out) {
      if (out) ++ok;
      else if (out.err().code == errc::unavailable) ++busy;
    });
  CHECK(busy == 7);
  release.set_value();
  e->stop();
  CHECK(ok == 5);
}

TEST_CASE("the engine's stats name it, say it is up and give the write-ahead log's size", "[storage]") {
  temp_dir dir;
  auto e = open_engine(dir.db());
  auto before = e->stats();
  CHECK(before.engine == "sqlite");
  CHECK(before.up);
  CHECK(before.links.empty());
  CHECK_FALSE(before.durable);
  fill(*e, "eng:w", 50);
  auto after = e->stats();
  REQUIRE(after.wal_bytes);
  CHECK(*after.wal_bytes > 0);
  CHECK(after.appends == before.appends + 50);
  e->stop();
  CHECK_FALSE(e->stats().up);
}

TEST_CASE("a job queue refuses past its cap and once closed, and still hands out what it queued", "[storage]") {
  job_queue<std::string> queue(2);
  std::string a = "a", b = "b", c = "c";
  CHECK(queue.push(a) == admission::queued);
  CHECK(queue.push(b) == admission::queued);
  CHECK(queue.push(c) == admission::full);
  CHECK(c == "c");  // a refused job is left to its caller, who answers it
  CHECK(refusal_of(admission::full).code == errc::unavailable);

  queue.close();
  CHECK(queue.push(c) == admission::closed);
  CHECK(refusal_of(admission::closed).message == "storage is stopping");

  std::vector<std::string> taken;
  CHECK(queue.take(taken, 1));
  CHECK(queue.take(taken, 5));
  CHECK(taken == std::vector<std::string>{"a", "b"});
  CHECK_FALSE(queue.take(taken, 5));  // closed and empty: the thread is done
}

TEST_CASE("a backup taken while the engine writes restores what was committed before it, under a new epoch", "[storage]") {
  temp_dir dir;
  auto e = open_engine(dir.db());
  for (int i = 0; i < 30; ++i) REQUIRE(append_sync(*e, one(make_event("eng:a", "u1", "m"))));
  const auto epoch = read_window(*e, "eng:a", std::nullopt, std::nullopt, 50)->epoch;

  // Appends go on in another thread while the copy is taken.
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    while (!stop) append_sync(*e, one(make_event("eng:a", "u1", "during")));
  });
  auto backup = backup_database(dir.db(), dir.path / "backup.db");
  stop = true;
  writer.join();
  REQUIRE(backup);
  CHECK(backup->bytes > 0);
  CHECK_FALSE(backup_database(dir.db(), dir.path / "backup.db"));  // never over an existing file
  const auto written = read_window(*e, "eng:a", std::nullopt, std::nullopt, 1000)->head;
  e.reset();

  fs::create_directories(dir.path / "restored");
  auto id = restore_database(dir.path / "backup.db", dir.path / "restored" / "parley.db");
  REQUIRE(id);
  CHECK(*id != backup->db_id);
  CHECK_FALSE(restore_database(dir.path / "backup.db", dir.path / "restored" / "parley.db"));
  auto restored = open_engine(dir.path / "restored" / "parley.db");
  auto r = read_window(*restored, "eng:a", std::nullopt, std::nullopt, 1000);
  // Every event committed before the copy, then a prefix of those during it.
  CHECK(r->head >= 30);
  CHECK(r->head <= written);
  CHECK(seqs_of(r) == range(1, r->head));
  CHECK(r->epoch != epoch);
  // The restored log goes on from its head.
  CHECK(append_sync(*restored, one(make_event("eng:a", "u1", "after")))->committed[0].seq == r->head + 1);
}

TEST_CASE("a restore refuses a file that is not a Parley database", "[storage]") {
  temp_dir dir;
  { std::ofstream(dir.path / "junk.db") << "not a database"; }
  CHECK_FALSE(restore_database(dir.path / "junk.db", dir.db()));
  CHECK_FALSE(fs::exists(dir.db()));
  CHECK_FALSE(backup_database(dir.path / "missing.db", dir.path / "out.db"));
  CHECK_FALSE(fs::exists(dir.path / "out.db"));
}
