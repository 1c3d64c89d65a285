// parley_load: a load generator for Parley over raw sockets and epoll.
//   fanout  N subscribers over C channels, P publishers posting R/s each (open
//           loop); deliveries, their latency from the scheduled send time, and
//           the server's CPU per delivery and per post
//   posts   the same with no subscribers by default: durable posts, steady
//           (--rate) or closed loop (--rate 0 --window W)
//   idle    connections that hello + join and sit; the server's RSS at each
//           checkpoint and KiB per connection from the slope
// Prints one human-readable block and one `RESULT {json}` line. Exit 0 when
// the run completed (whatever the figures), 1 when --expect-all was not met,
// 2 when the tool could not run (connect, set-up or protocol failure).
#include "tests/bench/load_options.hpp"
#include "tests/bench/load_run.hpp"
#include "tests/bench/stats.hpp"

#include <cstdio>
#include <string>
#include <vector>

using namespace parley::bench;

namespace {

std::int64_t servers_cpu_ns(const load_options& o) {
  std::int64_t sum = 0;
  for (int pid : o.server_pids) sum += std::max<std::int64_t>(0, process_cpu_ns(pid));
  return sum;
}

std::int64_t servers_rss_kib(const load_options& o) {
  std::int64_t sum = 0;
  for (int pid : o.server_pids) sum += std::max<std::int64_t>(0, process_rss_kib(pid));
  return sum;
}

double ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) continue;
    out += ch;
  }
  return out + "\"";
}

std::string errors_json(const load_run& run, std::uint64_t& total) {
  std::string out = "{";
  total = 0;
  for (const auto& [what, n] : run.errors()) {
    if (out.size() > 1) out += ',';
    out += json_string(what) + ":" + std::to_string(n);
    total += n;
  }
  return out + "}";
}

void print_errors(const load_run& run) {
  for (const auto& [what, n] : run.errors()) std::printf("  error: %s × %llu\n", what.c_str(), static_cast<unsigned long long>(n));
}

int run_idle(const load_options& o) {
  load_run run(o);
  std::printf("parley_load idle: %zu channels, checkpoints", o.channels);
  for (auto c : o.checkpoints) std::printf(" %zu", c);
  std::printf("\n");
  std::vector<std::pair<std::size_t, std::int64_t>> points;
  std::int64_t base = servers_rss_kib(o);
  std::printf("  %8d connections: server RSS %lld KiB\n", 0, static_cast<long long>(base));
  for (auto count : o.checkpoints) {
    run.open_subscribers(count);
    run.idle_for(o.settle);
    std::int64_t rss = servers_rss_kib(o);
    points.emplace_back(count, rss);
    std::printf("  %8zu connections: server RSS %lld KiB (%zu open)\n", count, static_cast<long long>(rss),
                run.open_connections());
    std::fflush(stdout);
  }
  // The slope between the first and the last checkpoint: what one more connection costs.
  double kib_per_conn = 0;
  if (points.size() >= 2 && points.back().first > points.front().first)
    kib_per_conn = static_cast<double>(points.back().second - points.front().second) /
                   static_cast<double>(points.back().first - points.front().first);
  else if (!points.empty() && points.back().first > 0)
    kib_per_conn = static_cast<double>(points.back().second - base) / static_cast<double>(points.back().first);
  std::printf("  KiB per connection: %.2f\n", kib_per_conn);
  print_errors(run);
  std::uint64_t error_total = 0;
  std::string errors = errors_json(run, error_total);
  std::string checkpoints = "[";
  for (auto& [n, rss] : points)
    checkpoints += (checkpoints.size() > 1 ? "," : "") + std::string("[") + std::to_string(n) + "," + std::to_string(rss) + "]";
  checkpoints += "]";
  std::printf("RESULT {\"label\":%s,\"mode\":\"idle\",\"connections\":%zu,\"open\":%zu,\"rss_kib\":%s,"
              "\"rss_base_kib\":%lld,\"kib_per_connection\":%.3f,\"errors\":%llu,\"error_kinds\":%s}\n",
              json_string(o.label).c_str(), o.checkpoints.back(), run.open_connections(), checkpoints.c_str(),
              static_cast<long long>(base), kib_per_conn, static_cast<unsigned long long>(error_total), errors.c_str());
  return 0;
}

int run_traffic(const load_options& o) {
  load_run run(o);
  bool closed_loop = o.rate == 0;
  std::printf("parley_load %s: %zu subscribers over %zu channels, %zu publishers %s, %zu-byte texts, %.1f s\n",
              o.mode.c_str(), o.subscribers, o.channels, o.publishers,
              closed_loop ? ("closed loop, window " + std::to_string(o.window)).c_str()
                          : ("at " + std::to_string(static_cast<long long>(o.rate)) + " posts/s each").c_str(),
              o.size, o.duration);
  run.open_subscribers(o.subscribers);
  run.open_publishers();
  run.idle_for(o.settle);

  std::int64_t rss_before = servers_rss_kib(o);
  std::int64_t cpu_before = servers_cpu_ns(o);
  std::int64_t own_before = own_cpu_ns();
  load_figures f = run.measure();
  std::int64_t cpu = servers_cpu_ns(o) - cpu_before;
  std::int64_t own = own_cpu_ns() - own_before;
  std::int64_t rss_after = servers_rss_kib(o);

  double window_s = static_cast<double>(f.end_ns - f.start_ns) / 1e9;
  double posting_s = static_cast<double>(f.posting_end_ns - f.start_ns) / 1e9;
  double offered = closed_loop ? 0 : o.rate * static_cast<double>(o.publishers);
  // Achieved rates run to the last reply and the last delivery (not beyond), so that the drain does not dilute them.
  double ack_span = std::max(posting_s, static_cast<double>(f.last_ack_ns - f.start_ns) / 1e9);
  double delivery_span = std::max(posting_s, static_cast<double>(f.last_delivery_ns - f.start_ns) / 1e9);
  double achieved = static_cast<double>(f.posts_acked) / ack_span;
  double deliveries_per_s = f.deliveries ? static_cast<double>(f.deliveries) / delivery_span : 0;
  double delivered_pct = f.expected_deliveries ? 100.0 * static_cast<double>(f.deliveries) /
                                                     static_cast<double>(f.expected_deliveries)
                                               : 0;
  double us_per_delivery = f.deliveries ? static_cast<double>(cpu) / 1e3 / static_cast<double>(f.deliveries) : 0;
  double us_per_post = f.posts_acked ? static_cast<double>(cpu) / 1e3 / static_cast<double>(f.posts_acked) : 0;
  double server_cpu_pct = 100.0 * static_cast<double>(cpu) / 1e9 / window_s;
  double tool_cpu_pct = 100.0 * static_cast<double>(own) / 1e9 / window_s;
  const auto& d = f.delivery_latency;
  const auto& a = f.ack_latency;

  std::printf("  posts: offered %.0f/s, sent %llu, acknowledged %llu (%.0f/s), refused %llu\n", offered,
              static_cast<unsigned long long>(f.posts_sent), static_cast<unsigned long long>(f.posts_acked), achieved,
              static_cast<unsigned long long>(f.posts_refused));
  std::printf("  ack latency ms: p50 %.2f  p99 %.2f  max %.2f\n", ms(a.percentile(0.5)), ms(a.percentile(0.99)), ms(a.max()));
  if (o.subscribers > 0) {
    std::printf("  deliveries: %llu of %llu expected (%.2f %%), %.0f/s; out of order %llu\n",
                static_cast<unsigned long long>(f.deliveries), static_cast<unsigned long long>(f.expected_deliveries),
                delivered_pct, deliveries_per_s, static_cast<unsigned long long>(f.out_of_order));
    std::printf("  delivery latency ms: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n", ms(d.percentile(0.5)),
                ms(d.percentile(0.9)), ms(d.percentile(0.99)), ms(d.percentile(0.999)), ms(d.max()));
    std::printf("  server messages in several frames (reassembled): %llu\n",
                static_cast<unsigned long long>(run.fragmented_messages()));
  }
  std::printf("  server CPU: %.1f %% of a core over %.2f s; %.2f µs per delivery, %.1f µs per post\n", server_cpu_pct,
              window_s, us_per_delivery, us_per_post);
  std::printf("  server RSS: %lld KiB before, %lld KiB after\n", static_cast<long long>(rss_before),
              static_cast<long long>(rss_after));
  std::printf("  tool CPU: %.1f %% of a core%s\n", tool_cpu_pct,
              tool_cpu_pct > 90 ? " (saturated: the figures are the tool's limit, not the server's)" : "");
  print_errors(run);

  std::uint64_t error_total = 0;
  std::string errors = errors_json(run, error_total);
  std::printf("RESULT {\"label\":%s,\"mode\":\"%s\",\"subscribers\":%zu,\"channels\":%zu,\"publishers\":%zu,"
              "\"closed_loop\":%s,\"window_s\":%.3f,\"offered_pps\":%.1f,\"posts_sent\":%llu,\"posts_acked\":%llu,"
              "\"achieved_pps\":%.1f,\"deliveries\":%llu,\"expected_deliveries\":%llu,\"deliveries_per_s\":%.1f,"
              "\"delivered_pct\":%.3f,\"out_of_order\":%llu,\"fragmented_messages\":%llu,"
              "\"lat_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f},"
              "\"ack_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},"
              "\"server_cpu_pct\":%.1f,\"server_us_per_delivery\":%.3f,\"server_us_per_post\":%.2f,"
              "\"rss_before_kib\":%lld,\"rss_after_kib\":%lld,\"tool_cpu_pct\":%.1f,\"errors\":%llu,\"error_kinds\":%s}\n",
              json_string(o.label).c_str(), o.mode.c_str(), o.subscribers, o.channels, o.publishers,
              closed_loop ? "true" : "false", window_s, offered, static_cast<unsigned long long>(f.posts_sent),
              static_cast<unsigned long long>(f.posts_acked), achieved, static_cast<unsigned long long>(f.deliveries),
              static_cast<unsigned long long>(f.expected_deliveries), deliveries_per_s, delivered_pct,
              static_cast<unsigned long long>(f.out_of_order),
              static_cast<unsigned long long>(run.fragmented_messages()), ms(d.percentile(0.5)), ms(d.percentile(0.9)),
              ms(d.percentile(0.99)), ms(d.percentile(0.999)), ms(d.max()), ms(a.percentile(0.5)),
              ms(a.percentile(0.99)), ms(a.max()), server_cpu_pct, us_per_delivery, us_per_post,
              static_cast<long long>(rss_before), static_cast<long long>(rss_after), tool_cpu_pct,
              static_cast<unsigned long long>(error_total), errors.c_str());
  std::fflush(stdout);

  if (o.expect_all) {
    bool complete = f.posts_acked == f.posts_sent && f.posts_sent > 0 && f.deliveries == f.expected_deliveries &&
                    f.out_of_order == 0 && error_total == 0;
    if (!complete) {
      std::fprintf(stderr, "parley_load: not every post reached every subscriber in order\n");
      return 1;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  load_options o = parse_load_options(argc, argv);
  raise_file_limit();
  if (o.mode == "idle") return run_idle(o);
  return run_traffic(o);
}
